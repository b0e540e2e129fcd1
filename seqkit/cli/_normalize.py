"""Feature standardisation from training statistics (DL4J's ``NormalizerStandardize``).

:func:`fit_standardizer` reads the training split once and computes each
feature channel's mean and standard deviation over the real (unmasked) steps
of every sequence. :class:`Standardized` wraps any batch source and applies
``(x - mean) / std`` to the features, keeping padded steps at zero. The
statistics are saved with the run (``data.json``) so ``evaluate`` and
``predict`` apply the same transform.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Standardized", "Standardizer", "fit_standardizer"]


class Standardizer:
    """Per-channel mean and standard deviation.

    Shape:
        mean, std: float64 ``[F]``. A channel whose values never vary gets std 1.
    """

    def __init__(self, mean, std, columns=None):
        self.mean = np.asarray(mean, dtype=np.float64)
        self.std = np.asarray(std, dtype=np.float64)
        if self.mean.shape != self.std.shape or self.mean.ndim != 1:
            raise ValueError(f"mean and std must be 1-D arrays of one size, got {self.mean.shape} "
                             f"and {self.std.shape}")
        self.columns = None if columns is None else [str(c) for c in columns]

    def apply(self, features: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        """Standardised float32 copy of ``features [N, F, T]``; steps where ``mask [N, T]`` is 0 stay 0."""
        if features.shape[1] != self.mean.shape[0]:
            raise ValueError(f"the data has {features.shape[1]} feature channels but the normalisation "
                             f"statistics are for {self.mean.shape[0]}")
        shape = (1, -1) + (1,) * (features.ndim - 2)
        out = (features - self.mean.reshape(shape)) / self.std.reshape(shape)
        if mask is not None:
            out = out * mask[:, None, :]
        return out.astype(np.float32, copy=False)

    def to_dict(self) -> dict:
        return {"mean": self.mean.tolist(), "std": self.std.tolist(), "columns": self.columns}

    @classmethod
    def from_dict(cls, data: dict) -> "Standardizer":
        return cls(data["mean"], data["std"], data.get("columns"))


def fit_standardizer(batches) -> Standardizer:
    """Mean and std of every feature channel over the real steps of ``batches`` (read once).

    Sums are accumulated in float64 around a first-batch shift, so large
    offsets do not cost precision.
    """
    total = shift = square = None
    count = 0.0
    for batch in batches:
        x = batch.features.astype(np.float64)                              # [N, F, T]
        weight = np.ones(x.shape[::2]) if batch.features_mask is None else batch.features_mask
        weight = weight.astype(np.float64)[:, None, :]                     # [N, 1, T]
        if shift is None:
            n = max(weight.sum(), 1.0)
            shift = (x * weight).sum(axis=(0, 2)) / n                      # [F]
            total = np.zeros_like(shift)
            square = np.zeros_like(shift)
        centred = (x - shift[None, :, None]) * weight
        total += centred.sum(axis=(0, 2))
        square += (centred * centred).sum(axis=(0, 2))
        count += float(weight.sum())
    if shift is None or count == 0:
        raise ValueError("cannot compute normalisation statistics: the training data holds no steps")
    mean_c = total / count
    var = np.maximum(square / count - mean_c * mean_c, 0.0)
    std = np.sqrt(var)
    std[std < 1e-12] = 1.0
    return Standardizer(shift + mean_c, std, getattr(batches, "feature_columns", None))


class Standardized:
    """A batch source whose features are standardised; re-iterable when ``source`` is.

    ``len`` and ``set_epoch`` (per-epoch shuffle) pass through to ``source``.
    """

    def __init__(self, source, standardizer: Standardizer | None):
        self.source, self.standardizer = source, standardizer

    def __len__(self) -> int:
        return len(self.source)

    def set_epoch(self, epoch: int) -> None:
        if hasattr(self.source, "set_epoch"):
            self.source.set_epoch(epoch)

    def __getattr__(self, name):
        if name in ("source", "standardizer"):
            raise AttributeError(name)
        return getattr(self.source, name)

    def __iter__(self):
        for batch in self.source:
            if self.standardizer is not None:
                batch.features = self.standardizer.apply(batch.features, batch.features_mask)
            yield batch
