"""Generate the variable-length multivariate set (3 channels, 4 classes, lengths 20..200).

Each series has a length L drawn uniformly from the integers 20..200 and
three channels x, y, z over t = 0..L-1. Its class is 2 * direction + late:

    direction (0 or 1)  which way (x, y) turns round the origin over the whole
                        series: x = A cos(theta), y = +-A sin(theta) with
                        theta = 2 pi t / P + phi, + for 0 (counter-clockwise),
                        - for 1 (clockwise); P ~ U[6, 20] steps,
                        phi ~ U[0, 2 pi), A ~ U[0.7, 1.3], and x, y get
                        Gaussian noise of sd 0.5 (larger than one step's turn,
                        so the direction shows only over many steps).
    late (0 or 1)       whether z carries a pulse that ends the series: a
                        Gaussian bump (height h ~ U[1.5, 2.5], random sign,
                        sd 1.5 steps) centred d ~ U{2..6} steps before the
                        last step. z also has noise of sd 0.3, and half of all
                        series, whatever their class, carry a decoy pulse of
                        the same shape in the first half (centre 2..L/2 - 2,
                        so at least 11 steps before the end).

    class 0: counter-clockwise, no late pulse    class 1: counter-clockwise, late pulse
    class 2: clockwise, no late pulse            class 3: clockwise, late pulse

So the class needs the whole series: the direction is spread over every
step, and the pulse counts only if it sits at the end. A model that reads
end-aligned data (ALIGN_END, or masks with the last real step) sees the late
pulse at the same place in every series; padding read as data hides it.

Sizes: 320 train and 160 test series, classes balanced (80 and 40 per class).
Series ids are 0..479 (train 0..319, test 320..479); series appear in a
random order within each file, rows grouped by series in order of t. Values
are rounded to 3 decimals, and the same rounded values go to CSV and Parquet.
Seed 2024 for everything (generation and the order of series).

Output (under --out, default: this script's folder):
    train.csv, test.csv          long format: series_id,t,x,y,z,label (header line)
    train.parquet, test.parquet  the same columns: series_id int64, t int64,
                                 x, y, z float64, label int64

Usage: python datasets/varlen/make_data.py [--out DIR]
Needs numpy and pyarrow only; re-running reproduces the same bytes.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

SEED = 2024
N_TRAIN, N_TEST = 320, 160
MIN_LEN, MAX_LEN = 20, 200
N_CLASSES = 4
DECIMALS = 3
COLUMNS = ["series_id", "t", "x", "y", "z", "label"]


def _pulse(t: np.ndarray, centre: float, rng: np.random.Generator) -> np.ndarray:
    height = rng.uniform(1.5, 2.5) * rng.choice([-1.0, 1.0])
    return height * np.exp(-0.5 * ((t - centre) / 1.5) ** 2)


def make_series(label: int, rng: np.random.Generator) -> np.ndarray:
    """One series of the given class: [L, 3] float64 (x, y, z), rounded."""
    length = int(rng.integers(MIN_LEN, MAX_LEN, endpoint=True))
    t = np.arange(length, dtype=np.float64)
    clockwise, late = divmod(label, 2)
    period, phase, amp = rng.uniform(6.0, 20.0), rng.uniform(0.0, 2 * np.pi), rng.uniform(0.7, 1.3)
    theta = 2 * np.pi * t / period + phase
    x = amp * np.cos(theta) + rng.normal(0.0, 0.5, length)
    y = (-1.0 if clockwise else 1.0) * amp * np.sin(theta) + rng.normal(0.0, 0.5, length)
    z = rng.normal(0.0, 0.3, length)
    if late:
        z += _pulse(t, length - 1 - rng.integers(2, 6, endpoint=True), rng)
    if rng.random() < 0.5:
        z += _pulse(t, rng.integers(2, length // 2 - 2, endpoint=True), rng)
    return np.round(np.stack([x, y, z], axis=1), DECIMALS) + 0.0  # + 0.0 turns -0.0 into 0.0


def make_split(first_id: int, n: int, rng: np.random.Generator) -> pa.Table:
    """n series with balanced classes, ids first_id.., in a random order, as a long table."""
    labels = np.arange(n) % N_CLASSES
    series = [make_series(int(label), rng) for label in labels]
    parts: dict[str, list[np.ndarray]] = {name: [] for name in COLUMNS}
    for i in rng.permutation(n):
        values, length = series[i], len(series[i])
        parts["series_id"].append(np.full(length, first_id + i, dtype=np.int64))
        parts["t"].append(np.arange(length, dtype=np.int64))
        for c, name in enumerate("xyz"):
            parts[name].append(values[:, c])
        parts["label"].append(np.full(length, labels[i], dtype=np.int64))
    return pa.table({name: np.concatenate(parts[name]) for name in COLUMNS})


def write_csv(table: pa.Table, path: Path) -> None:
    # repr() is the shortest text that parses back to exactly the same float.
    cols = [table[name].to_pylist() for name in COLUMNS]
    lines = [",".join(COLUMNS)]
    for sid, t, x, y, z, label in zip(*cols):
        lines.append(f"{sid},{t},{x!r},{y!r},{z!r},{label}")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent,
                        help="output folder (default: this script's folder)")
    out = parser.parse_args(argv).out
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(SEED)
    for name, first_id, n in (("train", 0, N_TRAIN), ("test", N_TRAIN, N_TEST)):
        table = make_split(first_id, n, rng)
        write_csv(table, out / f"{name}.csv")
        pq.write_table(table, out / f"{name}.parquet", compression="zstd",
                       use_byte_stream_split=["x", "y", "z"])
        print(f"wrote {n} {name} series ({table.num_rows} rows) to {out}")


if __name__ == "__main__":
    main()
