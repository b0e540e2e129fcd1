"""GRU: both reset_after modes against a NumPy implementation in Keras's weight layout."""

import numpy as np
import pytest

from seqkit.layers import GRU

from recurrent_cases import get_mask, inputs


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def numpy_gru(x, kernel, recurrent, bias, reset_after):
    """Keras-layout GRU (gates z, r, h on the last axis); x ``[N, T, F]`` -> ``[N, T, H]``."""
    n, t_len, _ = x.shape
    u = recurrent.shape[0]
    b_in, b_rec = (bias[0], bias[1]) if reset_after else (bias, np.zeros_like(bias))
    h = np.zeros((n, u))
    out = []
    for t in range(t_len):
        xi = x[:, t] @ kernel + b_in
        if reset_after:
            hr = h @ recurrent + b_rec
            z = _sigmoid(xi[:, :u] + hr[:, :u])
            r = _sigmoid(xi[:, u:2 * u] + hr[:, u:2 * u])
            cand = np.tanh(xi[:, 2 * u:] + r * hr[:, 2 * u:])
        else:
            z = _sigmoid(xi[:, :u] + h @ recurrent[:, :u])
            r = _sigmoid(xi[:, u:2 * u] + h @ recurrent[:, u:2 * u])
            cand = np.tanh(xi[:, 2 * u:] + (r * h) @ recurrent[:, 2 * u:])
        h = z * h + (1 - z) * cand
        out.append(h)
    return np.stack(out, 1)


@pytest.mark.parametrize("mask_kind", [None, "both_ends", "gaps"])
@pytest.mark.parametrize("reset_after", [True, False])
def test_equations_against_numpy(reset_after, mask_kind):
    rng = np.random.default_rng(0)
    bias = rng.normal(size=(2, 9) if reset_after else 9)
    kernel, recurrent = rng.normal(size=(3, 9)), rng.normal(size=(3, 9))
    layer = GRU(3, 3, reset_after=reset_after).double()
    layer.set_keras_weights([kernel, recurrent, bias])
    x, mask = inputs(), get_mask(mask_kind)
    y = layer(x, mask)
    for n in range(x.shape[0]):
        real = np.ones(x.shape[2], bool) if mask is None else mask[n].numpy() != 0
        expected = numpy_gru(x[n:n + 1].numpy().transpose(0, 2, 1)[:, real], kernel, recurrent,
                             bias, reset_after)
        np.testing.assert_allclose(y[n][:, real].detach().numpy().T, expected[0], atol=1e-12)


def test_parameters_and_keras_bias_shapes():
    ra, rb = GRU(4, 3), GRU(4, 3, reset_after=False)
    assert ra.reset_after and not rb.reset_after
    assert [tuple(p.shape) for p in ra.parameters()] == [(12, 3), (12, 4), (12,), (12,)]
    assert [tuple(p.shape) for p in rb.parameters()] == [(12, 3), (12, 4), (12,)]
    assert ra.get_keras_weights()[2].shape == (2, 12)
    assert rb.get_keras_weights()[2].shape == (12,)
    assert all((p == 0).all() for n, p in ra.named_parameters() if "bias" in n)


def test_keras_weight_errors():
    layer = GRU(4)
    with pytest.raises(ValueError, match=r"GRUCell: expected 3 Keras arrays"):
        layer.set_keras_weights([np.zeros((3, 12)), np.zeros((4, 12))])
    with pytest.raises(ValueError, match=r"GRUCell: Keras recurrent_kernel must have shape \(4, 12\), got \(4, 8\)"):
        layer.set_keras_weights([np.zeros((3, 12)), np.zeros((4, 8)), np.zeros((2, 12))])
    with pytest.raises(ValueError, match=r"Keras bias must have shape \(2, 12\), got \(12,\)"):
        layer.set_keras_weights([np.zeros((3, 12)), np.zeros((4, 12)), np.zeros(12)])
    with pytest.raises(ValueError, match="not built yet"):
        GRU(4).get_keras_weights()
    assert not layer.built
    layer.set_keras_weights([np.zeros((3, 12)), np.zeros((4, 12)), np.zeros((2, 12))])
    assert layer.built and layer.n_in == 3
