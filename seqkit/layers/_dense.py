"""Dense: a fully connected layer, on feature vectors or at every step of a sequence."""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._errors import ConfigError
from ._base import Layer
from ._checks import check_feature_count, check_positive_int, describe_activation, layer_activation
from ._zeroing import check_any_mask, zero_masked

__all__ = ["Dense"]


class Dense(Layer):
    """Fully connected layer ``y = activation(x W^T + b)``.

    On ``[N, F]`` input it is DL4J's ``DenseLayer`` / Keras's ``Dense``. On
    ``[N, F, T]`` input the same weights apply at every step independently
    (like Keras's Dense on a 3-D tensor, in NCL), and with a mask the output
    is exactly 0 at masked steps.

    Args:
        n_out: number of units H.
        n_in: number of input features F; inferred from the first input (or
            by the network) when left out.
        activation: a name from ``seqkit.layers.ACTIVATIONS`` or a callable;
            ``"softmax"`` normalises over the unit dimension (dim 1).
        use_bias: add a bias (initialised to 0).

    Weights: ``weight`` ``[H, F]`` (torch's ``nn.Linear`` layout), Glorot
    (Xavier) uniform; ``bias`` ``[H]``. Keras's ``[kernel (F, H), bias (H,)]``
    go through :meth:`set_keras_weights` / :meth:`get_keras_weights`.

    Shape:
        - x: ``[N, F]`` or ``[N, F, T]``
        - mask: optional; ``[N, T]`` for ``[N, F, T]`` input, or a row mask ``[N]``
          for ``[N, F]`` input. Masked steps (rows) output exact zeros.
        - output: ``[N, H]`` or ``[N, H, T]``
    """

    _ranks: tuple[int, ...] = (2, 3)
    input_layouts = frozenset({"vectors", "sequences"})

    def __init__(self, n_out: int, n_in: int | None = None, *, activation="identity",
                 use_bias: bool = True):
        super().__init__(n_in)
        self._n_out = check_positive_int(n_out, "n_out", type(self).__name__)
        self.activation = layer_activation(activation, type(self).__name__)
        self.use_bias = bool(use_bias)
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        self._maybe_build()

    @property
    def n_out(self) -> int:
        return self._n_out

    def _build(self, n_in: int) -> None:
        self.weight = nn.Parameter(torch.empty(self._n_out, n_in))                 # [H, F]
        if self.use_bias:
            self.bias = nn.Parameter(torch.empty(self._n_out))                     # [H]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot (Xavier) uniform weights, zero bias."""
        if self.weight is None:
            return
        nn.init.xavier_uniform_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    # -- forward --------------------------------------------------------------------
    def _check_input(self, x: torch.Tensor) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() not in self._ranks:
            layouts = {2: "[N, F]", 3: "[N, F, T]"}
            want = " or ".join(layouts[r] for r in self._ranks)
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__}: expected input {want}, got shape {shape}")
        self._build_like(x)

    def preactivation(self, x: torch.Tensor) -> torch.Tensor:
        """``x W^T + b`` before the activation, unmasked.

        Shape:
            x: ``[N, F]`` or ``[N, F, T]``; returns ``[N, H]`` or ``[N, H, T]``.
        """
        self._check_input(x)
        if x.dim() == 2:
            return F.linear(x, self.weight, self.bias)                             # [N, H]
        z = F.linear(x.transpose(1, 2), self.weight, self.bias)                    # [N, T, H]
        return z.transpose(1, 2)                                                   # [N, H, T]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        z = self.preactivation(x)
        mask = check_any_mask(mask, x, type(self).__name__)
        return zero_masked(self.activation(z), mask)

    # -- shape inference ------------------------------------------------------------
    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """Output shape without the batch dim: ``(F,) -> (H,)``, ``(F, T) -> (H, T)``.

        ``T`` may be None (variable length). Does not build the layer.

        Raises:
            ConfigError: a wrong rank, or ``F`` different from a known ``n_in``.
        """
        shape = tuple(input_shape)
        if len(shape) + 1 not in self._ranks:
            raise ConfigError(f"{type(self).__name__}: cannot take input of shape (N, "
                              f"{', '.join(map(str, shape))}); expected rank {self._ranks} with batch")
        check_feature_count(self, shape[0])
        return (self._n_out, *shape[1:])

    # -- Keras weights --------------------------------------------------------------
    def get_keras_weights(self) -> list[np.ndarray]:
        """``[kernel (F, H), bias (H,)]`` (no bias when ``use_bias=False``), as numpy arrays."""
        if not self.built:
            raise ConfigError(f"{type(self).__name__}: not built yet; pass n_in or call build() first")
        out = [self.weight.detach().cpu().numpy().T.copy()]
        if self.bias is not None:
            out.append(self.bias.detach().cpu().numpy().copy())
        return out

    def set_keras_weights(self, weights: Sequence) -> "Dense":
        """Load a Keras ``Dense``'s ``get_weights()`` list: ``[kernel (F, H), bias (H,)]``.

        Builds the layer from the kernel when ``n_in`` is not known yet.

        Raises:
            ValueError: a wrong number of arrays or a wrong shape, naming both.
        """
        arrays = [np.asarray(w) for w in weights]
        want = 2 if self.use_bias else 1
        if len(arrays) != want:
            raise ValueError(f"{type(self).__name__}: expected {want} Keras arrays "
                             f"({'kernel, bias' if self.use_bias else 'kernel'}), got {len(arrays)}")
        kernel = arrays[0]
        if kernel.ndim != 2 or kernel.shape[1] != self._n_out:
            raise ValueError(f"{type(self).__name__}: Keras kernel must be (n_in, {self._n_out}), "
                             f"got {kernel.shape}")
        if not self.built:
            self.build(int(kernel.shape[0]))
        if kernel.shape[0] != self.n_in:
            raise ValueError(f"{type(self).__name__}: Keras kernel is {kernel.shape} but the layer "
                             f"has n_in={self.n_in}, expecting ({self.n_in}, {self._n_out})")
        if self.use_bias and arrays[1].shape != (self._n_out,):
            raise ValueError(f"{type(self).__name__}: Keras bias must be ({self._n_out},), "
                             f"got {arrays[1].shape}")
        with torch.no_grad():
            self.weight.copy_(torch.as_tensor(kernel.T.copy()))
            if self.use_bias:
                self.bias.copy_(torch.as_tensor(arrays[1]))
        return self

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, activation={describe_activation(self.activation)}, "
                f"use_bias={self.use_bias}")
