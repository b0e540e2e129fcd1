"""Regenerate the synthetic control chart data set (600 series x 60 steps, 6 classes).

The series follow the generating equations published by Alcock and
Manolopoulos (1999) for the UCI "Synthetic Control Chart Time Series" data;
nothing is copied from the UCI file. For t = 1..60, m = 30, s = 2 and
r(t) ~ U[-3, 3] drawn afresh at every step:

    0 Normal            y(t) = m + r(t) s
    1 Cyclic            y(t) = m + r(t) s + a sin(2 pi t / T),   a, T ~ U[10, 15]
    2 Increasing trend  y(t) = m + r(t) s + g t,                 g ~ U[0.2, 0.5]
    3 Decreasing trend  y(t) = m + r(t) s - g t
    4 Upward shift      y(t) = m + r(t) s + k(t) x,              x ~ U[7.5, 20]
    5 Downward shift    y(t) = m + r(t) s - k(t) x

with k(t) = 0 for t < t3 and 1 from t3 on, t3 drawn uniformly from the
integers 20..40 (n/3 .. 2n/3 for n = 60). Each series draws its own a, T, g,
x and t3. Values are rounded to 4 decimals, and the same rounded values go
to CSV and Parquet.

Split: stratified, 75 train and 25 test series per class (450 / 150), each
split then shuffled; generation seed 1999, split seed 12345.

Output (under --out, default: this script's folder):
    train/features/{0..449}.csv  one value per line, no header
    train/labels/{0..449}.csv    one line: the class index
    test/features/{0..149}.csv, test/labels/{0..149}.csv
    train.parquet, test.parquet  columns key (string, "train/17"),
                                 values (list<float64>), label (int64)

Usage: python datasets/synthetic_control/make_data.py [--out DIR]
Needs numpy and pyarrow only; re-running reproduces the same bytes.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

GENERATION_SEED = 1999
SPLIT_SEED = 12345
N_STEPS = 60
PER_CLASS = 100
TRAIN_PER_CLASS = 75
CLASS_NAMES = ["Normal", "Cyclic", "Increasing trend", "Decreasing trend",
               "Upward shift", "Downward shift"]
DECIMALS = 4


def generate(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """All 600 series in class order: values [600, 60] float64, labels [600] int64."""
    t = np.arange(1, N_STEPS + 1, dtype=np.float64)
    m, s = 30.0, 2.0
    series, labels = [], []
    for label in range(len(CLASS_NAMES)):
        for _ in range(PER_CLASS):
            y = m + rng.uniform(-3.0, 3.0, N_STEPS) * s
            if label == 1:
                a, period = rng.uniform(10.0, 15.0, 2)
                y = y + a * np.sin(2.0 * np.pi * t / period)
            elif label in (2, 3):
                g = rng.uniform(0.2, 0.5)
                y = y + (g if label == 2 else -g) * t
            elif label in (4, 5):
                x = rng.uniform(7.5, 20.0)
                t3 = rng.integers(N_STEPS // 3, 2 * N_STEPS // 3, endpoint=True)
                k = (t >= t3).astype(np.float64)
                y = y + (x if label == 4 else -x) * k
            series.append(y)
            labels.append(label)
    values = np.round(np.asarray(series), DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0
    return values, np.asarray(labels, dtype=np.int64)


def split(labels: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Stratified split: row indices of the train and the test series, each shuffled."""
    train, test = [], []
    for label in np.unique(labels):
        rows = rng.permutation(np.flatnonzero(labels == label))
        train.append(rows[:TRAIN_PER_CLASS])
        test.append(rows[TRAIN_PER_CLASS:])
    return rng.permutation(np.concatenate(train)), rng.permutation(np.concatenate(test))


def write_split(out: Path, name: str, values: np.ndarray, labels: np.ndarray) -> None:
    features_dir, labels_dir = out / name / "features", out / name / "labels"
    for d in (features_dir, labels_dir):
        if d.exists():
            shutil.rmtree(d)
        d.mkdir(parents=True)
    for i, (row, label) in enumerate(zip(values, labels)):
        # repr() is the shortest text that parses back to exactly the same float.
        (features_dir / f"{i}.csv").write_text("".join(f"{float(v)!r}\n" for v in row))
        (labels_dir / f"{i}.csv").write_text(f"{int(label)}\n")
    table = pa.table({
        "key": pa.array([f"{name}/{i}" for i in range(len(labels))], pa.string()),
        "values": pa.array(list(values), pa.list_(pa.float64())),
        "label": pa.array(labels, pa.int64()),
    })
    pq.write_table(table, out / f"{name}.parquet", compression="zstd")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="output folder (default: this script's folder)")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    values, labels = generate(np.random.default_rng(GENERATION_SEED))
    train_rows, test_rows = split(labels, np.random.default_rng(SPLIT_SEED))
    write_split(out, "train", values[train_rows], labels[train_rows])
    write_split(out, "test", values[test_rows], labels[test_rows])
    print(f"wrote {len(train_rows)} train and {len(test_rows)} test series to {out}")


if __name__ == "__main__":
    main()
