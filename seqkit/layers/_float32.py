"""seqkit's float32 policy on CUDA: cuDNN RNNs and convolutions in IEEE float32 unless TF32 is chosen.

torch's defaults let cuDNN run float32 convolutions and RNNs in TF32 (10-bit
mantissa) on Ampere and later GPUs (``torch.backends.cudnn.conv.fp32_precision``
and ``torch.backends.cudnn.rnn.fp32_precision`` are ``"tf32"``), while cuBLAS
matmuls stay IEEE (``torch.backends.cuda.matmul.fp32_precision``). seqkit holds
its fast paths to plain step-loop references and to Keras and DL4J numbers, so
its policy is:

- ``"ieee"`` (default): every cuDNN RNN kernel (the fused LSTM, GRU and
  SimpleRNN paths) and every convolution (``Conv1D``, ``Conv2D``, ``ConvLSTM*``)
  of a seqkit layer runs, forward *and* backward, with torch's cuDNN conv and
  RNN precision set to ``"ieee"``;
- ``"tf32"`` (opt-in): the same calls run with them set to ``"tf32"``: faster
  on tensor cores, about 1e-3 relative error per op.

Choose with :func:`set_float32_precision` (process-wide), the
:func:`float32_precision` context manager (one block), or the environment
variable ``SEQKIT_FLOAT32=tf32`` (read when seqkit is imported). Matmuls
(``Dense``, input projections, the hand-written recurrent loops) follow
torch's own ``torch.backends.cuda.matmul.fp32_precision`` (IEEE unless you set
it). Only torch's ``fp32_precision`` API is used, never the legacy
``allow_tf32`` flags: torch refuses a mix of the two.

How: :func:`cudnn_call` runs one cuDNN call with torch's two cuDNN settings
switched to seqkit's mode and restored afterwards. cuDNN reads them when it
builds its descriptors, in the forward and again in the backward, so when
gradients are needed the call is wrapped in an autograd Function whose
backward switches them again around the call's own backward. Nothing is
switched on the CPU, under ``torch.compile`` (the compiled graph follows
torch's settings), or when torch's settings already equal seqkit's mode.
The wrapped call is not twice differentiable (double backward raises).
"""

from __future__ import annotations

import contextlib
import os
from typing import Iterator

import torch
from torch.autograd.function import once_differentiable

__all__ = ["FLOAT32_PRECISIONS", "cudnn_call", "float32_precision", "get_float32_precision",
           "set_float32_precision", "torch_cudnn_precision"]

#: The float32 modes seqkit's cuDNN calls run in.
FLOAT32_PRECISIONS: tuple[str, ...] = ("ieee", "tf32")

#: The environment variable read at import for the initial mode.
ENV_VAR = "SEQKIT_FLOAT32"

_CUDNN_OPS = ("conv", "rnn")


def _check(mode, where: str) -> str:
    if mode not in FLOAT32_PRECISIONS:
        raise ValueError(f"{where}: float32 precision must be one of {list(FLOAT32_PRECISIONS)}, got {mode!r}")
    return mode


_mode: str = _check(os.environ.get(ENV_VAR, "ieee").strip().lower(), f"environment variable {ENV_VAR}")


def get_float32_precision() -> str:
    """seqkit's float32 mode for cuDNN RNNs and convolutions on CUDA: ``"ieee"`` or ``"tf32"``."""
    return _mode


def set_float32_precision(mode: str) -> None:
    """Set seqkit's float32 mode (process-wide): ``"ieee"`` (default) or ``"tf32"``.

    Raises:
        ValueError: another value, listing the allowed ones.
    """
    global _mode
    _mode = _check(mode, "set_float32_precision")


@contextlib.contextmanager
def float32_precision(mode: str) -> Iterator[None]:
    """seqkit's float32 mode for the block (forward and backward run inside it), then the previous one.

    Raises:
        ValueError: a mode other than ``"ieee"`` or ``"tf32"``.
    """
    global _mode
    previous, _mode = _mode, _check(mode, "float32_precision")
    try:
        yield
    finally:
        _mode = previous


