"""Cells on their own, StackedRNNCells, and the generic RNN layer over built-in and user cells."""

import pytest
import torch
from torch import nn

from seqkit import ConfigError
from seqkit.layers import GRU, LSTM, RNN, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell, StackedRNNCells

from recurrent_cases import MinimalCell, get_mask, inputs, randomize


@pytest.mark.parametrize("cell, sizes", [
    (LSTMCell(4), (4, 4)), (GRUCell(4), 4), (SimpleRNNCell(4), 4),
    (StackedRNNCells([LSTMCell(4), GRUCell(2)]), ((4, 4), 2)),
])
def test_cell_protocol_members(cell, sizes):
    assert cell.state_size == sizes
    assert cell.output_size == (2 if isinstance(cell, StackedRNNCells) else 4)
    assert not cell.built
    flat = [s for group in (sizes if isinstance(sizes, tuple) else (sizes,))
            for s in (group if isinstance(group, tuple) else (group,))]
    states = [torch.zeros(2, s) for s in flat]
    if isinstance(cell, StackedRNNCells):
        states = cell.group(states)
    out, new = cell(torch.randn(2, 3), states)
    assert cell.built and cell.n_in == 3
    assert out.shape == (2, cell.output_size)
    assert len(new) == len(states)


@pytest.mark.parametrize("cell_cls, layer_cls, kw", [
    (LSTMCell, LSTM, {}), (GRUCell, GRU, {}), (GRUCell, GRU, {"reset_after": False}),
    (SimpleRNNCell, SimpleRNN, {}),
])
def test_rnn_over_a_cell_equals_the_layer(cell_cls, layer_cls, kw):
    layer = randomize(layer_cls(3, 2, **kw)).double()
    rnn = RNN(cell_cls(3, 2, **kw), return_state=True).double()
    rnn.cell.load_state_dict(layer.cell.state_dict())
    x, mask = inputs(f=2), get_mask("gaps")
    y, *states = rnn(x, mask)
    torch.testing.assert_close(y, layer(x, mask))
    assert len(states) == len(layer.state_keys)


def test_cell_step_equals_one_step_of_the_layer():
    layer = randomize(LSTM(3, 2)).double()
    x = inputs(f=2)
    h = c = torch.zeros(4, 3, dtype=torch.float64)
    for t in range(x.shape[2]):
        out, (h, c) = layer.cell(x[:, :, t], (h, c))
    y, final = layer.run(x)
    torch.testing.assert_close(out, y[:, :, -1])
    torch.testing.assert_close(c, final["c"])


def test_user_cell_inside_rnn():
    cell = MinimalCell(3, 2).double()
    layer = RNN(cell, return_state=True)
    assert layer.state_keys == ("h",) and layer.units == 3
    x, mask = inputs(f=2), get_mask("left")
    y, h = layer(x, mask)
    expected = torch.zeros(4, 3, dtype=torch.float64)
    for t in range(x.shape[2]):
        new = torch.tanh(x[:, :, t] @ cell.w + expected @ cell.u)
        expected = torch.where(mask[:, t:t + 1] != 0, new, expected)
    torch.testing.assert_close(h, expected)
    assert layer.n_in == 2                                               # built from the input


class BareTensorCell(nn.Module):
    """A one-state cell returning its new state as a bare tensor (allowed, as in Keras)."""

    state_size = 2
    output_size = 2

    def forward(self, x_t, states):
        h = x_t[:, :2] + states[0]
        return h, h


def test_user_cell_may_return_a_bare_state_and_multi_state_keys():
    y = RNN(BareTensorCell())(torch.ones(1, 3, 4))
    torch.testing.assert_close(y[0, :, -1], torch.tensor([4.0, 4.0]))

    class Two(nn.Module):
        state_size = (2, 3)

        def forward(self, x_t, states):
            return states[0] + 1, (states[0] + 1, states[1] - 1)
    layer = RNN(Two(), return_state=True)
    assert layer.state_keys == ("s0", "s1") and layer.units == 2
    y, s0, s1 = layer(torch.ones(2, 1, 3))
    torch.testing.assert_close(s1, torch.full((2, 3), -3.0))


def test_user_cell_errors():
    class WrongCount(nn.Module):
        state_size = (2, 2)

        def forward(self, x_t, states):
            return states[0], (states[0],)

    class NotAPair(nn.Module):
        state_size = 2

        def forward(self, x_t, states):
            return states[0]
    with pytest.raises(ValueError, match="WrongCount: returned 1 states but state_size has 2"):
        RNN(WrongCount())(torch.ones(1, 2, 3))
    with pytest.raises(ValueError, match="NotAPair: a cell's forward must return"):
        RNN(NotAPair())(torch.ones(1, 2, 3))
    with pytest.raises(ConfigError, match="cell must be a torch Module with state_size"):
        RNN(nn.Linear(2, 2))
    with pytest.raises(ConfigError, match="state_size must be a positive int"):
        class Bad(nn.Module):
            state_size = "h"
        RNN(Bad())
    with pytest.raises(ConfigError, match="cells must be a non-empty list"):
        StackedRNNCells([])


def test_stacked_cells_chain_within_a_step():
    first, second = randomize(LSTMCell(3, 2)).double(), randomize(GRUCell(2, 3)).double()
    stacked = RNN([first, second], return_state=True)
    x = inputs(f=2)
    y, (h1, c1), h2 = stacked(x, get_mask("right"))
    lower, lower_final = RNN(first).run(x, get_mask("right"))
    upper, upper_final = RNN(second).run(lower, get_mask("right"))
    torch.testing.assert_close(y, upper)
    torch.testing.assert_close(c1, lower_final["c"])
    torch.testing.assert_close(h2, upper_final["h"])


def test_stacked_cell_forward_takes_nested_states():
    stacked = StackedRNNCells([LSTMCell(3, 2), SimpleRNNCell(4)])
    states = ((torch.zeros(2, 3), torch.zeros(2, 3)), torch.zeros(2, 4))
    out, new = stacked(torch.randn(2, 2), states)
    assert out.shape == (2, 4) and isinstance(new[0], tuple) and torch.is_tensor(new[1])
    with pytest.raises(ValueError, match="expected states for 2 cells"):
        stacked(torch.randn(2, 2), states[:1])


def test_cell_errors():
    with pytest.raises(ValueError, match="LSTMCell: a cell takes one step \\[N, F\\]"):
        LSTMCell(3)(torch.randn(2, 3, 4), (torch.zeros(2, 3), torch.zeros(2, 3)))
    with pytest.raises(ValueError, match="LSTMCell: expected 2 states"):
        LSTMCell(3)(torch.randn(2, 3), (torch.zeros(2, 3),))
    with pytest.raises(ConfigError, match="GRUCell: reset_after must be True or False"):
        GRUCell(3, reset_after="yes")
    with pytest.raises(ConfigError, match="forget_gate_bias_init must be a number"):
        LSTMCell(3, forget_gate_bias_init="1")


def test_cell_dropout_inside_rnn_is_one_mask_per_sequence():
    torch.manual_seed(0)
    cell = SimpleRNNCell(3, 2, activation="linear", dropout=0.5)
    with torch.no_grad():
        cell.weight_hh.zero_()
        cell.weight_ih.copy_(torch.eye(3, 2))
    layer = RNN(cell).train()
    y = layer(torch.ones(4, 2, 6))                                       # y_t = drop(x) every step
    assert set(torch.unique(y).tolist()) <= {0.0, 2.0}
    assert (y == y[:, :, :1]).all(), "the same mask at every step"
    assert (layer.eval()(torch.ones(4, 2, 6)) == 1.0)[:, :2].all()
