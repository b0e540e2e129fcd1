"""Many-to-one classification of variable-length series with ALIGN_END and masks.

The bundled ``datasets/varlen`` set (20 to 200 steps per series, channels x, y,
z, 4 classes) is a long table: one row per step, a ``series_id`` column, an
order column ``t`` and the class repeated on every row. The class depends on
the whole series *and* on its last few steps, so a model must read each
series up to its own last real step, not up to the end of the padding.

This script takes the path DL4J users know from
``SequenceRecordReaderDataSetIterator(..., AlignmentMode.ALIGN_END)``: a
features reader with one row per step and a labels reader with **one row per
series** (a label sequence of length 1). ALIGN_END puts that single label on
each series' last real step, so in every batch

    features_mask[i, t] = 1 for t < length_i        (padding after)
    labels_mask[i, t]   = 1 only at t = length_i - 1

and the network is an LSTM followed by a per-step ``RnnOutput``: the loss,
and the evaluation, only look at the one labelled step of each series.

The bundled set has no separate labels file, so the script first writes one
(``series_id,label``, one line per series, in the order the series appear in
the long table) into a temporary folder, the way a DL4J user keeps labels in
their own files. (The other way to read this set, one label per series with
``sequence_labels=True`` and a ``LastTimeStep`` layer, is in
``examples/inspect_bundled_data.py`` and ``uci_sequence_classification.py``.)

Run:
    python examples/variable_length_masking.py            # full run, about 5 s on CPU
    python examples/variable_length_masking.py --epochs 20
    python examples/variable_length_masking.py --smoke    # one epoch on a few series, for the tests
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
from seqkit.layers import LSTM, RnnOutput

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, os.pardir, "datasets", "varlen")
CLASSES = ["ccw", "ccw + late pulse", "cw", "cw + late pulse"]


def write_labels_file(table_csv: str, out_csv: str, limit: int | None = None) -> int:
    """One line per series, ``series_id,label``, in the order the series first appear in the table.

    Both readers group rows by id in order of first appearance, so sequence i of
    the labels reader labels sequence i of the features reader. With ``limit``
    only the first ``limit`` series are kept (and the table is cut to match,
    see :func:`cut_table`). Returns the number of series.
    """
    table = pd.read_csv(table_csv, usecols=["series_id", "label"])
    labels = table.groupby("series_id", sort=False)["label"].agg(["first", "nunique"])
    if (labels["nunique"] > 1).any():
        bad = labels.index[labels["nunique"] > 1][0]
        raise ValueError(f"{table_csv}: series {bad} has more than one label")
    labels = labels["first"].rename("label")
    if limit is not None:
        labels = labels.iloc[:limit]
    labels.reset_index().to_csv(out_csv, index=False)
    return len(labels)


def cut_table(table_csv: str, out_csv: str, ids) -> None:
    """The rows of ``ids`` only (smoke runs)."""
    table = pd.read_csv(table_csv)
    table[table["series_id"].isin(set(ids))].to_csv(out_csv, index=False)


def make_batches(table_csv: str, labels_csv: str, *, batch_size: int, shuffle: bool, seed: int):
    """Features (x, y, z per step) and one label per series, ALIGN_END."""
    features = readers.CSVSequenceReader(table_csv, skip_lines=1, id_column="series_id",
                                         order_column="t", columns=["x", "y", "z"])
    labels = readers.CSVSequenceReader(labels_csv, skip_lines=1, id_column="series_id")
    # Sequence i of the labels reader labels sequence i of the features: check the keys once.
    if [r.key for r in features] != [r.key for r in labels]:
        raise ValueError(f"{labels_csv} does not list the series of {table_csv} in the same order")
    # bucket_by_length batches series of similar length together: less padding to run over.
    return readers.SequenceBatches(features, labels, batch_size=batch_size, num_classes=4,
                                   align="align_end", shuffle=shuffle, seed=seed,
                                   bucket_by_length=shuffle)


def show_masks(batches) -> None:
    """Print where the features and labels masks are 1 for the first examples of one batch."""
    batch = next(iter(batches))
    print(f"one batch: features {batch.features.shape}, labels {batch.labels.shape}, "
          f"masks {batch.features_mask.shape}")
    for i in range(3):
        real = batch.features_mask[i].nonzero()[0]
        labelled = batch.labels_mask[i].nonzero()[0]
        print(f"  series {batch.keys[i]:>4}: {len(real):3d} real steps (t = 0..{real[-1]}), "
              f"label mask 1 only at t = {labelled.tolist()}, "
              f"class {int(batch.labels[i, :, labelled[0]].argmax())}")


def accuracy_by_length(net, batches, edges=(20, 50, 100, 150, 201)) -> str:
    """Accuracy at each series' last real step, grouped by its length (from ``net.output``)."""
    lengths, correct = [], []
    for b in batches:
        probs = net.output(b.features, b.features_mask)                  # [N, 4, T], zeros at padding
        last = b.labels_mask.argmax(axis=1)                              # [N]: the labelled step
        rows = np.arange(len(b))
        correct.append(probs[rows, :, last].argmax(axis=1) == b.labels[rows, :, last].argmax(axis=1))
        lengths.append(b.features_mask.sum(axis=1))
    lengths, correct = np.concatenate(lengths), np.concatenate(correct)
    parts = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (lengths >= lo) & (lengths < hi)
        if inside.any():
            parts.append(f"{lo}-{hi - 1} steps {correct[inside].mean():.3f} ({int(inside.sum())})")
    return ", ".join(parts)


