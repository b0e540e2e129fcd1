"""LayerNorm: per-step normalisation over the features, padding zero, Keras parity, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqkit import ConfigError, InputType, Sequential
from seqkit import layers as L
from seqkit.layers import LayerNorm, layer_trait

MASK = [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [0, 1, 0, 1, 1]]


def _data(seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    x = 1.0 + 2.0 * torch.randn(3, 4, 5, dtype=dtype, generator=gen)
    mask = torch.tensor(MASK, dtype=dtype)
    return x, mask


def _randomised(layer, seed=1):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.weight.copy_(1.0 + 0.5 * torch.randn(layer.weight.shape, generator=gen))
        layer.bias.copy_(0.5 * torch.randn(layer.bias.shape, generator=gen))
    return layer


@pytest.mark.parametrize("training", [True, False])
def test_each_step_is_normalised_over_its_features(training):
    x, mask = _data()
    layer = _randomised(LayerNorm(4).double()).train(training)
    y = layer(x, mask)
    mean = x.mean(1, keepdim=True)
    var = x.var(1, unbiased=False, keepdim=True)
    want = (x - mean) / torch.sqrt(var + 1e-3) * layer.weight[None, :, None] + layer.bias[None, :, None]
    real = (mask != 0)[:, None, :].expand_as(x)
    torch.testing.assert_close(y[real], want[real].detach())
    assert (y[~real] == 0).all()
    for n in range(3):                                                   # each example alone
        keep = mask[n] != 0
        torch.testing.assert_close(y[n][:, keep], layer(x[n:n + 1, :, keep])[0], rtol=0, atol=1e-12)


def test_vectors_and_a_row_mask():
    x = torch.randn(4, 3, dtype=torch.float64)
    layer = LayerNorm(eps=1e-5).double()
    torch.testing.assert_close(layer(x), torch.nn.functional.layer_norm(x, (3,), eps=1e-5))
    y = layer(x, torch.tensor([1.0, 0, 1, 1]))
    assert (y[1] == 0).all()


def test_nan_padding_reaches_neither_output_nor_gradients():
    x, mask = _data()
    x = torch.where(mask[:, None, :] != 0, x, torch.full_like(x, float("nan"))).requires_grad_()
    layer = LayerNorm(4).double()
    y = layer(x, mask)
    assert torch.isfinite(y).all()
    y.square().sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(layer.weight.grad).all()
    assert (x.grad.permute(0, 2, 1)[mask == 0] == 0).all()


def test_matches_keras_layer_normalization():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    with keras.device("cpu"):
        k = keras.layers.LayerNormalization()
        k.build((3, 5, 4))
        weights = [rng.normal(size=4).astype(np.float32) + 1.0, rng.normal(size=4).astype(np.float32)]
        k.set_weights(weights)
        x = rng.normal(loc=2.0, size=(3, 5, 4)).astype(np.float32)
        want = k(x).detach().cpu().numpy()
    ours = LayerNorm().set_keras_weights(weights)
    got = ours(torch.as_tensor(x).permute(0, 2, 1)).detach().numpy().transpose(0, 2, 1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    assert [w.path.rsplit("/", 1)[-1] for w in k.weights] == ["gamma", "beta"]
    for a, b in zip(ours.get_keras_weights(), k.get_weights()):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("weights, match", [
    ([np.ones(3)], r"expected 2 Keras arrays \[gamma, beta\], got 1"),
    ([np.ones(3), np.ones(4)], r"Keras beta must have shape \(3,\), got \(4,\)"),
    ("gamma", "set_keras_weights takes a list of arrays"),
])
def test_keras_weight_errors(weights, match):
    with pytest.raises(ValueError, match=match):
        LayerNorm().set_keras_weights(weights)


def test_errors():
    with pytest.raises(ConfigError, match="LayerNorm: eps must be a positive number, got -1"):
        LayerNorm(eps=-1)
    with pytest.raises(ConfigError, match="LayerNorm: not built yet"):
        LayerNorm().get_keras_weights()
    with pytest.raises(ValueError, match=r"LayerNorm: expected input \[N, F\] or \[N, F, T\], got \(4,\)"):
        LayerNorm()(torch.randn(4))
    with pytest.raises(ConfigError, match="LayerNorm: n_in=3 but the input has 4 features"):
        LayerNorm(3).output_shape((4, None))


def test_description_and_low_precision():
    layer = LayerNorm()
    assert layer_trait(layer, "input_layouts") == {"vectors", "sequences"} and layer.n_out is None
    assert not layer_trait(layer, "mixes_steps") and "eps=0.001" in repr(layer)
    x, mask = _data(dtype=torch.float32)
    got = LayerNorm(4)(x.bfloat16(), mask)
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), LayerNorm(4)(x.bfloat16().float(), mask), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck(masked):
    x, mask = _data()
    layer = _randomised(LayerNorm(4).double())
    mask = mask if masked else None

    def fn(xv, w, b):
        return torch.func.functional_call(layer, {"weight": w, "bias": b}, (xv, mask))
    leaves = [t.detach().clone().requires_grad_() for t in (x, layer.weight, layer.bias)]
    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-5)


def test_in_a_network_after_a_recurrent_layer():
    net = Sequential([L.GRU(5), LayerNorm(), L.LastTimeStep(L.LSTM(3)), L.Output(2)],
                     input_type=InputType.recurrent(2), seed=0)
    assert net.output_shapes[1] == (5, None)
    assert net.output(np.zeros((2, 2, 4), np.float32)).shape == (2, 2)
