"""The bundled data sets in datasets/: shapes, classes, CSV == Parquet, size, reproducibility.

Checked with numpy and pyarrow directly, not through the readers package.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow.csv as pv
import pyarrow.parquet as pq
import pytest

DATASETS = Path(__file__).resolve().parents[2] / "datasets"
SC = DATASETS / "synthetic_control"
VARLEN = DATASETS / "varlen"
SC_SIZES = {"train": 450, "test": 150}
VARLEN_COLUMNS = ["series_id", "t", "x", "y", "z", "label"]


def read_numbered(split: str, root: Path = SC) -> tuple[np.ndarray, np.ndarray]:
    """Features [n, 60] and labels [n] of one split from the numbered CSV files."""
    n = SC_SIZES[split]
    features = [np.loadtxt(root / split / "features" / f"{i}.csv", dtype=np.float64)
                for i in range(n)]
    labels = [np.loadtxt(root / split / "labels" / f"{i}.csv", dtype=np.int64)
              for i in range(n)]
    return np.stack(features), np.stack(labels)


@pytest.mark.parametrize("split", ["train", "test"])
def test_synthetic_control_numbered_files(split):
    n = SC_SIZES[split]
    for kind in ("features", "labels"):
        names = sorted(p.name for p in (SC / split / kind).iterdir())
        assert names == sorted(f"{i}.csv" for i in range(n))
    for i in (0, n // 2, n - 1):
        lines = (SC / split / "features" / f"{i}.csv").read_text().splitlines()
        assert len(lines) == 60
        assert all(np.isfinite(float(line)) for line in lines)
        label_lines = (SC / split / "labels" / f"{i}.csv").read_text().splitlines()
        assert len(label_lines) == 1 and label_lines[0].isdigit()
    features, labels = read_numbered(split)
    assert features.shape == (n, 60) and np.isfinite(features).all()
    assert labels.shape == (n,) and set(labels.tolist()) <= set(range(6))


def test_synthetic_control_classes_and_parquet():
    counts = np.zeros(6, dtype=np.int64)
    for split, n in SC_SIZES.items():
        features, labels = read_numbered(split)
        counts += np.bincount(labels, minlength=6)
        table = pq.read_table(SC / f"{split}.parquet")
        assert table.column_names == ["key", "values", "label"]
        assert str(table.schema.field("values").type) == "list<element: double>"
        assert str(table.schema.field("label").type) == "int64"
        assert table["key"].to_pylist() == [f"{split}/{i}" for i in range(n)]
        parquet_values = np.array(table["values"].to_pylist(), dtype=np.float64)
        np.testing.assert_array_equal(parquet_values, features)  # exact, not approximate
        np.testing.assert_array_equal(table["label"].to_numpy(), labels)
    assert counts.tolist() == [100] * 6


@pytest.mark.parametrize("split", ["train", "test"])
def test_varlen_long_tables(split):
    csv_table = pv.read_csv(VARLEN / f"{split}.csv")
    parquet_table = pq.read_table(VARLEN / f"{split}.parquet")
    assert csv_table.column_names == VARLEN_COLUMNS
    assert parquet_table.column_names == VARLEN_COLUMNS
    assert csv_table.equals(parquet_table)  # same types, same values, same row order
    ids = csv_table["series_id"].to_numpy()
    t = csv_table["t"].to_numpy()
    labels = csv_table["label"].to_numpy()
    values = np.stack([csv_table[c].to_numpy() for c in "xyz"], axis=1)
    assert values.shape[1] == 3 and np.isfinite(values).all()
    # Rows are grouped by series (each id in one run) and each run is t = 0..L-1.
    starts = np.flatnonzero(np.r_[True, ids[1:] != ids[:-1]])
    lengths = np.diff(np.r_[starts, len(ids)])
    assert len(np.unique(ids)) == len(starts)
    assert 20 <= lengths.min() and lengths.max() <= 200
    for start, length in zip(starts, lengths):
        np.testing.assert_array_equal(t[start:start + length], np.arange(length))
        assert (labels[start:start + length] == labels[start]).all()
    # Series come in a random order, not sorted by id.
    assert not np.all(np.diff(ids[starts]) > 0)
    series_labels = labels[starts]
    assert set(series_labels.tolist()) == {0, 1, 2, 3}
    counts = np.bincount(series_labels, minlength=4)
    assert counts.min() == counts.max()


def test_varlen_ids_disjoint_between_splits():
    train = set(pq.read_table(VARLEN / "train.parquet")["series_id"].to_pylist())
    test = set(pq.read_table(VARLEN / "test.parquet")["series_id"].to_pylist())
    assert not train & test


def test_total_size_under_3_mb():
    # Bytes in the files (what the repository ships), not file-system blocks.
    total = sum(p.stat().st_size for p in DATASETS.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts)
    assert total < 3 * 1024 * 1024, f"datasets/ holds {total} bytes"


def data_files(root: Path) -> dict[str, bytes]:
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and p.suffix in (".csv", ".parquet")}


@pytest.mark.parametrize("folder", [SC, VARLEN], ids=lambda p: p.name)
def test_make_data_reproduces_the_files(folder, tmp_path):
    subprocess.run([sys.executable, str(folder / "make_data.py"), "--out", str(tmp_path)],
                   check=True, capture_output=True)
    bundled, regenerated = data_files(folder), data_files(tmp_path)
    assert sorted(regenerated) == sorted(bundled)
    for name, content in bundled.items():
        if name.endswith(".csv"):
            assert regenerated[name] == content, name
        else:  # Parquet: compare the data, since the file embeds the pyarrow version
            assert pq.read_table(tmp_path / name).equals(pq.read_table(folder / name)), name
