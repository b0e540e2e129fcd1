"""Training and inference data: sources of batches, device copies, one-batch-ahead prefetch.

What ``fit``, ``score`` and ``evaluate`` accept (:func:`as_source`):

- a ``readers.SequenceBatches`` (re-iterable; its shuffle order for epoch e
  is a function of (seed, e), which ``fit`` sets with ``set_epoch``);
- one ``readers.Batch``, or any iterable of them (a list, a custom class);
  tuples ``(features, labels[, features_mask, labels_mask])`` work in place of
  ``Batch`` objects;
- arrays: ``(features, labels)`` or ``(features, labels, features_mask,
  labels_mask)``, numpy or torch, cut into batches of ``batch_size``
  (:class:`ArrayBatches`; optional per-epoch shuffle from (seed, epoch)).

Labels may also be integer class indices (``[N]`` or ``[N, T]``) for a
classification head; :mod:`seqkit.network._labels` turns them into one-hot.

A one-shot iterator (a generator) can be read once: ``fit`` with
``epochs > 1`` on one is an error.

:class:`Prefetcher` reads and converts the next batch in a background thread
while the current one computes. On CUDA the host arrays are pinned and
copied with ``non_blocking=True`` on a side stream; the consumer's stream
waits on an event, so the training step never blocks on the copy. Each
mask keeps a CPU copy next to the device one, which lets the recurrent
layers analyse padding (one run per example?) without a device sync.
"""

from __future__ import annotations

import collections.abc
import queue
import threading
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np
import torch

from ._data_description import describe_data
from ._labels import is_integer_labels
from ._settings import positive_int

__all__ = ["ArrayBatches", "DeviceBatch", "HostBatch", "Prefetcher", "as_host", "as_source", "is_one_shot",
           "LoaderSource", "data_view", "guard_side_stream", "match_columns", "to_device"]


def _is_array(value) -> bool:
    return isinstance(value, (np.ndarray, torch.Tensor))


def _batch_type():
    import readers
    return readers.Batch


@dataclass
class HostBatch:
    """A batch before the device copy: arrays (numpy or torch) and keys."""

    features: Any
    labels: Any = None
    features_mask: Any = None
    labels_mask: Any = None
    keys: list | None = None


def as_host(item) -> HostBatch:
    """``item`` (a ``readers.Batch``, a tuple of arrays or a :class:`HostBatch`) as a :class:`HostBatch`."""
    if isinstance(item, HostBatch):
        return item
    if isinstance(item, _batch_type()):
        return HostBatch(item.features, item.labels, item.features_mask, item.labels_mask, item.keys)
    if isinstance(item, (tuple, list)) and 1 <= len(item) <= 4 and _is_array(item[0]):
        parts = list(item) + [None] * (4 - len(item))
        return HostBatch(*parts)
    raise TypeError(f"expected a readers.Batch or a tuple (features, labels[, features_mask, "
                    f"labels_mask]) of arrays, got {type(item).__name__}")


