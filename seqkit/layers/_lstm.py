"""LSTM: the long short-term memory layer, on torch's fused kernel when it can be."""

from __future__ import annotations

import torch

from ._cells import LSTMCell
from ._fused import FusedRecurrent, run_carried
from ._graves_kernel import graves_sequence
from ._recurrent import State, StepMask

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
    other activation or recurrent dropout in training uses the step loop. A
    mask with gaps (which the fused kernel cannot skip) runs the hand-written
    forward and backward loop of :class:`GravesLSTM` with its peepholes fixed
    at zero, which is this LSTM exactly (``z + 0 * c = z``): a few kernels per
    step and no autograd graph per step, instead of the autograd step loop.
    See :mod:`seqkit.layers._fused` for how masked batches and
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

    def _run(self, x: torch.Tensor, mask: StepMask | None, state: State,
             need_state: bool) -> tuple[torch.Tensor, State | None]:
        cell = self.cell
        gaps = mask is not None and not mask.runs()[2]
        if not gaps or self._kernel_kind() is None or (self.training and cell.recurrent_dropout > 0.0):
            return super()._run(x, mask, state, need_state)              # fused kernel or loop
        ctx = cell._dropout_ctx(x.shape[0], x)
        peep = self._zero_peepholes(cell.weight_hh)

        def kernel(xp, real):
            hs, cs, ys = graves_sequence(xp, cell.weight_hh, peep, state["h"], state["c"], real)
            return (hs, cs), ys
        return run_carried(kernel, lambda xs: cell._project(xs, ctx), x, mask, ("h", "c"), need_state)

    def _zero_peepholes(self, like: torch.Tensor) -> torch.Tensor:
        """Zero ``[3, H]`` peepholes for the GravesLSTM kernel, cached (not a parameter, not saved)."""
        zero = self.__dict__.get("_zero_peep")
        if zero is None or zero.device != like.device or zero.dtype != like.dtype:
            with torch.inference_mode(False), torch.no_grad():
                zero = torch.zeros(3, self.units, dtype=like.dtype, device=like.device)
            self.__dict__["_zero_peep"] = zero
        return zero

    def _kernel_weights(self) -> list[torch.Tensor]:
        cell = self.cell
        if cell.bias is None:
            return [cell.weight_ih, cell.weight_hh]
        return [cell.weight_ih, cell.weight_hh, cell.bias, self._second_bias(cell.bias)]
