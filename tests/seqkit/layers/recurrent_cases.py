"""Shared cases for the recurrent-layer tests: layers, masks, states, random weights."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqkit.layers import GRU, LSTM, RNN, GRUCell, GravesLSTM, LSTMCell, SimpleRNN

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]

#: float32 tolerance floor for cuDNN RNNs and convolutions in seqkit's "tf32" mode (10-bit mantissa).
TF32_ATOL = 5e-3


def float32_atol(device, atol: float) -> float:
    """A float32 comparison's ``atol`` on ``device``, set by seqkit's float32 policy: ``atol`` on
    the CPU and in the default ``"ieee"`` mode; at least :data:`TF32_ATOL` on CUDA in ``"tf32"``
    mode (``SEQKIT_FLOAT32=tf32``)."""
    from seqkit.layers import get_float32_precision
    if torch.device(device).type == "cuda" and get_float32_precision() == "tf32":
        return max(atol, TF32_ATOL)
    return atol

N, F, T, H = 4, 3, 7, 3


class MinimalCell(nn.Module):
    """A user-written cell: only ``state_size`` and ``forward(x_t, states)``."""

    def __init__(self, units: int, n_in: int):
        super().__init__()
        self.state_size = units
        self.w = nn.Parameter(torch.randn(n_in, units) * 0.5)
        self.u = nn.Parameter(torch.randn(units, units) * 0.5)

    def forward(self, x_t, states):
        h = torch.tanh(x_t @ self.w + states[0] @ self.u)
        return h, (h,)


def _torch_kernel(layer):
    """A GRU or SimpleRNN that takes torch's fused kernel on the CPU too (as on CUDA)."""
    layer._hand_written_on_cpu = False
    return layer


#: name -> factory(n_out, n_in, **flags). Every recurrent layer this package owns.
LAYERS = {
    "LSTM": lambda h, f, **kw: LSTM(h, f, **kw),
    "GRU": lambda h, f, **kw: GRU(h, f, **kw),
    "GRU_reset_before": lambda h, f, **kw: GRU(h, f, reset_after=False, **kw),
    "GRU_torch_kernel": lambda h, f, **kw: _torch_kernel(GRU(h, f, **kw)),
    "SimpleRNN": lambda h, f, **kw: SimpleRNN(h, f, **kw),
    "SimpleRNN_relu": lambda h, f, **kw: SimpleRNN(h, f, activation="relu", **kw),
    "SimpleRNN_torch_kernel": lambda h, f, **kw: _torch_kernel(SimpleRNN(h, f, **kw)),
    "SimpleRNN_relu_torch_kernel": lambda h, f, **kw: _torch_kernel(
        SimpleRNN(h, f, activation="relu", **kw)),
    "GravesLSTM": lambda h, f, **kw: GravesLSTM(h, f, **kw),
    "LSTM_hard_sigmoid": lambda h, f, **kw: LSTM(h, f, gate_activation="hard_sigmoid", **kw),
    "RNN_LSTMCell": lambda h, f, **kw: RNN(LSTMCell(h, f), **kw),
    "RNN_stacked": lambda h, f, **kw: RNN([GRUCell(2, f), LSTMCell(h)], **kw),
    "RNN_user_cell": lambda h, f, **kw: RNN(MinimalCell(h, f), **kw),
}

#: The layers with a fast path of their own (fused kernel or hand-written loop).
FAST = ["LSTM", "GRU", "GRU_torch_kernel", "GRU_reset_before", "SimpleRNN", "SimpleRNN_relu",
        "SimpleRNN_torch_kernel", "SimpleRNN_relu_torch_kernel", "GravesLSTM"]


def masks(n: int = N, t: int = T) -> dict[str, torch.Tensor]:
    """Float ``[N, T]`` masks of every kind (for N=4, T=7), with a row that is all padding."""
    assert (n, t) == (N, T)
    rows = {
        "right": [[1] * 7, [1] * 4 + [0] * 3, [1] + [0] * 6, [1] * 5 + [0] * 2],
        "left": [[1] * 7, [0] * 3 + [1] * 4, [0] * 6 + [1], [0] * 2 + [1] * 5],
        "both_ends": [[0, 1, 1, 1, 1, 1, 0], [0, 0, 1, 1, 0, 0, 0], [1] * 7, [0] * 5 + [1] * 2],
        "gaps": [[1, 0, 1, 1, 0, 1, 1], [0, 1, 0, 1, 0, 1, 0], [1] * 7, [1, 1, 0, 0, 0, 1, 0]],
        "empty_row": [[1] * 7, [0] * 7, [1] * 3 + [0] * 4, [0] * 2 + [1] * 5],
    }
    return {k: torch.tensor(v, dtype=torch.float64) for k, v in rows.items()}


MASK_KINDS = [None, "right", "left", "both_ends", "gaps", "empty_row"]


def randomize(layer: nn.Module, seed: int = 0, scale: float = 0.5) -> nn.Module:
    """Every parameter (biases and peepholes included) drawn at random, so no term hides."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in layer.parameters():
            p.copy_(torch.randn(p.shape, generator=g, dtype=torch.float64).to(p.dtype) * scale)
    return layer


def make(name: str, *, h: int = H, f: int = F, dtype=torch.float64, device="cpu", seed: int = 0,
         **flags) -> nn.Module:
    torch.manual_seed(seed)
    layer = LAYERS[name](h, f, **flags)
    return randomize(layer, seed).to(dtype=dtype, device=device)


def inputs(n: int = N, f: int = F, t: int = T, *, dtype=torch.float64, device="cpu", seed: int = 1):
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, f, t, generator=g, dtype=torch.float64).to(dtype=dtype, device=device)


def random_state(layer, n: int = N, *, dtype=torch.float64, device="cpu", seed: int = 2) -> dict:
    g = torch.Generator().manual_seed(seed)
    zeros = layer.initial_state(n, dtype=dtype, device=device)
    return {k: torch.randn(v.shape, generator=g, dtype=torch.float64).to(dtype=dtype, device=device)
            for k, v in zeros.items()}


def get_mask(kind, dtype=torch.float64, device="cpu"):
    return None if kind is None else masks()[kind].to(dtype=dtype, device=device)
