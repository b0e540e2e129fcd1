"""Shuffling in bounded memory, the small/large data rule, worker shares and sharding by sequence."""

import logging

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import readers

from seqdata import write_nested_parquet


def _sequences(n=60, seed=0, longest=20):
    rng = np.random.default_rng(seed)
    return [np.column_stack([np.full(t, i, dtype=float), rng.normal(size=t)])
            for i, t in enumerate(rng.integers(1, longest, n))]


def _nested(tmp_path, n=60, row_group_size=6, name="n.parquet"):
    seqs = _sequences(n)
    return write_nested_parquet(tmp_path / name, seqs, ["i", "x"], row_group_size=row_group_size), seqs


def _batches(path, **kwargs):
    kwargs.setdefault("batch_size", 4)
    kwargs.setdefault("align", "align_start")
    return readers.SequenceBatches(readers.ParquetSequenceReader(path), **kwargs)


def _index(batch) -> list:
    return [int(k.split("#")[1]) - 1 for k in batch.keys]


def _order(batches) -> list:
    return [i for batch in batches for i in _index(batch)]


class _Records(readers.SequenceReader):
    """A reader of your own: sequence i is i steps of the value i (no units)."""

    def __init__(self, n):
        self.n = n

    def records(self):
        for i in range(self.n):
            yield np.full((i % 7 + 1, 1), float(i)), ["v"], str(i)


# ---- which sharding and which shuffle ----------------------------------------------------------
def test_small_data_shards_by_sequence_and_shuffles_in_memory_large_data_by_unit_and_buffer(tmp_path, monkeypatch):
    path, _ = _nested(tmp_path)
    small = _batches(path, shuffle=True, seed=1)
    assert (small.sharding, small.shuffle_mode) == ("sequence", "full")
    assert _batches(path).shuffle_mode is None
    assert _batches(path, shuffle=True, seed=1, shuffle_buffer=10).shuffle_mode == "buffer"
    assert _batches(path, shard_by="unit").sharding == "unit"
    monkeypatch.setattr(readers.SequenceBatches, "small_data_bytes", 100)
    large = _batches(path, shuffle=True, seed=1)
    assert (large.sharding, large.shuffle_mode) == ("unit", "buffer")
    assert _batches(path, shuffle=True, seed=1, shard_by="sequence").sharding == "sequence"
    # A reader that does not split is small, whatever the size; by position, labels cannot follow units.
    own = readers.SequenceBatches(_Records(9), batch_size=2, align="align_start", shuffle=True)
    assert (own.sharding, own.shuffle_mode) == ("sequence", "full")
    labels = write_nested_parquet(tmp_path / "l.parquet", _sequences(60), ["i", "x"], row_group_size=6)
    by_position = readers.SequenceBatches(readers.ParquetSequenceReader(path), readers.ParquetSequenceReader(labels),
                                          batch_size=4, regression=True, align="align_start")
    assert by_position.sharding == "sequence"
    with pytest.raises(ValueError, match="cannot pair these labels unit by unit"):
        _ = readers.SequenceBatches(readers.ParquetSequenceReader(path), readers.ParquetSequenceReader(labels),
                                    batch_size=4, regression=True, shard_by="unit").sharding


def test_the_choice_is_logged_once(tmp_path, caplog):
    path, _ = _nested(tmp_path, n=8)
    batches = _batches(path, shuffle=True, seed=1, shuffle_buffer=4)
    with caplog.at_level(logging.INFO, logger="readers"):
        list(batches)
        list(batches)
    lines = [r.getMessage() for r in caplog.records if r.name == "readers"]
    assert lines == ["SequenceBatches: sharding=sequence, shuffle_mode=buffer, rank 0 of 1, worker 0 of 1"]


