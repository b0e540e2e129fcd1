"""Per-step tagging that needs the future: Bidirectional(LSTM) versus a one-way LSTM.

Each sequence is a noisy signal of 20 to 100 steps. The tag of step t is
"peak" when the value at t is the largest of the window t-2 .. t+2 (cut at
the sequence's ends), else "other". Deciding needs the two steps *after* t,
which a forward-only LSTM has not seen yet when it must answer at t; a
``Bidirectional`` LSTM reads every sequence both ways and has both sides.

The data goes the way a user's data would: a long table (one row per step:
``seq``, ``t``, ``value``, ``peak``) written to Parquet, read back with
``ParquetSequenceReader(id_column="seq", order_column="t")`` and batched by
``SequenceBatches(label_column="peak", align="align_start")``: per-step
labels ``[N, 2, T]`` and masks ``[N, T]`` marking the real steps. The
backward direction of ``Bidirectional`` reads the padded tensor reversed, so
it meets the padding first; seqkit's recurrent layers carry their state
unchanged over masked steps, so each sequence still gets exactly what it
would get alone. Both models are evaluated at the real steps only (the
labels mask); the script prints per-step accuracy and the F1 score of the
"peak" tag for each.

Run:
    python examples/bidirectional_tagging.py            # full run, about 15 s on CPU
    python examples/bidirectional_tagging.py --smoke    # a tiny run, for the tests
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import pandas as pd
import torch

import readers
import seqkit
from seqkit.layers import LSTM, Bidirectional, RnnOutput

TAGS = ["other", "peak"]
HALF_WINDOW = 2


def write_table(path: str, n: int, rng: np.random.Generator, first_id: int = 0) -> None:
    """``n`` sequences in the long layout (one row per step) as Parquet."""
    parts = []
    for i in range(n):
        length = int(rng.integers(20, 101))
        value = np.convolve(rng.normal(size=length + 2), [0.25, 0.5, 0.25], mode="valid")   # [L]
        padded = np.pad(value, HALF_WINDOW, constant_values=-np.inf)
        window = np.lib.stride_tricks.sliding_window_view(padded, 2 * HALF_WINDOW + 1)       # [L, 5]
        peak = (value == window.max(axis=1)).astype(np.int64)
        parts.append(pd.DataFrame({"seq": first_id + i, "t": np.arange(length),
                                   "value": value.round(4), "peak": peak}))
    pd.concat(parts, ignore_index=True).to_parquet(path, index=False)


def batches(path: str, *, shuffle: bool, seed: int):
    reader = readers.ParquetSequenceReader(path, id_column="seq", order_column="t")
    return readers.SequenceBatches(reader, batch_size=32, num_classes=2, label_column="peak",
                                   align="align_start", shuffle=shuffle, seed=seed)


def build(bidirectional: bool, seed: int) -> seqkit.Sequential:
    recurrent = Bidirectional(LSTM(24), mode="concat") if bidirectional else LSTM(48)
    return seqkit.Sequential([recurrent, RnnOutput(2, activation="softmax", loss="mcxent")],
                             input_type=seqkit.InputType.recurrent(1), seed=seed, updater="adam",
                             learning_rate=0.01)


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--smoke", action="store_true", help="a tiny run, for the tests")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1, see examples/README.md)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)      # small recurrent models: one thread is fastest
    n_train, n_test, epochs = (600, 200, args.epochs) if not args.smoke else (48, 32, 1)
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    results = {}
    with tempfile.TemporaryDirectory(prefix="seqkit-peaks-") as tmp:
        train_path, test_path = os.path.join(tmp, "train.parquet"), os.path.join(tmp, "test.parquet")
        write_table(train_path, n_train, rng)
        write_table(test_path, n_test, rng, first_id=n_train)
        train = batches(train_path, shuffle=True, seed=args.seed)
        test = batches(test_path, shuffle=False, seed=0)
        print(readers.inspect(train.features, label_column="peak"))
        b = next(iter(test))
        print(f"one batch: features {b.features.shape}, labels {b.labels.shape}, "
              f"{1 - b.labels_mask.mean():.0%} of its steps are padding (masked)")

        for name, bidirectional in (("Bidirectional(LSTM(24))", True), ("LSTM(48), forward only", False)):
            net = build(bidirectional, args.seed)
            params = sum(p.numel() for p in net.parameters())
            t0 = time.perf_counter()
            net.fit(train, epochs=epochs, progress=False)
            evaluation = net.evaluate(test, labels=TAGS)
            results[name] = evaluation
            print(f"\n{name}: {params:,} parameters, {epochs} epochs in {time.perf_counter() - t0:.1f} s")
            print(evaluation.stats())

    print("\nper-step masked accuracy on the test set (real steps only):")
    for name, ev in results.items():
        print(f"  {name:24s} accuracy {ev.accuracy():.4f}, F1 of 'peak' {ev.f1(1):.4f}, "
              f"{ev.num_steps} steps")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return {name: ev.accuracy() for name, ev in results.items()}


if __name__ == "__main__":
    main()
    sys.exit(0)
