"""LSTM: the long short-term memory layer, on torch's fused kernel when it can be."""

from __future__ import annotations

import torch

from ._cells import LSTMCell
from ._fused import FusedRecurrent

__all__ = ["LSTM"]


class LSTM(FusedRecurrent):
    """Long short-term memory over ``[N, F, T]`` input, no peepholes (Keras's ``LSTM``).

    Equations (gate blocks i, f, g, o; σ = ``gate_activation``, φ = ``activation``)::

        z   = W_ih x_t + b + W_hh h_{t-1}            # [N, 4H]
        i, f, g, o = σ(z_i), σ(z_f), φ(z_g), σ(z_o)
        c_t = f ⊙ c_{t-1} + i ⊙ g
        h_t = o ⊙ φ(c_t)                             # output y_t = h_t

    With tanh and sigmoid it runs on torch's fused kernel (cuDNN on CUDA),
    masked batches included when each example's real steps form one run; any
    other activation, recurrent dropout in training, or a mask with gaps uses
    the step loop. See :mod:`seqkit.layers._fused` for how masked batches and
    the final cell state are handled. DL4J's ``LSTM`` is this layer (DL4J's
    gate order differs only in storage: its CFOI blocks ``[g, f, o, i]`` map to
    ours ``[i, f, g, o]``); note DL4J's default activation is sigmoid unless set.

    Args:
        n_out: H, the number of units.
        n_in: F, or None to infer it.
        activation: φ, name or callable (``"tanh"``).
        gate_activation: σ, Keras's ``recurrent_activation`` (``"sigmoid"``;
            ``"hard_sigmoid"`` is Keras 3's ``relu6(x + 3) / 6``).
        forget_gate_bias_init: initial forget-gate bias (1.0 as DL4J and Keras's
            ``unit_forget_bias``; 0.0 for ``unit_forget_bias=False``).
        use_bias: with the bias ``b``.
        dropout: variational input dropout (one ``[N, F]`` mask per call, training only).
        recurrent_dropout: variational dropout on ``h_{t-1}`` in the recurrent
            matmul (forces the step loop in training).
        return_sequences, return_state, go_backwards, stateful: see :class:`Recurrent`.

    Shape:
        x ``[N, F, T]``; mask ``[N, T]``; output ``[N, H, T]`` (``[N, H]`` with
        ``return_sequences=False``); states ``h``, ``c`` ``[N, H]``. Parameters
        (on ``.cell``): ``weight_ih [4H, F]``, ``weight_hh [4H, H]``, ``bias [4H]``.

    Example:
        >>> lstm = LSTM(64, return_state=True)
        >>> mask = (torch.arange(29) < torch.randint(10, 30, (8, 1))).float()   # [8, 29]
        >>> y, h, c = lstm(torch.randn(8, 12, 29), mask)     # y [8, 64, 29], h, c [8, 64]
    """

    def __init__(self, n_out: int, n_in: int | None = None, *, activation="tanh",
                 gate_activation="sigmoid", forget_gate_bias_init: float = 1.0,
                 use_bias: bool = True, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = True, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False):
        cell = LSTMCell(n_out, n_in, activation=activation, gate_activation=gate_activation,
                        forget_gate_bias_init=forget_gate_bias_init, use_bias=use_bias,
                        dropout=dropout, recurrent_dropout=recurrent_dropout)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful)

    def _kernel_kind(self) -> str | None:
        cell = self.cell
        ok = cell.activation_name == "tanh" and cell.gate_activation_name == "sigmoid"
        return "lstm" if ok else None

    def _kernel_weights(self) -> list[torch.Tensor]:
        cell = self.cell
        if cell.bias is None:
            return [cell.weight_ih, cell.weight_hh]
        return [cell.weight_ih, cell.weight_hh, cell.bias, torch.zeros_like(cell.bias)]