def test_configuration_errors(tmp_path):
    path, _ = _nested(tmp_path, n=8)
    with pytest.raises(ValueError, match="shard_by must be 'sequence', 'unit' or None"):
        _batches(path, shard_by="file")
    with pytest.raises(ValueError, match="needs shuffle=True"):
        _batches(path, shuffle_buffer=10)
    for bad in (0, -1, 2.5, True):
        with pytest.raises(ValueError, match="shuffle_buffer must be a positive int"):
            _batches(path, shuffle=True, shuffle_buffer=bad)
    batches = _batches(path)
    for bad in ((2, 2), (-1, 2), (0, 0), (0.0, 1)):
        with pytest.raises(ValueError, match="worker_share needs integers"):
            batches.worker_share(*bad)
    with pytest.raises(ValueError, match="already worker 1's share of 2"):
        batches.worker_share(1, 2).worker_share(0, 2)
    assert batches.share() is None
    assert "shard_by='unit'" in repr(_batches(path, shard_by="unit").worker_share(1, 3))
    assert "worker=(1, 3)" in repr(_batches(path, shard_by="unit").worker_share(1, 3))


# ---- the bounded shuffle --------------------------------------------------------------------------
@pytest.mark.parametrize("bucket", [False, True])
@pytest.mark.parametrize("buffer", [3, 10, 1000])
def test_buffer_shuffle_gives_every_sequence_once_per_epoch_in_new_orders(tmp_path, bucket, buffer):
    path, seqs = _nested(tmp_path)
    batches = _batches(path, shuffle=True, seed=5, shuffle_buffer=buffer, bucket_by_length=bucket)
    orders = []
    for _ in range(3):
        got = list(batches)
        assert len(got) == len(batches) == 15
        for batch in got:
            for i, k in enumerate(_index(batch)):
                np.testing.assert_array_equal(batch.features[i, :, :len(seqs[k])], seqs[k].T.astype(np.float32))
        order = _order(got)
        assert sorted(order) == list(range(60))
        orders.append(order)
    assert orders[0] != orders[1] != orders[2] and orders[0] != list(range(60))
    again = _batches(path, shuffle=True, seed=5, shuffle_buffer=buffer, bucket_by_length=bucket)
    again.set_epoch(2)
    assert _order(again) == orders[2]


def test_buffer_shuffle_holds_only_its_buffer():
    # One block of the stream at a time (a reader of your own gives batch_size sequences a chunk): the
    # first batch can only hold sequences that were read by then, the buffer plus one chunk.
    batches = readers.SequenceBatches(_Records(200), batch_size=4, align="align_start", shuffle=True, seed=0,
                                      shuffle_buffer=12)
    first = next(iter(batches))
    assert max(int(k) for k in first.keys) < 12 + 4
    assert sorted(int(k) for b in batches for k in b.keys) == list(range(200))


def test_bucketing_within_the_buffer_cuts_padding(tmp_path):
    path, _ = _nested(tmp_path, n=200, row_group_size=20)

    def padding(batches):
        return sum(float((1 - b.features_mask).sum()) for b in batches if b.features_mask is not None)

    plain = _batches(path, shuffle=True, seed=1, shuffle_buffer=100)
    bucketed = _batches(path, shuffle=True, seed=1, shuffle_buffer=100, bucket_by_length=True)
    assert padding(bucketed) < padding(plain) / 2
    assert sorted(_order(bucketed)) == list(range(200))


def test_drop_last_drops_one_short_batch(tmp_path):
    path, _ = _nested(tmp_path, n=58)
    for buffer, bucket in ((5, False), (7, True), (100, True)):
        batches = _batches(path, shuffle=True, seed=2, shuffle_buffer=buffer, bucket_by_length=bucket,
                           drop_last=True)
        got = list(batches)
        assert len(got) == len(batches) == 14 and all(len(b) == 4 for b in got)
        assert len(set(_order(got))) == 56


def test_buffer_smaller_than_a_batch(tmp_path):
    path, _ = _nested(tmp_path, n=10)
    got = list(_batches(path, shuffle=True, seed=2, shuffle_buffer=1))
    assert [len(b) for b in got] == [4, 4, 2] and sorted(_order(got)) == list(range(10))