class ArrayBatches:
    """Arrays cut into batches along dim 0, re-iterable; optionally shuffled per epoch.

    Args:
        features: ``[N, F, T]``, ``[N, F]`` or a video/image array (numpy or torch).
        labels, features_mask, labels_mask: arrays with the same N, or None.
        batch_size: examples per batch (the last may be smaller).
        shuffle: a new order each epoch, from ``(seed, epoch)``.
        seed: the shuffle seed.
        shard: ``(rank, world_size)``: this rank takes examples ``rank, rank + w, ...``
            of each epoch's order (torch.distributed), so batch k of the w ranks
            together is batch k of one process with batch ``w * batch_size``.

    Keys are the examples' row indices in the arrays.
    """

    def __init__(self, features, labels=None, features_mask=None, labels_mask=None, *,
                 batch_size: int = 32, shuffle: bool = False, seed: int | None = None, shard=None):
        positive_int(batch_size, "batch_size", error=ValueError)
        arrays = {"features": features, "labels": labels, "features_mask": features_mask,
                  "labels_mask": labels_mask}
        n = None
        for name, value in arrays.items():
            if value is None:
                continue
            if not _is_array(value):
                value = np.asarray(value)
                arrays[name] = value
            if value.ndim == 0:
                raise ValueError(f"{name} must have a batch dimension, got a scalar")
            if n is None:
                n = int(value.shape[0])
            elif int(value.shape[0]) != n:
                raise ValueError(f"{name} has {value.shape[0]} examples (dim 0) but features has {n}")
        if n is None or arrays["features"] is None:
            raise ValueError("features are required")
        self._arrays, self.n, self.batch_size = arrays, n, batch_size
        self.shuffle, self.seed, self.epoch = shuffle, seed, 0
        self.rank, self.world_size = (0, 1) if shard is None else (int(shard[0]), int(shard[1]))

    @property
    def features_shape(self) -> tuple:
        """The shape of all the features, ``[N, ...]``."""
        return tuple(self._arrays["features"].shape)

    def set_epoch(self, epoch: int) -> None:
        """The next iteration uses epoch ``epoch``'s order."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        share = len(range(self.rank, self.n, self.world_size))
        return -(-share // self.batch_size)

    def __iter__(self):
        epoch, self.epoch = self.epoch, self.epoch + 1
        if self.shuffle:
            order = np.random.default_rng([0 if self.seed is None else self.seed, epoch]).permutation(self.n)
        elif self.world_size > 1:
            order = np.arange(self.n)
        else:
            order = None
        if order is not None and self.world_size > 1:
            order = order[self.rank::self.world_size]                       # this rank's share
        a = self._arrays
        count = self.n if order is None else len(order)
        for start in range(0, count, self.batch_size):
            if order is None:
                index = slice(start, start + self.batch_size)
                keys = list(range(start, min(start + self.batch_size, self.n)))
            else:
                rows = order[start:start + self.batch_size]
                index = torch.as_tensor(rows) if isinstance(a["features"], torch.Tensor) else rows
                keys = [int(r) for r in rows]
            yield HostBatch(*(None if a[k] is None else _take(a[k], index, order is not None)
                              for k in ("features", "labels", "features_mask", "labels_mask")), keys=keys)


def _take(array, index, fancy: bool):
    if isinstance(array, torch.Tensor) and fancy:
        return array.index_select(0, torch.as_tensor(index, device=array.device))
    return array[index]


class _Single:
    def __init__(self, item):
        self._item = item

    def __len__(self) -> int:
        return 1

    def __iter__(self):
        yield self._item


def is_one_shot(source) -> bool:
    """True for an iterator, which a second pass would find empty (asked without iterating: a
    DataLoader would start its workers)."""
    return isinstance(source, collections.abc.Iterator)


class LoaderSource:
    """A ``torch.utils.data.DataLoader`` as a source of batches: ``set_epoch`` reaches its dataset
    (a ``SequenceDataset`` shuffles per epoch), ``len`` is the loader's when it knows it."""

    def __init__(self, loader):
        self.loader, self.dataset = loader, loader.dataset

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.dataset, "set_epoch"):
            self.dataset.set_epoch(epoch)

    def __len__(self) -> int:
        return len(self.loader)

    def __iter__(self):
        return iter(self.loader)


def data_view(data):
    """What describes ``data``'s columns and sharding: a DataLoader's dataset, else ``data`` itself."""
    if isinstance(data, torch.utils.data.DataLoader):
        return data.dataset
    return data


def as_source(data, *, batch_size: int = 32, shuffle: bool = False, seed: int | None = None, shard=None):
    """An iterable of batches from any accepted form of ``data`` (module docstring).

    ``shard``: ``(rank, world_size)`` for array data under torch.distributed.

    Raises:
        TypeError: for data of another kind, saying what is accepted.
    """
    if isinstance(data, _batch_type()) or isinstance(data, HostBatch):
        return _Single(data)
    if isinstance(data, torch.utils.data.DataLoader):
        return LoaderSource(data)
    if isinstance(data, (tuple, list)) and 1 <= len(data) <= 4 and _is_array(data[0]):
        return ArrayBatches(*data, batch_size=batch_size, shuffle=shuffle, seed=seed, shard=shard)
    if isinstance(data, dict):
        return ArrayBatches(batch_size=batch_size, shuffle=shuffle, seed=seed, shard=shard, **data)
    if _is_array(data):
        raise TypeError("pass arrays as a tuple (features, labels[, features_mask, labels_mask]), "
                        "not a bare array")
    try:
        iter(data)
    except TypeError:
        raise TypeError(f"data must be a readers.SequenceBatches, an iterable of readers.Batch, "
                        f"or arrays (features, labels[, features_mask, labels_mask]); got "
                        f"{type(data).__name__}") from None
    return data


