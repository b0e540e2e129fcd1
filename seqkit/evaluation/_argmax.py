"""Exact argmax over the class dimension of ``[N, C, T]``, faster than ``Tensor.max(dim=1)`` on CPU.

On CPU, ``max(dim=1)`` with indices does not vectorise along T (a reduction
over a middle dimension) and comparisons producing bool tensors are slow,
while ``amax``, float arithmetic and comparisons written into a float tensor
are fast. :func:`class_argmax` therefore finds the maximum with ``amax``,
marks the classes holding it (1.0/0.0), weighs class k by ``C - k`` and keeps
the largest weight, i.e. the first maximal class. It works through blocks of rows of about
512 KiB so the temporaries stay in cache (a loop over blocks, not rows).
Elsewhere (CUDA) it is ``max(dim=1)``. Either way it returns what
``torch.argmax(x, dim=1)`` does, ties going to the first class, with NaN
propagating into the values.
"""

from __future__ import annotations

import torch

__all__ = ["class_argmax"]

_BLOCK_BYTES = 1 << 19


def class_argmax(x: torch.Tensor, index_dtype: torch.dtype = torch.int64) -> tuple[torch.Tensor, torch.Tensor]:
    """Largest score and its first class index.

    Args:
        x: scores.
        index_dtype: dtype of the returned indices (a float dtype gives exact whole numbers,
            which the float counting path of ``Evaluation`` uses directly).

    Shape:
        x: ``[N, C, T]``; returns values ``[N, T]`` (x's dtype) and indices ``[N, T]``.
    """
    n, c, t = x.shape
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64) or n * t == 0:
        values, index = x.max(dim=1)
        return values, index.to(index_dtype)
    rows = max(1, _BLOCK_BYTES // max(1, c * t * x.element_size()))
    values = torch.empty(n, 1, t, dtype=x.dtype)                                   # [N, 1, T]
    rank = torch.empty(n, t, dtype=x.dtype)                                        # [N, T] = C - index
    scratch = torch.empty(min(rows, n), c, t, dtype=x.dtype)                       # [B, C, T]
    weight = torch.arange(c, 0, -1, dtype=x.dtype).view(1, c, 1)                   # class k weighs C - k
    for start in range(0, n, rows):
        block = x[start:start + rows]                                              # [B, C, T]
        b = block.shape[0]
        top = values[start:start + b]
        torch.amax(block, dim=1, keepdim=True, out=top)
        marks = torch.eq(block, top, out=scratch[:b])                              # 1.0 at the maxima, else 0.0
        marks.mul_(weight)                                                         # C - k at maxima, else 0
        torch.amax(marks, dim=1, out=rank[start:start + b])
    nan_rows = float(rank.amin()) == 0                                             # NaN: nothing equals the max
    index = rank.neg_().add_(c)                                                    # in place: C - rank
    if nan_rows:
        index = torch.where(index == c, x.max(dim=1).indices.to(x.dtype), index)
    return values.squeeze(1), index.to(index_dtype)
