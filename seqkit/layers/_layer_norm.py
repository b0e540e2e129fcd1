"""LayerNorm: normalisation over the features of each step (Keras's LayerNormalization)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._errors import ConfigError
from ._same_shape import SameShape, check_keras_vectors, positive_float
from ._zeroing import zero_masked

__all__ = ["LayerNorm"]

_KERAS_NAMES = ("gamma", "beta")


class LayerNorm(SameShape):
    """Layer normalisation over the feature axis, at each step on its own.

    ``y[n, :, t] = gamma * (x[n, :, t] - mean) / sqrt(var + eps) + beta``, where
    ``mean`` and ``var`` (biased) are taken over the F features of that
    example at that step. Steps never mix, so padding cannot change a real
    step's result, in training and in inference alike; masked steps output
    exact zeros. Keras's ``LayerNormalization()`` on ``(N, T, F)`` data with
    its defaults (``axis=-1``, ``epsilon=1e-3``); torch's ``nn.LayerNorm(F)``
    on the transposed data, but with torch's default ``eps=1e-5``.
    Float16/bfloat16 input is normalised in float32 and returned in its dtype.

    Args:
        n_in: features F; inferred when left out.
        eps: added to the variance (Keras's 1e-3).

    Parameters: ``weight`` (gamma, ones) and ``bias`` (beta, zeros) ``[F]``.
    Keras's ``[gamma, beta]`` go through :meth:`set_keras_weights` /
    :meth:`get_keras_weights`.

    Shape:
        - x: ``[N, F, T]`` or ``[N, F]``
        - mask: optional ``[N, T]`` (or a row mask ``[N]`` for ``[N, F]``)
        - output: the input's shape, exact zeros at masked steps
    """

    input_layouts = frozenset({"vectors", "sequences"})

    def __init__(self, n_in: int | None = None, eps: float = 1e-3):
        super().__init__(n_in)
        self.eps = positive_float(eps, "eps", type(self).__name__)
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        self._maybe_build()

    def _build(self, n_in: int) -> None:
        self.weight = nn.Parameter(torch.empty(n_in))                       # gamma [F]
        self.bias = nn.Parameter(torch.empty(n_in))                         # beta [F]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """gamma 1, beta 0 (Keras's initialisers)."""
        if self.weight is None:
            return
        with torch.no_grad():
            self.weight.fill_(1.0)
            self.bias.zero_()

    def forward(self, x: torch.Tensor, mask=None) -> torch.Tensor:
        """Each step normalised over its features; zero where the mask is 0.

        Shape:
            x ``[N, F, T]`` or ``[N, F]``; mask ``[N, T]`` (``[N]``) or None;
            returns ``x``'s shape.
        """
        x, mask, xc = self._masked_input(x, mask)
        steps = xc.movedim(1, -1)                                           # [N, (T,) F]
        y = nn.functional.layer_norm(steps, (steps.shape[-1],), self.weight.to(xc.dtype),
                                     self.bias.to(xc.dtype), self.eps)
        return zero_masked(y.movedim(-1, 1), mask).to(x.dtype)

    # -- Keras weights ----------------------------------------------------------------------------
    def get_keras_weights(self) -> list[np.ndarray]:
        """``[gamma, beta]``, each ``(F,)``, as Keras's ``LayerNormalization.get_weights()``.

        Raises:
            ConfigError: the layer is not built yet.
        """
        if not self.built:
            raise ConfigError(f"{type(self).__name__}: not built yet; pass n_in or call build() first")
        return [self.weight.detach().cpu().numpy().copy(), self.bias.detach().cpu().numpy().copy()]

    def set_keras_weights(self, weights) -> "LayerNorm":
        """Load a Keras ``LayerNormalization``'s ``get_weights()`` (default ``center`` and
        ``scale``): ``[gamma, beta]``, each ``(F,)``; builds the layer from them when
        ``n_in`` is not known yet; returns ``self``.

        Raises:
            ValueError: a wrong number of arrays or a wrong shape, naming both.
        """
        arrays = check_keras_vectors(self, weights, _KERAS_NAMES)
        if not self.built:
            self.build(int(arrays[0].shape[0]))
        with torch.no_grad():
            self.weight.copy_(torch.as_tensor(arrays[0], dtype=self.weight.dtype))
            self.bias.copy_(torch.as_tensor(arrays[1], dtype=self.bias.dtype))
        return self

    def extra_repr(self) -> str:
        return f"n_in={self.n_in}, eps={self.eps}"
