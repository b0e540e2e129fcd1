"""MaskZero: derive a step mask from the data (steps whose features all equal a value)."""

from __future__ import annotations

import math

import torch
from torch import nn

from .._errors import ConfigError
from ._base import layer_trait
from ._last_time_step import InnerWrapper, call_inner
from ._mask import check_mask
from ._step_mask import StepMask
from ._tracing import tracing

__all__ = ["MaskZero"]


class MaskZero(InnerWrapper):
    """Mask every step whose features all equal ``mask_value``, then run ``layer``.

    ``mask[n, t] = 0`` when every feature of example ``n`` at step ``t`` equals
    ``mask_value`` (for ``[N, C, T, *spatial]`` input: every channel at every
    position), else 1. An incoming mask is combined with it by AND. The inner
    layer receives the combined mask and honours it with the masking semantic
    (state carried, output zero at masked steps). This is DL4J's
    ``MaskZeroLayer`` and what Keras's ``Masking`` layer (or
    ``Embedding(mask_zero=True)``) does in front of a recurrent layer.

    ``mask_value`` may be NaN (steps whose features are all NaN are masked).
    The derived mask is not differentiable (it selects steps). It is not
    returned by :meth:`forward`; :meth:`compute_mask` gives it, and a network
    hands it to the layers after this one (reversed when the inner layer
    reverses time), so they skip the same steps.

    Host-device sync: the mask is derived from the data, on the data's
    device, and a recurrent layer chooses its fast path from the mask's
    shape on the host. So on CUDA this layer copies the derived mask to the
    host once per call (one sync) and hands the inner layer a ``StepMask``
    carrying that copy, instead of letting the inner layer read it back
    piece by piece.

    Args:
        layer: the layer that receives the mask (usually a recurrent layer).
        mask_value: the padding value (0.0).

    Shape:
        x ``[N, F, T]`` (or ``[N, C, T, *spatial]``); mask ``[N, T]`` or None;
        output: the inner layer's.
    """

    def __init__(self, layer: nn.Module, mask_value: float = 0.0):
        super().__init__(layer)
        if isinstance(mask_value, bool) or not isinstance(mask_value, (int, float)):
            raise ConfigError(f"MaskZero: mask_value must be a number, got {mask_value!r}")
        self.mask_value = float(mask_value)
        self._maybe_build()

    def _derived_mask(self, x: torch.Tensor, mask=None) -> torch.Tensor:
        """The mask the inner layer receives: data-derived AND ``mask``.

        Shape:
            x ``[N, F, T, ...]``; mask ``[N, T]`` (or a ``StepMask``) or None;
            returns ``[N, T]`` in ``x``'s dtype and device, 1 at real steps.
        """
        x = self._check_x(x, build=False)
        if isinstance(mask, StepMask):
            mask = mask.values
        if math.isnan(self.mask_value):
            padding = torch.isnan(x)                                     # [N, F, T, ...]
        else:
            padding = x == self.mask_value
        keep = ~padding                                                  # [N, F, T, ...]
        if keep.dim() > 3:
            keep = keep.flatten(3).any(dim=3)                            # [N, F, T] over spatial
        real = keep.any(dim=1)                                           # [N, T] over features
        if mask is not None:
            real = real & (check_mask(mask, x, "MaskZero") != 0)        # [N, T]
        return real.to(x.dtype)

    def compute_mask(self, x: torch.Tensor, mask=None) -> torch.Tensor:
        """The mask the inner layer follows: 0 at every step whose features all equal
        ``mask_value``, AND ``mask`` (and AND any mask the inner layer derives in turn).
        A network hands it to the layers after this one.

        Shape:
            x ``[N, F, T, ...]``; mask ``[N, T]`` or None; returns ``[N, T]`` in
            ``x``'s dtype and device, 1 at real steps.
        """
        return layer_trait(self.inner, "compute_mask")(x, self._derived_mask(x, mask))

    @property
    def takes_step_mask(self) -> bool:
        """The inner layer's (it then gets the derived mask as a ``StepMask`` with a CPU copy)."""
        return bool(layer_trait(self.inner, "takes_step_mask"))

    def _inner_mask(self, x: torch.Tensor, mask):
        """The derived mask as the inner layer takes it: a ``StepMask`` with its CPU copy (one
        device-to-host copy on CUDA) for a layer that takes one, else ``[N, T]`` values."""
        derived = self._derived_mask(x, mask)
        if not self.takes_step_mask:
            return derived
        if tracing():                                                    # no host copy in a traced graph
            return StepMask.wrap(derived)
        return StepMask.wrap(derived, derived.cpu())                     # the one sync (a no-op on the CPU)

    def forward(self, x: torch.Tensor, mask=None, initial_state=None):
        """The inner layer on ``x`` with the derived mask; its output unchanged."""
        mask = self._inner_mask(x, mask)
        self._build_like(x)
        return call_inner(self.inner, x, mask, initial_state)

    def run(self, x: torch.Tensor, mask=None, state=None, **kwargs):
        """Streaming: the inner layer's ``run`` with the derived mask."""
        mask = self._inner_mask(x, mask)
        self._build_like(x)
        return self._delegate("run")(x, mask, state, **kwargs)

    def extra_repr(self) -> str:
        return f"mask_value={self.mask_value}"
