"""Conv1D: a 1-D convolution over time that keeps T, so the ``[N, T]`` mask still applies.

DL4J's ``Convolution1DLayer`` and Keras's ``Conv1D`` in seqkit's NCL layout,
with stride 1 and an output as long as the input. Two paddings:

- ``"causal"`` (the default): ``(k - 1) * dilation`` zeros on the left only,
  so the output at step t sees input steps ``t - (k-1)*dilation .. t`` and
  never a later one (Keras's ``padding="causal"``, WaveNet/TCN style);
- ``"same"``: ``(k - 1) * dilation`` zeros split over both ends, the odd one
  on the right (Keras's ``"same"``); the output at step t also sees later steps.

``"valid"`` is deliberately not offered: it shortens T by
``(k - 1) * dilation``, and the ``[N, T]`` mask (and per-step labels) would no
longer line up with the output. Neither are strides above 1, for the same reason.

Masking: masked input steps are zeroed before the convolution (no work for
an input a seqkit layer has just zeroed for the same mask, see
:mod:`seqkit.layers._zeroing`) and masked output steps are exact zeros. For
padding at either end of a sequence this gives each example what it gets
alone (the zeros stand where the convolution's own padding would be); a gap
inside a sequence is seen as zeros by the steps around it, not skipped.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._errors import ConfigError
from ._activations import activation_name
from ._base import Layer
from ._checks import check_feature_count, check_positive_int, describe_activation, layer_activation
from ._conv import keras_conv_weights, load_keras_conv_weights, same_pads
from ._float32 import cudnn_call
from ._mask import check_mask
from ._zeroing import zero_finite, zero_input, zero_masked

__all__ = ["CONV1D_PADDINGS", "Conv1D"]

#: The paddings Conv1D takes (both keep T).
CONV1D_PADDINGS: tuple[str, ...] = ("causal", "same")


def _padding(value, owner: str) -> str:
    key = value.lower() if isinstance(value, str) else value
    if key == "valid":
        raise ConfigError(f"{owner}: padding='valid' is not offered: it shortens T by "
                          f"(kernel_size - 1) * dilation, so the [N, T] mask and per-step labels no "
                          f"longer line up with the output; use 'causal' or 'same'")
    if key not in CONV1D_PADDINGS:
        raise ConfigError(f"{owner}: padding must be one of {', '.join(CONV1D_PADDINGS)}, got {value!r}")
    return key


class Conv1D(Layer):
    """1-D convolution (cross-correlation) over the time axis: ``[N, F, T] -> [N, H, T]``.

    ``y[:, :, t] = activation(b + sum_j W[:, :, j] x[:, :, t - left + j * dilation])``
    for ``j = 0 .. k-1``, with zeros outside ``0 .. T-1``; ``left`` is
    ``(k-1)*dilation`` for ``"causal"`` and ``floor((k-1)*dilation / 2)`` for
    ``"same"``. See the module docstring for the paddings and the mask.

    Args:
        n_out: output channels H (filters).
        kernel_size: k, the number of taps.
        n_in: input features F; inferred when left out.
        dilation: spacing between taps (Keras's ``dilation_rate``).
        padding: ``"causal"`` (default; step t sees only steps <= t) or
            ``"same"``. ``"valid"`` is refused (it would change T).
        activation: a name from ``seqkit.layers.ACTIVATIONS`` or a callable.
        use_bias: add a per-channel bias (initialised to 0).

    Weights: ``weight`` ``[H, F, k]`` (torch's ``nn.Conv1d`` layout), Glorot
    uniform with the kernel in the fans; ``bias`` ``[H]``. Keras's
    ``[kernel (k, F, H), bias (H,)]`` go through :meth:`set_keras_weights` /
    :meth:`get_keras_weights`.

    In a network: ``LastTimeStep(Conv1D(...))`` and ``Conv1D -> LSTM -> RnnOutput``
    build from ``InputType.recurrent(F)``. With ``kernel_size > 1`` the layer
    looks at other steps, so it cannot run under truncated BPTT or
    ``rnn_time_step`` (each segment or chunk would be convolved on its own);
    the network refuses both.

    Shape:
        - x: ``[N, F, T]``; mask: optional ``[N, T]``
        - output: ``[N, H, T]`` (same T), exact zeros at masked steps
    """

    def __init__(self, n_out: int, kernel_size: int, n_in: int | None = None, *, dilation: int = 1,
                 padding: str = "causal", activation="identity", use_bias: bool = True):
        super().__init__(n_in)
        name = type(self).__name__
        self._n_out = check_positive_int(n_out, "n_out", name)
        self.kernel_size = check_positive_int(kernel_size, "kernel_size", name)
        self.dilation = check_positive_int(dilation, "dilation", name)
        self.padding = _padding(padding, name)
        self.activation = layer_activation(activation, name)
        self.use_bias = bool(use_bias)
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        self._maybe_build()

    @property
    def n_out(self) -> int:
        return self._n_out

    @property
    def receptive_field(self) -> int:
        """How many input steps one output step depends on: ``(k - 1) * dilation + 1``."""
        return (self.kernel_size - 1) * self.dilation + 1

    # -- self-description (see Layer) -------------------------------------------------------
    input_layouts = frozenset({"sequences"})
    needs_time = True

    @property
    def mixes_steps(self) -> bool:
        """True with a receptive field over one step (``kernel_size > 1``)."""
        return self.receptive_field > 1

    def _build(self, n_in: int) -> None:
        self.weight = nn.Parameter(torch.empty(self._n_out, n_in, self.kernel_size))     # [H, F, k]
        if self.use_bias:
            self.bias = nn.Parameter(torch.empty(self._n_out))                          # [H]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot (Xavier) uniform weights (fans include the kernel length), zero bias."""
        if self.weight is None:
            return
        nn.init.xavier_uniform_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def _pads(self) -> tuple[int, int]:
        """(left, right) zeros on the time axis."""
        total = self.receptive_field - 1
        if self.padding == "causal":
            return total, 0
        return same_pads(1, self.kernel_size, 1, self.dilation)   # stride 1: any T; odd one right

    def _check_input(self, x) -> None:
        if not isinstance(x, torch.Tensor) or x.dim() != 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__}: expected sequences [N, F, T], got shape {shape}")
        self._build_like(x)

    def preactivation(self, x: torch.Tensor) -> torch.Tensor:
        """The padded convolution plus bias, before the activation and without masking.

        Shape:
            x: ``[N, F, T]``; returns ``[N, H, T]``.
        """
        self._check_input(x)
        left, right = self._pads()
        both = min(left, right)                           # the convolution's own (symmetric) padding
        if left > both or right > both:
            x = F.pad(x, (left - both, right - both))                         # the rest: zeros on T only
        dilation = self.dilation                                          # seqkit's float32 mode on CUDA
        return cudnn_call(lambda v, w, b: F.conv1d(v, w, b, padding=both, dilation=dilation),
                          x, self.weight, self.bias)                          # [N, H, T]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        """``activation(conv(x))`` with masked input steps zeroed first and masked outputs zero.

        Shape:
            x: ``[N, F, T]``; mask: ``[N, T]`` or None; returns ``[N, H, T]``.
        """
        self._check_input(x)
        mask = check_mask(mask, x, type(self).__name__)
        y = self.activation(self.preactivation(zero_input(x, mask)))         # [N, H, T]
        if activation_name(self.activation) is None:                      # a callable: anything at padding
            return zero_masked(y, mask)
        return zero_finite(y, mask)          # named: finite from the zeroed input, so x * 0/1 is exact

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """``(F, T) -> (H, T)``; T may be None. Does not build.

        Raises:
            ConfigError: input other than sequences ``(F, T)``, or ``F`` other than a known ``n_in``.
        """
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise ConfigError(f"{type(self).__name__}: expected sequences (N, F, T), got "
                              f"(N, {', '.join(map(str, shape))})")
        check_feature_count(self, shape[0])
        return (self._n_out, shape[1])

    # -- Keras weights --------------------------------------------------------------------------
    def get_keras_weights(self) -> list[np.ndarray]:
        """``[kernel (k, F, H), bias (H,)]`` as Keras's ``Conv1D`` holds them."""
        return keras_conv_weights(self)

    def set_keras_weights(self, weights: Sequence) -> "Conv1D":
        """Load a Keras ``Conv1D``'s ``[kernel (k, F, H), bias (H,)]``; builds the layer if needed.

        Raises:
            ValueError: a wrong number of arrays or a wrong shape, naming both.
        """
        return load_keras_conv_weights(self, weights, (self.kernel_size,))

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, kernel_size={self.kernel_size}, dilation={self.dilation}, "
                f"padding={self.padding!r}, activation={describe_activation(self.activation)}")
