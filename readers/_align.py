"""Align: how features and labels of different lengths share the T steps of a batch."""

from __future__ import annotations

import enum

__all__ = ["Align"]


class Align(str, enum.Enum):
    """How features and labels of different lengths share the T steps of a batch.

    DL4J semantics, per example:
        EQUAL_LENGTH: every sequence in the batch (features and labels) has
            the same length; anything else is an error naming the sequence.
        ALIGN_START: features and labels start at t=0; padding after.
        ALIGN_END: within each example, features and labels end at the same
            step (the example's longer one's last); the example starts at
            t=0. Labels of length 1 then sit at the last feature step.

    Shape:
        features `[N, F, T]` and labels `[N, C, T]` share T, the longest
        features or labels length in the batch.
    """

    EQUAL_LENGTH = "equal_length"
    ALIGN_START = "align_start"
    ALIGN_END = "align_end"

    def __str__(self) -> str:
        return self.value
