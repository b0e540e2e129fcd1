"""Conv2D and Subsampling2D: per-frame 2-D convolution and pooling for CNN+RNN models.

Both take images ``[N, C, H, W]`` or video ``[N, C, T, H, W]`` (channels at
dim 1, time at dim 2, as every seqkit layer). Video frames are processed
independently with the same weights, so
``Conv2D -> Subsampling2D -> ... -> CnnToRnn -> LSTM -> RnnOutput`` works on
clips directly. Internally a video goes through the 3-D kernel with a depth
of 1, which is exactly the 2-D operation on every frame, without copying the
frames out.

Padding (``padding=``):

- ``"valid"``: none; ``H_out = floor((H - d*(k-1) - 1) / s) + 1``.
- ``"same"``: Keras's: ``H_out = ceil(H / s)``; the needed total padding is
  split with the extra row/column at the bottom/right.
- an int or a pair: that many zeros on both sides (``2p`` is added to ``H``).

Spatial pairs (kernel, stride, dilation, padding) are ``(height, width)``; an
int means the same for both.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._errors import ConfigError
from ._base import Layer
from ._checks import check_feature_count, check_positive_int, describe_activation, layer_activation
from ._float32 import cudnn_call
from ._zeroing import check_any_mask, zero_masked

__all__ = ["Conv2D", "Subsampling2D", "keras_conv_weights", "load_keras_conv_weights", "same_pads"]


def _pair(value, what: str, owner: str, *, allow_zero: bool = False) -> tuple[int, int]:
    items = tuple(value) if isinstance(value, (tuple, list)) else (value, value)
    if len(items) != 2:
        raise ConfigError(f"{owner}: {what} must be an int or a pair (height, width), got {value!r}")
    out = []
    for v in items:
        if allow_zero:
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 0:
                raise ConfigError(f"{owner}: {what} must be a non-negative int or a pair, got {value!r}")
            out.append(int(v))
        else:
            out.append(check_positive_int(v, what, owner))
    return out[0], out[1]


def _padding(value, owner: str) -> str | tuple[int, int]:
    if isinstance(value, str):
        key = value.lower()
        if key not in ("valid", "same"):
            raise ConfigError(f"{owner}: padding must be 'valid', 'same', an int or a pair, got {value!r}")
        return key
    return _pair(value, "padding", owner, allow_zero=True)


def _out_size(size: int, k: int, s: int, d: int, padding) -> int:
    if padding == "same":
        return math.ceil(size / s)
    p = 0 if padding == "valid" else padding
    return (size + 2 * p - d * (k - 1) - 1) // s + 1


def same_pads(size: int, k: int, s: int, d: int) -> tuple[int, int]:
    """(before, after) zeros for Keras's "same": the extra one goes after."""
    total = max((math.ceil(size / s) - 1) * s + d * (k - 1) + 1 - size, 0)
    return total // 2, total - total // 2


def keras_conv_weights(layer) -> list[np.ndarray]:
    """A convolution's ``[kernel (*k, C, C_out), bias (C_out,)]`` in Keras's channels-last layout.

    Shape:
        ``layer.weight`` is torch's ``[C_out, C, *k]``; the kernel comes out as ``(*k, C, C_out)``.
    """
    if not layer.built:
        raise ConfigError(f"{type(layer).__name__}: not built yet; pass n_in or call build() first")
    w = layer.weight.detach().cpu().numpy()                                # [C_out, C, *k]
    out = [w.transpose(*range(2, w.ndim), 1, 0).copy()]                    # (*k, C, C_out)
    if layer.bias is not None:
        out.append(layer.bias.detach().cpu().numpy().copy())
    return out


