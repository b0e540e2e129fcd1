"""Helpers for the readers tests: write small data sets, and plain-loop references.

The references here are deliberately simple loops, independent of the
vectorised code under test.
"""

from __future__ import annotations

import os

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import readers


def fmt(value) -> str:
    """Shortest text that reads back to the same float64."""
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


def write_csv(path, rows, header=None, delimiter=",", extra_lines=()) -> str:
    """One CSV file: optional extra lines, optional header, then one line per row."""
    lines = list(extra_lines)
    if header is not None:
        lines.append(delimiter.join(header))
    for row in rows:
        lines.append(delimiter.join(v if isinstance(v, str) else fmt(v) for v in row))
    with open(path, "w") as handle:
        handle.write("\n".join(lines) + "\n")
    return os.fspath(path)


def write_numbered(folder, sequences, header=None) -> readers.NumberedFiles:
    """`folder/0.csv` ... one file per sequence ([T, C] arrays)."""
    os.makedirs(folder, exist_ok=True)
    for i, seq in enumerate(sequences):
        write_csv(os.path.join(folder, f"{i}.csv"), np.asarray(seq), header)
    return readers.NumberedFiles(os.path.join(folder, "%d.csv"), 0, len(sequences) - 1)


def long_rows(sequences, ids, rng=None):
    """Rows `(id, t, *values)` of a long table, in sequence order or shuffled by `rng`."""
    rows = [(ids[i], t, *seq[t]) for i, seq in enumerate(sequences) for t in range(len(seq))]
    if rng is not None:
        rows = [rows[k] for k in rng.permutation(len(rows))]
    return rows


def first_appearance(rows) -> list:
    """Ids in order of first appearance."""
    return list(dict.fromkeys(r[0] for r in rows))


def write_long_csv(path, sequences, ids, names, rng=None) -> str:
    """A long CSV table with columns id, t, *names."""
    rows = long_rows(sequences, ids, rng)
    return write_csv(path, [(str(r[0]), str(r[1]), *r[2:]) for r in rows], ["id", "t", *names])


def write_long_parquet(path, sequences, ids, names, rng=None) -> str:
    rows = long_rows(sequences, ids, rng)
    table = {"id": [r[0] for r in rows], "t": [r[1] for r in rows]}
    for c, name in enumerate(names):
        table[name] = pa.array([float(r[2 + c]) for r in rows], pa.float64())
    pq.write_table(pa.table(table), path)
    return os.fspath(path)


def write_nested_parquet(path, sequences, names, extra=None, row_group_size=None) -> str:
    """One row per sequence, one `list<double>` column per channel (plus `extra` columns)."""
    table = {name: pa.array([[float(v) for v in np.asarray(seq)[:, c]] for seq in sequences],
                            pa.list_(pa.float64()))
             for c, name in enumerate(names)}
    table.update(extra or {})
    pq.write_table(pa.table(table), path, row_group_size=row_group_size)
    return os.fspath(path)


def unpad(array, mask):
    """Per example, the steps where the mask is 1: `[T_i, F]` (all steps when mask is None)."""
    out = []
    for n in range(array.shape[0]):
        keep = np.ones(array.shape[2], bool) if mask is None else mask[n] == 1
        out.append(array[n][:, keep].T)
    return out


def reference_batch(features, labels, align, num_classes=None):
    """DL4J padding by plain loops: (features, features_mask, labels, labels_mask).

    Args:
        features: list of `[T_i, F]` arrays; labels: list of `[L_i]` class
            indices (or None).
    """
    n = len(features)
    lengths = [max(len(f), len(lab) if labels is not None else 0)
               for f, lab in zip(features, labels if labels is not None else [[]] * n)]
    steps = max(lengths)
    width = np.asarray(features[0]).shape[1]
    fx = np.zeros((n, width, steps), np.float32)
    fm = np.zeros((n, steps), np.float32)
    lx = np.zeros((n, num_classes or 1, steps), np.float32)
    lm = np.zeros((n, steps), np.float32)
    for i in range(n):
        f = np.asarray(features[i])
        start = lengths[i] - len(f) if align == "align_end" else 0
        for t in range(len(f)):
            for c in range(width):
                fx[i, c, start + t] = f[t, c]
            fm[i, start + t] = 1
        if labels is not None:
            lab = labels[i]
            start = lengths[i] - len(lab) if align == "align_end" else 0
            for t in range(len(lab)):
                lx[i, int(lab[t]), start + t] = 1
                lm[i, start + t] = 1
    return fx, fm, lx, lm
