"""The batch a `SequenceBatches` yields, and the alignment modes."""

from __future__ import annotations

import enum
from dataclasses import dataclass

import numpy as np

__all__ = ["Align", "Batch"]


class Align(str, enum.Enum):
    """How features and labels of different lengths share the T steps of a batch.

    DL4J semantics, per example:
        EQUAL_LENGTH: every sequence in the batch (features and labels) has
            the same length; anything else is an error naming the sequence.
        ALIGN_START: features and labels start at t=0; padding after.
        ALIGN_END: within each example, features and labels end at the same
            step (the example's longer one's last); the example starts at
            t=0. Labels of length 1 then sit at the last feature step.
    """

    EQUAL_LENGTH = "equal_length"
    ALIGN_START = "align_start"
    ALIGN_END = "align_end"

    def __str__(self) -> str:
        return self.value


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

    T is the longest of the features and labels lengths over the batch.
    """

    features: np.ndarray
    labels: np.ndarray | None
    features_mask: np.ndarray | None
    labels_mask: np.ndarray | None
    keys: list

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


def float_mask(mask: np.ndarray, lengths: np.ndarray) -> np.ndarray | None:
    """float32 `[N, T]` 0/1 from a bool step mask, or None when every step is real."""
    if (lengths == mask.shape[1]).all():
        return None
    return mask.astype(np.float32)
