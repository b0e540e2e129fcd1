"""Keras 3's own numeric tests (keras.md §9 rows 1-8c, 12-13), frozen here as oracles.

Weights are Keras's constant initialisers (kernel 0.01, recurrent kernel 0.02,
bias 0.03, LSTM forget bias 1.0) set through ``set_keras_weights``. Inputs are
Keras's ``[N, T, F]`` arrays transposed to NCL. Where Keras carries the previous
output over a masked step, seqkit outputs zero there (its masking semantic),
so masked cases compare the real steps, the final states and the last outputs.
No Keras needed: the numbers are Keras's.
"""

import numpy as np
import pytest
import torch
from torch import nn

from seqkit.layers import GRU, LSTM, RNN, LSTMCell, SimpleRNN

ATOL = 1e-5


def ncl(keras_array) -> torch.Tensor:
    """Keras ``[N, T, F]`` -> seqkit ``[N, F, T]`` (float32)."""
    return torch.as_tensor(np.asarray(keras_array, dtype=np.float32)).permute(0, 2, 1).contiguous()


def constant_weights(layer, f: int, *, kernel=0.01, recurrent=0.02, bias=0.03, forget=1.0):
    """Keras constant initialisers on ``layer`` with ``f`` inputs."""
    h, cell = layer.units, layer.cell
    kind = cell._keras_kind
    g = {"lstm": 4, "gru": 3, "simple_rnn": 1}[kind] * h
    arrays = [np.full((f, g), kernel, np.float32), np.full((h, g), recurrent, np.float32)]
    if cell.use_bias:
        if kind == "gru" and cell.reset_after:
            b = np.full((2, g), bias, np.float32)
        else:
            b = np.full((g,), bias, np.float32)
        if kind == "lstm":
            b[h:2 * h] = forget
        arrays.append(b)
    layer.set_keras_weights(arrays)
    return layer


def per_sample(values, units):
    """Keras's flat ``[a, b, c]`` (one value per sample, repeated over units) -> ``[N, units]``."""
    return torch.tensor(values, dtype=torch.float32)[:, None].expand(-1, units)


def bool_mask(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float32)


X72 = np.arange(72).reshape(3, 6, 4)
X24_234 = np.arange(24).reshape(2, 3, 4)
X24_243 = np.arange(24).reshape(2, 4, 3)


# -- row 1: LSTM correctness -------------------------------------------------------------
@pytest.mark.parametrize("kwargs, forget, expected", [
    ({}, 1.0, [0.6288687, 0.86899155, 0.9460773]),
    ({"go_backwards": True}, 1.0, [0.35622165, 0.74789524, 0.8872726]),
    ({}, 0.03, [0.57019705, 0.8661914, 0.9459622]),                     # unit_forget_bias=False
    ({"use_bias": False}, None, [0.54986924, 0.86226785, 0.9443936]),
])
def test_lstm_correctness(kwargs, forget, expected):
    layer = LSTM(3, return_sequences=False, **kwargs)
    constant_weights(layer, 4, forget=forget)
    torch.testing.assert_close(layer(ncl(X72)), per_sample(expected, 3), atol=ATOL, rtol=0)


# -- row 2: LSTM stateful ------------------------------------------------------------------
def test_lstm_statefulness():
    layer = constant_weights(LSTM(4, stateful=True, return_sequences=False), 4)
    x = ncl(X24_234)
    expected = per_sample([0.3124785, 0.6863672], 4)
    layer(x)
    torch.testing.assert_close(layer(x), expected, atol=ATOL, rtol=0)
    layer.reset_state()
    layer(x)
    torch.testing.assert_close(layer(x), expected, atol=ATOL, rtol=0)


# -- row 3: LSTM initial state -------------------------------------------------------------
@pytest.mark.parametrize("go_backwards, expected", [
    (False, [[0.20574439, 0.3558822], [0.64930826, 0.66276]]),
    (True, [[0.13281618, 0.2790356], [0.5839337, 0.5992567]]),
])
def test_lstm_initial_state(go_backwards, expected):
    layer = constant_weights(LSTM(2, return_sequences=False, go_backwards=go_backwards), 3)
    h0 = torch.arange(4, dtype=torch.float32).reshape(2, 2)
    y = layer(ncl(X24_243), initial_state=[h0, h0])
    torch.testing.assert_close(y, torch.tensor(expected), atol=ATOL, rtol=0)


