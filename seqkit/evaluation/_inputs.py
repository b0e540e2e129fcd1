"""Input handling shared by the evaluation classes.

Every ``eval`` accepts numpy arrays or torch tensors (CPU or CUDA), 2-D
``[N, C]`` or time series ``[N, C, T]`` (NCL), and an optional mask. This
module turns them into tensors on one device, lifts 2-D input to ``T = 1``,
turns masks into boolean "real step" tensors and finds NaNs.

Mask rule: a step is real where its mask value is nonzero and padding where it
is 0. DESIGN masks are 0/1, so this equals DL4J's rule (keep rows whose mask
is exactly 1.0) on valid masks, and it matches the layers (``mask != 0``).

Nothing here copies data to the host: checks that must raise read back a
single boolean, and counting uses sync-free kernels on CUDA.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import numpy as np
import torch

__all__ = ["Extent", "Prepared", "as_tensor", "bincount", "bincount_sync_free", "check_no_nan", "eval_features_mask",
           "prepare", "sequence_extent"]


def as_tensor(x, name: str, where: str) -> torch.Tensor:
    """``x`` (tensor, numpy array or nested list) as a tensor, sharing memory when possible."""
    if isinstance(x, torch.Tensor):
        return x.detach()
    if x is None:
        raise ValueError(f"{where}: {name} is required, got None")
    arr = np.asarray(x)
    if arr.dtype == object or arr.dtype.kind in "USV":
        raise ValueError(f"{where}: {name} must be numeric, got an array of dtype {arr.dtype}")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)   # read-only numpy arrays: we never write to them
        return torch.as_tensor(arr)


def bincount(index: torch.Tensor, size: int) -> torch.Tensor:
    """Counts of each value of ``index`` in ``[0, size)``.

    ``torch.bincount`` reads the maximum back to the host on CUDA; off the CPU
    an ``index_add_`` into a fixed-size buffer is used instead, which never syncs.

    Shape:
        index: int32 or int64, any shape, every value in ``[0, size)``; returns int64 ``[size]``.
    """
    flat = index.reshape(-1)
    if flat.device.type == "cpu":
        return torch.bincount(flat, minlength=size)
    return bincount_sync_free(flat, size)


def bincount_sync_free(flat: torch.Tensor, size: int) -> torch.Tensor:
    """:func:`bincount` as an ``index_add_`` of ones (no host read on any device). Shape: ``[M]`` -> ``[size]``."""
    ones = torch.ones(1, dtype=torch.long, device=flat.device).expand(flat.numel())
    return torch.zeros(size, dtype=torch.long, device=flat.device).index_add_(0, flat, ones)


@dataclass
class Prepared:
    """One ``eval`` call's inputs, normalised.

    Attributes:
        labels: ``[N, C, T]`` as given (floating), or int64 class indices ``[N, T]``.
        predictions: ``[N, C, T]``.
        mask: float32 0/1 ``[N, T]`` (or ``[N, C, T]`` for per-output masks), 1 at real
            steps; None when every step is real.
        time_series: whether the input was 3-D (steps are then reported as such).
    """

    labels: torch.Tensor
    predictions: torch.Tensor
    mask: torch.Tensor | None
    time_series: bool

    @property
    def real(self) -> torch.Tensor | None:
        """The mask as bool (True at real steps), or None."""
        if self.mask is None:
            return None
        if not hasattr(self, "_real"):
            self._real = self.mask.bool()
        return self._real


def prepare(labels, predictions, mask, where: str, *, index_labels: bool = False,
            per_output_mask: bool = False, device: torch.device | None = None) -> Prepared:
    """Validate and normalise ``(labels, predictions, mask)`` for an evaluation.

    Args:
        labels: same shape as ``predictions``; or, with ``index_labels``, integer
            class indices ``[N]`` (for ``[N, C]`` predictions) or ``[N, T]``.
        predictions: floating ``[N, C]`` or ``[N, C, T]``.
        mask: None; ``[N, T]`` (``[N]`` or ``[N, 1]`` for 2-D input); with
            ``per_output_mask`` also ``[N, C, T]`` (``[N, C]`` for 2-D input).
        where: the caller, for error messages (e.g. ``"Evaluation.eval"``).
        device: where the evaluation keeps its state; defaults to the predictions' device.

    Shape:
        returns predictions ``[N, C, T]``, labels ``[N, C, T]`` or ``[N, T]``, mask ``[N, T]`` or ``[N, C, T]``.

    Raises:
        ValueError: wrong ranks, disagreeing shapes, non-floating predictions, bad mask shapes.
    """
    preds = as_tensor(predictions, "predictions", where)
    if preds.dim() not in (2, 3):
        raise ValueError(f"{where}: predictions must be [N, C] or [N, C, T], got shape {tuple(preds.shape)}")
    if not preds.is_floating_point():
        raise ValueError(f"{where}: predictions must be floating point (scores or probabilities), "
                         f"got dtype {preds.dtype}")
    time_series = preds.dim() == 3
    device = preds.device if device is None else device
    preds3 = (preds if time_series else preds.unsqueeze(-1)).to(device)       # [N, C, T]
    n, c, t = preds3.shape

    labs = as_tensor(labels, "labels", where).to(device)
    if tuple(labs.shape) == tuple(preds.shape):
        labs = labs if time_series else labs.unsqueeze(-1)                       # [N, C, T]
        if labs.dtype == torch.bool or not labs.is_floating_point():
            labs = labs.to(preds3.dtype)
    elif index_labels and labs.dim() == preds.dim() - 1 and tuple(labs.shape) == (n, t)[:labs.dim()]:
        if labs.is_floating_point() or labs.is_complex():
            raise ValueError(f"{where}: class-index labels of shape {tuple(labs.shape)} must be integers, "
                             f"got dtype {labs.dtype}")
        labs = labs.long() if time_series else labs.long().unsqueeze(-1)         # [N, T]
    else:
        expected = f"{tuple(preds.shape)}"
        if index_labels:
            expected += f" (one-hot) or {(n, t) if time_series else (n,)} (class indices)"
        raise ValueError(f"{where}: labels must have shape {expected} to match predictions, "
                         f"got {tuple(labs.shape)}")

    weights = _mask_weights(mask, n, c, t, time_series, per_output_mask, device, where)
    return Prepared(labels=labs, predictions=preds3, mask=weights, time_series=time_series)


def _mask_weights(mask, n: int, c: int, t: int, time_series: bool, per_output: bool,
                  device: torch.device, where: str) -> torch.Tensor | None:
    """The mask as float32 0/1 (1 where nonzero): ``[N, T]``, or ``[N, C, T]`` for a per-output mask."""
    if mask is None:
        return None
    m = as_tensor(mask, "mask", where).to(device)
    shape = tuple(m.shape)
    m = torch.ne(m, 0, out=torch.empty(shape, dtype=torch.float32, device=device))  # nonzero = real
    if time_series:
        if shape == (n, t):
            return m                                                             # [N, T]
        if shape == (n, c, t):
            if per_output:
                return m                                                         # [N, C, T]
            raise ValueError(f"{where}: per-output masks [N, C, T] are not supported here; give an [N, T] "
                             f"mask (use EvaluationBinary or RegressionEvaluation for per-output masks)")
        allowed = f"[N, T] = {[n, t]}" + (f" or [N, C, T] = {[n, c, t]}" if per_output else "")
    else:
        if shape in ((n,), (n, 1)):
            return m.reshape(n, 1)                                               # [N, 1]
        if shape == (n, c) and c != 1:
            if per_output:
                return m.unsqueeze(-1)                                           # [N, C, 1]
            raise ValueError(f"{where}: per-output masks [N, C] are not supported here; give an [N] mask "
                             f"(use EvaluationBinary or RegressionEvaluation for per-output masks)")
        allowed = f"[N] = {[n]}" + (f" or [N, C] = {[n, c]}" if per_output else "")
    raise ValueError(f"{where}: mask must be {allowed} for predictions of "
                     f"{'[N, C, T]' if time_series else '[N, C]'} = {[n, c, t] if time_series else [n, c]}, "
                     f"got mask of shape {list(shape)}")


def check_no_nan(bad: torch.Tensor, real: torch.Tensor | None, time_series: bool, what: str,
                 where: str) -> None:
    """Raise if any real step is flagged in ``bad``.

    One boolean is read back per call; the location is searched for only when
    there is a NaN.

    Shape:
        bad: bool ``[N, T]`` (NaN somewhere in that step); real: bool ``[N, T]`` or None.

    Raises:
        ValueError: naming how many real steps hold NaN and the first one's example (and step).
    """
    if real is not None:
        bad = bad & real
    if not bool(bad.any()):
        return
    count = int(bad.sum())
    first = bad.nonzero()[0].tolist()
    at = f"example {first[0]}, step {first[1]}" if time_series else f"example {first[0]}"
    raise ValueError(f"{where}: {what} contain NaN at {count} real "
                     f"{'step' if time_series else 'example'}{'s' if count != 1 else ''}; the first is at {at}")


@dataclass
class Extent:
    """Where each example's sequence lies, for ``Evaluation``'s by-step and by-length views.

    See :mod:`seqkit.evaluation._by_time` for the rules.

    Attributes:
        span: float 0/1 ``[N, T]`` (the work dtype): the steps of each sequence, features
            real or evaluated; None: the evaluated steps.
        lengths: ``[N]`` whole numbers (floating), each sequence's length; None: the number
            of evaluated steps.
        given: the caller passed ``lengths``: they are checked against the evaluated steps,
            and the largest is read back with the batch check (``size`` is then None).
        size: the largest length possible in this batch, when known without a host read.
    """

    span: torch.Tensor | None
    lengths: torch.Tensor | None
    given: bool
    size: int | None


def sequence_extent(features_mask, lengths, p: Prepared, weights: torch.Tensor | None, work: torch.dtype,
                    where: str) -> Extent:
    """The sequences' extent from ``features_mask`` or ``lengths`` (at most one of them).

    Args:
        features_mask: None, or ``[N, T]`` (nonzero = real) with the predictions' T for
            ``[N, C, T]`` predictions; ``[N, T_f]`` of any T_f for ``[N, C]`` predictions.
        lengths: None, or ``[N]`` whole numbers (checked by the caller, see ``Extent.given``).
        p: the prepared batch; weights: its evaluation mask as 0/1 ``work`` ``[N, T]``, or None.

    Raises:
        ValueError: both given, or a shape that does not fit the predictions.
    """
    n, _, t = p.predictions.shape
    device = p.predictions.device
    if features_mask is not None and lengths is not None:
        raise ValueError(f"{where}: give features_mask or lengths, not both")
    if features_mask is not None:
        fm = as_tensor(features_mask, "features_mask", where).to(device)
        if p.time_series and tuple(fm.shape) != (n, t):
            raise ValueError(f"{where}: features_mask must be [N, T] = {[n, t]} like the predictions' steps, "
                             f"got shape {list(fm.shape)}")
        if not p.time_series and (fm.dim() != 2 or fm.shape[0] != n):
            raise ValueError(f"{where}: features_mask must be [N, T] with N = {n} for [N, C] predictions, "
                             f"got shape {list(fm.shape)}")
        real = torch.ne(fm, 0, out=torch.empty(fm.shape, dtype=work, device=device))       # [N, T(_f)] 0/1
        if p.time_series:
            span = real if weights is None else torch.maximum(real, weights)             # [N, T]
            return Extent(span, span.sum(dim=1), False, t)
        counts = real.sum(dim=1, dtype=torch.float64)                                      # [N]
        evaluated = weights[:, 0].double() if weights is not None else torch.ones_like(counts)
        return Extent(None, torch.maximum(counts, evaluated), False, max(int(fm.shape[1]), 1))
    if lengths is not None:
        given = as_tensor(lengths, "lengths", where).to(device)
        if tuple(given.shape) != (n,):
            raise ValueError(f"{where}: lengths must be [N] = [{n}], got shape {list(given.shape)}")
        if given.dtype == torch.bool or given.is_complex():
            raise ValueError(f"{where}: lengths must be whole numbers, got dtype {given.dtype}")
        return Extent(None, given.to(torch.float64), True, None)
    return Extent(None, None, False, t)


def eval_features_mask(features: torch.Tensor, features_mask: torch.Tensor | None, predictions: torch.Tensor,
                       mask: torch.Tensor | None) -> torch.Tensor | None:
    """What a network's ``evaluate`` passes to ``Evaluation.eval(features_mask=...)`` for one batch.

    The batch's features mask when it has one; for sequence features without one
    (every step real: ``[N, F, T]`` or video ``[N, C, T, H, W]``), an all-ones ``[N, T]``
    mask, so that a many-to-one labels mask or ``[N, C]`` predictions still get each
    sequence's length T. None where it would change nothing (per-step predictions
    evaluated at every step), for non-sequence features, and where the mask's T is not
    the per-step predictions' T.

    Shape:
        features ``[N, F, T]`` (or other ranks); features_mask ``[N, T]``; predictions
        ``[N, C, T]`` or ``[N, C]``; mask: the evaluation mask or None.
    """
    per_step = predictions.dim() == 3
    if features_mask is None:
        if features.dim() not in (3, 5) or (per_step and mask is None):
            return None
        features_mask = torch.ones(features.shape[0], features.shape[2], dtype=torch.float32,
                                   device=predictions.device)
    if per_step and tuple(features_mask.shape) != (predictions.shape[0], predictions.shape[2]):
        return None
    return features_mask
