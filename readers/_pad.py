"""Padding and masks, vectorised: sequences back to back -> `[N, F, T]`.

Every function takes the sequences of one batch stored back to back, one
flat array `[R]` per channel (R the total real steps), with per-example
lengths and start steps. The real steps of example n fill `t in [start[n], start[n] + length[n])`;
a boolean step mask in row-major order (n, then t) lists the real slots in
exactly the order the values are stored, so one masked assignment per channel
scatters a whole batch.
"""

from __future__ import annotations

import numpy as np

__all__ = ["float_mask", "one_hot", "pad", "step_mask"]


def step_mask(lengths: np.ndarray, starts, steps: int) -> np.ndarray:
    """bool `[N, T]`: True at the real steps of each example.

    Args:
        lengths: int `[N]` real steps per example.
        starts: int `[N]` (or 0): the step where each example's values begin.
        steps: T, the padded length.
    """
    t = np.arange(steps)                                   # [T]
    if np.isscalar(starts) and starts == 0:
        return t < lengths[:, None]                        # [N, T]
    return (t >= starts[:, None]) & (t < (starts + lengths)[:, None])   # [N, T]


def pad(channels: list, mask: np.ndarray) -> np.ndarray:
    """float32 `[N, F, T]`: the channels placed at the True slots of `mask`, zeros elsewhere.

    Args:
        channels: F arrays `[R]`, the batch's steps back to back, R == mask.sum().
        mask: bool `[N, T]` from `step_mask`.

    Shape:
        F x `[R]` + `[N, T]` -> `[N, F, T]`.
    """
    n, steps = mask.shape
    full = len(channels) > 0 and len(channels[0]) == n * steps          # nothing padded
    make = np.empty if full else np.zeros
    out = make((n, len(channels), steps), dtype=np.float32)            # [N, F, T]
    for f, channel in enumerate(channels):                              # one scatter per channel
        if full:
            out[:, f, :] = channel.reshape(n, steps)
        else:
            out[:, f, :][mask] = channel
    return out


def one_hot(classes: np.ndarray, mask: np.ndarray, num_classes: int) -> np.ndarray:
    """float32 `[N, C, T]`: 1 at `(n, classes[r], t)` for the r-th True slot `(n, t)` of `mask`.

    Args:
        classes: int `[R]` class index of each real step, back to back.
        mask: bool `[N, T]`, R == mask.sum().
    """
    n, steps = mask.shape
    out = np.zeros((n, num_classes, steps), dtype=np.float32)          # [N, C, T]
    rows, cols = np.nonzero(mask)                                       # [R] each, row-major
    out[rows, classes, cols] = 1.0
    return out


def float_mask(mask: np.ndarray, lengths: np.ndarray) -> np.ndarray | None:
    """float32 `[N, T]` 0/1 from a bool step mask `[N, T]`, or None when every step is real.

    Args:
        mask: bool `[N, T]`, True at real steps.
        lengths: int `[N]` real steps per example.
    """
    if (lengths == mask.shape[1]).all():
        return None
    return mask.astype(np.float32)