def load_keras_conv_weights(layer, weights: Sequence, kernel_size: tuple[int, ...]):
    """Copy a Keras convolution's ``[kernel (*k, C, C_out), bias (C_out,)]`` into ``layer``.

    Builds ``layer`` from the kernel's C when it is not built yet; returns ``layer``.

    Raises:
        ValueError: a wrong number of arrays or a wrong shape, naming both.
    """
    name = type(layer).__name__
    arrays = [np.asarray(w) for w in weights]
    want = 2 if layer.use_bias else 1
    if len(arrays) != want:
        raise ValueError(f"{name}: expected {want} Keras arrays, got {len(arrays)}")
    kernel, k, n_out = arrays[0], tuple(kernel_size), layer.n_out
    if kernel.ndim != len(k) + 2 or kernel.shape[:len(k)] != k or kernel.shape[-1] != n_out:
        raise ValueError(f"{name}: Keras kernel must be ({', '.join(map(str, k))}, n_in, {n_out}), "
                         f"got {kernel.shape}")
    if not layer.built:
        layer.build(int(kernel.shape[-2]))
    if kernel.shape[-2] != layer.n_in:
        raise ValueError(f"{name}: Keras kernel has {kernel.shape[-2]} input channels, layer has "
                         f"n_in={layer.n_in}")
    if layer.use_bias and arrays[1].shape != (n_out,):
        raise ValueError(f"{name}: Keras bias must be ({n_out},), got {arrays[1].shape}")
    order = (kernel.ndim - 1, kernel.ndim - 2, *range(len(k)))            # -> [C_out, C, *k]
    with torch.no_grad():
        layer.weight.copy_(torch.as_tensor(kernel.transpose(order).copy()))
        if layer.use_bias:
            layer.bias.copy_(torch.as_tensor(arrays[1]))
    return layer


class _Spatial2D(Layer):
    """Shared shape logic for the 2-D layers on ``[N, C, H, W]`` / ``[N, C, T, H, W]``."""

    kernel_size: tuple[int, int]
    stride: tuple[int, int]
    dilation: tuple[int, int] = (1, 1)
    padding: str | tuple[int, int]
    input_layouts = frozenset({"images", "video"})

    def _spatial_out(self, h: int, w: int, where: str, exc=ValueError) -> tuple[int, int]:
        ho = _out_size(h, self.kernel_size[0], self.stride[0], self.dilation[0],
                       self.padding if isinstance(self.padding, str) else self.padding[0])
        wo = _out_size(w, self.kernel_size[1], self.stride[1], self.dilation[1],
                       self.padding if isinstance(self.padding, str) else self.padding[1])
        if ho < 1 or wo < 1:
            raise exc(f"{where}: input of height x width {h} x {w} is too small for kernel "
                      f"{self.kernel_size}, stride {self.stride}, dilation {self.dilation}, padding "
                      f"{self.padding!r} (output would be {ho} x {wo})")
        return ho, wo

    def _check_input(self, x: torch.Tensor) -> None:
        name = type(self).__name__
        if not isinstance(x, torch.Tensor) or x.dim() not in (4, 5):
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{name}: expected images [N, C, H, W] or video [N, C, T, H, W], "
                             f"got shape {shape}")
        self._build_like(x)
        self._spatial_out(int(x.shape[-2]), int(x.shape[-1]), name)

    def _explicit_pads(self, x: torch.Tensor) -> tuple[int, int, int, int] | None:
        """F.pad order (left, right, top, bottom) for "same" or an int padding; None for valid."""
        if self.padding == "valid":
            return None
        if self.padding == "same":
            top, bottom = same_pads(int(x.shape[-2]), self.kernel_size[0], self.stride[0], self.dilation[0])
            left, right = same_pads(int(x.shape[-1]), self.kernel_size[1], self.stride[1], self.dilation[1])
        else:
            (top, left), (bottom, right) = self.padding, self.padding
        if top == bottom == left == right == 0:
            return None
        return left, right, top, bottom

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """Output shape without the batch dim; does not build.

        ``(C, H, W) -> (C_out, H_out, W_out)`` and
        ``(C, T, H, W) -> (C_out, T, H_out, W_out)``; ``T`` may be None.

        Raises:
            ConfigError: a wrong rank, unknown H or W, a channel count other
                than a known ``n_in``, or an input too small for the kernel.
        """
        name = type(self).__name__
        shape = tuple(input_shape)
        if len(shape) not in (3, 4):
            raise ConfigError(f"{name}: expected input (N, C, H, W) or (N, C, T, H, W), got "
                              f"(N, {', '.join(map(str, shape))})")
        check_feature_count(self, shape[0])
        h, w = shape[-2:]
        if h is None or w is None:
            raise ConfigError(f"{name}: height and width must be known, got input shape {shape}")
        ho, wo = self._spatial_out(int(h), int(w), name, ConfigError)
        return (self._channels_out(shape[0]), *shape[1:-2], ho, wo)

    def _channels_out(self, c_in: int) -> int:
        raise NotImplementedError


