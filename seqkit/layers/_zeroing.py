"""Masks for the feed-forward, convolutional and output layers: check, then zero.

Two mask layouts reach these layers:

- a step mask ``[N, T]`` for input with a time axis at dim 2
  (``[N, F, T]`` or ``[N, C, T, H, W]``);
- a row mask ``[R]`` (or ``[R, 1]``) for input without one (``[R, F]`` or
  ``[R, C, H, W]``), e.g. an ``[N, T]`` mask flattened in row order ``n*T + t``
  to go with ``[N*T, ...]`` rows (see :class:`RnnToFeedForward`).

A layer given a mask outputs exact zeros at the masked steps or rows.
"""

from __future__ import annotations

import torch

from ._mask import check_mask

__all__ = ["check_any_mask", "zero_masked"]


def check_any_mask(mask, x: torch.Tensor, where: str) -> torch.Tensor | None:
    """Validate a step mask (input with time) or a row mask (input without time).

    The input's rank tells which: 3-D and 5-D inputs have time at dim 2;
    2-D and 4-D inputs are rows.

    Shape:
        x: ``[N, F, T]``/``[N, C, T, H, W]`` with mask ``[N, T]``, or
        ``[R, F]``/``[R, C, H, W]`` with mask ``[R]`` or ``[R, 1]``.
        Returns the mask in ``x``'s dtype and device, ``[N, T]`` or ``[R]``.

    Raises:
        ValueError: naming ``where`` and both shapes when they disagree.
    """
    if mask is None:
        return None
    if x.dim() in (3, 5):
        return check_mask(mask, x, where)
    if not isinstance(mask, torch.Tensor):
        mask = torch.as_tensor(mask)
    if mask.dim() == 2 and mask.shape[1] == 1:
        mask = mask[:, 0]                                                # [R, 1] -> [R]
    if mask.dim() != 1 or mask.shape[0] != x.shape[0]:
        raise ValueError(
            f"{where}: for input of shape {tuple(x.shape)} (no time axis) the mask must be a "
            f"row mask [{x.shape[0]}], got mask of shape {tuple(mask.shape)}")
    dtype = x.dtype if x.is_floating_point() else torch.float32
    return mask.to(device=x.device, dtype=dtype)


def zero_masked(y: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``y`` with exact zeros where ``mask == 0`` (a no-op for ``mask=None``).

    Shape:
        y: ``[N, H, T, *rest]`` with mask ``[N, T]``, or ``[R, *rest]`` with mask ``[R]``.
    """
    if mask is None:
        return y
    keep = mask != 0
    if keep.dim() == 2:                                                  # [N, T] -> [N, 1, T, 1, ...]
        keep = keep.reshape(keep.shape[0], 1, keep.shape[1], *([1] * (y.dim() - 3)))
    else:                                                                # [R] -> [R, 1, ...]
        keep = keep.reshape(keep.shape[0], *([1] * (y.dim() - 1)))
    return torch.where(keep, y, torch.zeros((), dtype=y.dtype, device=y.device))
