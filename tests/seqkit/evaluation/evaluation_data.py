"""Test data for the evaluation tests: ragged masked NCL batches, and a deep ``to_dict`` comparison."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class MaskedBatch:
    labels: np.ndarray       # one-hot [N, C, T] float32
    predictions: np.ndarray  # softmax scores [N, C, T] float32
    mask: np.ndarray         # [N, T] float32 0/1, real steps in one run per example
    keys: list[str]

    @property
    def real(self) -> np.ndarray:
        return self.mask != 0

    @property
    def y_true(self) -> np.ndarray:
        return self.labels.argmax(1)[self.real]

    @property
    def y_pred(self) -> np.ndarray:
        return self.predictions.argmax(1)[self.real]

    @property
    def scores(self) -> np.ndarray:
        """Real steps' scores [M, C]."""
        return self.predictions.transpose(0, 2, 1)[self.real]


def make_batch(seed: int = 0, n: int = 24, c: int = 4, t: int = 15, leading: bool = True,
               skew: float = 1.5) -> MaskedBatch:
    """Random masked batch: lengths 1..T, some examples starting late (left padding) when ``leading``."""
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, c, size=(n, t))
    labels = np.eye(c, dtype=np.float32)[classes].transpose(0, 2, 1).copy()
    logits = rng.normal(size=(n, c, t)) + skew * labels            # better than chance, far from perfect
    predictions = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    lengths = rng.integers(1, t + 1, size=n)
    starts = rng.integers(0, t - lengths + 1) if leading else np.zeros(n, dtype=np.int64)
    steps = np.arange(t)[None, :]
    mask = ((steps >= starts[:, None]) & (steps < (starts + lengths)[:, None])).astype(np.float32)
    keys = [f"data/seq_{seed}_{i:03d}.csv" for i in range(n)]
    return MaskedBatch(labels, predictions, mask, keys)


def same_dict(a, b, rel=1e-12) -> bool:
    """Deep equality of ``to_dict()`` outputs, NaN equal to NaN, floats to ``rel``."""
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same_dict(a[k], b[k], rel) for k in a)
    if isinstance(a, (list, tuple)):
        return isinstance(b, (list, tuple)) and len(a) == len(b) and all(same_dict(x, y, rel) for x, y in zip(a, b))
    if isinstance(a, float) or isinstance(b, float):
        if a is None or b is None:
            return a is b
        if np.isnan(a) or np.isnan(b):
            return bool(np.isnan(a) and np.isnan(b))
        return abs(a - b) <= rel * max(1.0, abs(a), abs(b))
    return a == b
