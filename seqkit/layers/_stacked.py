"""StackedRNNCells, and the adapter that lets any cell run inside the step loop."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .._errors import ConfigError
from ._base import Layer
from ._cell_base import state_sizes

__all__ = ["StackedRNNCells", "cell_ops", "cell_output_size", "cell_state_keys"]


def cell_state_keys(cell) -> tuple[str, ...]:
    """State names of a cell: its ``state_keys``, else ``("h",)`` or ``("s0", "s1", ...)``."""
    keys = getattr(cell, "state_keys", None)
    n = len(state_sizes(cell))
    if keys is not None and len(keys) == n:
        return tuple(keys)
    return ("h",) if n == 1 else tuple(f"s{i}" for i in range(n))


def cell_output_size(cell) -> int:
    """A cell's ``output_size`` (default: its first state's size)."""
    size = getattr(cell, "output_size", None)
    if size is None:
        return state_sizes(cell)[0]
    if isinstance(size, bool) or not isinstance(size, int) or size <= 0:
        raise ConfigError(f"{type(cell).__name__}: output_size must be a positive int, got {size!r}")
    return size


def _no_ctx(n: int, like: torch.Tensor):
    return None


def _identity(x: torch.Tensor, ctx) -> torch.Tensor:
    return x


def cell_ops(cell):
    """``(dropout_ctx, project, step)`` for a built-in or a user-written cell.

    Built-in cells (and :class:`StackedRNNCells`) expose their split protocol;
    a user cell is called as ``cell(x_t, states)`` each step, its result
    normalised to ``(out, tuple_of_states)``.
    """
    if getattr(cell, "_seqkit_cell", False):
        return cell._dropout_ctx, cell._project, cell._step
    n_states = len(state_sizes(cell))
    name = type(cell).__name__

    def step(x_t: torch.Tensor, states: tuple, ctx) -> tuple[torch.Tensor, tuple]:
        result = cell(x_t, states)
        if not isinstance(result, (tuple, list)) or len(result) != 2:
            raise ValueError(f"{name}: a cell's forward must return (output, new_states)")
        out, new = result
        new = (new,) if isinstance(new, torch.Tensor) else tuple(new)
        if len(new) != n_states:
            raise ValueError(f"{name}: returned {len(new)} states but state_size has {n_states}")
        return out, new
    return _no_ctx, _identity, step


class StackedRNNCells(Layer):
    """Cells chained within each step: cell k's output is cell k+1's input (Keras's).

    The state is nested as in Keras: ``state_size`` is a tuple with one entry
    per cell (that cell's ``state_size``), and :meth:`forward` takes and
    returns one entry per cell: a tuple of that cell's states, or a bare
    tensor for a cell whose ``state_size`` is an int. Inside :class:`RNN` the
    states are flat, named ``cell{k}_{key}`` (``state_keys``), and
    ``return_state`` regroups them per cell like Keras:
    ``RNN([LSTMCell(10), LSTMCell(10)], return_state=True)`` returns
    ``(y, (h0, c0), (h1, c1))``. With a mask, every cell carries its states.

    Args:
        cells: the cells, first to last (built-in or user-written).
        n_in: the first cell's input size, or None (lazy).

    Shape:
        x_t ``[N, F]``; output ``[N, output_size of the last cell]``.
    """

    _seqkit_cell = True

    def __init__(self, cells: Sequence, n_in: int | None = None):
        if isinstance(cells, nn.Module) or not isinstance(cells, (list, tuple)) or not cells:
            raise ConfigError("StackedRNNCells: cells must be a non-empty list of cells")
        for k, cell in enumerate(cells):
            if not isinstance(cell, nn.Module) or not hasattr(cell, "state_size"):
                raise ConfigError(f"StackedRNNCells: cell {k} ({type(cell).__name__}) must be a "
                                  f"torch Module with state_size")
        if n_in is None:
            n_in = getattr(cells[0], "n_in", None)
        super().__init__(n_in)
        self.cells = nn.ModuleList(cells)
        self._sizes = [state_sizes(c) for c in cells]
        self.state_keys = tuple(f"cell{k}_{key}" for k, c in enumerate(cells)
                                for key in cell_state_keys(c))
        self._maybe_build()

    @property
    def state_size(self) -> tuple:
        return tuple(c.state_size for c in self.cells)

    @property
    def output_size(self) -> int:
        return cell_output_size(self.cells[-1])

    @property
    def n_out(self) -> int:
        return self.output_size

    @property
    def units(self) -> int:
        return self.output_size

    def _build(self, n_in: int) -> None:
        n = n_in
        for cell in self.cells:
            if isinstance(cell, Layer):
                cell.build(n)
            n = cell_output_size(cell)

    # -- grouping of flat states per cell -----------------------------------------------
    def group(self, flat: Sequence[torch.Tensor]) -> tuple:
        """Flat states -> one entry per cell (bare tensor for an int ``state_size``)."""
        out, i = [], 0
        for cell, sizes in zip(self.cells, self._sizes):
            part = tuple(flat[i:i + len(sizes)])
            i += len(sizes)
            out.append(part[0] if isinstance(cell.state_size, int) else part)
        return tuple(out)

    def _flatten(self, nested) -> tuple:
        if len(nested) != len(self.cells):
            raise ValueError(f"StackedRNNCells: expected states for {len(self.cells)} cells, "
                             f"got {len(nested)}")
        flat = []
        for entry in nested:
            flat.extend([entry] if isinstance(entry, torch.Tensor) else list(entry))
        return tuple(flat)

    # -- public protocol ---------------------------------------------------------------
    def forward(self, x_t: torch.Tensor, states) -> tuple[torch.Tensor, tuple]:
        """One step through every cell; ``states`` nested per cell (see the class docstring)."""
        if not isinstance(x_t, torch.Tensor) or x_t.dim() != 2:
            raise ValueError("StackedRNNCells: a cell takes one step [N, F]")
        self._build_like(x_t)
        ctx = self._dropout_ctx(x_t.shape[0], x_t)
        out, flat = self._step(self._project(x_t, ctx), self._flatten(states), ctx)
        return out, self.group(flat)

    # -- internal split protocol (flat states) --------------------------------------------
    def _dropout_ctx(self, n: int, like: torch.Tensor) -> list:
        return [cell_ops(c)[0](n, like) for c in self.cells]

    def _project(self, x: torch.Tensor, ctx: list) -> torch.Tensor:
        return cell_ops(self.cells[0])[1](x, ctx[0] if ctx else None)

    def _step(self, xp_t: torch.Tensor, states: tuple, ctx: list) -> tuple[torch.Tensor, tuple]:
        new_states, i, inp = [], 0, xp_t
        for k, (cell, sizes) in enumerate(zip(self.cells, self._sizes)):
            _, project, step = cell_ops(cell)
            c_ctx = ctx[k] if ctx else None
            if k > 0:
                inp = project(inp, c_ctx)
            inp, new = step(inp, tuple(states[i:i + len(sizes)]), c_ctx)
            new_states.extend(new)
            i += len(sizes)
        return inp, tuple(new_states)

    def extra_repr(self) -> str:
        return f"n_in={self.n_in}, cells={len(self.cells)}"
