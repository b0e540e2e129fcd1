"""GravesLSTM: LSTM with peephole connections, DL4J's gate semantics."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ._cell_base import DropoutCtx, RNNCellBase, set_lstm_options
from ._cells import init_weights
from ._fused import run_carried
from ._graves_kernel import graves_sequence
from ._recurrent import State, StepMask
from ._rnn import RNN

__all__ = ["GravesLSTM", "GravesLSTMCell"]


class GravesLSTMCell(RNNCellBase):
    """One step of the peephole LSTM of Graves (2013) as DL4J's ``GravesLSTM``.

    Equations (σ = ``gate_activation``, φ = ``activation``; blocks i, f, g, o)::

        z   = W_ih x_t + b + W_hh h_{t-1}                      # [N, 4H]
        i   = σ(z_i + p_i ⊙ c_{t-1})      # input gate sees the previous cell
        f   = σ(z_f + p_f ⊙ c_{t-1})      # forget gate sees the previous cell
        g   = φ(z_g)
        c_t = f ⊙ c_{t-1} + i ⊙ g
        o   = σ(z_o + p_o ⊙ c_t)          # output gate sees the current cell
        h_t = o ⊙ φ(c_t)

    Shape:
        x_t ``[N, F]``; states ``(h, c)`` ``[N, H]``; output ``[N, H]``.
        Parameters: ``weight_ih [4H, F]``, ``weight_hh [4H, H]``, ``bias [4H]``,
        ``peephole [3, H]`` (rows p_i, p_f, p_o).
    """

    state_keys = ("h", "c")
    _gates = 4

    def __init__(self, units: int, n_in: int | None = None, *, activation="tanh",
                 gate_activation="sigmoid", forget_gate_bias_init: float = 1.0,
                 use_bias: bool = True, dropout: float = 0.0, recurrent_dropout: float = 0.0):
        super().__init__(units, n_in, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         use_bias=use_bias)
        set_lstm_options(self, activation, gate_activation, forget_gate_bias_init)
        self._maybe_build()

    def _build(self, n_in: int) -> None:
        g = 4 * self.units
        self.weight_ih = nn.Parameter(torch.empty(g, n_in))
        self.weight_hh = nn.Parameter(torch.empty(g, self.units))
        self.bias = nn.Parameter(torch.zeros(g)) if self.use_bias else None
        self.peephole = nn.Parameter(torch.zeros(3, self.units))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Keras-style kernels (Glorot, orthogonal), zero peepholes, forget bias as configured."""
        init_weights(self.weight_ih, self.weight_hh)
        with torch.no_grad():
            self.peephole.zero_()
            if self.bias is not None:
                self.bias.zero_()
                self.bias[self.units:2 * self.units].fill_(self.forget_gate_bias_init)

    def _project(self, x: torch.Tensor, ctx: DropoutCtx | None) -> torch.Tensor:
        return F.linear(self._drop_inputs(x, ctx), self.weight_ih, self.bias)  # [..., N, 4H]

    def _step(self, xp_t: torch.Tensor, states: tuple, ctx: DropoutCtx | None):
        h, c = states                                                          # [N, H]
        z = torch.addmm(xp_t, self._drop_recurrent(h, ctx), self.weight_hh.t())  # [N, 4H]
        zi, zf, zg, zo = z.chunk(4, dim=1)
        # peephole [3, H] used whole (one view per row would alias under a traced scan)
        pc_i, pc_f, _ = (self.peephole * c.unsqueeze(1)).unbind(1)            # [N, H] each
        sig, act = self.gate_activation, self.activation
        c_new = sig(zf + pc_f) * c + sig(zi + pc_i) * act(zg)
        h_new = sig(zo + (self.peephole * c_new.unsqueeze(1)).unbind(1)[2]) * act(c_new)
        return h_new, (h_new, c_new)


class GravesLSTM(RNN):
    """LSTM with peepholes (Graves 2013), as DL4J's ``GravesLSTM``.

    The forget and input gates see ``c_{t-1}``, the output gate sees ``c_t``
    (equations on :class:`GravesLSTMCell`). No fused kernel has peepholes, so
    with tanh/sigmoid the layer runs one matmul for the input projections of
    all steps and then a hand-written forward and backward loop
    (:mod:`seqkit.layers._graves_kernel`); other activations and recurrent
    dropout in training use the autograd step loop. Masks of any shape (gaps
    included) stay on the fast loop.

    Importing DL4J weights: DL4J stores ``W [F, 4H]``, ``RW [H, 4H+3]``,
    ``b [1, 4H]`` with gate blocks in "CFOI" order ``[g, f, o, i]`` (block 0
    is the cell candidate, block 3 the input gate). Here the blocks are
    ``[i, f, g, o]`` on dim 0 of ``weight_ih [4H, F]`` and ``weight_hh [4H, H]``:
    ours ``(i, f, g, o)`` = DL4J blocks ``(3, 1, 0, 2)``, transposed. The
    peephole columns of ``RW`` are ``4H`` = forget, ``4H+1`` = output,
    ``4H+2`` = input gate; ours are ``peephole[0]`` input, ``[1]`` forget,
    ``[2]`` output. DL4J's default activation is sigmoid unless set; here tanh.

    Initialisation: Glorot ``weight_ih``, orthogonal ``weight_hh``, zero
    peepholes (the layer starts as a plain LSTM), zero bias except the forget
    gate at ``forget_gate_bias_init`` (1.0, DL4J's default).

    Args:
        n_out, n_in, activation, gate_activation, forget_gate_bias_init,
        use_bias, dropout, recurrent_dropout: as :class:`LSTM`.
        return_sequences, return_state, go_backwards, stateful: see :class:`Recurrent`.

    Shape:
        x ``[N, F, T]``; mask ``[N, T]``; output ``[N, H, T]`` (or ``[N, H]``);
        states ``h``, ``c`` ``[N, H]``.
    """

    def __init__(self, n_out: int, n_in: int | None = None, *, activation="tanh",
                 gate_activation="sigmoid", forget_gate_bias_init: float = 1.0,
                 use_bias: bool = True, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = True, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False):
        cell = GravesLSTMCell(n_out, n_in, activation=activation, gate_activation=gate_activation,
                              forget_gate_bias_init=forget_gate_bias_init, use_bias=use_bias,
                              dropout=dropout, recurrent_dropout=recurrent_dropout)
        super().__init__(cell, return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful)

    def _run(self, x: torch.Tensor, mask: StepMask | None, state: State,
             need_state: bool) -> tuple[torch.Tensor, State | None]:
        cell = self.cell
        fast = cell.activation_name == "tanh" and cell.gate_activation_name == "sigmoid"
        if not fast or (self.training and cell.recurrent_dropout > 0.0):
            return self._loop(x, mask, state)
        ctx = cell._dropout_ctx(x.shape[0], x)

        def kernel(xp, real):
            hs, cs, ys = graves_sequence(xp, cell.weight_hh, cell.peephole, state["h"], state["c"], real)
            return (hs, cs), ys
        return run_carried(kernel, lambda xs: cell._project(xs, ctx), x, mask, ("h", "c"), need_state)