class Conv2D(_Spatial2D):
    """2-D convolution (cross-correlation, as ``torch.nn.Conv2d``) on images or on every video frame.

    DL4J's ``ConvolutionLayer`` / Keras's ``Conv2D`` in channels-first layout.

    Args:
        n_out: output channels (filters).
        kernel_size: int or ``(kh, kw)``.
        n_in: input channels C; inferred when left out.
        stride, dilation: int or pair.
        padding: ``"valid"`` (default), ``"same"`` (Keras's) or an int/pair of zeros per side.
        activation: a name or a callable.
        use_bias: add a per-channel bias (initialised to 0).

    Weights: ``weight`` ``[C_out, C, kh, kw]``, Glorot uniform; ``bias`` ``[C_out]``.

    Shape:
        - x: ``[N, C, H, W]`` or ``[N, C, T, H, W]``
        - mask: optional; ``[N, T]`` for video (masked frames output 0), or a row mask ``[N]``
        - output: ``[N, C_out, H_out, W_out]`` or ``[N, C_out, T, H_out, W_out]``
    """

    def __init__(self, n_out: int, kernel_size, n_in: int | None = None, *, stride=1,
                 padding="valid", dilation=1, activation="identity", use_bias: bool = True):
        super().__init__(n_in)
        name = type(self).__name__
        self._n_out = check_positive_int(n_out, "n_out", name)
        self.kernel_size = _pair(kernel_size, "kernel_size", name)
        self.stride = _pair(stride, "stride", name)
        self.dilation = _pair(dilation, "dilation", name)
        self.padding = _padding(padding, name)
        self.activation = layer_activation(activation, type(self).__name__)
        self.use_bias = bool(use_bias)
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        self._maybe_build()

    @property
    def n_out(self) -> int:
        return self._n_out

    def _channels_out(self, c_in: int) -> int:
        return self._n_out

    def _build(self, n_in: int) -> None:
        self.weight = nn.Parameter(torch.empty(self._n_out, n_in, *self.kernel_size))   # [C_out, C, kh, kw]
        if self.use_bias:
            self.bias = nn.Parameter(torch.empty(self._n_out))                         # [C_out]
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Glorot (Xavier) uniform weights (fans include the kernel area), zero bias."""
        if self.weight is None:
            return
        nn.init.xavier_uniform_(self.weight)
        if self.bias is not None:
            nn.init.zeros_(self.bias)

    def preactivation(self, x: torch.Tensor) -> torch.Tensor:
        """The convolution plus bias, before the activation and unmasked."""
        self._check_input(x)
        pads = self._explicit_pads(x)
        if pads is not None:
            x = F.pad(x, pads)                                             # zeros on H and W only
        stride, dilation = self.stride, self.dilation                      # seqkit's float32 mode on CUDA
        if x.dim() == 4:                                                   # [N, C, H, W]
            return cudnn_call(lambda v, w, b: F.conv2d(v, w, b, stride=stride, dilation=dilation),
                              x, self.weight, self.bias)
        # [N, C, T, H, W]: a depth-1 3-D kernel is the 2-D kernel on every frame
        return cudnn_call(lambda v, w, b: F.conv3d(v, w.unsqueeze(2), b, stride=(1, *stride),
                                                   dilation=(1, *dilation)),
                          x, self.weight, self.bias)                       # [N, C_out, T, H_out, W_out]

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        z = self.preactivation(x)
        return zero_masked(self.activation(z), check_any_mask(mask, x, type(self).__name__))

    def get_keras_weights(self) -> list[np.ndarray]:
        """``[kernel (kh, kw, C, C_out), bias (C_out,)]`` as Keras's channels-last Conv2D holds them."""
        return keras_conv_weights(self)

    def set_keras_weights(self, weights: Sequence) -> "Conv2D":
        """Load a Keras ``Conv2D``'s ``[kernel (kh, kw, C, C_out), bias (C_out,)]``.

        Raises:
            ValueError: a wrong number of arrays or a wrong shape, naming both.
        """
        return load_keras_conv_weights(self, weights, self.kernel_size)

    def extra_repr(self) -> str:
        return (f"{super().extra_repr()}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding!r}, dilation={self.dilation}, "
                f"activation={describe_activation(self.activation)}")


