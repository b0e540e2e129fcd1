"""Mask helpers shared by every layer: validation, last real step, run bounds.

A mask is ``[N, T]`` with 1 (or any nonzero) for a real step and 0 for
padding; ``None`` means every step is real.
"""

from __future__ import annotations

import torch

__all__ = ["check_mask", "last_real_index", "single_runs"]


def check_mask(mask: torch.Tensor | None, x: torch.Tensor, where: str) -> torch.Tensor | None:
    """Validate ``mask`` against ``x`` and return it in ``x``'s dtype and device.

    Shape:
        x: ``[N, F, T, ...]`` (time is dim 2); mask: ``[N, T]``; returns ``[N, T]`` or None.

    Raises:
        ValueError: naming ``where`` (the layer) and both shapes when they disagree.
    """
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        mask = torch.as_tensor(mask)
    if mask.dim() != 2 or x.dim() < 3 or mask.shape[0] != x.shape[0] or mask.shape[1] != x.shape[2]:
        raise ValueError(
            f"{where}: mask must be [N, T] = [{x.shape[0]}, {x.shape[2] if x.dim() > 2 else '?'}] "
            f"for input of shape {tuple(x.shape)}, got mask of shape {tuple(mask.shape)}")
    dtype = x.dtype if x.is_floating_point() else torch.float32
    return mask.to(device=x.device, dtype=dtype)


def last_real_index(mask: torch.Tensor | None, n: int, t: int, where: str) -> torch.Tensor:
    """Index of each example's last real step.

    Shape:
        mask: ``[N, T]`` or None; returns int64 ``[N]`` (``T - 1`` everywhere when mask is None).

    Raises:
        ValueError: naming the first example whose mask row is all zero.
    """
    if mask is None:
        return torch.full((n,), t - 1, dtype=torch.long)
    real = mask != 0                                                     # [N, T]
    has_any = real.any(dim=1)                                            # [N]
    if not bool(has_any.all()):
        bad = int((~has_any).nonzero()[0, 0])
        raise ValueError(
            f"{where}: example {bad} of the batch is entirely masked out (its mask row is all 0s), "
            f"so it has no last real step")
    flipped_first = real.flip(1).to(torch.int8).argmax(dim=1)           # [N] first real from the end
    return (t - 1) - flipped_first


def single_runs(mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, bool]:
    """Start and length of each example's real steps, and whether each is one run.

    An example's real steps form one run when they are contiguous (left or
    right padding, or both). Rows with no real step count as a run of length 0.

    Shape:
        mask: ``[N, T]``; returns starts int64 ``[N]``, lengths int64 ``[N]``, and a bool.
    """
    real = mask != 0                                                     # [N, T]
    lengths = real.sum(dim=1)                                            # [N]
    starts = real.to(torch.int8).argmax(dim=1)                           # [N] first real step (0 if none)
    rises = (real[:, 1:] & ~real[:, :-1]).sum(dim=1) + real[:, 0].long() # [N] count of 0->1 edges
    contiguous = bool((rises <= 1).all())
    return starts.long(), lengths.long(), contiguous
