"""Loss functions by name, with DL4J's masking and normalisation.

A loss turns predictions and labels into one value per step (``[N, C, T]``
in, ``[N, T]`` out) or per example (``[N, C]`` in, ``[N]`` out). The per-step
loss is multiplied by the labels mask, then reduced (:data:`REDUCTIONS`):

- ``"per_sequence"`` (default, DL4J's): sum over the real steps of the whole
  batch divided by N, the number of sequences. Longer sequences weigh more.
- ``"per_step"``: sum over the real steps divided by the number of real steps
  (a batch with no real step gives 0).
- ``"sum"``: the plain masked sum.
- ``"per_example"``: ``[N]``, each example's sum over its real steps (DL4J's
  ``scoreExamples``).
- ``"none"``: the masked per-step losses, ``[N, T]`` (or ``[N]``).

Losses (:data:`LOSSES`), with ``p`` the activation's output, ``y`` the labels
and ``C`` the number of outputs:

- ``"mcxent"``: multi-class cross entropy ``-sum_c y_c log p_c``. With the
  softmax activation and pre-activations it is computed as
  ``-sum_c y_c log_softmax(z)_c``, exact and stable (no clipping; its gradient
  is ``p - y``). Otherwise ``p`` is clipped to ``[1e-10, 1 - 1e-10]`` first, as
  DL4J does.
- ``"nll"``: negative log-likelihood. DL4J defines it as identical to
  ``"mcxent"`` (one-hot or soft labels, not class indices); so does seqkit.
- ``"mse"``: ``(1/C) sum_c (p_c - y_c)^2`` (DL4J's MSE, the L2 loss over C).
- ``"mae"``: ``(1/C) sum_c |p_c - y_c|``.
- ``"xent"``: binary cross entropy, averaged over the C outputs (as Keras's
  ``binary_crossentropy``): ``-(1/C) sum_c [y_c log p_c + (1-y_c) log(1-p_c)]``.
  With the sigmoid activation and pre-activations it is computed from the
  logits (stable); otherwise ``p`` is clipped to ``[1e-7, 1 - 1e-7]``.

Labels at masked steps never matter: they are replaced by 0 before the loss
is computed, so even NaN padding changes neither the value nor the gradient.

Under mixed precision the loss is computed in float32: bfloat16 or float16
predictions (an output layer run under autocast) are cast up first.
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

from ._activations import activation_name

__all__ = ["LOSSES", "REDUCTIONS", "BinaryCrossEntropy", "Loss", "MeanAbsoluteError", "MeanSquaredError",
           "MultiClassCrossEntropy", "NegativeLogLikelihood", "check_labels", "compute_loss", "get_loss",
           "reduce_loss"]

#: Every accepted reduction, the default first.
REDUCTIONS: tuple[str, ...] = ("per_sequence", "per_step", "sum", "per_example", "none")

_MCXENT_EPS = 1e-10
_XENT_EPS = 1e-7

Activation = Callable[[torch.Tensor], torch.Tensor]


class Loss:
    """A per-step loss. Subclasses implement :meth:`_from_output`.

    Shape:
        values, labels: ``[N, C, T]`` or ``[N, C]``; returns ``[N, T]`` or ``[N]``.
    """

    name: str = ""

    def per_step(self, values: torch.Tensor, labels: torch.Tensor, activation: Activation,
                 *, preactivation: bool = True) -> torch.Tensor:
        """Loss at each step (reduced over the C outputs, not masked).

        Args:
            values: pre-activations ``z`` when ``preactivation`` is True (the
                stable fused paths apply), else the activation's output ``p``.
            labels: same shape as ``values``.
            activation: the output layer's activation (from ``get_activation``).
        """
        out = activation(values) if preactivation else values
        return self._from_output(out, labels)

    def _from_output(self, out: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MultiClassCrossEntropy(Loss):
    """``-sum_c y_c log p_c``; log-softmax from logits when the activation is softmax."""

    name = "mcxent"

    def per_step(self, values, labels, activation, *, preactivation=True):
        if preactivation and activation_name(activation) == "softmax":
            return -(labels * torch.log_softmax(values, dim=1)).sum(dim=1)   # [N, T] or [N]
        return super().per_step(values, labels, activation, preactivation=preactivation)

    def _from_output(self, out, labels):
        p = out.clamp(_MCXENT_EPS, 1.0 - _MCXENT_EPS)
        return -(labels * torch.log(p)).sum(dim=1)                           # [N, T] or [N]


class NegativeLogLikelihood(MultiClassCrossEntropy):
    """DL4J's negative log-likelihood: the same function as multi-class cross entropy."""

    name = "nll"