# -- row 4: LSTM masking -------------------------------------------------------------------
def test_lstm_masking():
    layer = constant_weights(LSTM(2, return_state=True), 3)
    mask = bool_mask([[1, 1, 1, 0], [1, 1, 0, 0]])
    y, h, _ = layer(ncl(X24_243), mask)
    torch.testing.assert_close(y[0, 0, :3], torch.tensor([0.0158891, 0.05552048, 0.11755939]),
                               atol=ATOL, rtol=0)
    torch.testing.assert_close(y[1, 0, :2], torch.tensor([0.14185596, 0.28556206]), atol=ATOL, rtol=0)
    assert (y[0, :, 3:] == 0).all() and (y[1, :, 2:] == 0).all()
    torch.testing.assert_close(h, per_sample([0.11755939, 0.28556206], 2), atol=ATOL, rtol=0)
    back = constant_weights(LSTM(2, return_sequences=False, go_backwards=True), 3)
    y_back = back(ncl(X24_243), bool_mask([[0, 1, 1, 1], [0, 0, 1, 1]]))
    torch.testing.assert_close(y_back, per_sample([0.15341201, 0.3844719], 2), atol=ATOL, rtol=0)


# -- row 5: GRU correctness ----------------------------------------------------------------
@pytest.mark.parametrize("kwargs, expected", [
    ({}, [0.5217289, 0.6371659, 0.39384964]),
    ({"go_backwards": True}, [0.24406259, 0.611516, 0.3928808]),
    ({"reset_after": False}, [0.51447755, 0.6426879, 0.40208298]),
    ({"use_bias": False}, [0.49988455, 0.64701194, 0.4103359]),
])
def test_gru_correctness(kwargs, expected):
    layer = constant_weights(GRU(3, return_sequences=False, **kwargs), 4)
    torch.testing.assert_close(layer(ncl(X72)), per_sample(expected, 3), atol=ATOL, rtol=0)


# -- row 6: GRU masking (a gap) ------------------------------------------------------------
def test_gru_masking():
    layer = constant_weights(GRU(2, return_state=True), 3)
    mask = bool_mask([[1, 1, 0, 1], [1, 0, 0, 1]])
    y, h = layer(ncl(X24_243), mask)
    torch.testing.assert_close(y[0, 0], torch.tensor([0.03606692, 0.09497581, 0.0, 0.19393763]),
                               atol=ATOL, rtol=0)
    torch.testing.assert_close(y[1, 0], torch.tensor([0.16051409, 0.0, 0.0, 0.30818558]),
                               atol=ATOL, rtol=0)
    torch.testing.assert_close(h, per_sample([0.19393763, 0.30818558], 2), atol=ATOL, rtol=0)
    back = constant_weights(GRU(2, return_sequences=False, go_backwards=True), 3)
    torch.testing.assert_close(back(ncl(X24_243), mask), per_sample([0.11669192, 0.28380975], 2),
                               atol=ATOL, rtol=0)


# -- row 7: GRU initial state, return_state, stateful --------------------------------------
@pytest.mark.parametrize("go_backwards, expected", [
    (False, [[0.23774096, 0.33508456], [0.83659905, 1.0227708]]),
    (True, [[0.13486053, 0.23261218], [0.78257304, 0.9691353]]),
])
def test_gru_initial_state_and_return_state(go_backwards, expected):
    layer = constant_weights(GRU(2, return_sequences=False, return_state=True,
                                 go_backwards=go_backwards), 3)
    h0 = torch.arange(4, dtype=torch.float32).reshape(2, 2)
    y, h = layer(ncl(X24_243), initial_state=[h0])
    torch.testing.assert_close(y, torch.tensor(expected), atol=ATOL, rtol=0)
    torch.testing.assert_close(h, y)


def test_gru_statefulness():
    layer = constant_weights(GRU(4, stateful=True, return_sequences=False), 4)
    layer(ncl(X24_234))
    torch.testing.assert_close(layer(ncl(X24_234)), per_sample([0.29542392, 0.5885018], 4),
                               atol=ATOL, rtol=0)


# -- rows 8, 8b, 8c: SimpleRNN -------------------------------------------------------------
@pytest.mark.parametrize("go_backwards, expected", [
    (False, [0.405432, 0.73605347]), (True, [0.11144729, 0.5528889])])
def test_simple_rnn_correctness(go_backwards, expected):
    layer = constant_weights(SimpleRNN(4, return_sequences=False, go_backwards=go_backwards), 4)
    torch.testing.assert_close(layer(ncl(X24_234)), per_sample(expected, 4), atol=ATOL, rtol=0)


def test_simple_rnn_statefulness():
    layer = constant_weights(SimpleRNN(4, stateful=True, return_sequences=False), 4)
    layer(ncl(X24_234))
    torch.testing.assert_close(layer(ncl(X24_234)), per_sample([0.40559256, 0.7361247], 4),
                               atol=ATOL, rtol=0)


@pytest.mark.parametrize("go_backwards, expected", [
    (False, [0.33621645, 0.6262637]), (True, [0.07344437, 0.43043602])])
