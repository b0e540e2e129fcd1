"""SequenceDataset: SequenceBatches under torch's DataLoader, split by rank and worker; fit takes the loader."""

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import torch
import torch.distributed as dist
from torch.utils.data import DataLoader

import readers
from seqkit import InputType, Sequential
from seqkit.layers import RnnOutput
from seqkit.network import SequenceDataset

from netdata import LSTM


def _data(tmp_path, n=40, t=6, row_group_size=4):
    """Nested Parquet: a feature `x` and per-step class `y` (1 where x > 0), one row per sequence."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal((n, t))
    table = pa.table({"key": [f"s{i}" for i in range(n)],
                      "x": pa.array(x.tolist(), pa.list_(pa.float64())),
                      "y": pa.array((x > 0).astype(int).tolist(), pa.list_(pa.int64()))})
    path = tmp_path / "d.parquet"
    pq.write_table(table, path, row_group_size=row_group_size)
    return str(path), [f"s{i}" for i in range(n)]


def _batches(path, **kwargs):
    kwargs.setdefault("batch_size", 4)
    return readers.SequenceBatches(readers.ParquetSequenceReader(path), label_column="y", num_classes=2,
                                   **kwargs)


class _Seen:
    """Iterates a loader and records the keys of each pass."""

    def __init__(self, loader):
        self.loader, self.passes = loader, []

    def __iter__(self):
        keys = []
        self.passes.append(keys)
        for batch in self.loader:
            keys.extend(batch.keys)
            yield batch


def test_fit_takes_a_dataloader_with_two_workers_and_sees_every_sequence_once_per_epoch(tmp_path):
    path, keys = _data(tmp_path)
    loader = DataLoader(SequenceDataset(_batches(path, shuffle=True, seed=1)), batch_size=None, num_workers=2)
    net = Sequential([LSTM(8), RnnOutput(2)], input_type=InputType.recurrent(1), seed=0, learning_rate=0.05)
    seen = _Seen(loader)
    net.fit(seen, epochs=2, progress=False)
    assert net.epoch == 2
    for keys_seen in seen.passes[-2:]:                 # the two epochs (a first pass built the network)
        assert sorted(keys_seen) == sorted(keys)
    before = net.score(_batches(path))
    net.fit(loader, epochs=3, progress=False)          # the DataLoader itself
    assert net.epoch == 5 and net.score(_batches(path)) < before


@pytest.mark.filterwarnings("ignore:.*pin_memory.*:UserWarning")     # no accelerator: nothing to pin
def test_batches_arrive_as_readers_batches_of_tensors_pinned_when_asked(tmp_path):
    path, keys = _data(tmp_path, n=10)
    loader = DataLoader(SequenceDataset(_batches(path)), batch_size=None, num_workers=2, pin_memory=True)
    batches = list(loader)
    assert all(isinstance(b, readers.Batch) for b in batches)
    first = batches[0]
    assert isinstance(first.features, torch.Tensor) and first.features.shape == (4, 1, 6)
    assert first.labels.shape == (4, 2, 6) and first.features.dtype == torch.float32
    assert sorted(k for b in batches for k in b.keys) == sorted(keys)
    expected = {k: b for b in _batches(path) for k in b.keys}
    for b in batches:
        for i, key in enumerate(b.keys):
            np.testing.assert_array_equal(b.features[i].numpy(), expected[key].features[list(expected[key].keys)
                                                                                        .index(key)])
    if torch.cuda.is_available():
        assert first.features.is_pinned() and first.labels.is_pinned()
    pinned = batches[0].pin_memory() if torch.cuda.is_available() else None
    assert pinned is None or isinstance(pinned, readers.Batch)


@pytest.mark.parametrize("shard_by", ["unit", "sequence"])
@pytest.mark.parametrize("world", [2, 3])
def test_ranks_times_workers_read_every_sequence_once(tmp_path, shard_by, world):
    path, keys = _data(tmp_path, n=37)
    seen = []
    for rank in range(world):
        dataset = SequenceDataset(_batches(path, shard=(rank, world), shard_by=shard_by, shuffle=True, seed=3),
                                  num_workers=2)
        batches = list(DataLoader(dataset, batch_size=None, num_workers=2))
        assert len(dataset) == len(batches)
        seen += [k for b in batches for k in b.keys]
    assert sorted(seen) == sorted(keys)


def test_set_epoch_reaches_the_workers(tmp_path):
    path, keys = _data(tmp_path, n=24)
    dataset = SequenceDataset(_batches(path, shuffle=True, seed=7, shuffle_buffer=8))
    loader = DataLoader(dataset, batch_size=None, num_workers=2, persistent_workers=True)

    def order(epoch):
        dataset.set_epoch(epoch)
        return [k for b in loader for k in b.keys]

    first, second, again = order(0), order(1), order(0)
    assert sorted(first) == sorted(keys) == sorted(second)
    assert first != second and first == again
    assert dataset.epoch == 0


def test_in_the_main_process_and_attributes(tmp_path):
    path, keys = _data(tmp_path, n=9)
    dataset = SequenceDataset(_batches(path))
    assert [k for b in DataLoader(dataset, batch_size=None) for k in b.keys] == keys
    assert dataset.feature_columns == ("x",) and dataset.num_classes == 2
    assert SequenceDataset(_batches(path), num_workers=0).__len__() == 3
    standardized = readers.Standardizer([0.0], [2.0], ["x"])(_batches(path))
    data = SequenceDataset(standardized, num_workers=2)
    got = list(DataLoader(data, batch_size=None, num_workers=2))
    assert sorted(k for b in got for k in b.keys) == sorted(keys) and len(data) == len(got)
    assert "SequenceDataset(" in repr(dataset)
    with pytest.raises(AttributeError):
        _ = dataset._missing


def test_errors(tmp_path):
    path, _ = _data(tmp_path, n=9)
    with pytest.raises(TypeError, match="SequenceBatches"):
        SequenceDataset([1, 2])
    with pytest.raises(ValueError, match="num_workers"):
        SequenceDataset(_batches(path), num_workers=-1)
    with pytest.raises(TypeError, match="num_workers"):
        len(SequenceDataset(_batches(path)))
    with pytest.raises(ValueError, match="num_workers=3"):
        list(DataLoader(SequenceDataset(_batches(path), num_workers=3), batch_size=None, num_workers=2))


def test_a_process_group_of_another_size_is_an_error(tmp_path):
    path, _ = _data(tmp_path, n=9)
    dist.init_process_group("gloo", store=dist.HashStore(), rank=0, world_size=1)
    try:
        with pytest.raises(ValueError, match="sharded for 2"):
            SequenceDataset(_batches(path, shard=(0, 2)))
        SequenceDataset(_batches(path))
    finally:
        dist.destroy_process_group()


def test_fit_on_a_dataloader_shuffles_anew_each_epoch_and_records_the_columns(tmp_path):
    """fit sets the epoch on the DataLoader's dataset (else every epoch repeats one order) and
    describes the data from it (columns matched by name later)."""
    path, keys = _data(tmp_path)
    loader = DataLoader(SequenceDataset(_batches(path, shuffle=True, seed=1)), batch_size=None, num_workers=0)
    orders = []

    original_iter = type(loader.dataset).__iter__

    def spy(self):
        order = []
        orders.append(order)
        for batch in original_iter(self):
            order.extend(batch.keys)
            yield batch

    net = Sequential([LSTM(8), RnnOutput(2)], seed=0, learning_rate=0.05)    # built from the dataset
    try:
        type(loader.dataset).__iter__ = spy
        net.fit(loader, epochs=2, progress=False)
    finally:
        type(loader.dataset).__iter__ = original_iter
    assert len(orders) == 2 and sorted(orders[0]) == sorted(orders[1]) == sorted(keys)
    assert orders[0] != orders[1]
    assert net.data_description is not None and net.data_description.feature_columns == ["x"]