# ---- sharding by sequence, and the workers of a rank ---------------------------------------------
def test_w_ranks_of_batch_b_make_the_batches_of_one_process_of_batch_w_times_b(tmp_path):
    path, _ = _nested(tmp_path, n=50)
    whole = [sorted(_index(b)) for b in _batches(path, batch_size=6, shuffle=True, seed=9)]
    ranks = [list(_batches(path, batch_size=2, shuffle=True, seed=9, shard=(r, 3), shard_by="sequence"))
             for r in range(3)]
    for k, batch in enumerate(whole):
        assert sorted(i for rank in ranks if k < len(rank) for i in _index(rank[k])) == batch


@pytest.mark.parametrize("shard_by", ["sequence", "unit"])
@pytest.mark.parametrize("shuffle_buffer", [None, 5])
def test_workers_of_ranks_read_every_sequence_once(tmp_path, shard_by, shuffle_buffer):
    path, _ = _nested(tmp_path, n=61, row_group_size=5)
    seen = []
    for rank in range(2):
        batches = _batches(path, shard=(rank, 2), shard_by=shard_by, shuffle=True, seed=3,
                           shuffle_buffer=shuffle_buffer)
        for worker in range(3):
            part = batches.worker_share(worker, 3)
            got = list(part)
            assert len(part) == len(got)
            if shard_by == "unit":
                assert sum(u.sequences for u in part.share()) == sum(len(b) for b in got)
            seen += _order(got)
    assert sorted(seen) == list(range(61))


def test_standardized_batches_split_between_workers(tmp_path):
    path, _ = _nested(tmp_path, n=20)
    standardized = readers.Standardizer([0.0, 0.0], [2.0, 1.0], ["i", "x"])(_batches(path))
    parts = [standardized.worker_share(w, 2) for w in range(2)]
    assert isinstance(parts[0], readers.StandardizedBatches)
    got = [b for part in parts for b in part]
    assert sorted(i for b in got for i in _index(b)) == list(range(20))
    for b in got:
        assert np.allclose(b.features[:, 0, 0], np.array(_index(b)) / 2.0)


def test_an_empty_data_set_is_an_error_when_sharded_by_unit(tmp_path):
    table = pa.table({"x": pa.array([], pa.list_(pa.float64()))})
    pq.write_table(table, tmp_path / "empty.parquet")
    batches = _batches(tmp_path / "empty.parquet", shard_by="unit")
    with pytest.raises(readers.SequenceDataError, match="no sequences to batch"):
        list(batches)
    with pytest.raises(readers.SequenceDataError, match="no sequences to batch"):
        list(_batches(tmp_path / "empty.parquet", shard_by="unit", shuffle=True))


def test_one_process_reading_large_data_in_order_reads_it_as_one_stream(tmp_path, monkeypatch):
    # An interleaved long table (ids coming back) cannot be read by unit; in order, one process reads it whole.
    monkeypatch.setattr(readers.SequenceBatches, "small_data_bytes", 0)
    table = pa.table({"id": ["a", "b", "a", "b"], "v": [1.0, 2.0, 3.0, 4.0]})
    pq.write_table(table, tmp_path / "mixed.parquet", row_group_size=2)
    reader = readers.ParquetSequenceReader(tmp_path / "mixed.parquet", id_column="id")
    plain = readers.SequenceBatches(reader, batch_size=2, align="align_start")
    assert plain.sharding == "sequence" and [b.keys for b in plain] == [["a", "b"]]
    assert readers.SequenceBatches(reader, batch_size=2, shuffle=True, seed=1).sharding == "unit"
    assert readers.SequenceBatches(reader, batch_size=2, shard=(0, 2)).sharding == "unit"
    assert plain.worker_share(0, 2).sharding == "unit"
