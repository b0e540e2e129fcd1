"""Classify the synthetic control charts (6 classes) with two LSTMs, LastTimeStep, Dense, Output.

This is the DL4J recurrent page's complete sequence-classification example in
seqkit, on the bundled ``datasets/synthetic_control`` set (one file per
series, one value per line; one file per label):

    LSTM(64) -> LSTM(32) -> LastTimeStep(SimpleRNN(32)) -> Dense(32, relu)
             -> Output(6, softmax, mcxent)

Adam (learning rate 5e-3), Xavier weights, L2 1e-5, gradient norm clipped at
1.0 (it keeps the larger learning rate stable); features standardised
with the training set's mean and standard deviation (as DL4J's
NormalizerStandardize), because the raw values sit around 30 +- 15.

Run:
    python examples/uci_sequence_classification.py            # full run, well under a minute on CPU
    python examples/uci_sequence_classification.py --seed 2
    python examples/uci_sequence_classification.py --smoke    # a few iterations, for the tests
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

import readers
import seqkit
from seqkit.layers import LSTM, Dense, LastTimeStep, Output, SimpleRNN

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, os.pardir, "datasets", "synthetic_control")
CLASSES = ["normal", "cyclic", "increasing", "decreasing", "upward shift", "downward shift"]


def batches(split: str, last: int, *, batch_size: int, shuffle: bool, seed: int):
    """The numbered CSV files of one split as padded batches with sequence labels ``[N, 6]``."""
    features = readers.CSVSequenceReader(
        readers.NumberedFiles(os.path.join(DATA, split, "features", "%d.csv"), 0, last))
    labels = readers.CSVSequenceReader(
        readers.NumberedFiles(os.path.join(DATA, split, "labels", "%d.csv"), 0, last))
    return readers.SequenceBatches(features, labels, batch_size=batch_size, num_classes=6,
                                   align="align_end", sequence_labels=True, shuffle=shuffle, seed=seed)


def build(seed: int) -> seqkit.Sequential:
    return seqkit.Sequential([
        LSTM(64, activation="tanh"),
        LSTM(32, activation="tanh"),
        LastTimeStep(SimpleRNN(32)),                       # [N, 32, T] -> [N, 32]
        Dense(32, activation="relu"),
        Output(6, activation="softmax", loss="mcxent"),
    ], input_type=seqkit.InputType.recurrent(1), seed=seed, updater="adam", learning_rate=5e-3,
        weight_init="xavier", l2=1e-5, grad_clip=1.0)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch intra-op threads (1: a model this small runs fastest on one "
                             "thread; more only add synchronisation, and OpenMP spin-waits on a "
                             "busy machine)")
    parser.add_argument("--smoke", action="store_true", help="a few iterations on a few files")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    n_train, n_test, epochs = (450, 150, args.epochs) if not args.smoke else (64, 32, 1)

    start = time.perf_counter()
    train = batches("train", n_train - 1, batch_size=args.batch_size, shuffle=True, seed=args.seed)
    test = batches("test", n_test - 1, batch_size=args.batch_size, shuffle=False, seed=0)
    scale = readers.Standardizer.fit(train)            # training statistics, applied to both splits
    train, test = scale(train), scale(test)
    net = build(args.seed)
    print(net.summary())
    net.fit(train, epochs=epochs, listeners=[seqkit.ScoreListener(50)])
    evaluation = net.evaluate(test, labels=CLASSES)
    print(evaluation.stats())
    print(f"test accuracy {evaluation.accuracy():.4f} after {epochs} epochs "
          f"({time.perf_counter() - start:.1f} s)")
    return evaluation.accuracy()


if __name__ == "__main__":
    main()
    sys.exit(0)
