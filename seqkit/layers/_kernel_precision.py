"""Recurrent layers run in their weights' dtype with autocast off: the one mechanism.

Policy for mixed precision (``precision="bf16-mixed"``, i.e. ``torch.autocast``):

- matmul and convolution layers (``Dense``, ``Output``, ``TimeDistributed``,
  ``Conv1D``, ``Conv2D``) run under autocast, so their outputs are bfloat16;
- every recurrent layer (the fused cuDNN/CPU kernels, the hand-written
  kernels, the step loops, ``RNN(cell)``, ``ConvLSTM*``) runs with autocast
  off in its weights' dtype (float32): a reduced-precision input (bfloat16 or
  float16, from a layer before it) is cast up on entry, the state is float32
  throughout and the output is float32. A recurrence accumulates rounding over
  T steps, and torch's autocast rule for the cuDNN RNN ops would cast to
  float16 on CUDA whatever the autocast dtype; float32 state is the usual safe
  choice and keeps the fast paths identical to their references.

:func:`layer_in_weight_dtype` applies this around a recurrent layer's entry
points (``forward``, ``run``, ``reference``); :func:`in_weight_dtype` does the
same for a hand-written kernel called on its own. Both go through
:func:`call_in_weight_dtype`. Outside autocast nothing changes: an input whose
dtype differs from the weights' is still the layer's error.
"""

from __future__ import annotations

import functools

import torch

__all__ = ["REDUCED_DTYPES", "call_in_weight_dtype", "in_weight_dtype", "layer_in_weight_dtype"]

#: The autocast dtypes a recurrent layer casts up from.
REDUCED_DTYPES = (torch.bfloat16, torch.float16)


def _cast(t, dtype: torch.dtype):
    """A reduced-precision float tensor as ``dtype``; anything else unchanged."""
    if isinstance(t, torch.Tensor) and t.dtype in REDUCED_DTYPES and t.dtype != dtype:
        return t.to(dtype)
    return t


def call_in_weight_dtype(fn, dtype: torch.dtype | None, x, *args, **kwargs):
    """``fn(x, *args, **kwargs)``, under autocast with autocast off and reduced-precision
    tensor arguments (``x`` and the tensors in ``args``) cast to ``dtype``.

    Outside autocast, or when ``x`` is not a tensor, ``fn`` runs as called.
    ``dtype`` None (a layer not built yet) means torch's default dtype.
    """
    if not isinstance(x, torch.Tensor) or not torch.is_autocast_enabled(x.device.type):
        return fn(x, *args, **kwargs)
    dtype = dtype if dtype is not None else torch.get_default_dtype()
    with torch.autocast(device_type=x.device.type, enabled=False):
        return fn(_cast(x, dtype), *(_cast(a, dtype) for a in args), **kwargs)


def in_weight_dtype(kernel):
    """Wrap ``kernel(xp, w_hh, *rest)``: under autocast, floating tensors in ``w_hh``'s dtype,
    autocast off (see the module docstring)."""

    @functools.wraps(kernel)
    def run(xp: torch.Tensor, w_hh: torch.Tensor, *rest, **kwargs):
        return call_in_weight_dtype(lambda a, *r, **k: kernel(a, w_hh, *r, **k), w_hh.dtype,
                                    xp, *rest, **kwargs)

    return run


def layer_in_weight_dtype(method):
    """Wrap a recurrent layer's ``method(self, x, ...)``: under autocast it runs with autocast
    off and ``x`` (and tensors among the positional arguments) cast up to the dtype of
    ``self._a_weight()`` (see the module docstring)."""

    @functools.wraps(method)
    def run(self, x, *args, **kwargs):
        if not isinstance(x, torch.Tensor) or not torch.is_autocast_enabled(x.device.type):
            return method(self, x, *args, **kwargs)                     # the common case: no lookup
        w = self._a_weight()
        return call_in_weight_dtype(lambda *a, **k: method(self, *a, **k),
                                    None if w is None else w.dtype, x, *args, **kwargs)

    return run
