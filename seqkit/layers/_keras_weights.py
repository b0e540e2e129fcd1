"""Weight layout conversions between Keras 3 recurrent cells and seqkit's torch layout.

Keras keeps ``[kernel (F, G*H), recurrent_kernel (H, G*H), bias]`` with gate
blocks on the last axis; seqkit keeps torch's ``weight_ih [G*H, F]`` and
``weight_hh [G*H, H]`` with gate blocks on dim 0. So:

- LSTM: same gate order (i, f, c/g, o): transpose; one bias ``(4H,)`` both sides.
- SimpleRNN: transpose; bias ``(H,)``.
- GRU: Keras's gate order is z, r, h and torch's r, z, n: transpose and swap
  the first two blocks. ``reset_after=True``: Keras bias ``(2, 3H)`` = rows
  (input bias, recurrent bias) = (``bias_ih``, ``bias_hh``).
  ``reset_after=False``: Keras bias ``(3H,)`` = ``bias_ih``.

Without a bias (``use_bias=False``) the list has two arrays. The conversions
are permutations, so a round trip is exact.
"""

from __future__ import annotations

import numpy as np
import torch

from .._errors import ConfigError

__all__ = ["get_cell_weights", "set_cell_weights"]

_GRU_SWAP = (1, 0, 2)      # block k of one order is block _GRU_SWAP[k] of the other (z,r,h <-> r,z,n)


def _swap_gru_blocks(a: np.ndarray, axis: int) -> np.ndarray:
    blocks = np.split(a, 3, axis=axis)
    return np.concatenate([blocks[k] for k in _GRU_SWAP], axis=axis)


def _expected(cell, n_in: int) -> list[tuple[str, tuple[int, ...]]]:
    """(name, Keras shape) of each array the cell's Keras twin holds, in order."""
    g = cell._gates * cell.units
    shapes = [("kernel", (n_in, g)), ("recurrent_kernel", (cell.units, g))]
    if cell.use_bias:
        two_rows = cell._keras_kind == "gru" and cell.reset_after
        shapes.append(("bias", (2, g) if two_rows else (g,)))
    return shapes


def _as_array(a, what: str, owner: str) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        a = a.detach().cpu().numpy()
    try:
        return np.asarray(a)
    except Exception as err:       # noqa: BLE001 - any unconvertible object is a user error
        raise ValueError(f"{owner}: {what} is not an array: {err}") from None


def set_cell_weights(cell, arrays) -> None:
    """Copy the Keras arrays ``[kernel, recurrent_kernel(, bias)]`` into ``cell``'s parameters.

    Builds an unbuilt cell with ``n_in`` from the kernel's first dim.

    Raises:
        ValueError: naming the cell and the expected versus given count or shapes.
    """
    owner = type(cell).__name__
    if not isinstance(arrays, (list, tuple)):
        raise ValueError(f"{owner}: set_keras_weights takes a list of arrays, got {type(arrays).__name__}")
    arrays = [_as_array(a, f"weight {i}", owner) for i, a in enumerate(arrays)]
    n_expected = 3 if cell.use_bias else 2
    if len(arrays) != n_expected:
        raise ValueError(f"{owner}: expected {n_expected} Keras arrays [kernel, recurrent_kernel"
                         f"{', bias' if cell.use_bias else ''}], got {len(arrays)}")
    if arrays[0].ndim != 2:
        raise ValueError(f"{owner}: kernel must be 2-D (F, G*H), got shape {arrays[0].shape}")
    n_in = cell.n_in if cell.n_in is not None else int(arrays[0].shape[0])
    for (name, shape), a in zip(_expected(cell, n_in), arrays):
        if tuple(a.shape) != shape:
            raise ValueError(f"{owner}: Keras {name} must have shape {shape}, got {tuple(a.shape)}")
    if not cell.built:
        cell.build(n_in)
    kernel, recurrent = arrays[0].T, arrays[1].T                  # [G*H, F], [G*H, H]
    bias_ih = bias_hh = None
    if cell.use_bias:
        bias = arrays[2]
        bias_ih, bias_hh = (bias[0], bias[1]) if bias.ndim == 2 else (bias, None)
    if cell._keras_kind == "gru":
        kernel, recurrent = _swap_gru_blocks(kernel, 0), _swap_gru_blocks(recurrent, 0)
        bias_ih = _swap_gru_blocks(bias_ih, 0) if bias_ih is not None else None
        bias_hh = _swap_gru_blocks(bias_hh, 0) if bias_hh is not None else None
        targets = [(cell.weight_ih, kernel), (cell.weight_hh, recurrent),
                   (cell.bias_ih, bias_ih), (cell.bias_hh, bias_hh)]
    else:
        targets = [(cell.weight_ih, kernel), (cell.weight_hh, recurrent), (cell.bias, bias_ih)]
    with torch.no_grad():
        for param, value in targets:
            if param is not None:
                param.copy_(torch.as_tensor(np.ascontiguousarray(value), dtype=param.dtype))


def get_cell_weights(cell) -> list[np.ndarray]:
    """The cell's weights as the list a Keras 3 cell's ``get_weights()`` gives."""
    if not cell.built:
        raise ConfigError(f"{type(cell).__name__}: not built yet (n_in unknown), so it has no weights")

    def arr(p: torch.Tensor) -> np.ndarray:
        return p.detach().cpu().numpy().copy()

    kernel, recurrent = arr(cell.weight_ih), arr(cell.weight_hh)  # [G*H, F], [G*H, H]
    if cell._keras_kind == "gru":
        kernel, recurrent = _swap_gru_blocks(kernel, 0), _swap_gru_blocks(recurrent, 0)
    out = [np.ascontiguousarray(kernel.T), np.ascontiguousarray(recurrent.T)]
    if not cell.use_bias:
        return out
    if cell._keras_kind == "gru":
        rows = [_swap_gru_blocks(arr(cell.bias_ih), 0)]
        if cell.reset_after:
            rows.append(_swap_gru_blocks(arr(cell.bias_hh), 0))
        out.append(np.stack(rows) if cell.reset_after else rows[0])
    else:
        out.append(arr(cell.bias))
    return out
