"""Output layers: Output (per example), RnnOutput (per step) and RnnLoss (no parameters).

An output layer is an activation plus a loss, with (Output, RnnOutput) or
without (RnnLoss) a dense transform before it.

How a network computes the loss (stable: softmax + mcxent runs as
log-softmax on the pre-activations, sigmoid + xent from logits)::

    z = out_layer.preactivation(h)                      # [N, C, T] or [N, C], no activation
    loss = out_layer.score(z, labels, labels_mask)      # scalar, DL4J's per-sequence reduction
    # or in one call: out_layer.score_input(h, labels, labels_mask)

and for predictions, ``out_layer(h, mask)``: the activation's output
(probabilities for softmax), exact zeros at masked steps. Scoring outputs
instead of pre-activations works too (``score(p, labels, mask,
preactivation=False)``); with softmax + mcxent the probabilities are then
clipped to ``[1e-10, 1 - 1e-10]`` as in DL4J.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .._errors import ConfigError
from ._base import Layer
from ._checks import check_feature_count, describe_activation, layer_activation, layer_loss
from ._dense import Dense
from ._losses import compute_loss
from ._mask import check_mask
from ._zeroing import zero_masked

__all__ = ["LossHead", "Output", "RnnLoss", "RnnOutput"]


class LossHead:
    """What every output layer (Output, RnnOutput, RnnLoss) offers a network.

    ``isinstance(layer, LossHead)`` tells a network that ``layer`` ends it. It
    has ``activation`` (a callable), ``loss_fn`` (a ``Loss``),
    ``preactivation(x)``, ``forward(x, mask)`` and the scoring methods below.
    """

    loss_fn: object
    activation: object

    @property
    def is_regression(self) -> bool:
        """True for a regression loss (mse, mae): evaluation is ``RegressionEvaluation``."""
        return getattr(self.loss_fn, "name", "") in ("mse", "mae")

    def score(self, values: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None,
              *, reduction: str = "per_sequence", preactivation: bool = True) -> torch.Tensor:
        """The loss of ``values`` against ``labels``, times the labels mask, reduced.

        Args:
            values: :meth:`preactivation` output (default), or this layer's
                forward output with ``preactivation=False``.
            labels: one-hot, soft or regression targets, the shape of ``values``.
            mask: the labels mask (``[N, T]``; ``[N]`` for ``Output``) or None.
            reduction: ``"per_sequence"`` (DL4J: sum over real steps / N),
                ``"per_step"`` (sum / number of real steps), ``"sum"``,
                ``"per_example"`` (``[N]``, DL4J's ``scoreExamples``) or ``"none"``.

        Raises:
            ValueError: labels and values of different shapes (both named; a
                different T is reported as a sequence length mismatch), a bad
                mask, an unknown reduction.
        """
        return compute_loss(self.loss_fn, self.activation, values, labels, mask,
                            reduction=reduction, preactivation=preactivation,
                            where=type(self).__name__)

    def score_examples(self, values: torch.Tensor, labels: torch.Tensor,
                       mask: torch.Tensor | None = None, *, preactivation: bool = True) -> torch.Tensor:
        """Per-example loss ``[N]``: each example's sum over its real steps."""
        return self.score(values, labels, mask, reduction="per_example", preactivation=preactivation)

    def score_input(self, x: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None = None,
                    *, reduction: str = "per_sequence") -> torch.Tensor:
        """``score(self.preactivation(x), labels, mask, reduction=reduction)``."""
        return self.score(self.preactivation(x), labels, mask, reduction=reduction)


class Output(LossHead, Dense):
    """Dense output layer on feature vectors, DL4J's ``OutputLayer``.

    ``forward`` returns ``activation(x W^T + b)`` (probabilities with the
    default softmax); :meth:`score` computes the loss, stably from
    :meth:`preactivation`. See the module docstring for the protocol.

    Args:
        n_out: number of outputs C (classes).
        n_in: input features F; inferred when left out.
        activation: output activation (default ``"softmax"``, over dim 1).
        loss: ``"mcxent"`` (default), ``"nll"``, ``"mse"``, ``"mae"``, ``"xent"``
            or a ``Loss`` instance.
        use_bias: add a bias.

    Shape:
        - x: ``[N, F]``; mask (optional, rows): ``[N]``
        - output: ``[N, C]``; labels ``[N, C]``
    """

    _ranks = (2,)
    input_layouts = frozenset({"vectors"})

    def __init__(self, n_out: int, n_in: int | None = None, *, activation="softmax",
                 loss="mcxent", use_bias: bool = True):
        super().__init__(n_out, n_in, activation=activation, use_bias=use_bias)
        self.loss_fn = layer_loss(loss, type(self).__name__)

    def extra_repr(self) -> str:
        return f"{super().extra_repr()}, loss={self.loss_fn.name!r}"


class RnnOutput(Output):
    """Dense output layer applied at every step, DL4J's ``RnnOutputLayer``.

    The same weights apply at each step. ``forward(x, mask)`` outputs exact
    zeros where ``mask == 0``: pass the labels mask when there is one (as DL4J
    does when scoring and in ``output()`` with a labels mask set), else the
    features mask. :meth:`score` multiplies each step's loss by the labels
    mask, so predictions and labels at masked steps change neither the score
    nor its gradient.

    Args: as :class:`Output`.

    Shape:
        - x: ``[N, F, T]``; mask: ``[N, T]``
        - output: ``[N, C, T]``; labels ``[N, C, T]``
    """

    _ranks = (3,)
    input_layouts = frozenset({"sequences"})
    needs_time = True


class RnnLoss(LossHead, Layer):
    """Activation and per-step loss without parameters, DL4J's ``RnnLossLayer``.

    Use it when the layer before already outputs C features per step. Unlike
    DL4J's, ``forward`` zeroes masked steps, like :class:`RnnOutput`.

    Args:
        n_in: features C; ``n_out == n_in``. Inferred when left out.
        activation: default ``"softmax"`` (over dim 1).
        loss: as :class:`Output`.

    Shape:
        - x: ``[N, C, T]``; mask: ``[N, T]``
        - output: ``[N, C, T]``; labels ``[N, C, T]``
    """

    input_layouts = frozenset({"sequences"})
    needs_time = True

    def __init__(self, n_in: int | None = None, *, activation="softmax", loss="mcxent"):
        super().__init__(n_in)
        self.activation = layer_activation(activation, type(self).__name__)
        self.loss_fn = layer_loss(loss, type(self).__name__)
        self._maybe_build()

    @property
    def n_out(self) -> int | None:
        """Equal to ``n_in`` (None until known)."""
        return self.n_in

    def preactivation(self, x: torch.Tensor) -> torch.Tensor:
        """The input itself (there is no transform), after shape checks.

        Shape:
            x: ``[N, C, T]``; returns ``[N, C, T]``.
        """
        if not isinstance(x, torch.Tensor) or x.dim() != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"RnnLoss: expected input [N, C, T], got shape {shape}")
        self._build_like(x)
        return x

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        z = self.preactivation(x)                                             # [N, C, T]
        return zero_masked(self.activation(z), check_mask(mask, x, "RnnLoss"))

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """``(C, T) -> (C, T)``; does not build. Raises ConfigError for another rank."""
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise ConfigError(f"RnnLoss: expected input (N, C, T), got (N, {', '.join(map(str, shape))})")
        check_feature_count(self, shape[0])
        return shape

    def extra_repr(self) -> str:
        return (f"n_in={self.n_in}, activation={describe_activation(self.activation)}, "
                f"loss={self.loss_fn.name!r}")
