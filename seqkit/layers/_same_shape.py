"""SameShape: the base of layers whose output has their input's shape (``n_out = n_in``).

``Activation``, ``BatchNorm`` and ``LayerNorm`` share it: the input check
(rank, then building from the first input), ``n_out``, ``output_shape``, and
the Keras weight-list checks of the normalisation layers.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch

from .._errors import ConfigError
from ._base import Layer
from ._checks import check_feature_count
from ._zeroing import check_any_mask, zero_input

__all__ = ["SameShape", "check_keras_vectors", "positive_float"]

_LAYOUT_NAMES = {2: "[N, F]", 3: "[N, F, T]", 4: "[N, C, H, W]", 5: "[N, C, T, H, W]"}


def positive_float(value, what: str, owner: str) -> float:
    """``value`` as a float > 0, or a :class:`ConfigError` naming ``owner`` and ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not np.isfinite(value) or value <= 0:
        raise ConfigError(f"{owner}: {what} must be a positive number, got {value!r}")
    return float(value)


#: Half-precision inputs are normalised in float32.
_LOW_PRECISION = (torch.float16, torch.bfloat16)


class SameShape(Layer):
    """A layer whose output is shaped as its input: ``[N, F, ...] -> [N, F, ...]``.

    Subclasses set :attr:`ranks`, the input ranks they take (batch dim
    included), and end their ``__init__`` with ``self._maybe_build()``.

    Shape:
        x ``[N, F]``, ``[N, F, T]`` (or another rank in :attr:`ranks`);
        output the same shape.
    """

    #: Input ranks (with the batch dim) the layer takes.
    ranks: tuple[int, ...] = (2, 3)

    @property
    def n_out(self) -> int | None:
        """The input size (None until built)."""
        return self.n_in

    def _check_input(self, x) -> torch.Tensor:
        """``x`` checked for rank; builds the layer from it.

        Raises:
            ValueError: naming the layer, the ranks it takes and the shape given.
        """
        if not isinstance(x, torch.Tensor) or x.dim() not in self.ranks:
            want = " or ".join(_LAYOUT_NAMES[r] for r in self.ranks)
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__}: expected input {want}, got {shape}")
        self._build_like(x)
        return x

    def _masked_input(self, x, mask) -> tuple[torch.Tensor, torch.Tensor | None, torch.Tensor]:
        """``(x, mask, xc)``: the checked input and mask, and ``xc``, the input with exact zeros at
        masked steps (junk there, even NaN, cannot leak; no work for an input a seqkit layer has
        just zeroed for this mask, see :func:`zero_input`), in float32 for a half-precision input.

        Shape:
            x ``[N, F, T]`` or ``[N, F]``; mask ``[N, T]`` (``[N]``) or None; xc as x.
        """
        x = self._check_input(x)
        mask = check_any_mask(mask, x, type(self).__name__)
        xc = zero_input(x.float() if x.dtype in _LOW_PRECISION else x, mask)
        return x, mask, xc

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """The input shape itself (without the batch dim). Does not build.

        Raises:
            ConfigError: a rank the layer does not take, or ``F`` other than a known ``n_in``.
        """
        shape = tuple(input_shape)
        if len(shape) + 1 not in self.ranks:
            want = " or ".join(_LAYOUT_NAMES[r] for r in self.ranks)
            raise ConfigError(f"{type(self).__name__}: expected input {want}, got "
                              f"(N, {', '.join(map(str, shape))})")
        check_feature_count(self, shape[0])
        return shape


def check_keras_vectors(layer: Layer, arrays, names: Sequence[str]) -> list[np.ndarray]:
    """Keras's per-feature weight list (``[gamma, beta, ...]``) checked and as 1-D arrays.

    Every array must be ``(F,)``: ``F`` is the layer's ``n_in`` when known,
    else the first array's length.

    Raises:
        ValueError: naming the layer, the arrays expected and what was given.
    """
    owner = type(layer).__name__
    if not isinstance(arrays, (list, tuple)):
        raise ValueError(f"{owner}: set_keras_weights takes a list of arrays "
                         f"[{', '.join(names)}], got {type(arrays).__name__}")
    if len(arrays) != len(names):
        raise ValueError(f"{owner}: expected {len(names)} Keras arrays [{', '.join(names)}], "
                         f"got {len(arrays)}")
    out = [np.asarray(a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else a) for a in arrays]
    size = layer.n_in if layer.n_in is not None else (out[0].shape[0] if out[0].ndim == 1 else None)
    for name, a in zip(names, out):
        if size is None or a.shape != (size,):
            want = f"({size},)" if size is not None else "(F,)"
            raise ValueError(f"{owner}: Keras {name} must have shape {want}, got {a.shape}")
    return out
