"""LSTM: Keras's initialisation, the equations against NumPy, DL4J's MaskZero case, exactness."""

import math

import numpy as np
import pytest
import torch

from seqkit.layers import LSTM

from recurrent_cases import get_mask, inputs


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_lstm(x, kernel, recurrent, bias, gate=_sigmoid, act=np.tanh):
    """Keras-layout LSTM (gates i, f, c, o on the last axis); x ``[N, T, F]`` -> h ``[N, T, H]``."""
    n, t_len, _ = x.shape
    units = recurrent.shape[0]
    h, c = np.zeros((n, units)), np.zeros((n, units))
    out = []
    for t in range(t_len):
        z = x[:, t] @ kernel + h @ recurrent + bias
        i, f, g, o = (z[:, k * units:(k + 1) * units] for k in range(4))
        c = gate(f) * c + gate(i) * act(g)
        h = gate(o) * act(c)
        out.append(h)
    return np.stack(out, 1), c


def test_keras_initialisation():
    torch.manual_seed(0)
    layer = LSTM(16, 5)
    cell = layer.cell
    w_hh = cell.weight_hh.detach().double()                               # [4H, H]
    torch.testing.assert_close(w_hh.t() @ w_hh, torch.eye(16, dtype=torch.float64), atol=1e-5, rtol=0)
    bound = math.sqrt(6.0 / (5 + 64))
    assert cell.weight_ih.abs().max() <= bound and cell.weight_ih.abs().max() > 0.8 * bound
    assert torch.equal(cell.bias[16:32], torch.ones(16))
    assert cell.bias[:16].abs().sum() == 0 and cell.bias[32:].abs().sum() == 0
    assert torch.equal(LSTM(4, 2, forget_gate_bias_init=0.0).cell.bias, torch.zeros(16))
    assert LSTM(4, 2, use_bias=False).cell.bias is None
    assert [tuple(p.shape) for p in layer.parameters()] == [(64, 5), (64, 16), (64,)]


@pytest.mark.parametrize("gate", ["sigmoid", "hard_sigmoid"])
@pytest.mark.parametrize("mask_kind", [None, "right"])
def test_equations_against_numpy(gate, mask_kind):
    rng = np.random.default_rng(0)
    kernel, recurrent, bias = rng.normal(size=(3, 12)), rng.normal(size=(3, 12)), rng.normal(size=12)
    layer = LSTM(3, 3, gate_activation=gate, return_state=True).double()
    layer.set_keras_weights([kernel, recurrent, bias])
    x = inputs()
    mask = get_mask(mask_kind)
    y, h, c = layer(x, mask)
    gate_fn = _sigmoid if gate == "sigmoid" else (lambda z: np.clip(z / 6 + 0.5, 0, 1))
    for n in range(x.shape[0]):
        real = np.ones(x.shape[2], bool) if mask is None else mask[n].numpy() != 0
        xn = x[n:n + 1].numpy().transpose(0, 2, 1)[:, real]
        expected, c_exp = numpy_lstm(xn, kernel, recurrent, bias, gate_fn)
        np.testing.assert_allclose(y[n][:, real].detach().numpy().T, expected[0], atol=1e-12)
        np.testing.assert_allclose(c[n].detach().numpy(), c_exp[0], atol=1e-12)


def test_dl4j_mask_zero_case():
    """DL4J's MaskZero test: identity activation and gates, zero weights, biases 1."""
    layer = LSTM(1, 2, activation="identity", gate_activation="identity")
    layer.set_keras_weights([np.zeros((2, 4)), np.zeros((1, 4)), np.ones(4)])
    x = torch.tensor([[[0.0, 3, 5], [0, 0, 2]], [[0, 0, 2], [0, 0, 2]]])  # [N, F, T]
    mask = (x != 0).any(dim=1).float()                                   # MaskZero's mask
    torch.testing.assert_close(layer(x, mask)[:, 0], torch.tensor([[0.0, 1, 2], [0, 0, 1]]))


def test_masked_outputs_exact_zero_and_final_cell_exact_in_float32():
    """The saturated padding column: exact zeros and the exact c, even with large inputs."""
    torch.manual_seed(0)
    layer = LSTM(8, 3, return_state=True)
    x = torch.randn(4, 3, 7) * 30
    mask = get_mask("left").float()
    y, h, c = layer(x, mask)
    assert (y.permute(1, 0, 2)[:, mask == 0] == 0).all()
    for n in range(4):
        _, h_alone, c_alone = layer(x[n:n + 1][:, :, mask[n] != 0])
        torch.testing.assert_close(c[n], c_alone[0], atol=1e-6, rtol=0)
        torch.testing.assert_close(h[n], h_alone[0], atol=1e-6, rtol=0)
