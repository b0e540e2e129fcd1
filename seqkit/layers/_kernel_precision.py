"""Hand-written recurrent kernels run in their weights' dtype, outside autocast.

Under ``torch.autocast`` (``precision="bf16-mixed"``) the input projection
comes out in bfloat16 while the recurrent weights stay float32; the custom
autograd kernels multiply the two directly, so they need one dtype. They run
in the weights' dtype (float32 state, as mixed precision keeps for
recurrences) with autocast off, and return outputs in that dtype.
"""

from __future__ import annotations

import functools

import torch

__all__ = ["in_weight_dtype"]


def in_weight_dtype(kernel):
    """Wrap ``kernel(xp, w_hh, *rest)`` so floating tensors match ``w_hh``'s dtype, autocast off."""

    @functools.wraps(kernel)
    def run(xp: torch.Tensor, w_hh: torch.Tensor, *rest, **kwargs):
        device = xp.device.type
        if xp.dtype == w_hh.dtype and not torch.is_autocast_enabled(device):
            return kernel(xp, w_hh, *rest, **kwargs)

        def cast(t):
            return t.to(w_hh.dtype) if isinstance(t, torch.Tensor) and t.is_floating_point() else t

        with torch.autocast(device_type=device, enabled=False):
            return kernel(cast(xp), w_hh, *(cast(t) for t in rest), **kwargs)

    return run
