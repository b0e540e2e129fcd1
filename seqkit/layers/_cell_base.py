"""The recurrent cell protocol, its base class, and variational dropout masks.

A cell computes one time step. The public protocol, which a user-written
cell may follow to work inside :class:`seqkit.layers.RNN` (as in Keras):

- ``state_size``: an int, or a tuple of ints (one per state);
- ``output_size`` (optional; defaults to the first state's size);
- ``forward(x_t, states) -> (out, new_states)`` with ``x_t`` ``[N, F]``,
  ``states`` a tuple of ``[N, size]`` tensors, ``out`` ``[N, output_size]``
  and ``new_states`` a tuple (a single-state cell may return a bare tensor).

The built-in cells also implement an internal split protocol that the step
loop uses so that the input projection of all steps is one matmul:
``_project(x, ctx)`` maps inputs ``[..., N, F]`` to pre-activations and
``_step(xp_t, states, ctx)`` does the recurrent part of one step. ``ctx`` holds
the call's dropout masks (``_dropout_ctx``), or None outside training.
"""

from __future__ import annotations

import torch

from .._errors import ConfigError
from ._activations import activation_name, get_activation
from ._base import Layer
from ._kernel_precision import layer_in_weight_dtype

__all__ = ["DropoutCtx", "RNNCellBase", "check_rate", "resolve_activation", "set_lstm_options", "state_sizes"]


def check_rate(value, what: str, owner: str) -> float:
    """A dropout rate in ``[0, 1)``, else a :class:`ConfigError` naming ``owner``."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ConfigError(f"{owner}: {what} must be a number in [0, 1), got {value!r}")
    return float(value)


def resolve_activation(spec, what: str, owner: str):
    """``(function, canonical name or None for a user callable)`` for an activation spec."""
    try:
        fn = get_activation(spec)
    except ValueError as err:
        raise ConfigError(f"{owner}: {what}: {err}") from None
    return fn, activation_name(fn)


def set_lstm_options(cell, activation, gate_activation, forget_gate_bias_init) -> None:
    """Resolve and store an LSTM-style cell's activations and forget-gate bias init.

    Shared by LSTMCell and GravesLSTM; errors name the cell's class.
    """
    owner = type(cell).__name__
    cell.activation, cell.activation_name = resolve_activation(activation, "activation", owner)
    cell.gate_activation, cell.gate_activation_name = resolve_activation(
        gate_activation, "gate_activation", owner)
    if isinstance(forget_gate_bias_init, bool) or not isinstance(forget_gate_bias_init, (int, float)):
        raise ConfigError(f"{owner}: forget_gate_bias_init must be a number, got {forget_gate_bias_init!r}")
    cell.forget_gate_bias_init = float(forget_gate_bias_init)


def state_sizes(cell) -> tuple[int, ...]:
    """A cell's ``state_size`` as a flat tuple of ints (nested tuples are flattened)."""
    size = getattr(cell, "state_size", None)
    flat = []

    def walk(v):
        if isinstance(v, (list, tuple)):
            for item in v:
                walk(item)
        elif isinstance(v, int) and not isinstance(v, bool) and v > 0:
            flat.append(int(v))
        else:
            raise ConfigError(f"{type(cell).__name__}: state_size must be a positive int or a "
                              f"tuple of them, got {size!r}")
    walk(size)
    if not flat:
        raise ConfigError(f"{type(cell).__name__}: state_size is empty")
    return tuple(flat)


class DropoutCtx:
    """One call's variational dropout masks: drawn once, reused at every step.

    Entries are 0 or ``1 / (1 - rate)``.

    Shape:
        ``inputs``: ``[N, F]`` or None; ``recurrent``: ``[N, H]`` or None.
    """

    __slots__ = ("inputs", "recurrent")

    def __init__(self, inputs: torch.Tensor | None, recurrent: torch.Tensor | None):
        self.inputs = inputs
        self.recurrent = recurrent


def _keep_mask(n: int, size: int, rate: float, like: torch.Tensor) -> torch.Tensor:
    keep = torch.empty((n, size), dtype=like.dtype, device=like.device).bernoulli_(1.0 - rate)
    return keep / (1.0 - rate)                                           # [n, size]


