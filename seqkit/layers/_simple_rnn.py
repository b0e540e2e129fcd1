"""SimpleRNN: the fully connected (Elman) recurrent layer."""

from __future__ import annotations

import torch

from ._cells import SimpleRNNCell
from ._elman_kernel import elman_sequence
from ._fused import FusedRecurrent, run_carried
from ._recurrent import State, StepMask

__all__ = ["SimpleRNN"]


class SimpleRNN(FusedRecurrent):
    """Fully connected recurrent layer (Keras's ``SimpleRNN``, DL4J's ``SimpleRnn``)::

        h_t = φ(W_ih x_t + b + W_hh h_{t-1})         # output y_t = h_t

    With ``"tanh"`` or ``"relu"`` it runs, on CUDA, on torch's fused kernel
    (cuDNN; masked batches with one run per example included) and, on the CPU
    and for masks with gaps, on a hand-written forward and backward loop
    (:mod:`seqkit.layers._elman_kernel`): torch's CPU Elman RNN is itself a
    per-step autograd loop, slower than this one. Other activations and
    recurrent dropout in training use the autograd step loop. Unlike DL4J's
    SimpleRnn, which resets its state to zero at masked steps, a masked step
    carries the state (seqkit's masking semantic); they agree on right padding.

    Args:
        n_out: H.
        n_in: F, or None to infer it.
        activation: φ (``"tanh"``).
        use_bias, dropout, recurrent_dropout: as :class:`LSTM`.
        return_sequences, return_state, go_backwards, stateful: see :class:`Recurrent`.

    Shape:
        x ``[N, F, T]``; mask ``[N, T]``; output ``[N, H, T]`` (or ``[N, H]``);
        state ``h`` ``[N, H]``. Parameters (on ``.cell``): ``weight_ih [H, F]``,
        ``weight_hh [H, H]``, ``bias [H]``.
    """

    def __init__(self, n_out: int, n_in: int | None = None, *, activation="tanh",
                 use_bias: bool = True, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = True, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False):
        cell = SimpleRNNCell(n_out, n_in, activation=activation, use_bias=use_bias,
                             dropout=dropout, recurrent_dropout=recurrent_dropout)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful)

    #: On the CPU run the hand-written loop: torch's CPU Elman RNN is a per-step
    #: autograd loop itself, and the hand-written one measured faster.
    _hand_written_on_cpu = True

    def _run(self, x: torch.Tensor, mask: StepMask | None, state: State,
             need_state: bool) -> tuple[torch.Tensor, State | None]:
        cell = self.cell
        kind = self._kernel_kind()
        gaps = mask is not None and not mask.runs()[2]
        hand_written = gaps or (not x.is_cuda and self._hand_written_on_cpu)
        if kind is None or not hand_written or (self.training and cell.recurrent_dropout > 0.0):
            return super()._run(x, mask, state, need_state)              # fused kernel or loop
        ctx = cell._dropout_ctx(x.shape[0], x)

        def kernel(xp, real):
            hs, ys = elman_sequence(xp, cell.weight_hh, state["h"], real, relu=kind == "rnn_relu")
            return (hs,), ys
        return run_carried(kernel, lambda xs: cell._project(xs, ctx), x, mask, ("h",), need_state)

    def _kernel_kind(self) -> str | None:
        return {"tanh": "rnn_tanh", "relu": "rnn_relu"}.get(self.cell.activation_name)

    def _kernel_weights(self) -> list[torch.Tensor]:
        cell = self.cell
        if cell.bias is None:
            return [cell.weight_ih, cell.weight_hh]
        return [cell.weight_ih, cell.weight_hh, cell.bias, self._second_bias(cell.bias)]
