"""RNN: the generic recurrent layer that runs any cell over time (Keras's ``RNN``)."""

from __future__ import annotations

import torch
from torch import nn

from .._errors import ConfigError
from ._base import Layer
from ._cell_base import state_sizes
from ._recurrent import Recurrent, State, StepMask, masked_loop
from ._stacked import StackedRNNCells, cell_ops, cell_output_size, cell_state_keys

__all__ = ["RNN"]


class RNN(Recurrent):
    """Run a cell over time with the masking semantic and flags of :class:`Recurrent`.

    ``cell`` is a built-in cell (:class:`LSTMCell`, :class:`GRUCell`,
    :class:`SimpleRNNCell`), a user-written one (a ``torch.nn.Module`` with
    ``state_size`` and ``forward(x_t, states) -> (out, new_states)``; see
    :mod:`seqkit.layers._cell_base`), or a list of cells, which becomes a
    :class:`StackedRNNCells`. Unlike Keras, ``return_sequences`` defaults to True.

    The states are those of the cell, named by its ``state_keys`` (a user
    cell's: ``("h",)``, or ``("s0", "s1", ...)`` for several); a stacked cell's
    are ``cell{k}_{key}`` and ``return_state`` groups them per cell as Keras
    does: ``(y, (h0, c0), (h1, c1))`` for two LSTM cells, ``(y, h0, h1)`` for
    two GRU cells. ``initial_state`` may be flat or grouped the same way.

    This layer has only the step loop; :class:`LSTM`, :class:`GRU`,
    :class:`SimpleRNN` and :class:`GravesLSTM` add fast paths. Built-in cells project the inputs
    of all steps in one matmul before the loop; dropout rates set on built-in
    cells apply in training with one mask per sequence.

    Args:
        cell: the cell, or a list of cells.
        return_sequences, return_state, go_backwards, stateful: see :class:`Recurrent`.

    Shape:
        x ``[N, F, T]``; mask ``[N, T]``; output ``[N, H, T]`` (or ``[N, H]``),
        H the cell's ``output_size``; states ``[N, size]`` each.
    """

    def __init__(self, cell, *, return_sequences: bool = True, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False):
        if isinstance(cell, (list, tuple)):
            cell = StackedRNNCells(list(cell))
        if not isinstance(cell, nn.Module) or not hasattr(cell, "state_size"):
            raise ConfigError(f"{type(self).__name__}: cell must be a torch Module with state_size "
                              f"and forward(x_t, states), got {type(cell).__name__}")
        keys, sizes = cell_state_keys(cell), state_sizes(cell)
        super().__init__(cell_output_size(cell), getattr(cell, "n_in", None),
                         return_sequences=return_sequences, return_state=return_state,
                         go_backwards=go_backwards, stateful=stateful)
        self.cell = cell
        self.state_keys = keys
        self._state_sizes = dict(zip(keys, sizes))
        self._maybe_build()

    def _a_weight(self) -> torch.Tensor | None:
        w = getattr(self.cell, "weight_ih", None)
        return w if isinstance(w, torch.Tensor) else super()._a_weight()

    def state_shape(self, key: str) -> tuple[int, ...]:
        return (self._state_sizes[key],)

    def _build(self, n_in: int) -> None:
        if isinstance(self.cell, Layer):
            self.cell.build(n_in)

    def _returned_states(self, final: State) -> tuple:
        flat = [final[k] for k in self.state_keys]
        if isinstance(self.cell, StackedRNNCells):
            return self.cell.group(flat)
        return tuple(flat)

    def _reference(self, x: torch.Tensor, mask: StepMask | None,
                   state: State) -> tuple[torch.Tensor, State]:
        return self._loop(x, mask, state)

    def _loop(self, x: torch.Tensor, mask: StepMask | None,
              state: State) -> tuple[torch.Tensor, State]:
        """The step loop: project all steps at once, then one recurrent step per time step."""
        dropout_ctx, project, step = cell_ops(self.cell)
        ctx = dropout_ctx(x.shape[0], x)
        xs = project(x.permute(2, 0, 1), ctx)                            # [T, N, G]
        ys, final = masked_loop(lambda x_t, s: step(x_t, s, ctx), xs, mask,
                                tuple(state[k] for k in self.state_keys))
        return ys.movedim(0, 2), dict(zip(self.state_keys, final))      # [N, H, T]

