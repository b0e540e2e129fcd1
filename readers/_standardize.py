"""Per-feature standardisation of batches, fitted on the real steps of a training set."""

from __future__ import annotations

from dataclasses import replace
from typing import Iterable, Iterator

import numpy as np

from ._batch import Batch
from ._errors import SequenceDataError

__all__ = ["Standardizer"]


class Standardizer:
    """``(x - mean) / std`` per feature, with statistics from real (unmasked) steps only.

    The data-side counterpart of DL4J's ``NormalizerStandardize``: fit it on the
    training batches, then apply the same statistics to every split. Padded
    steps stay exactly 0, so masks keep their meaning. A feature whose standard
    deviation is 0 is only centred (divided by 1).

    Use it on one batch (``standardizer.transform(batch)``) or wrap a whole
    re-iterable of batches (``standardizer(batches)``); the wrapper passes
    ``len()`` and ``set_epoch`` through, so shuffling and progress bars work as
    on the wrapped batches.

    ``Standardizer(per_sequence=True)`` z-normalises each sequence on its own
    instead (per channel, over that sequence's real steps: what the UCR/UEA
    archive expects); it needs no fitting and holds no statistics.

    Shape:
        mean, std: ``[F]`` float64; batches' features ``[N, F, T]``.

    Attributes:
        columns: the feature names it was fitted on, when known, else None.
        per_sequence: True for per-sequence z-normalisation.
    """

    def __init__(self, mean=None, std=None, columns=None, *, per_sequence: bool = False):
        self.per_sequence = bool(per_sequence)
        if self.per_sequence:
            if mean is not None or std is not None:
                raise ValueError("Standardizer(per_sequence=True) takes no mean or std: each sequence is "
                                 "normalised by its own")
            mean, std = (), ()
        elif mean is None or std is None:
            raise ValueError("Standardizer needs mean and std (use Standardizer.fit(batches)), or "
                             "per_sequence=True")
        self.columns = None if columns is None else [str(c) for c in columns]
        self.mean = np.asarray(mean, dtype=np.float64).reshape(-1)          # [F]
        self.std = np.asarray(std, dtype=np.float64).reshape(-1)            # [F]
        if self.mean.shape != self.std.shape:
            raise ValueError(f"Standardizer: mean has {self.mean.size} features but std has {self.std.size}")
        if not (np.all(np.isfinite(self.mean)) and np.all(np.isfinite(self.std)) and np.all(self.std >= 0)):
            raise ValueError("Standardizer: mean and std must be finite and std non-negative")

    @classmethod
    def fit(cls, batches: Iterable[Batch]) -> "Standardizer":
        """Mean and standard deviation of each feature over every real step of ``batches``.

        Sums are kept in float64 around the first batch's mean, so a large
        offset (values near 1e6, say) costs no precision. The feature names
        are taken from ``batches.feature_columns`` when present. Raises
        ValueError when there is no real step or the feature count changes
        between batches.
        """
        shift = total = total_sq = None
        count = 0.0
        for batch in batches:
            x = batch.features.astype(np.float64, copy=False)                 # [N, F, T]
            if batch.features_mask is None:
                w = np.ones((x.shape[0], 1, x.shape[2]))                       # [N, 1, T]
            else:
                w = batch.features_mask.astype(np.float64)[:, None, :]         # [N, 1, T]
            if shift is None:
                shift = (x * w).sum(axis=(0, 2)) / max(float(w.sum()), 1.0)    # [F]
                total, total_sq = np.zeros_like(shift), np.zeros_like(shift)
            elif x.shape[1] != shift.size:
                raise ValueError(f"Standardizer.fit: batches have {shift.size} and then {x.shape[1]} features")
            centred = (x - shift[None, :, None]) * w                           # [N, F, T]
            total += centred.sum(axis=(0, 2))
            total_sq += (centred * centred).sum(axis=(0, 2))
            count += float(w.sum())
        if shift is None or count == 0:
            raise ValueError("Standardizer.fit: the batches hold no real step to fit on")
        mean_c = total / count
        var = np.maximum(total_sq / count - mean_c * mean_c, 0.0)
        return cls(shift + mean_c, np.sqrt(var), columns=getattr(batches, "feature_columns", None))

    def for_columns(self, columns) -> "Standardizer":
        """This standardizer with its statistics in the order of ``columns`` (matched by name).

        Returns ``self`` when the names are the same in the same order, or when
        either side has no names.

        Raises:
            SequenceDataError: a column the standardizer was fitted on is
                missing, or the data has one it was not fitted on (both named).
        """
        if self.per_sequence or self.columns is None or columns is None:
            return self
        given = [str(c) for c in columns]
        if given == self.columns:
            return self
        missing = [c for c in self.columns if c not in given]
        extra = [c for c in given if c not in self.columns]
        if missing or extra:
            raise SequenceDataError(
                f"Standardizer: fitted on columns {self.columns} but the data has {given} (missing: "
                f"{missing or 'none'}; extra: {extra or 'none'}); statistics are matched by name")
        order = [self.columns.index(c) for c in given]
        return Standardizer(self.mean[order], self.std[order], given)

    def transform(self, batch: Batch) -> Batch:
        """A copy of ``batch`` with standardised features (float32); padding stays 0.

        The batch's channels must be in this standardizer's column order
        (``__call__`` matches a ``SequenceBatches``' columns by name first).
        """
        x = batch.features
        if self.per_sequence:
            return replace(batch, features=_per_sequence(x, batch.features_mask))
        if x.shape[1] != self.mean.size:
            raise ValueError(f"Standardizer: fitted on {self.mean.size} features, "
                             f"got a batch with {x.shape[1]} (features shape {x.shape})")
        scale = np.where(self.std > 0, self.std, 1.0)
        mean = self.mean.astype(np.float32)[None, :, None]                    # [1, F, 1]
        inv = (1.0 / scale).astype(np.float32)[None, :, None]                 # [1, F, 1]
        out = (x - mean) * inv                                                # [N, F, T]
        if batch.features_mask is not None:
            out *= batch.features_mask[:, None, :]
        return replace(batch, features=out.astype(np.float32, copy=False))

    def __call__(self, batches: Iterable[Batch]) -> "StandardizedBatches":
        """Wrap a re-iterable of batches so each comes out standardised."""
        return StandardizedBatches(batches, self)

    def to_dict(self) -> dict:
        """JSON-safe statistics, for saving beside a model."""
        if self.per_sequence:
            return {"per_sequence": True}
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "columns": self.columns}

    @classmethod
    def from_dict(cls, data: dict) -> "Standardizer":
        """The inverse of :meth:`to_dict`."""
        if data.get("per_sequence"):
            return cls(per_sequence=True)
        return cls(data["mean"], data["std"], data.get("columns"))

    def __repr__(self) -> str:
        return "Standardizer(per_sequence=True)" if self.per_sequence else f"Standardizer(features={self.mean.size})"


