"""The built-in recurrent cells: LSTMCell, GRUCell, SimpleRNNCell.

Weights are kept in torch's layout (``weight_ih [G*H, F]``, ``weight_hh
[G*H, H]``, gate blocks stacked on dim 0) so that the layers built on these
cells hand them straight to torch's fused kernels. Initialisation follows
Keras: Glorot-uniform ``weight_ih``, orthogonal ``weight_hh`` (its columns,
i.e. the rows of Keras's ``recurrent_kernel``, orthonormal across all gate
blocks jointly), zero biases; the LSTM forget-gate bias starts at
``forget_gate_bias_init`` (1.0, as Keras's ``unit_forget_bias`` and DL4J's
``forgetGateBiasInit``). ``set_keras_weights`` / ``get_keras_weights`` take and
give the arrays of the matching Keras 3 cell.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .._errors import ConfigError
from ._cell_base import DropoutCtx, RNNCellBase, resolve_activation, set_lstm_options
from . import _keras_weights

__all__ = ["GRUCell", "LSTMCell", "SimpleRNNCell", "init_weights"]


def init_weights(weight_ih: torch.Tensor, weight_hh: torch.Tensor) -> None:
    """Keras defaults: Glorot-uniform input kernel, orthogonal recurrent kernel."""
    with torch.no_grad():
        nn.init.xavier_uniform_(weight_ih)        # fan_in = F, fan_out = G*H, as Keras's (F, G*H)
        nn.init.orthogonal_(weight_hh)            # [G*H, H]: orthonormal columns over all gates


class _KerasWeightsMixin:
    """``set_keras_weights`` / ``get_keras_weights`` for a built-in cell."""

    def set_keras_weights(self, arrays) -> None:
        """Load the list a Keras 3 cell's ``get_weights()`` gives: kernel, recurrent kernel[, bias].

        Builds an unbuilt cell from the kernel's shape. Raises ValueError on a
        wrong count or shape, naming both.
        """
        _keras_weights.set_cell_weights(self, arrays)

    def get_keras_weights(self) -> list:
        """The weights as a Keras 3 cell's ``get_weights()`` list (numpy arrays)."""
        return _keras_weights.get_cell_weights(self)


