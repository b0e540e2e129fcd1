"""SimpleRNN: the fully connected (Elman) recurrent layer."""

from __future__ import annotations

import torch

from ._cells import SimpleRNNCell
from ._fused import FusedRecurrent

__all__ = ["SimpleRNN"]


class SimpleRNN(FusedRecurrent):
    """Fully connected recurrent layer (Keras's ``SimpleRNN``, DL4J's ``SimpleRnn``)::

        h_t = φ(W_ih x_t + b + W_hh h_{t-1})         # output y_t = h_t

    With ``"tanh"`` or ``"relu"`` it runs on torch's fused kernel (masked
    batches with one run per example included); other activations, recurrent
    dropout in training, or masks with gaps use the step loop. Unlike DL4J's
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

    def _kernel_kind(self) -> str | None:
        return {"tanh": "rnn_tanh", "relu": "rnn_relu"}.get(self.cell.activation_name)

    def _kernel_weights(self) -> list[torch.Tensor]:
        cell = self.cell
        if cell.bias is None:
            return [cell.weight_ih, cell.weight_hh]
        return [cell.weight_ih, cell.weight_hh, cell.bias, torch.zeros_like(cell.bias)]