class MeanSquaredError(Loss):
    """``(1/C) sum_c (p_c - y_c)^2``."""

    name = "mse"

    def _from_output(self, out, labels):
        return (out - labels).square().mean(dim=1)                           # [N, T] or [N]


class MeanAbsoluteError(Loss):
    """``(1/C) sum_c |p_c - y_c|``."""

    name = "mae"

    def _from_output(self, out, labels):
        return (out - labels).abs().mean(dim=1)                              # [N, T] or [N]


class BinaryCrossEntropy(Loss):
    """Binary cross entropy averaged over outputs; from logits when the activation is sigmoid."""

    name = "xent"

    def per_step(self, values, labels, activation, *, preactivation=True):
        if preactivation and activation_name(activation) == "sigmoid":
            elem = F.binary_cross_entropy_with_logits(values, labels, reduction="none")
            return elem.mean(dim=1)                                          # [N, T] or [N]
        return super().per_step(values, labels, activation, preactivation=preactivation)

    def _from_output(self, out, labels):
        p = out.clamp(_XENT_EPS, 1.0 - _XENT_EPS)
        elem = -(labels * torch.log(p) + (1.0 - labels) * torch.log1p(-p))
        return elem.mean(dim=1)                                              # [N, T] or [N]


_REGISTRY: dict[str, type[Loss]] = {
    cls.name: cls for cls in (MultiClassCrossEntropy, NegativeLogLikelihood, MeanSquaredError,
                              MeanAbsoluteError, BinaryCrossEntropy)
}
_ALIASES = {
    "negativeloglikelihood": "nll",
    "binary_crossentropy": "xent",
    "categorical_crossentropy": "mcxent",
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
}

#: The canonical loss names.
LOSSES: tuple[str, ...] = tuple(sorted(_REGISTRY))


def get_loss(loss: str | Loss) -> Loss:
    """Resolve a loss given by name (case-insensitive; see :data:`LOSSES`) or as a :class:`Loss`.

    Raises:
        ValueError: for an unknown name, listing the allowed names.
    """
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        key = loss.strip().lower()
        key = _ALIASES.get(key, key)
        if key in _REGISTRY:
            return _REGISTRY[key]()
    raise ValueError(f"unknown loss {loss!r}; allowed names: {', '.join(LOSSES)} "
                     f"(or a seqkit.layers Loss instance)")


def _check_reduction(reduction: str) -> None:
    if reduction not in REDUCTIONS:
        raise ValueError(f"unknown reduction {reduction!r}; allowed: {', '.join(REDUCTIONS)}")


def check_labels(values: torch.Tensor, labels: torch.Tensor, where: str) -> None:
    """Raise a ValueError naming both shapes when predictions and labels disagree."""
    if values.dim() not in (2, 3):
        raise ValueError(f"{where}: input must be [N, C] or [N, C, T], got shape {tuple(values.shape)}")
    if labels.shape == values.shape:
        return
    if values.dim() == 3 and labels.dim() == 3 and labels.shape[2] != values.shape[2]:
        raise ValueError(
            f"{where}: sequence lengths do not match: the input (predictions) has "
            f"{values.shape[2]} steps, shape {tuple(values.shape)}, but the labels have "
            f"{labels.shape[2]} steps, shape {tuple(labels.shape)}")
    raise ValueError(
        f"{where}: labels of shape {tuple(labels.shape)} do not match the input (predictions) "
        f"of shape {tuple(values.shape)}; expected the same [N, C] or [N, C, T] "
        f"(one-hot or soft labels, same sequence length)")


