"""SequenceDataset: ``readers.SequenceBatches`` as a torch ``IterableDataset``, for DataLoader workers.

::

    batches = readers.SequenceBatches(reader, labels, batch_size=32, shuffle=True, seed=1, shard="auto")
    dataset = seqkit.network.SequenceDataset(batches)
    loader = torch.utils.data.DataLoader(dataset, batch_size=None, num_workers=4, pin_memory=True)
    for epoch in range(10):
        dataset.set_epoch(epoch)
        for batch in loader:            # a readers.Batch whose arrays are torch tensors
            ...

Each worker reads its part of this rank's share (``SequenceBatches.worker_share``
with ``torch.utils.data.get_worker_info()``), so the workers of all ranks
together read every sequence once per epoch: whole units (files, Parquet row
groups, CSV blocks) when the data is shared out by unit, every
``rank + world_size * worker``-th sequence of ``world_size * num_workers``
when by sequence. Batches stay whole: pass ``batch_size=None`` to the
DataLoader. Each batch arrives as a ``readers.Batch`` whose arrays are torch
tensors (made in the worker, so they travel through shared memory), pinned
when the DataLoader pins memory. The DataLoader takes batches from its
workers in turn, so with ``num_workers > 1`` the batch order (not the set of
sequences) differs from one process reading alone.

The epoch: as with ``DistributedSampler``, call ``set_epoch(e)`` before each
epoch for a new shuffle order; it reaches the workers (also persistent
ones) through shared memory.
"""

from __future__ import annotations

import dataclasses

import torch
from torch.utils.data import IterableDataset, get_worker_info

import readers

__all__ = ["SequenceDataset"]


class _TensorBatch(readers.Batch):
    """A ``readers.Batch`` of torch tensors, which a DataLoader with ``pin_memory=True`` pins."""

    def pin_memory(self, device=None) -> "_TensorBatch":
        def pin(t):
            return None if t is None else t.pin_memory()
        return dataclasses.replace(self, features=pin(self.features), labels=pin(self.labels),
                                   features_mask=pin(self.features_mask), labels_mask=pin(self.labels_mask))


def _tensors(batch) -> _TensorBatch:
    def tensor(a):
        return None if a is None else torch.from_numpy(a) if not isinstance(a, torch.Tensor) else a
    return _TensorBatch(tensor(batch.features), tensor(batch.labels), tensor(batch.features_mask),
                        tensor(batch.labels_mask), list(batch.keys), batch.class_names)


class SequenceDataset(IterableDataset):
    """A ``readers.SequenceBatches`` (or ``StandardizedBatches``) as a torch ``IterableDataset``.

    Args:
        batches: the batches; their ``shard`` says the rank's share (give
            ``shard="auto"`` under torchrun), and each DataLoader worker
            reads its part of it.
        num_workers: the DataLoader's ``num_workers``, only for ``len()``
            (the workers' batches together; without it ``len`` is unknown,
            a ``TypeError``).

    Attributes of the batches (``feature_columns``, ``class_names``,
    ``align``...) are attributes of the dataset too.

    Raises:
        TypeError: ``batches`` cannot be split between workers (no ``worker_share``).
        ValueError: under an initialised ``torch.distributed``, batches
            sharded for another number of ranks; in a worker, a DataLoader
            with other ``num_workers`` than given here.
    """

    def __init__(self, batches, *, num_workers: int | None = None):
        if not callable(getattr(batches, "worker_share", None)):
            raise TypeError(f"SequenceDataset needs readers.SequenceBatches (or StandardizedBatches), "
                            f"got {type(batches).__name__}")
        if num_workers is not None and (isinstance(num_workers, bool) or not isinstance(num_workers, int)
                                        or num_workers < 0):
            raise ValueError(f"num_workers must be a non-negative int or None, got {num_workers!r}")
        world = getattr(batches, "world_size", 1)
        if torch.distributed.is_available() and torch.distributed.is_initialized() \
                and torch.distributed.get_world_size() != world:
            raise ValueError(f"torch.distributed runs {torch.distributed.get_world_size()} ranks but the "
                             f"batches are sharded for {world}: give SequenceBatches shard='auto'")
        self.batches = batches
        self.num_workers = num_workers
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()

    @property
    def epoch(self) -> int:
        """The epoch the next iteration reads (its shuffle order)."""
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        """Read epoch ``epoch`` next (its shuffle order), in this process and in the workers."""
        self._epoch.fill_(int(epoch))

    def _part(self, worker: int, workers: int):
        part = self.batches.worker_share(worker, workers)
        part.set_epoch(self.epoch)
        return part

    def __iter__(self):
        info = get_worker_info()
        worker, workers = (0, 1) if info is None else (info.id, info.num_workers)
        if info is not None and self.num_workers is not None and self.num_workers != workers:
            raise ValueError(f"SequenceDataset(num_workers={self.num_workers}) read by a DataLoader with "
                             f"num_workers={workers}")
        for batch in self._part(worker, workers):
            yield _tensors(batch)

    def __len__(self) -> int:
        """The batches of one epoch of this rank, all workers together (needs ``num_workers``)."""
        if self.num_workers is None:
            raise TypeError("give SequenceDataset(num_workers=...) the DataLoader's num_workers to know "
                            "its number of batches")
        workers = max(1, self.num_workers)
        return sum(len(self._part(w, workers)) for w in range(workers))

    def __getattr__(self, name: str):
        if name.startswith("_") or name in ("batches", "num_workers"):
            raise AttributeError(name)
        return getattr(self.batches, name)

    def __repr__(self) -> str:
        return f"SequenceDataset({self.batches!r}, num_workers={self.num_workers!r})"