class Subsampling2D(_Spatial2D):
    """2-D max or average pooling on images or on every video frame (DL4J's ``SubsamplingLayer``).

    Args:
        kernel_size: int or ``(kh, kw)``.
        stride: int or pair; defaults to ``kernel_size`` (Keras's default).
        pooling: ``"max"`` (default) or ``"avg"`` (``"average"`` is an alias).
        padding: ``"valid"`` (default), ``"same"`` or an int/pair at most half
            the kernel. Padded positions never count: max ignores them, and
            the average is over the real positions of each window (Keras's
            ``"same"``).

    No parameters; the channel count C is kept (``n_out == n_in``).

    Shape:
        - x: ``[N, C, H, W]`` or ``[N, C, T, H, W]``
        - mask: optional; ``[N, T]`` for video (masked frames output 0), or a row mask ``[N]``
        - output: ``[N, C, H_out, W_out]`` or ``[N, C, T, H_out, W_out]``
    """

    def __init__(self, kernel_size, stride=None, *, pooling: str = "max", padding="valid"):
        super().__init__(None)
        name = type(self).__name__
        self.kernel_size = _pair(kernel_size, "kernel_size", name)
        self.stride = self.kernel_size if stride is None else _pair(stride, "stride", name)
        key = pooling.lower() if isinstance(pooling, str) else pooling
        key = {"average": "avg", "mean": "avg"}.get(key, key)
        if key not in ("max", "avg"):
            raise ConfigError(f"{name}: pooling must be 'max' or 'avg', got {pooling!r}")
        self.pooling = key
        self.padding = _padding(padding, name)
        if isinstance(self.padding, tuple) and any(
                p > k // 2 for p, k in zip(self.padding, self.kernel_size)):
            raise ConfigError(f"{name}: padding {self.padding} must be at most half the kernel "
                              f"{self.kernel_size}")

    @property
    def n_out(self) -> int | None:
        """Equal to ``n_in`` (None until known)."""
        return self.n_in

    def _channels_out(self, c_in: int) -> int:
        return c_in

    def _pool(self, x: torch.Tensor) -> torch.Tensor:
        if x.dim() == 4:
            fn = F.max_pool2d if self.pooling == "max" else F.avg_pool2d
            return fn(x, self.kernel_size, self.stride)
        fn = F.max_pool3d if self.pooling == "max" else F.avg_pool3d           # depth-1 window per frame
        return fn(x, (1, *self.kernel_size), (1, *self.stride))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        self._check_input(x)
        mask = check_any_mask(mask, x, type(self).__name__)
        pads = self._explicit_pads(x)
        if pads is None:
            y = self._pool(x)
        elif self.pooling == "max":
            y = self._pool(F.pad(x, pads, value=float("-inf")))               # padding never wins
        else:
            # mean over the real positions only: window sums of x over window counts of ones
            ones = torch.ones((1, 1, *([1] * (x.dim() - 4)), *x.shape[-2:]),
                              dtype=x.dtype, device=x.device)                 # [1, 1, (1,) H, W]
            y = self._pool(F.pad(x, pads)) / self._pool(F.pad(ones, pads))
        return zero_masked(y, mask)

    def extra_repr(self) -> str:
        return (f"n_in={self.n_in}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"pooling={self.pooling!r}, padding={self.padding!r}")