class RNNCellBase(Layer):
    """Base of the built-in cells: units, activations, dropout rates, the step protocol.

    Subclasses set ``state_keys`` and implement ``_build``, ``_project`` and ``_step``.

    Shape:
        x_t: ``[N, F]``; each state ``[N, H]``; output ``[N, H]``.
    """

    state_keys: tuple[str, ...] = ("h",)
    _seqkit_cell = True                  # has the split protocol (_dropout_ctx, _project, _step)

    def __init__(self, units: int, n_in: int | None = None, *, dropout: float = 0.0,
                 recurrent_dropout: float = 0.0, use_bias: bool = True):
        super().__init__(n_in)
        owner = type(self).__name__
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ConfigError(f"{owner}: units must be a positive int, got {units!r}")
        if not isinstance(use_bias, bool):
            raise ConfigError(f"{owner}: use_bias must be True or False, got {use_bias!r}")
        self.units = units
        self.use_bias = use_bias
        self.dropout = check_rate(dropout, "dropout", owner)
        self.recurrent_dropout = check_rate(recurrent_dropout, "recurrent_dropout", owner)

    @property
    def n_out(self) -> int:
        return self.units

    @property
    def output_size(self) -> int:
        return self.units

    @property
    def state_size(self):
        """``H`` for a one-state cell, ``(H, H)`` for LSTM cells."""
        return self.units if len(self.state_keys) == 1 else (self.units,) * len(self.state_keys)

    # -- protocol -----------------------------------------------------------------
    def _a_weight(self) -> torch.Tensor | None:
        """Any parameter (for the cell's dtype), or None before it is built."""
        return next(self.parameters(), None)

    @layer_in_weight_dtype
    def forward(self, x_t: torch.Tensor, states) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
        """One step: ``(out [N, H], new_states)`` for ``x_t`` ``[N, F]`` and ``states``.

        Dropout, when set, applies in training with fresh masks at each call
        (inside :class:`RNN` one mask is drawn per sequence instead). Under
        autocast the step runs in the weights' dtype, as the recurrent layers
        do (see :mod:`seqkit.layers._kernel_precision`): a bfloat16 ``x_t`` is
        cast up and the output and states are float32.
        """
        name = type(self).__name__
        if not isinstance(x_t, torch.Tensor) or x_t.dim() != 2:
            shape = tuple(x_t.shape) if isinstance(x_t, torch.Tensor) else type(x_t).__name__
            raise ValueError(f"{name}: a cell takes one step [N, F], got {shape}")
        self._build_like(x_t)
        states = (states,) if isinstance(states, torch.Tensor) else tuple(states)
        if len(states) != len(self.state_keys):
            raise ValueError(f"{name}: expected {len(self.state_keys)} states "
                             f"{list(self.state_keys)}, got {len(states)}")
        ctx = self._dropout_ctx(x_t.shape[0], x_t)
        return self._step(self._project(x_t, ctx), states, ctx)

    def _dropout_ctx(self, n: int, like: torch.Tensor) -> DropoutCtx | None:
        """Fresh dropout masks for a batch of ``n`` (None outside training or without dropout)."""
        if not self.training or (self.dropout == 0.0 and self.recurrent_dropout == 0.0):
            return None
        inputs = _keep_mask(n, self.n_in, self.dropout, like) if self.dropout else None
        recurrent = (_keep_mask(n, self.units, self.recurrent_dropout, like)
                     if self.recurrent_dropout else None)
        return DropoutCtx(inputs, recurrent)

    def _project(self, x: torch.Tensor, ctx: DropoutCtx | None) -> torch.Tensor:
        """Input pre-activations ``[..., N, G]`` for inputs ``[..., N, F]``."""
        raise NotImplementedError

    def _step(self, xp_t: torch.Tensor, states: tuple, ctx: DropoutCtx | None):
        """The recurrent part of one step from the projected input ``[N, G]``."""
        raise NotImplementedError

    @staticmethod
    def _drop_inputs(x: torch.Tensor, ctx: DropoutCtx | None) -> torch.Tensor:
        return x if ctx is None or ctx.inputs is None else x * ctx.inputs      # [..., N, F]

    @staticmethod
    def _drop_recurrent(h: torch.Tensor, ctx: DropoutCtx | None) -> torch.Tensor:
        return h if ctx is None or ctx.recurrent is None else h * ctx.recurrent

    def extra_repr(self) -> str:
        return f"n_in={self.n_in}, units={self.units}"
