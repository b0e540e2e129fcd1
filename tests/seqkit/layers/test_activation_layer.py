"""Activation (the layer): a named activation from the registry, zero at masked steps, any layout."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from seqkit import ConfigError, InputType, Sequential
from seqkit import layers as L
from seqkit.layers import Activation, get_activation, layer_to_config, layer_trait


@pytest.mark.parametrize("name", ["relu", "tanh", "sigmoid", "softmax", "gelu", "hard_sigmoid_dl4j", "linear"])
def test_applies_the_registry_function_and_zeroes_masked_steps(name):
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    mask = torch.tensor([[1.0, 1, 1, 1, 1], [1, 1, 0, 0, 0], [0, 1, 1, 0, 1]], dtype=torch.float64)
    y = Activation(name)(x, mask)
    want = get_activation(name)(x)
    real = (mask != 0)[:, None, :].expand_as(x)
    torch.testing.assert_close(y[real], want[real])
    assert (y[~real] == 0).all()


def test_softmax_normalises_over_the_features_at_each_step():
    y = Activation("SoftMax")(torch.randn(2, 3, 4))
    torch.testing.assert_close(y.sum(1), torch.ones(2, 4))


def test_any_layout_with_its_mask():
    video = torch.randn(2, 3, 4, 2, 2)
    y = Activation("relu")(video, torch.tensor([[1.0, 1, 0, 1], [0, 1, 1, 1]]))
    assert (y[0, :, 2] == 0).all() and torch.equal(y[0, :, 0], video[0, :, 0].relu())
    images = torch.randn(3, 2, 4, 4)
    y = Activation("tanh")(images, torch.tensor([1.0, 0, 1]))
    assert (y[1] == 0).all() and torch.equal(y[2], images[2].tanh())
    vectors = torch.randn(4, 3)
    assert torch.equal(Activation("relu")(vectors), vectors.relu())


def test_nan_padding_stays_out():
    x = torch.full((1, 2, 3), float("nan"))
    x[0, :, 0] = torch.tensor([1.0, -1.0])
    x.requires_grad_()
    y = Activation("sigmoid")(x, torch.tensor([[1.0, 0, 0]]))
    assert torch.isfinite(y).all()
    y.sum().backward()
    assert torch.isfinite(x.grad).all() and (x.grad[0, :, 1:] == 0).all()


def test_callable_works_but_cannot_be_saved():
    layer = Activation(lambda t: 2 * t)
    assert torch.equal(layer(torch.ones(1, 2, 3)), 2 * torch.ones(1, 2, 3))
    with pytest.raises(ConfigError, match="argument 'activation'"):
        layer_to_config(layer)


def test_errors_and_description():
    with pytest.raises(ConfigError, match="Activation: unknown activation 'relux'"):
        Activation("relux")
    with pytest.raises(ValueError, match=r"Activation: expected input \[N, F\] or \[N, F, T\] or "
                                         r"\[N, C, H, W\] or \[N, C, T, H, W\], got \(3,\)"):
        Activation("relu")(torch.randn(3))
    layer = Activation("relu", 3)
    assert layer.n_out == 3 and layer.output_shape((3, 4, 4)) == (3, 4, 4)
    assert layer_trait(layer, "input_layouts") is None and "'relu'" in repr(layer)
    with pytest.raises(ConfigError, match="Activation: n_in=3 but the input has 2 features"):
        layer.output_shape((2, None))
    assert layer_to_config(Activation("linear"))["config"] == {"activation": "linear", "n_in": None}


def test_gradcheck():
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1.0, 1, 0, 1], [0, 1, 1, 1]], dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda v: Activation("tanh")(v, mask), (x,))


def test_in_a_network_between_convolution_and_recurrent_layers():
    net = Sequential([L.Conv1D(4, 3, padding="same"), Activation("relu"), L.LSTM(3), L.RnnOutput(2)],
                     input_type=InputType.recurrent(2), seed=0)
    assert net.output_shapes[1] == (4, None)
    out = net.output(np.ones((2, 2, 5), np.float32), np.array([[1, 1, 1, 0, 0], [1] * 5], np.float32))
    assert (out[0, :, 3:] == 0).all()
