"""torch.autograd.gradcheck on small float64 recurrent layers and cells, with masks.

Inputs, initial states and every parameter are checked, through ``forward``
with ``return_state=True`` so the final states' gradients are checked too.
"""

import pytest
import torch
from torch.func import functional_call

from seqkit.layers import GRUCell, LSTMCell, SimpleRNNCell, StackedRNNCells
from seqkit.layers._graves import GravesLSTMCell

from recurrent_cases import LAYERS, randomize

MASKS = {
    None: None,
    "right": [[1, 1, 1, 1], [1, 1, 0, 0]],
    "left": [[0, 1, 1, 1], [1, 1, 1, 1]],
    "gaps": [[1, 0, 1, 1], [0, 1, 0, 1]],
}


def _check(module, call, leaves: dict[str, torch.Tensor]):
    names = list(leaves)

    def fn(*values):
        return call(dict(zip(names, values)))
    values = [v.detach().clone().requires_grad_() for v in leaves.values()]
    assert torch.autograd.gradcheck(fn, values, eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("mask_kind", list(MASKS))
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_layer_gradcheck(name, mask_kind):
    torch.manual_seed(0)
    layer = randomize(LAYERS[name](2, 2, return_state=True)).double()
    x = torch.randn(2, 2, 4, dtype=torch.float64)
    mask = None if MASKS[mask_kind] is None else torch.tensor(MASKS[mask_kind], dtype=torch.float64)
    state = {f"state:{k}": v.normal_() for k, v in layer.initial_state(2).items()}
    params = dict(layer.named_parameters())

    def call(values):
        init = [values[k] for k in state]
        p = {k: values[k] for k in params}
        y, *states = functional_call(layer, p, (values["x"], mask), {"initial_state": init})
        return (y, *[t for s in states for t in ((s,) if torch.is_tensor(s) else s)])
    _check(layer, call, {"x": x, **state, **params})


CELLS = {
    "LSTMCell": lambda: LSTMCell(2, 3),
    "GRUCell": lambda: GRUCell(2, 3),
    "GRUCell_reset_before": lambda: GRUCell(2, 3, reset_after=False),
    "SimpleRNNCell": lambda: SimpleRNNCell(2, 3),
    "GravesLSTMCell": lambda: GravesLSTMCell(2, 3),
    "StackedRNNCells": lambda: StackedRNNCells([LSTMCell(3, 3), GRUCell(2)]),
}


@pytest.mark.parametrize("name", sorted(CELLS))
def test_cell_gradcheck(name):
    torch.manual_seed(0)
    cell = randomize(CELLS[name]()).double()
    flat_keys = cell.state_keys
    sizes = []
    for s in (cell.state_size if isinstance(cell.state_size, tuple) else (cell.state_size,)):
        sizes.extend(s if isinstance(s, tuple) else (s,))
    state = {f"state:{k}": torch.randn(2, s, dtype=torch.float64) for k, s in zip(flat_keys, sizes)}
    params = dict(cell.named_parameters())

    def call(values):
        flat = [values[k] for k in state]
        if isinstance(cell, StackedRNNCells):
            states = cell.group(flat)
        else:
            states = tuple(flat)
        p = {k: values[k] for k in params}
        out, new = functional_call(cell, p, (values["x"], states))
        return (out, *new) if isinstance(cell, (LSTMCell, GravesLSTMCell)) else out
    _check(cell, call, {"x": torch.randn(2, 3, dtype=torch.float64), **state, **params})