class LSTMCell(_KerasWeightsMixin, RNNCellBase):
    """Long short-term memory cell without peepholes (Keras ``LSTMCell``).

    Equations (gate blocks in the order i, f, g, o, shared by torch and Keras;
    σ = ``gate_activation``, φ = ``activation``)::

        z   = W_ih x_t + b + W_hh h_{t-1}            # [N, 4H]
        i, f, g, o = σ(z_i), σ(z_f), φ(z_g), σ(z_o)
        c_t = f ⊙ c_{t-1} + i ⊙ g
        h_t = o ⊙ φ(c_t)                             # output and state h

    Args:
        units: H.
        n_in: F, or None to take it from the first input.
        activation: φ, a name or a callable (default ``"tanh"``).
        gate_activation: σ, Keras's ``recurrent_activation`` (default ``"sigmoid"``).
        forget_gate_bias_init: initial forget-gate bias (1.0; Keras's
            ``unit_forget_bias=False`` is 0.0).
        use_bias: with a bias ``b`` ``[4H]``.
        dropout, recurrent_dropout: variational dropout rates on ``x_t`` and on
            ``h_{t-1}`` before the recurrent matmul (one mask per sequence).

    Shape:
        x_t ``[N, F]``; states ``(h, c)`` each ``[N, H]``; output ``[N, H]``.
        Parameters: ``weight_ih [4H, F]``, ``weight_hh [4H, H]``, ``bias [4H]``.
    """

    state_keys = ("h", "c")
    _keras_kind = "lstm"
    _gates = 4

    def __init__(self, units: int, n_in: int | None = None, *, activation="tanh",
                 gate_activation="sigmoid", forget_gate_bias_init: float = 1.0,
                 use_bias: bool = True, dropout: float = 0.0, recurrent_dropout: float = 0.0):
        super().__init__(units, n_in, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         use_bias=use_bias)
        set_lstm_options(self, activation, gate_activation, forget_gate_bias_init)
        self._maybe_build()

    def _build(self, n_in: int) -> None:
        g = self._gates * self.units
        self.weight_ih = nn.Parameter(torch.empty(g, n_in))
        self.weight_hh = nn.Parameter(torch.empty(g, self.units))
        self.bias = nn.Parameter(torch.zeros(g)) if self.use_bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the weights with the Keras initialisers (see the module docstring)."""
        init_weights(self.weight_ih, self.weight_hh)
        if self.bias is not None:
            with torch.no_grad():
                self.bias.zero_()
                self.bias[self.units:2 * self.units].fill_(self.forget_gate_bias_init)

    def _project(self, x: torch.Tensor, ctx: DropoutCtx | None) -> torch.Tensor:
        return F.linear(self._drop_inputs(x, ctx), self.weight_ih, self.bias)  # [..., N, 4H]

    def _step(self, xp_t: torch.Tensor, states: tuple, ctx: DropoutCtx | None):
        h, c = states                                                         # [N, H] each
        z = torch.addmm(xp_t, self._drop_recurrent(h, ctx), self.weight_hh.t())  # [N, 4H]
        zi, zf, zg, zo = z.chunk(4, dim=1)
        sig, act = self.gate_activation, self.activation
        c = sig(zf) * c + sig(zi) * act(zg)
        h = sig(zo) * act(c)
        return h, (h, c)


class GRUCell(_KerasWeightsMixin, RNNCellBase):
    """Gated recurrent unit cell with Keras semantics for both ``reset_after`` modes.

    Gate blocks are stored in torch's order r, z, n (Keras's is z, r, h; the
    Keras weight functions reorder). σ = ``gate_activation``, φ = ``activation``::

        a = W_ih x_t + b_ih                                   # [N, 3H]
        reset_after=True (default; torch's GRU, cuDNN):
            u = W_hh h_{t-1} + b_hh
            r = σ(a_r + u_r) ; z = σ(a_z + u_z) ; n = φ(a_n + r ⊙ u_n)
        reset_after=False (the original GRU; no b_hh):
            r = σ(a_r + W_hr h_{t-1}) ; z = σ(a_z + W_hz h_{t-1})
            n = φ(a_n + W_hn (r ⊙ h_{t-1}))
        h_t = z ⊙ h_{t-1} + (1 - z) ⊙ n

    Args:
        units, n_in, activation, gate_activation, use_bias, dropout,
        recurrent_dropout: as :class:`LSTMCell`.
        reset_after: apply the reset gate after the recurrent matmul (True) or
            before it (False).

    Shape:
        x_t ``[N, F]``; state ``h`` ``[N, H]``; output ``[N, H]``. Parameters:
        ``weight_ih [3H, F]``, ``weight_hh [3H, H]``, ``bias_ih [3H]``,
        ``bias_hh [3H]`` (``reset_after=True`` only).
    """

    state_keys = ("h",)
    _keras_kind = "gru"
    _gates = 3

    def __init__(self, units: int, n_in: int | None = None, *, activation="tanh",
                 gate_activation="sigmoid", reset_after: bool = True, use_bias: bool = True,
                 dropout: float = 0.0, recurrent_dropout: float = 0.0):
        super().__init__(units, n_in, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         use_bias=use_bias)
        owner = type(self).__name__
        if not isinstance(reset_after, bool):
            raise ConfigError(f"{owner}: reset_after must be True or False, got {reset_after!r}")
        self.reset_after = reset_after
        self.activation, self.activation_name = resolve_activation(activation, "activation", owner)
        self.gate_activation, self.gate_activation_name = resolve_activation(
            gate_activation, "gate_activation", owner)
        self._maybe_build()

    def _build(self, n_in: int) -> None:
        g = self._gates * self.units
        self.weight_ih = nn.Parameter(torch.empty(g, n_in))
        self.weight_hh = nn.Parameter(torch.empty(g, self.units))
        self.bias_ih = nn.Parameter(torch.zeros(g)) if self.use_bias else None
        self.bias_hh = nn.Parameter(torch.zeros(g)) if self.use_bias and self.reset_after else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the weights with the Keras initialisers (biases zero)."""
        init_weights(self.weight_ih, self.weight_hh)
        with torch.no_grad():
            for b in (self.bias_ih, self.bias_hh):
                if b is not None:
                    b.zero_()

    def _project(self, x: torch.Tensor, ctx: DropoutCtx | None) -> torch.Tensor:
        return F.linear(self._drop_inputs(x, ctx), self.weight_ih, self.bias_ih)  # [..., N, 3H]

    def _step(self, xp_t: torch.Tensor, states: tuple, ctx: DropoutCtx | None):
        (h,) = states                                                         # [N, H]
        H = self.units
        sig, act = self.gate_activation, self.activation
        hd = self._drop_recurrent(h, ctx)
        # split(), not [:, a:b]: the ONNX exporter fails on slices of step results (see _tracing)
        x_rz, x_n = xp_t.split([2 * H, H], dim=1)                             # [N, 2H], [N, H]
        if self.reset_after:
            u_rz, u_n = F.linear(hd, self.weight_hh, self.bias_hh).split([2 * H, H], dim=1)
            r, z = sig(x_rz + u_rz).split([H, H], dim=1)                      # [N, H] each
            n = act(x_n + r * u_n)
        else:
            w_rz, w_n = self.weight_hh.split([2 * H, H], dim=0)               # [2H, H], [H, H]
            r, z = sig(torch.addmm(x_rz, hd, w_rz.t())).split([H, H], dim=1)
            n = act(torch.addmm(x_n, r * hd, w_n.t()))
        h = z * h + (1.0 - z) * n
        return h, (h,)

    def extra_repr(self) -> str:
        return super().extra_repr() + ("" if self.reset_after else ", reset_after=False")


class SimpleRNNCell(_KerasWeightsMixin, RNNCellBase):
    """Fully connected recurrent cell (Elman; Keras ``SimpleRNNCell``, DL4J ``SimpleRnn``)::

        h_t = φ(W_ih x_t + b + W_hh h_{t-1})      # output and state

    Args:
        units, n_in, use_bias, dropout, recurrent_dropout: as :class:`LSTMCell`.
        activation: φ (default ``"tanh"``).

    Shape:
        x_t ``[N, F]``; state ``h`` ``[N, H]``; output ``[N, H]``. Parameters:
        ``weight_ih [H, F]``, ``weight_hh [H, H]``, ``bias [H]``.
    """

    state_keys = ("h",)
    _keras_kind = "simple_rnn"
    _gates = 1

    def __init__(self, units: int, n_in: int | None = None, *, activation="tanh",
                 use_bias: bool = True, dropout: float = 0.0, recurrent_dropout: float = 0.0):
        super().__init__(units, n_in, dropout=dropout, recurrent_dropout=recurrent_dropout,
                         use_bias=use_bias)
        self.activation, self.activation_name = resolve_activation(
            activation, "activation", type(self).__name__)
        self._maybe_build()

    def _build(self, n_in: int) -> None:
        self.weight_ih = nn.Parameter(torch.empty(self.units, n_in))
        self.weight_hh = nn.Parameter(torch.empty(self.units, self.units))
        self.bias = nn.Parameter(torch.zeros(self.units)) if self.use_bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Re-draw the weights with the Keras initialisers (bias zero)."""
        init_weights(self.weight_ih, self.weight_hh)
        if self.bias is not None:
            with torch.no_grad():
                self.bias.zero_()

    def _project(self, x: torch.Tensor, ctx: DropoutCtx | None) -> torch.Tensor:
        return F.linear(self._drop_inputs(x, ctx), self.weight_ih, self.bias)  # [..., N, H]

    def _step(self, xp_t: torch.Tensor, states: tuple, ctx: DropoutCtx | None):
        (h,) = states
        h = self.activation(torch.addmm(xp_t, self._drop_recurrent(h, ctx), self.weight_hh.t()))
        return h, (h,)
