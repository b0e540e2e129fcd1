"""SimpleRNN: the Elman equation against NumPy for the fused (tanh, relu) and loop activations."""

import numpy as np
import pytest
import torch

from seqkit.layers import SimpleRNN

from recurrent_cases import get_mask, inputs

ACTS = {"tanh": np.tanh, "relu": lambda z: np.maximum(z, 0), "softsign": lambda z: z / (1 + abs(z)),
        "linear": lambda z: z}


@pytest.mark.parametrize("mask_kind", [None, "left", "gaps"])
@pytest.mark.parametrize("activation", list(ACTS))
def test_equations_against_numpy(activation, mask_kind):
    rng = np.random.default_rng(0)
    kernel, recurrent, bias = rng.normal(size=(3, 3)), rng.normal(size=(3, 3)) * 0.5, rng.normal(size=3)
    layer = SimpleRNN(3, 3, activation=activation, return_state=True).double()
    layer.set_keras_weights([kernel, recurrent, bias])
    x, mask = inputs(), get_mask(mask_kind)
    y, h_final = layer(x, mask)
    act = ACTS[activation]
    for n in range(x.shape[0]):
        real = np.ones(x.shape[2], bool) if mask is None else mask[n].numpy() != 0
        h = np.zeros(3)
        for t in np.nonzero(real)[0]:
            h = act(x[n, :, t].numpy() @ kernel + h @ recurrent + bias)
            np.testing.assert_allclose(y[n, :, t].detach().numpy(), h, atol=1e-12)
        np.testing.assert_allclose(h_final[n].detach().numpy(), h, atol=1e-12)
        assert (y[n][:, ~torch.as_tensor(real)] == 0).all()


def test_parameters():
    layer = SimpleRNN(5, 2)
    assert [tuple(p.shape) for p in layer.parameters()] == [(5, 2), (5, 5), (5,)]
    w = layer.cell.weight_hh.detach()
    torch.testing.assert_close(w.t() @ w, torch.eye(5), atol=1e-5, rtol=0)
    assert SimpleRNN(5, 2, use_bias=False).get_keras_weights()[1].shape == (5, 5)