class _ReorderedFeatures:
    """Batches of ``source`` with the feature channels (dim 1) taken in ``order``."""

    def __init__(self, source, order):
        self._source, self._order = source, order

    def __len__(self) -> int:
        return len(self._source)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self._source, "set_epoch"):
            self._source.set_epoch(epoch)

    def __iter__(self):
        for item in self._source:
            host = as_host(item)
            f = host.features
            if isinstance(f, torch.Tensor):
                f = f.index_select(1, torch.as_tensor(self._order, device=f.device))
            else:
                f = np.take(np.asarray(f), self._order, axis=1)
            yield HostBatch(f, host.labels, host.features_mask, host.labels_mask, host.keys)


def match_columns(net, data, source, where: str, *, record: bool = False):
    """``source`` with its feature columns in the network's order, matched by name.

    When ``data`` knows its columns (a ``readers.SequenceBatches``) and the
    network has a :class:`~seqkit.network.DataDescription`, the columns are
    matched by name (reordered when needed; a missing or extra name is an
    error) and class names must agree. With ``record`` (``fit``), a network
    without a description takes ``data``'s.
    """
    described = describe_data(data)
    if described is None:
        return source
    if net.data_description is None:
        if record:
            net.data_description = described
        return source
    net.data_description.check_classes(described.class_names, where)
    order = net.data_description.feature_order(described.feature_columns, where)
    return source if order is None else _ReorderedFeatures(source, order)


# -- device copies ----------------------------------------------------------------------------
@dataclass
class DeviceBatch:
    """A batch on the network's device, with CPU copies of the masks.

    Shape:
        features ``[N, F, T]`` (or ``[N, F]``, video ``[N, C, T, H, W]``...);
        labels ``[N, C, T]`` or ``[N, C]`` or None; masks ``[N, T]`` or None,
        ``*_mask_host`` the same values on the CPU.
    """

    features: torch.Tensor
    labels: torch.Tensor | None
    features_mask: torch.Tensor | None
    labels_mask: torch.Tensor | None
    features_mask_host: torch.Tensor | None
    labels_mask_host: torch.Tensor | None
    keys: list | None
    event: Any = None

    def __len__(self) -> int:
        return int(self.features.shape[0])

    def wait(self) -> "DeviceBatch":
        """Make the current CUDA stream wait for this batch's copies (no-op on CPU)."""
        if self.event is not None:
            stream = torch.cuda.current_stream(self.features.device)
            stream.wait_event(self.event)
            for t in (self.features, self.labels, self.features_mask, self.labels_mask):
                if t is not None:
                    t.record_stream(stream)
            self.event = None
        return self


def _to_tensor(value, what: str) -> torch.Tensor:
    if isinstance(value, torch.Tensor):
        return value
    array = np.asarray(value)
    if array.dtype == object:
        raise TypeError(f"{what} must be a numeric array, got dtype object")
    return torch.from_numpy(np.ascontiguousarray(array))


def _move(t: torch.Tensor, device: torch.device, dtype, pin: bool) -> torch.Tensor:
    if dtype is not None and t.dtype != dtype:
        t = t.to(dtype)
    if t.device == device:
        return t
    if pin and t.device.type == "cpu":
        return t.pin_memory().to(device, non_blocking=True)
    return t.to(device)


def guard_side_stream(stream, device: torch.device, tensors) -> None:
    """Let ``stream`` (the prefetch copy stream) read ``tensors`` that live on the GPU already.

    Such a tensor may have been written by work still queued on the current
    stream (a shuffle's ``index_select``): the side stream first waits for that
    stream, and each tensor is recorded on the side stream so that its memory is
    not reused while the copy or cast there still reads it.
    """
    on_gpu = [t for t in tensors if t is not None and t.device.type == "cuda"]
    if not on_gpu:
        return
    stream.wait_stream(torch.cuda.current_stream(device))
    for t in on_gpu:
        t.record_stream(stream)