def _cudnn_setting(op: str):
    return getattr(torch.backends.cudnn, op)


def _effective(op: str) -> str:
    """torch's effective float32 precision for cuDNN ``op`` ("none" inherits from the parents)."""
    for value in (_cudnn_setting(op).fp32_precision, torch.backends.cudnn.fp32_precision,
                  torch.backends.fp32_precision):
        if value != "none":
            return value
    return "ieee"


@contextlib.contextmanager
def torch_cudnn_precision(mode: str) -> Iterator[None]:
    """Set torch's cuDNN conv and RNN ``fp32_precision`` to ``mode`` for the block, then restore them.

    The new API only (``torch.backends.cudnn.{conv,rnn}.fp32_precision``).
    """
    saved = [(op, _cudnn_setting(op).fp32_precision) for op in _CUDNN_OPS]
    for op, _ in saved:
        _cudnn_setting(op).fp32_precision = mode
    try:
        yield
    finally:
        for op, value in saved:
            _cudnn_setting(op).fp32_precision = value


def _needs_switch(tensors) -> bool:
    """True when a CUDA call must switch torch's cuDNN settings to seqkit's mode."""
    if not any(isinstance(t, torch.Tensor) and t.is_cuda for t in tensors):
        return False
    if torch.compiler.is_compiling():
        return False
    return any(_effective(op) != _mode for op in _CUDNN_OPS)


class _InPrecision(torch.autograd.Function):
    """``fn(*tensors)`` with torch's cuDNN settings switched to ``mode`` in forward and backward.

    The forward records ``fn``'s own graph on detached inputs; the backward
    runs that graph's backward under the same settings.
    """

    @staticmethod
    def forward(ctx, fn, mode, *tensors):
        ctx.set_materialize_grads(False)
        inputs = [t.detach().requires_grad_(t.requires_grad) if isinstance(t, torch.Tensor) else t
                  for t in tensors]
        with torch.enable_grad(), torch_cudnn_precision(mode):
            out = fn(*inputs)
        single = isinstance(out, torch.Tensor)
        outs = (out,) if single else tuple(out)
        ctx.mode, ctx.inputs, ctx.outs = mode, inputs, outs
        result = tuple(o.detach() for o in outs)
        return result[0] if single else result

    @staticmethod
    @once_differentiable
    def backward(ctx, *grads):
        inputs, outs = ctx.inputs, ctx.outs
        ctx.inputs = ctx.outs = None                     # free the recorded graph afterwards
        pairs = [(o, g) for o, g in zip(outs, grads) if g is not None and o.requires_grad]
        wanted = [k for k, t in enumerate(inputs) if isinstance(t, torch.Tensor) and t.requires_grad]
        result = [None] * len(inputs)
        if pairs and wanted:
            with torch_cudnn_precision(ctx.mode):
                found = torch.autograd.grad([o for o, _ in pairs], [inputs[k] for k in wanted],
                                            [g for _, g in pairs], allow_unused=True)
            for k, g in zip(wanted, found):
                result[k] = g
        return (None, None, *result)


def cudnn_call(fn, *tensors):
    """``fn(*tensors)``, a cuDNN RNN or convolution call, in seqkit's float32 mode (module docstring).

    ``tensors`` are every tensor ``fn`` computes from (inputs, states and
    weights; None entries are passed through), so that gradients reach them.
    On the CPU, under ``torch.compile``, or when torch's settings already
    equal seqkit's mode, it is exactly ``fn(*tensors)``.
    """
    if not _needs_switch(tensors):
        return fn(*tensors)
    mode = _mode
    if not torch.is_grad_enabled() or not any(isinstance(t, torch.Tensor) and t.requires_grad for t in tensors):
        with torch_cudnn_precision(mode):
            return fn(*tensors)
    return _InPrecision.apply(fn, mode, *tensors)