def _check_loss_mask(mask: torch.Tensor | None, values: torch.Tensor, where: str) -> torch.Tensor | None:
    """Return the mask as ``[N, T]`` (3-D input) or ``[N]`` (2-D input) in ``values``' dtype."""
    if mask is None:
        return None
    if not isinstance(mask, torch.Tensor):
        mask = torch.as_tensor(mask)
    if values.dim() == 2 and mask.dim() == 2 and mask.shape[1] == 1:
        mask = mask[:, 0]                                                    # [N, 1] -> [N]
    want = (values.shape[0], values.shape[2]) if values.dim() == 3 else (values.shape[0],)
    if tuple(mask.shape) != want:
        layout = "[N, T]" if values.dim() == 3 else "[N] or [N, 1]"
        raise ValueError(
            f"{where}: labels mask must be {layout} = {list(want)} for input of shape "
            f"{tuple(values.shape)}, got mask of shape {tuple(mask.shape)}")
    return mask.to(device=values.device, dtype=values.dtype)


def reduce_loss(per_step: torch.Tensor, mask: torch.Tensor | None,
                reduction: str = "per_sequence") -> torch.Tensor:
    """Mask and reduce per-step losses.

    Shape:
        per_step: ``[N, T]`` or ``[N]``; mask: same shape or None. Returns a
        scalar, or ``[N]`` for ``"per_example"``, or ``per_step``'s shape for ``"none"``.
    """
    _check_reduction(reduction)
    if mask is not None:
        # times the mask, and exactly 0 at masked steps even where the loss is inf or NaN there
        per_step = torch.where(mask != 0, per_step * mask, torch.zeros((), dtype=per_step.dtype,
                                                                       device=per_step.device))
    if reduction == "none":
        return per_step
    if reduction == "per_example":
        return per_step.sum(dim=1) if per_step.dim() == 2 else per_step      # [N]
    total = per_step.sum()
    if reduction == "sum":
        return total
    if reduction == "per_sequence":
        return total / per_step.shape[0]
    # per_step: divide by the number of real steps; clamp keeps an all-masked batch at 0.
    # Without a mask the count is known on the host: a Python number (no host-to-device copy).
    if mask is None:
        return total / max(per_step.numel(), 1)
    return total / mask.sum().clamp_min(1.0)


def compute_loss(loss: str | Loss, activation: Activation, values: torch.Tensor,
                 labels: torch.Tensor, mask: torch.Tensor | None = None, *,
                 reduction: str = "per_sequence", preactivation: bool = True,
                 where: str = "loss") -> torch.Tensor:
    """Masked, reduced loss of ``values`` against ``labels``.

    Args:
        loss: a name from :data:`LOSSES` or a :class:`Loss`.
        activation: the output activation (a callable from ``get_activation``).
        values: pre-activations (default; enables the stable fused paths) or,
            with ``preactivation=False``, the activation's output.
        labels: one-hot, soft or regression targets, same shape as ``values``.
        mask: the labels mask, ``[N, T]`` for 3-D input, ``[N]`` or ``[N, 1]``
            for 2-D input; None means every step is real.
        reduction: one of :data:`REDUCTIONS`.
        where: a name for error messages (the calling layer).

    Shape:
        values, labels: ``[N, C, T]`` or ``[N, C]``.

    Raises:
        ValueError: mismatched shapes (naming both), a bad mask, or an unknown
            loss or reduction.
    """
    loss_fn = get_loss(loss)
    _check_reduction(reduction)
    if not isinstance(labels, torch.Tensor):
        labels = torch.as_tensor(labels)
    check_labels(values, labels, where)
    if values.dtype in (torch.bfloat16, torch.float16):
        values = values.float()                      # mixed precision: the loss itself in float32
    labels = labels.to(device=values.device, dtype=values.dtype)
    mask = _check_loss_mask(mask, values, where)
    if mask is not None:
        keep = (mask != 0).unsqueeze(1)                                      # [N, 1, T] or [N, 1]
        labels = torch.where(keep, labels, torch.zeros((), dtype=labels.dtype, device=labels.device))
    per_step = loss_fn.per_step(values, labels, activation, preactivation=preactivation)
    return reduce_loss(per_step, mask, reduction)