def _per_sequence(x: np.ndarray, mask) -> np.ndarray:
    """Each sequence and channel z-normalised over its real steps; padding stays 0 (a constant
    channel is only centred).

    Shape:
        x ``[N, F, T]``; mask ``[N, T]`` or None; returns ``[N, F, T]`` float32.
    """
    w = np.ones((x.shape[0], 1, x.shape[2])) if mask is None else np.asarray(mask, np.float64)[:, None, :]
    count = np.maximum(w.sum(axis=2, keepdims=True), 1.0)                   # [N, 1, 1]
    xf = np.asarray(x, np.float64)
    mean = (xf * w).sum(axis=2, keepdims=True) / count                      # [N, F, 1]
    var = (((xf - mean) * w) ** 2).sum(axis=2, keepdims=True) / count       # [N, F, 1]
    std = np.sqrt(var)
    out = (xf - mean) / np.where(std > 0, std, 1.0) * w                     # [N, F, T]
    return out.astype(np.float32)


class StandardizedBatches:
    """A re-iterable view of batches standardised by a :class:`Standardizer`."""

    def __init__(self, batches: Iterable[Batch], standardizer: Standardizer):
        self.batches = batches
        self.standardizer = standardizer

    def __iter__(self) -> Iterator[Batch]:
        # Statistics matched to the data's columns by name, never by position.
        matched = self.standardizer.for_columns(getattr(self.batches, "feature_columns", None))
        for batch in self.batches:
            yield matched.transform(batch)

    def __len__(self) -> int:
        return len(self.batches)                      # TypeError when the wrapped batches have no len

    def set_epoch(self, epoch: int) -> None:
        """Pass the epoch to the wrapped batches (reproducible per-epoch shuffling)."""
        if hasattr(self.batches, "set_epoch"):
            self.batches.set_epoch(epoch)

    def worker_share(self, worker_id: int, num_workers: int) -> "StandardizedBatches":
        """The wrapped batches' `worker_share`, standardised the same way (see `SequenceBatches.worker_share`)."""
        return StandardizedBatches(self.batches.worker_share(worker_id, num_workers), self.standardizer)

    def __getattr__(self, name):
        # Everything else (num_features, feature_columns, ...) comes from the wrapped batches.
        if name in ("batches", "standardizer"):
            raise AttributeError(name)
        return getattr(self.batches, name)
