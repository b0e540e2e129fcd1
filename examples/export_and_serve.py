"""Train, export to ONNX, and serve with onnxruntime: the same predictions without seqkit or torch.

The job: classify the bundled variable-length series (``datasets/varlen``: 20
to 200 steps, channels x, y, z, 4 classes) with an LSTM read up to each
series' last real step. Then:

1. ``net.export("model.onnx", standardize=True)``: the program takes the raw
   features ``[N, 3, T]`` and the mask ``[N, T]`` (N and T free) and holds the
   standardisation fitted on the training data;
2. a serving function that needs only numpy and onnxruntime pads a list of
   raw series (each ``[T_i, 3]``), builds the mask and runs the session;
3. its probabilities are compared with ``net.output`` on the same series read
   by seqkit (left-padded there, right-padded here: the mask is all that
   matters), and the largest difference is printed.

Run:
    python examples/export_and_serve.py               # about 20 s on CPU
    python examples/export_and_serve.py --smoke       # a few series, for the tests
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import readers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TRAIN = os.path.join(ROOT, "datasets", "varlen", "train.csv")
TEST = os.path.join(ROOT, "datasets", "varlen", "test.csv")


def serve(session, series: list[np.ndarray]) -> np.ndarray:
    """Class probabilities for raw series, each ``[T_i, F]``: pad right, mask, run. numpy only.

    Shape:
        series: a list of ``[T_i, F]``; returns ``[len(series), C]``.
    """
    t = max(len(s) for s in series)
    f = series[0].shape[1]
    features = np.zeros((len(series), f, t), np.float32)                 # [N, F, T]
    mask = np.zeros((len(series), t), np.float32)                        # [N, T]
    for i, s in enumerate(series):
        features[i, :, :len(s)] = s.T
        mask[i, :len(s)] = 1.0
    return session.run(["output"], {"features": features, "mask": mask})[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--smoke", action="store_true", help="two epochs on a few series")
    args = parser.parse_args()

    import onnxruntime
    import torch

    import seqkit
    from seqkit.layers import LSTM, LastTimeStep, Output

    torch.set_num_threads(1)
    epochs = 2 if args.smoke else args.epochs
    def split(path):
        reader = readers.CSVSequenceReader(path, id_column="series_id", order_column="t", columns=["x", "y", "z"])
        labels = readers.CSVSequenceReader(path, id_column="series_id", order_column="t", columns=["label"])
        return readers.SequenceBatches(reader, labels, batch_size=32, num_classes=4, align="align_end",
                                       sequence_labels=True)
    batches, test = split(TRAIN), split(TEST)
    scaler = readers.Standardizer.fit(batches)
    data = scaler(batches)
    if args.smoke:
        data = [next(iter(data))]

    net = seqkit.Sequential([LastTimeStep(LSTM(24)), Output(4)], input_type=seqkit.InputType.recurrent(3),
                            seed=args.seed, updater="adam", learning_rate=0.01)
    start = time.perf_counter()
    net.fit(data, epochs=epochs, progress=False)
    print(f"trained {epochs} epochs in {time.perf_counter() - start:.1f} s")
    net.data_description = seqkit.network.DataDescription(feature_columns=["x", "y", "z"], standardizer=scaler)

    with tempfile.TemporaryDirectory() as folder:
        path = net.export(os.path.join(folder, "model.onnx"), standardize=True)
        print(f"exported {os.path.basename(path)}: {os.path.getsize(path) / 1024:.0f} KiB, "
              f"inputs features [N, 3, T] and mask [N, T], standardisation inside")
        session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])

        batch = next(iter(test))                                         # raw, left-padded (align_end)
        n = 8 if args.smoke else len(batch.keys)
        raw = [batch.features[i][:, batch.features_mask[i] != 0].T for i in range(n)]   # [T_i, 3] each
        served = serve(session, raw)
        expected = net.output(scaler.transform(batch).features[:n], batch.features_mask[:n])
    diff = float(np.abs(served - expected).max())
    lengths = [len(s) for s in raw]
    print(f"served {n} raw series ({min(lengths)}-{max(lengths)} steps, right-padded) with onnxruntime")
    print(f"max |onnxruntime - net.output| = {diff:.2e} ({'identical to 1e-5' if diff <= 1e-5 else 'DIFFERENT'})")
    return 0 if diff <= 1e-5 else 1


if __name__ == "__main__":
    sys.exit(main())
