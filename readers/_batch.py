"""Batch: the padded, masked examples a `SequenceBatches` yields."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Batch"]


@dataclass(eq=False)
class Batch:
    """N padded examples, channels first (NCL).

    Shape:
        features: float32 `[N, F, T]`.
        labels: float32 `[N, C, T]` one-hot (classification), `[N, K, T]`
            (regression), `[N, C]` or `[N, K]` (sequence labels), or None.
        features_mask, labels_mask: float32 `[N, T]`, 1 at real steps, 0 at
            padding; None when nothing in the batch is padded (and the labels
            mask is always None for sequence labels).
        keys: the N sequence keys (file path, id value or `path#row`).

    Attributes:
        class_names: the C class names in class index order (from
            `SequenceBatches(classes=...)` or `class_names=`), or None. Not
            part of `as_tuple()`.

    T is the longest of the features and labels lengths over the batch.
    """

    features: np.ndarray
    labels: np.ndarray | None
    features_mask: np.ndarray | None
    labels_mask: np.ndarray | None
    keys: list
    class_names: list | None = None

    def __len__(self) -> int:
        return self.features.shape[0]

    def as_tuple(self) -> tuple:
        """`(features, labels, features_mask, labels_mask)`."""
        return self.features, self.labels, self.features_mask, self.labels_mask

    def __repr__(self) -> str:
        def shape(a):
            return None if a is None else list(a.shape)
        return (f"Batch(features={shape(self.features)}, labels={shape(self.labels)}, "
                f"features_mask={shape(self.features_mask)}, labels_mask={shape(self.labels_mask)}, "
                f"keys=[{len(self.keys)} keys])")

