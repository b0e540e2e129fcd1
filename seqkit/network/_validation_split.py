"""validation_split: hold out a seeded, stratified share of the training sequences for validation.

``fit(data, validation_split=0.1)`` reads ``data`` once (a ``SequenceBatches``,
batches, or arrays), pads every sequence to the longest, and splits by
sequence: each class keeps its proportion in both parts (the class of a
sequence is its one-hot or integer label, at its last real step for
per-step labels; regression labels are split at random). The split is a
function of the network's seed, so the same seed gives the same split. The
training part is then cut into batches of the data's batch size (shuffled
per epoch when the data shuffles), each trimmed to its longest sequence; the
validation part is what ``EarlyStopping`` and ``state.validation_score()`` see.

Everything is held in memory: for data too large for that, pass
``validation=`` instead.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._data import ArrayBatches, HostBatch, as_host

__all__ = ["check_validation_split", "split_validation", "stratified_split"]


def check_validation_split(fraction, validation) -> float | None:
    """``fraction`` as a float in (0, 1), or None.

    Raises:
        ValueError: not a number in (0, 1), or given together with ``validation``.
    """
    if fraction is None:
        return None
    if isinstance(fraction, bool) or not isinstance(fraction, (int, float)) or not 0.0 < fraction < 1.0:
        raise ValueError(f"validation_split must be a number between 0 and 1 (exclusive), got {fraction!r}")
    if validation is not None:
        raise ValueError("give validation data or validation_split, not both")
    return float(fraction)


def stratified_split(groups: np.ndarray, fraction: float, seed: int) -> tuple:
    """``(train, validation)`` sorted index arrays: ``round(fraction * n_g)`` of each group g held out.

    Args:
        groups: int ``[N]``: each example's class (or 0 for all, unstratified).
        fraction: the share held out.
        seed: the split's seed (the same seed, the same split).

    Raises:
        ValueError: the split leaves no validation or no training example.
    """
    rng = np.random.default_rng([int(seed) % (2 ** 63), 0x5EC5])
    held = []
    for g in np.unique(groups):
        members = rng.permutation(np.flatnonzero(groups == g))
        held.append(members[:int(math.floor(fraction * len(members) + 0.5))])
    validation = np.sort(np.concatenate(held)) if held else np.zeros(0, np.int64)
    train = np.setdiff1d(np.arange(len(groups)), validation)
    if len(validation) == 0 or len(train) == 0:
        raise ValueError(f"validation_split={fraction} of {len(groups)} sequences leaves "
                         f"{len(train)} for training and {len(validation)} for validation; "
                         f"both need at least one (per class, round(fraction * count) are held out)")
    return train, validation


def _numpy(value):
    if value is None:
        return None
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _pad_steps(array, steps: int):
    """``array`` with its last axis (T) zero-padded to ``steps``."""
    extra = steps - array.shape[-1]
    if extra == 0:
        return array
    return np.pad(array, [(0, 0)] * (array.ndim - 1) + [(0, extra)])


def _per_step(labels) -> bool:
    """Labels with a time axis: one-hot ``[N, C, T]`` or class indices ``[N, T]``."""
    return labels is not None and (labels.ndim == 3 or (labels.dtype.kind in "iu" and labels.ndim == 2))


def _gather(source) -> dict:
    """Every batch of ``source`` as arrays over all sequences, padded to the longest (masks added)."""
    hosts = [as_host(item) for item in source]
    if not hosts:
        raise ValueError("validation_split: the training data holds no batch")
    parts = {name: [_numpy(getattr(h, name)) for h in hosts]
             for name in ("features", "labels", "features_mask", "labels_mask")}
    stepped = parts["features"][0].ndim == 3
    if not stepped:
        return {name: None if any(v is None for v in values) else np.concatenate(values)
                for name, values in parts.items()}
    steps = max(f.shape[-1] for f in parts["features"])
    per_step_labels = _per_step(parts["labels"][0])
    if per_step_labels:
        steps = max(steps, max(y.shape[-1] for y in parts["labels"]))
    out = {"features": np.concatenate([_pad_steps(f, steps) for f in parts["features"]])}
    for name in ("labels",):
        values = parts[name]
        out[name] = None if values[0] is None else np.concatenate(
            [_pad_steps(v, steps) if per_step_labels else v for v in values])
    padded = any(m is not None for m in parts["features_mask"]) or \
        any(f.shape[-1] != steps for f in parts["features"])
    out["features_mask"] = np.concatenate([
        _pad_steps(np.ones((f.shape[0], f.shape[-1]), np.float32) if m is None else m.astype(np.float32), steps)
        for f, m in zip(parts["features"], parts["features_mask"])]) if padded else None
    labels_masked = per_step_labels and any(m is not None for m in parts["labels_mask"])
    out["labels_mask"] = np.concatenate([
        _pad_steps(np.ones((y.shape[0], y.shape[-1]), np.float32) if m is None else m.astype(np.float32), steps)
        for y, m in zip(parts["labels"], parts["labels_mask"])]) if labels_masked else None
    return out


def _groups(arrays: dict) -> np.ndarray:
    """int ``[N]``: each sequence's class for stratifying, or all 0 (regression, no labels)."""
    labels, n = arrays["labels"], arrays["features"].shape[0]
    if labels is None:
        return np.zeros(n, np.int64)
    if labels.dtype.kind in "iu":                            # class indices [N] or [N, T]
        if labels.ndim == 1:
            return labels.astype(np.int64)
        return labels[np.arange(n), _last_real(arrays, labels.shape[-1])].astype(np.int64)
    one_hot = np.isin(labels, (0.0, 1.0)).all() and labels.ndim in (2, 3)
    if not one_hot:
        return np.zeros(n, np.int64)
    if labels.ndim == 2:
        return labels.argmax(1) if (labels.sum(1) == 1).all() else np.zeros(n, np.int64)
    at_last = labels[np.arange(n), :, _last_real(arrays, labels.shape[-1])]    # [N, C]
    return at_last.argmax(1)


