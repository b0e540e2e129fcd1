"""Property: un-padding a batch with its masks gives back exactly the sequences written.

For every layout (numbered CSV files, long CSV, long Parquet, nested Parquet)
and every alignment, features and labels come from two readers of that
layout, with random lengths, values and batch sizes.
"""

import os
import tempfile

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

import readers
from seqdata import unpad, write_csv, write_nested_parquet, write_numbered

ALIGNS = ["equal_length", "align_start", "align_end"]
LAYOUTS = ["numbered_csv", "long_csv", "long_parquet", "nested_parquet"]
NUM_CLASSES = 3


@st.composite
def datasets(draw, equal: bool):
    n = draw(st.integers(1, 6))
    width = draw(st.integers(1, 3))
    if equal:
        lf = ll = [draw(st.integers(1, 5))] * n
    else:
        lf = draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))
        ll = draw(st.lists(st.integers(1, 5), min_size=n, max_size=n))
    values = st.floats(-1e6, 1e6, width=32, allow_nan=False, allow_infinity=False)
    feats = [draw(arrays(np.float32, (t, width), elements=values)) for t in lf]
    labs = [draw(arrays(np.int64, (t,), elements=st.integers(0, NUM_CLASSES - 1))) for t in ll]
    batch_size = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**16))
    return feats, labs, batch_size, seed


def _long_rows(sequences, seed):
    """Rows (id, t, *values): each id's first row in id order (one of its steps), then the rest shuffled."""
    rng = np.random.default_rng(seed)
    firsts, rest = [], []
    for i, seq in enumerate(sequences):
        steps = list(rng.permutation(len(seq)))
        firsts.append((f"s{i}", steps[0], *seq[steps[0]]))
        rest.extend((f"s{i}", t, *seq[t]) for t in steps[1:])
    return firsts + [rest[k] for k in rng.permutation(len(rest))]


def _write(layout, folder, sequences, names, seed):
    """A reader of `sequences` ([T, C] arrays) in the given layout."""
    if layout == "numbered_csv":
        return readers.CSVSequenceReader(write_numbered(os.path.join(folder, "seq"), sequences))
    if layout == "nested_parquet":
        return readers.ParquetSequenceReader(
            write_nested_parquet(os.path.join(folder, "n.parquet"), sequences, names))
    rows = _long_rows(sequences, seed)
    if layout == "long_csv":
        path = write_csv(os.path.join(folder, "l.csv"), [(r[0], str(r[1]), *r[2:]) for r in rows],
                         ["id", "t", *names])
        return readers.CSVSequenceReader(path, skip_lines=1, id_column="id", order_column="t")
    import pyarrow as pa
    import pyarrow.parquet as pq
    table = {"id": [r[0] for r in rows], "t": [int(r[1]) for r in rows]}
    for c, name in enumerate(names):
        table[name] = pa.array([float(r[2 + c]) for r in rows], pa.float64())
    path = os.path.join(folder, "l.parquet")
    pq.write_table(pa.table(table), path)
    return readers.ParquetSequenceReader(path, id_column="id", order_column="t")


def _check(layout, align, data):
    feats, labs, batch_size, seed = data
    with tempfile.TemporaryDirectory() as folder:
        os.makedirs(os.path.join(folder, "f"))
        os.makedirs(os.path.join(folder, "l"))
        names = [f"x{c}" for c in range(feats[0].shape[1])]
        features = _write(layout, os.path.join(folder, "f"), feats, names, seed)
        labels = _write(layout, os.path.join(folder, "l"), [lab[:, None] for lab in labs], ["c"], seed + 1)
        batches = readers.SequenceBatches(features, labels, batch_size=batch_size,
                                          num_classes=NUM_CLASSES, align=align)
        got_f, got_l = [], []
        for batch in batches:
            assert batch.features.shape[0] == batch.labels.shape[0] == len(batch.keys) <= batch_size
            steps = batch.features.shape[2]
            assert steps == max(max(len(f), len(lab)) for f, lab in
                                zip(unpad(batch.features, batch.features_mask),
                                    unpad(batch.labels, batch.labels_mask)))
            for mask, array in ((batch.features_mask, batch.features), (batch.labels_mask, batch.labels)):
                if mask is not None:
                    assert not mask.all()
                    assert not (array * (1 - mask[:, None, :])).any()      # padding is zero
            got_f.extend(unpad(batch.features, batch.features_mask))
            for one_hot in unpad(batch.labels, batch.labels_mask):
                np.testing.assert_array_equal(one_hot.sum(axis=1), 1)
                got_l.append(one_hot.argmax(axis=1))
    assert len(got_f) == len(feats) == len(got_l)
    for got, want in zip(got_f, feats):
        np.testing.assert_array_equal(got, want)
    for got, want in zip(got_l, labs):
        np.testing.assert_array_equal(got, want)


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("align", ALIGNS)
def test_unpadding_gives_back_the_sequences(layout, align):
    @settings(max_examples=25, deadline=None)
    @given(data=datasets(equal=align == "equal_length"))
    def run(data):
        _check(layout, align, data)
    run()