def test_simple_rnn_initial_state(go_backwards, expected):
    layer = constant_weights(SimpleRNN(4, return_sequences=False, go_backwards=go_backwards), 3)
    h0 = torch.arange(8, dtype=torch.float32).reshape(2, 4)
    torch.testing.assert_close(layer(ncl(X24_243), initial_state={"h": h0}),
                               per_sample(expected, 4), atol=ATOL, rtol=0)


def test_simple_rnn_masking():
    mask = bool_mask([[1, 1, 0, 1], [1, 0, 0, 1]])
    last = constant_weights(SimpleRNN(4, return_sequences=False), 3)
    torch.testing.assert_close(last(ncl(X24_243), mask), per_sample([0.32951632, 0.61799484], 4),
                               atol=ATOL, rtol=0)
    seq = constant_weights(SimpleRNN(2), 3)
    y = seq(ncl(X24_243), mask)
    torch.testing.assert_close(y[0, 0], torch.tensor([0.0599281, 0.15122814, 0.0, 0.32394567]),
                               atol=ATOL, rtol=0)
    torch.testing.assert_close(y[1, 0], torch.tensor([0.3969304, 0.0, 0.0, 0.608085]),
                               atol=ATOL, rtol=0)
    back = constant_weights(SimpleRNN(4, return_sequences=False, go_backwards=True), 3)
    torch.testing.assert_close(back(ncl(X24_243), mask), per_sample([0.07376196, 0.43645123], 4),
                               atol=ATOL, rtol=0)


# -- rows 12, 12b: the generic RNN with Keras's test cells -----------------------------------
class OneStateCell(nn.Module):
    """Keras's linear test cell: ``h = x @ 1 + h @ 1``."""

    def __init__(self, units, n_in):
        super().__init__()
        self.state_size = units
        self.kernel = torch.ones(n_in, units)
        self.recurrent = torch.ones(units, units)

    def forward(self, x_t, states):
        h = x_t @ self.kernel + states[0] @ self.recurrent
        return h, [h]


class TwoStatesCell(nn.Module):
    """Keras's two-state test cell: two linear states, output their sum."""

    def __init__(self, units, n_in):
        super().__init__()
        self.state_size = (units, units)
        self.kernel = torch.ones(n_in, units)
        self.recurrent = torch.ones(units, units)

    def forward(self, x_t, states):
        h = x_t @ self.kernel
        s1 = h + states[0] @ self.recurrent
        s2 = h + states[1] @ self.recurrent
        return s1 + s2, [s1, s2]


def test_rnn_masking_with_one_state_cell():
    layer = RNN(OneStateCell(2, 3), return_state=True)
    y, h = layer(ncl(X24_243), bool_mask([[1, 1, 1, 0], [1, 1, 0, 0]]))
    torch.testing.assert_close(y[:, 0], torch.tensor([[3.0, 18, 57, 0], [39, 126, 0, 0]]))
    torch.testing.assert_close(h, torch.tensor([[57.0, 57], [126, 126]]))


def test_rnn_one_state_cell_sequences_and_backwards():
    y = RNN(OneStateCell(2, 3))(ncl(np.ones((1, 2, 3))))
    torch.testing.assert_close(y[0].t(), torch.tensor([[3.0, 3], [9, 9]]))
    back = RNN(OneStateCell(2, 4), return_sequences=False, go_backwards=True)
    torch.testing.assert_close(back(ncl(X24_234)), torch.tensor([[202.0, 202], [538, 538]]))


def test_stacked_one_state_and_two_state_cells():
    one = RNN([OneStateCell(3, 4), OneStateCell(2, 3)], return_sequences=False)
    torch.testing.assert_close(one(ncl(X24_234)), torch.tensor([[786.0, 786], [4386, 4386]]))
    two = RNN([TwoStatesCell(3, 4), TwoStatesCell(2, 3)], return_sequences=False)
    torch.testing.assert_close(two(ncl(X24_234)), torch.tensor([[3144.0, 3144], [17544, 17544]]))


# -- row 13: stacked LSTM cells with a mask -------------------------------------------------
def test_stacked_lstm_cells_with_mask():
    cells = [LSTMCell(1, 4), LSTMCell(1, 1)]
    for cell in cells:                            # kernels of ones, Keras's default bias (forget 1)
        cell.set_keras_weights([np.ones((cell.n_in, 4), np.float32), np.ones((1, 4), np.float32),
                                np.array([0, 1, 0, 0], np.float32)])
    layer = RNN(cells, return_sequences=False)
    y = layer(torch.ones(2, 4, 3), bool_mask([[1, 1, 1], [1, 1, 0]]))
    torch.testing.assert_close(y, torch.tensor([[0.7793], [0.5998]]), atol=1e-4, rtol=0)
