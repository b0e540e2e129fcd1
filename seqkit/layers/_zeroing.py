"""Masks for the feed-forward, convolutional and output layers: check, then zero.

Two mask layouts reach these layers:

- a step mask ``[N, T]`` for input with a time axis at dim 2
  (``[N, F, T]`` or ``[N, C, T, H, W]``);
- a row mask ``[R]`` (or ``[R, 1]``) for input without one (``[R, F]`` or
  ``[R, C, H, W]``), e.g. an ``[N, T]`` mask flattened in row order ``n*T + t``
  to go with ``[N*T, ...]`` rows (see :class:`RnnToFeedForward`).

A layer given a mask outputs exact zeros at the masked steps or rows.

Zeroing a layer's input is what keeps junk in the padding (even NaN) out of
its result, and most layers zero their input and their output. In a stack
that is one ``torch.where`` per layer boundary too many: the output of one
layer is the input of the next, already zero. So an output zeroed here
carries a note, "exact zeros where this mask object is 0"
(:func:`mark_zeroed`), and :func:`zero_input` skips the zeroing of an input
that carries the note for the very mask it is given, unchanged since (same
tensor object, same in-place version counter). Anything else (a new tensor, a
view, an in-place change, another mask object, a tracer running) is zeroed
as before. The layers' outputs and their parameters' gradients are the same
either way; only a gradient at a padded step of an intermediate tensor may
then be nonzero, and the layer that zeroed that tensor's padding stops it
(``tests/seqkit/layers/test_zeroing.py``).

:func:`zero_finite` zeroes by a multiplication with the 0/1 mask, several
times faster than ``torch.where`` on the CPU; it is exact (``0.0``, or
``-0.0`` where the value was negative) wherever the value at a masked step is
finite, which holds for a layer's output computed from a zeroed input with
finite weights.
"""

from __future__ import annotations

import weakref

import torch

from ._mask import check_mask
from ._tracing import tracing

__all__ = ["check_any_mask", "holds_zeros", "keep_factor", "mark_zeroed", "zero_finite", "zero_input",
           "zero_masked"]

#: The tensor attribute holding the note of :func:`mark_zeroed`: (weak reference to the mask, the
#: tensor's version, the mask's version).
_NOTE = "_seqkit_zero_where_masked"


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


def _keep_shape(mask: torch.Tensor, y: torch.Tensor) -> tuple[int, ...]:
    """Where ``mask`` goes on ``y``: ``[N, T] -> [N, 1, T, 1, ...]``, ``[R] -> [R, 1, ...]``."""
    if mask.dim() == 2:
        return (mask.shape[0], 1, mask.shape[1], *([1] * (y.dim() - 3)))
    return (mask.shape[0], *([1] * (y.dim() - 1)))


def mark_zeroed(y: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """Note on ``y`` that it holds exact zeros where ``mask`` (this object) is 0; returns ``y``.

    Nothing is noted for ``mask=None`` or while tracing (a graph holds no notes).

    Shape:
        y: ``[N, H, T, *rest]`` with mask ``[N, T]``, or ``[R, *rest]`` with mask ``[R]``.
    """
    if mask is not None and not tracing():
        setattr(y, _NOTE, (weakref.ref(mask), y._version, mask._version))
    return y


def holds_zeros(x: torch.Tensor, mask: torch.Tensor | None) -> bool:
    """True when ``x`` carries the note of :func:`mark_zeroed` for this very ``mask`` and neither
    has been changed in place since."""
    if mask is None or tracing():
        return False
    note = getattr(x, _NOTE, None)
    return note is not None and note[0]() is mask and note[1:] == (x._version, mask._version)


def zero_masked(y: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``y`` with exact zeros where ``mask == 0`` (a no-op for ``mask=None``), whatever ``y``
    holds there (NaN included); the result is noted (:func:`mark_zeroed`).

    Shape:
        y: ``[N, H, T, *rest]`` with mask ``[N, T]``, or ``[R, *rest]`` with mask ``[R]``.
    """
    if mask is None:
        return y
    keep = (mask != 0).reshape(_keep_shape(mask, y))
    return mark_zeroed(torch.where(keep, y, torch.zeros((), dtype=y.dtype, device=y.device)), mask)


def zero_input(x: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """A layer's input with exact zeros where ``mask == 0``: ``x`` itself when it carries the note
    for ``mask`` (see the module docstring), else :func:`zero_masked`.

    Shape:
        as :func:`zero_masked`.
    """
    return x if holds_zeros(x, mask) else zero_masked(x, mask)


def keep_factor(mask: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """The mask as 0/1 in ``y``'s dtype, shaped to broadcast over ``y``.

    Shape:
        mask ``[N, T]`` for y ``[N, H, T, *rest]``: returns ``[N, 1, T, 1, ...]``;
        mask ``[R]`` for y ``[R, *rest]``: returns ``[R, 1, ...]``.
    """
    return (mask != 0).to(y.dtype).reshape(_keep_shape(mask, y))


def zero_finite(y: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    """``y`` times the 0/1 mask, noted (:func:`mark_zeroed`): exact zeros at the masked steps
    wherever ``y`` is finite there (see the module docstring); a no-op for ``mask=None``.

    Shape:
        as :func:`zero_masked`.
    """
    if mask is None:
        return y
    return mark_zeroed(y * keep_factor(mask, y), mask)