def build(seed: int) -> seqkit.Sequential:
    return seqkit.Sequential([
        LSTM(32),                                 # [N, 3, T] -> [N, 32, T]; state carried over padding
        RnnOutput(4, activation="softmax", loss="mcxent"),   # loss only where labels_mask is 1
    ], input_type=seqkit.InputType.recurrent(3), seed=seed, updater="adam", learning_rate=0.01)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--smoke", action="store_true", help="one epoch on 48 train and 32 test series")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1, see examples/README.md)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)      # small recurrent models: one thread is fastest
    limit = (48, 32) if args.smoke else (None, None)
    epochs = 1 if args.smoke else args.epochs

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="varlen-labels-") as tmp:
        splits = {}
        for split, n in zip(("train", "test"), limit):
            table = os.path.join(DATA, f"{split}.csv")
            labels = os.path.join(tmp, f"{split}-labels.csv")
            count = write_labels_file(table, labels, n)
            if n is not None:
                ids = pd.read_csv(labels)["series_id"]
                cut = os.path.join(tmp, f"{split}.csv")
                cut_table(table, cut, ids)
                table = cut
            print(f"{split}: {count} series; labels file {os.path.basename(labels)} "
                  f"(one line per series)")
            splits[split] = (table, labels)
        train = make_batches(*splits["train"], batch_size=args.batch_size, shuffle=True, seed=args.seed)
        test = make_batches(*splits["test"], batch_size=args.batch_size, shuffle=False, seed=0)
        show_masks(train)

        net = build(args.seed)
        print(net.summary())
        scores = seqkit.ScoreListener(10 ** 9)           # epoch means only
        net.fit(train, epochs=epochs, listeners=[scores], progress=False)
        evaluation = net.evaluate(test, labels=CLASSES)
        print(evaluation.stats())
        print(f"evaluated steps: {evaluation.num_steps} (one per test series: where its labels mask is 1)")
        print("test accuracy by series length:", accuracy_by_length(net, test))
    elapsed = time.perf_counter() - start
    print(f"test accuracy {evaluation.accuracy():.4f} after {epochs} epochs ({elapsed:.1f} s)")
    return evaluation.accuracy()


if __name__ == "__main__":
    main()
    sys.exit(0)