def to_device(item, device: torch.device, dtype: torch.dtype, *, stream=None,
              class_labels=None) -> DeviceBatch:
    """Copy one batch (``readers.Batch``, tuple or :class:`HostBatch`) to ``device`` as ``dtype``.

    ``class_labels``: a :class:`seqkit.network._labels.ClassIndexLabels` for the
    network's output layer; integer labels then go through it on the host
    (class indices become one-hot, see :mod:`seqkit.network._labels`). Without it,
    integer labels are only converted to ``dtype``.
    """
    host = as_host(item)
    device = torch.device(device)
    cuda = device.type == "cuda"
    feats = _to_tensor(host.features, "features")
    if not feats.is_floating_point():
        feats = feats.to(dtype)
    labels = None if host.labels is None else _to_tensor(host.labels, "labels")
    fm = None if host.features_mask is None else _to_tensor(host.features_mask, "features_mask")
    lm = None if host.labels_mask is None else _to_tensor(host.labels_mask, "labels_mask")
    fm_host = None if fm is None else fm.to("cpu", torch.float32) if fm.device.type != "cpu" else fm.float()
    lm_host = None if lm is None else lm.to("cpu", torch.float32) if lm.device.type != "cpu" else lm.float()
    if labels is not None and class_labels is not None and is_integer_labels(labels):
        labels = class_labels(labels, lm_host if lm_host is not None else fm_host, host.keys)
    if cuda and stream is not None:
        guard_side_stream(stream, device, (feats, labels, fm, lm))
    ctx = torch.cuda.stream(stream) if (cuda and stream is not None) else _nullcontext()
    with ctx:
        out = DeviceBatch(
            _move(feats, device, dtype, cuda),
            None if labels is None else _move(labels, device, dtype, cuda),
            None if fm is None else _move(fm, device, dtype, cuda),
            None if lm is None else _move(lm, device, dtype, cuda),
            fm_host, lm_host, None if host.keys is None else list(host.keys))
        if cuda and stream is not None:
            out.event = torch.cuda.Event()
            out.event.record(stream)
    return out


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False


_END = object()


class Prefetcher:
    """Iterate ``source``, each batch converted for the device; on a GPU one batch ahead in a
    background thread.

    On a CUDA device the thread reads and converts the next batch (its copies on
    a side stream) while the current one trains. On the CPU there is no copy to
    overlap, and a second Python thread only competes for the GIL with the
    training step (measured: about 5 % more CPU time per epoch for the FCN
    recipe on JapaneseVowels, one torch thread), so batches are read and
    converted in line; readers that decode in bulk (Parquet) keep their own
    background thread either way.

    Args:
        source: an iterable of batches.
        device, dtype: where and as what the batches go.
        skip: raw batches to read and drop first (resuming mid-epoch).
        class_labels: as :func:`to_device` (integer class indices to one-hot).

    Errors raised while reading (bad data) are re-raised in the consumer.
    Use it as an iterator, and :meth:`close` it (or exhaust it) when done.
    """

    def __init__(self, source: Iterable, device, dtype, *, skip: int = 0, depth: int = 1,
                 class_labels=None):
        self._source, self._device, self._dtype, self._skip = source, torch.device(device), dtype, skip
        self._class_labels = class_labels
        self._threaded = self._device.type != "cpu"
        self._queue: queue.Queue = queue.Queue(maxsize=max(1, depth))
        self._stop = threading.Event()
        self._stream = torch.cuda.Stream(self._device) if self._device.type == "cuda" else None
        self._thread = threading.Thread(target=self._work, name="seqkit-prefetch", daemon=True)
        self._started = False

    def _in_line(self):
        """The CPU path: read, skip and convert each batch in the consumer's thread."""
        for k, item in enumerate(self._source):
            if self._stop.is_set():
                return
            if k >= self._skip:
                yield to_device(item, self._device, self._dtype, class_labels=self._class_labels)

    def _put(self, item) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def _work(self) -> None:
        try:
            for k, item in enumerate(self._source):
                if self._stop.is_set():
                    return
                if k < self._skip:
                    continue
                if not self._put(to_device(item, self._device, self._dtype, stream=self._stream,
                                           class_labels=self._class_labels)):
                    return
            self._put(_END)
        except BaseException as err:                       # re-raised in the consumer
            self._put(err)

    def __iter__(self):
        if not self._threaded:
            try:
                yield from self._in_line()
            finally:
                self.close()
            return
        if not self._started:
            self._started = True
            self._thread.start()
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item.wait()
        finally:
            self.close()

    def close(self) -> None:
        """Stop reading (a reader thread finishes the batch it is reading)."""
        self._stop.set()
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        if self._started and self._thread.is_alive() and threading.current_thread() is not self._thread:
            self._thread.join(timeout=5.0)
