"""GRU: the gated recurrent unit layer, both of Keras's ``reset_after`` modes."""

from __future__ import annotations

import torch

from ._cells import GRUCell
from ._fused import FusedRecurrent, run_carried
from ._gru_kernel import gru_reset_after_sequence, gru_reset_before_sequence
from ._recurrent import State, StepMask

__all__ = ["GRU"]


class GRU(FusedRecurrent):
    """Gated recurrent unit over ``[N, F, T]`` input with Keras semantics.

    Equations (σ = ``gate_activation``, φ = ``activation``; gates r, z, n)::

        a = W_ih x_t + b_ih                                      # [N, 3H]
        reset_after=True (default; torch's GRU):
            u = W_hh h_{t-1} + b_hh
            r = σ(a_r + u_r) ; z = σ(a_z + u_z) ; n = φ(a_n + r ⊙ u_n)
        reset_after=False (no b_hh):
            r = σ(a_r + W_hr h_{t-1}) ; z = σ(a_z + W_hz h_{t-1})
            n = φ(a_n + W_hn (r ⊙ h_{t-1}))
        h_t = z ⊙ h_{t-1} + (1 - z) ⊙ n                          # output y_t = h_t

    With tanh/sigmoid, ``reset_after=True`` on CUDA runs on torch's fused
    kernel (cuDNN; masked batches with one run per example included, masks
    with gaps take the hand-written loop below). On the CPU, and for
    ``reset_after=False`` everywhere, it runs a hand-written forward and
    backward loop (:mod:`seqkit.layers._gru_kernel`, any mask): torch's CPU
    GRU is itself a per-step autograd loop, slower than this one. Other
    activations and recurrent dropout in training use the autograd step loop
    (input projections of all steps in one matmul).

    Args:
        n_out: H.
        n_in: F, or None to infer it.
        activation, gate_activation, use_bias, dropout, recurrent_dropout: as :class:`LSTM`.
        reset_after: where the reset gate applies (see the equations).
        return_sequences, return_state, go_backwards, stateful: see :class:`Recurrent`.

    Shape:
        x ``[N, F, T]``; mask ``[N, T]``; output ``[N, H, T]`` (or ``[N, H]``);
        state ``h`` ``[N, H]``. Parameters (on ``.cell``, torch gate order
        r, z, n): ``weight_ih [3H, F]``, ``weight_hh [3H, H]``, ``bias_ih [3H]``,
        ``bias_hh [3H]`` (``reset_after=True`` only).
    """

    def __init__(self, n_out: int, n_in: int | None = None, *, activation="tanh",
                 gate_activation="sigmoid", reset_after: bool = True, use_bias: bool = True,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = True, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False):
        cell = GRUCell(n_out, n_in, activation=activation, gate_activation=gate_activation,
                       reset_after=reset_after, use_bias=use_bias, dropout=dropout,
                       recurrent_dropout=recurrent_dropout)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful)

    @property
    def reset_after(self) -> bool:
        return self.cell.reset_after

    def _kernel_kind(self) -> str | None:
        cell = self.cell
        ok = (cell.reset_after and cell.activation_name == "tanh"
              and cell.gate_activation_name == "sigmoid")
        return "gru" if ok else None

    #: On the CPU run both modes on the hand-written loop: torch's CPU GRU is a
    #: per-step autograd loop itself, and the hand-written one measured faster.
    _hand_written_on_cpu = True

    def _run(self, x: torch.Tensor, mask: StepMask | None, state: State,
             need_state: bool) -> tuple[torch.Tensor, State | None]:
        cell = self.cell
        defaults = (cell.activation_name == "tanh" and cell.gate_activation_name == "sigmoid"
                    and not (self.training and cell.recurrent_dropout > 0.0))
        gaps = mask is not None and not mask.runs()[2]
        hand_written = (not cell.reset_after or gaps
                        or (not x.is_cuda and self._hand_written_on_cpu))
        if not (defaults and hand_written):
            return super()._run(x, mask, state, need_state)              # fused kernel or loop
        ctx = cell._dropout_ctx(x.shape[0], x)
        if cell.reset_after:
            def kernel(xp, real):
                hs, ys = gru_reset_after_sequence(xp, cell.weight_hh, cell.bias_hh, state["h"], real)
                return (hs,), ys
        else:
            def kernel(xp, real):
                hs, ys = gru_reset_before_sequence(xp, cell.weight_hh, state["h"], real)
                return (hs,), ys
        return run_carried(kernel, lambda xs: cell._project(xs, ctx), x, mask, ("h",), need_state)

    def _kernel_weights(self) -> list[torch.Tensor]:
        cell = self.cell
        if cell.bias_ih is None:
            return [cell.weight_ih, cell.weight_hh]
        return [cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh]