def _last_real(arrays: dict, steps: int) -> np.ndarray:
    """int ``[N]``: each sequence's last step marked real by its labels (else features) mask."""
    mask = arrays["labels_mask"] if arrays["labels_mask"] is not None else arrays["features_mask"]
    n = arrays["features"].shape[0]
    if mask is None:
        return np.full(n, steps - 1)
    real = mask[:, :steps] != 0
    return np.where(real.any(1), steps - 1 - real[:, ::-1].argmax(1), steps - 1)


class TrimmedBatches:
    """Array batches with trailing steps that no sequence of the batch uses cut off.

    Args:
        batches: an ``ArrayBatches`` over padded ``[N, F, T]`` arrays with masks.
    """

    def __init__(self, batches: ArrayBatches):
        self.batches = batches

    def __len__(self) -> int:
        return len(self.batches)

    def set_epoch(self, epoch: int) -> None:
        self.batches.set_epoch(epoch)

    def __iter__(self):
        for b in self.batches:
            mask = b.features_mask if b.labels_mask is None else \
                np.maximum(b.features_mask, b.labels_mask) if b.features_mask is not None else b.labels_mask
            if mask is None or b.features.ndim != 3:
                yield b
                continue
            used = np.flatnonzero(np.asarray(mask).any(0))
            steps = int(used[-1]) + 1 if len(used) else 1
            cut = [b.features[..., :steps], b.labels[..., :steps] if _per_step(b.labels) else b.labels]
            fmask = None if b.features_mask is None else b.features_mask[:, :steps]
            if fmask is not None and fmask.all():
                fmask = None
            lmask = None if b.labels_mask is None else b.labels_mask[:, :steps]
            yield HostBatch(cut[0], cut[1], fmask, lmask, b.keys)


def split_validation(source, fraction: float, *, seed: int, batch_size: int, shuffle: bool) -> tuple:
    """``(training batches, validation arrays)``: ``source`` split by sequence (module docstring).

    Args:
        source: the training batches (any source ``fit`` accepts, already made a source).
        fraction: the share held out, in (0, 1).
        seed: the network's seed.
        batch_size, shuffle: how the training part is batched.

    Raises:
        ValueError: no batch, or a split that leaves either part empty.
    """
    arrays = _gather(source)
    train, held = stratified_split(_groups(arrays), fraction, seed)

    def take(index):
        return [None if arrays[k] is None else arrays[k][index]
                for k in ("features", "labels", "features_mask", "labels_mask")]

    batches = ArrayBatches(*take(train), batch_size=batch_size, shuffle=shuffle, seed=seed)
    return TrimmedBatches(batches), tuple(take(held))
