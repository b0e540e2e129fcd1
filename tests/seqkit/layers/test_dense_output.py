"""Dense, Output, RnnOutput and RnnLoss: references, masking, Keras parity, shapes, errors."""

import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqkit import ConfigError
from seqkit.layers import Dense, LossHead, Output, RnnLoss, RnnOutput, get_activation

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
DTYPES = [torch.float32, torch.float64]
MASK = torch.tensor([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1], [1, 0, 1, 1, 0]])


def _labels(n, c, t, seed=0):
    g = torch.Generator().manual_seed(seed)
    return F.one_hot(torch.randint(0, c, (n, t), generator=g), c).permute(0, 2, 1).double()   # [N, C, T]


# -- Dense ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["identity", "relu", "tanh", "softmax"])
def test_dense_2d_equals_linear(activation, dtype, device):
    layer = Dense(4, 3, activation=activation).to(device=device, dtype=dtype)
    x = torch.randn(5, 3, dtype=dtype, device=device)
    want = get_activation(activation)(x @ layer.weight.T + layer.bias)
    torch.testing.assert_close(layer(x), want)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_dense_3d_equals_a_loop_over_steps_and_zeroes_masked_steps(dtype, device):
    layer = Dense(4, 3, activation="softmax").to(device=device, dtype=dtype)
    x = torch.randn(3, 3, 5, dtype=dtype, device=device)                         # [N, F, T]
    steps = torch.stack([layer(x[:, :, t]) for t in range(5)], dim=2)           # [N, H, T]
    torch.testing.assert_close(layer(x), steps)
    mask = MASK.to(device)
    y = layer(x, mask)
    keep = (mask != 0).unsqueeze(1).expand_as(y)
    assert torch.all(y[~keep] == 0)
    torch.testing.assert_close(y[keep], steps[keep])


def test_dense_row_mask_on_2d_input():
    layer = Dense(2, 3)
    x = torch.randn(4, 3)
    y = layer(x, torch.tensor([1.0, 0.0, 1.0, 0.0]))
    assert torch.all(y[[1, 3]] == 0)
    torch.testing.assert_close(y[[0, 2]], layer(x)[[0, 2]])
    torch.testing.assert_close(layer(x, torch.tensor([[1.0], [0.0], [1.0], [0.0]])), y)


def test_dense_lazy_build_follows_input_dtype_and_init():
    layer = Dense(50, activation="relu")
    assert not layer.built and layer.weight is None and layer.n_out == 50
    y = layer(torch.randn(2, 40, dtype=torch.float64))
    assert layer.built and layer.n_in == 40 and y.dtype == torch.float64
    assert layer.weight.shape == (50, 40) and layer.weight.dtype == torch.float64
    assert torch.all(layer.bias == 0)
    bound = math.sqrt(6.0 / (40 + 50))                                           # Glorot uniform
    assert layer.weight.abs().max() <= bound
    assert layer.weight.abs().max() > 0.8 * bound
    layer.build(40)                                                              # same size: no-op
    with pytest.raises(ConfigError):
        layer.build(41)


def test_dense_without_bias():
    layer = Dense(3, 2, use_bias=False)
    assert layer.bias is None and len(list(layer.parameters())) == 1
    x = torch.randn(4, 2)
    torch.testing.assert_close(layer(x), x @ layer.weight.T)
    assert "use_bias=False" in repr(layer)


def test_dense_output_shape():
    assert Dense(7).output_shape((3,)) == (7,)
    assert Dense(7).output_shape((3, None)) == (7, None)
    assert Dense(7, 3).output_shape((3, 12)) == (7, 12)
    with pytest.raises(ConfigError, match="n_in=3 but the input has 4"):
        Dense(7, 3).output_shape((4, 12))
    with pytest.raises(ConfigError, match="rank"):
        Dense(7).output_shape((3, 4, 5))
    with pytest.raises(ConfigError, match="must be known"):
        Dense(7).output_shape((None, 4))


@pytest.mark.parametrize("bad", [0, -2, 2.5, True, "3", None])
def test_dense_bad_n_out(bad):
    with pytest.raises(ConfigError, match="n_out must be a positive int"):
        Dense(bad)


def test_dense_input_errors():
    layer = Dense(3, 2)
    with pytest.raises(ValueError, match=r"expected input \[N, F\] or \[N, F, T\], got shape \(2, 2, 2, 2\)"):
        layer(torch.randn(2, 2, 2, 2))
    with pytest.raises(ValueError, match="expected 2 input features"):
        layer(torch.randn(4, 5))
    with pytest.raises(ValueError, match=r"mask must be \[N, T\]"):
        layer(torch.randn(2, 2, 3), torch.ones(2, 4))
    with pytest.raises(ValueError, match="row mask"):
        layer(torch.randn(4, 2), torch.ones(3))
    with pytest.raises(ConfigError, match="Dense: unknown activation 'nope'; allowed names: .*softmax"):
        Dense(3, activation="nope")


# -- Keras parity --------------------------------------------------------------------------------
@pytest.mark.parametrize("activation", ["linear", "relu", "tanh", "sigmoid", "softmax", "hard_sigmoid"])
def test_dense_keras_parity(activation):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(0)
    theirs = keras.layers.Dense(4, activation=activation)
    theirs.build((None, 3))
    kernel, bias = rng.normal(size=(3, 4)).astype("float32"), rng.normal(size=(4,)).astype("float32")
    theirs.set_weights([kernel, bias])
    ours = Dense(4, activation=activation).set_keras_weights(theirs.get_weights())
    assert ours.n_in == 3
    x = rng.normal(size=(5, 3)).astype("float32")
    want = keras.ops.convert_to_numpy(theirs(x))
    torch.testing.assert_close(ours(torch.as_tensor(x)).detach(), torch.as_tensor(want), atol=1e-5, rtol=1e-5)
    # Keras applies Dense on the last axis of [N, T, F]; seqkit on [N, F, T]
    x3 = rng.normal(size=(2, 6, 3)).astype("float32")                            # NWC
    want3 = keras.ops.convert_to_numpy(theirs(x3))                               # [N, T, H]
    got3 = ours(torch.as_tensor(x3).permute(0, 2, 1)).detach().permute(0, 2, 1)
    # softmax: Keras's is over the last axis and seqkit's over dim 1, the units in both layouts
    torch.testing.assert_close(got3, torch.as_tensor(want3), atol=1e-5, rtol=1e-5)
    for a, b in zip(ours.get_keras_weights(), theirs.get_weights()):
        np.testing.assert_array_equal(a, b)


def test_keras_weights_round_trip_and_errors():
    layer = Dense(3, 2)
    kernel, bias = np.arange(6, dtype="float32").reshape(2, 3), np.array([1, 2, 3], dtype="float32")
    layer.set_keras_weights([kernel, bias])
    got = layer.get_keras_weights()
    np.testing.assert_array_equal(got[0], kernel)
    np.testing.assert_array_equal(got[1], bias)
    torch.testing.assert_close(layer(torch.tensor([[1.0, 1.0]])), torch.tensor([[4.0, 7.0, 10.0]]))
    with pytest.raises(ValueError, match="expected 2 Keras arrays"):
        layer.set_keras_weights([kernel])
    with pytest.raises(ValueError, match=r"kernel must be \(n_in, 3\)"):
        layer.set_keras_weights([kernel.T, bias])
    with pytest.raises(ValueError, match="n_in=2"):
        layer.set_keras_weights([np.zeros((4, 3)), bias])
    with pytest.raises(ValueError, match=r"bias must be \(3,\)"):
        layer.set_keras_weights([kernel, np.zeros(4)])
    with pytest.raises(ConfigError, match="not built"):
        Dense(3).get_keras_weights()
    nobias = Dense(3, use_bias=False).set_keras_weights([kernel])
    assert len(nobias.get_keras_weights()) == 1


# -- Output ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_output_forward_is_probabilities_and_score_is_stable(device):
    layer = Output(4, 3).double().to(device)
    x = torch.randn(6, 3, dtype=torch.float64, device=device)
    p = layer(x)
    torch.testing.assert_close(p.sum(dim=1), torch.ones(6, dtype=torch.float64, device=device))
    y = F.one_hot(torch.tensor([0, 1, 2, 3, 0, 1]), 4).double().to(device)
    z = layer.preactivation(x)
    torch.testing.assert_close(layer.score(z, y), F.cross_entropy(z, y, reduction="sum") / 6)
    torch.testing.assert_close(layer.score(p, y, preactivation=False), layer.score(z, y))
    torch.testing.assert_close(layer.score_input(x, y), layer.score(z, y))
    mask = torch.tensor([1, 1, 0, 1, 0, 1.0], device=device)
    torch.testing.assert_close(layer.score_examples(z, y, mask),
                               F.cross_entropy(z, y, reduction="none") * mask)


def test_output_takes_only_2d_and_reports_loss():
    layer = Output(3, 2, activation="sigmoid", loss="xent")
    with pytest.raises(ValueError, match=r"expected input \[N, F\], got shape \(2, 2, 4\)"):
        layer(torch.randn(2, 2, 4))
    assert layer.loss_fn.name == "xent"
    assert "loss='xent'" in repr(layer)
    assert layer.output_shape((2,)) == (3,)
    with pytest.raises(ConfigError, match="Output: unknown loss 'hinge'; allowed names: mae, mcxent"):
        Output(3, loss="hinge")
    with pytest.raises(ConfigError, match="RnnOutput: unknown activation"):
        RnnOutput(3, activation="soft_max")
    with pytest.raises(ConfigError, match="RnnLoss: unknown loss"):
        RnnLoss(loss="ctc")
    assert all(isinstance(cls(3), LossHead) for cls in (Output, RnnOutput))
    assert isinstance(RnnLoss(), LossHead)
    assert not isinstance(Dense(3), LossHead)


# -- RnnOutput ------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("activation", ["softmax", "identity", "sigmoid"])
def test_rnn_output_exact_zeros_at_masked_steps(activation, dtype, device):
    """dl4j.md §8 #6: output is exactly 0.0 at masked steps."""
    layer = RnnOutput(4, 3, activation=activation).to(device=device, dtype=dtype)
    with torch.no_grad():
        layer.bias.fill_(0.7)                            # nonzero even for zero input
    x = torch.randn(3, 3, 5, dtype=dtype, device=device)
    mask = MASK.to(device)
    y = layer(x, mask)
    masked = (mask == 0).unsqueeze(1).expand_as(y)
    assert torch.all(y[masked] == 0.0)
    assert torch.all(y[~masked] != 0.0)
    torch.testing.assert_close(y[~masked], layer(x)[~masked])


def test_rnn_output_per_step_dense_and_score():
    layer = RnnOutput(3, 2).double()
    x = torch.randn(3, 2, 5, dtype=torch.float64)
    z = layer.preactivation(x)
    want_z = torch.einsum("hf,nft->nht", layer.weight, x) + layer.bias[None, :, None]
    torch.testing.assert_close(z, want_z)
    y = _labels(3, 3, 5)
    mask = MASK.double()
    per_step = F.cross_entropy(want_z, y, reduction="none")                      # [N, T]
    torch.testing.assert_close(layer.score(z, y, mask), (per_step * mask).sum() / 3)
    torch.testing.assert_close(layer.score(z, y, mask, reduction="per_step"), per_step[mask == 1].mean())
    assert layer.output_shape((2, None)) == (3, None)


def test_rnn_output_errors():
    layer = RnnOutput(3, 2)
    with pytest.raises(ValueError, match=r"expected input \[N, F, T\]"):
        layer(torch.randn(4, 2))
    with pytest.raises(ValueError, match="sequence lengths do not match"):
        layer.score_input(torch.randn(2, 2, 5), torch.rand(2, 3, 6))
    with pytest.raises(ConfigError):
        layer.output_shape((2,))


# -- RnnLoss --------------------------------------------------------------------------------------
def test_rnn_loss_has_no_parameters_and_scores():
    layer = RnnLoss(activation="softmax", loss="mcxent")
    assert list(layer.parameters()) == [] and layer.n_out is None
    x = torch.randn(3, 4, 5, dtype=torch.float64)
    y = layer(x, MASK)
    assert layer.n_in == layer.n_out == 4
    assert torch.all(y.permute(0, 2, 1)[MASK == 0] == 0)
    torch.testing.assert_close(y.permute(0, 2, 1)[MASK == 1], torch.softmax(x, 1).permute(0, 2, 1)[MASK == 1])
    labels = _labels(3, 4, 5)
    want = (F.cross_entropy(x, labels, reduction="none") * MASK).sum() / 3
    torch.testing.assert_close(layer.score_input(x, labels, MASK.double()), want)
    assert layer.output_shape((4, 9)) == (4, 9)
    with pytest.raises(ConfigError):
        layer.output_shape((4,))
    with pytest.raises(ValueError, match=r"expected input \[N, C, T\]"):
        layer(torch.randn(3, 4))
    assert "loss='mcxent'" in repr(layer)


# -- gradcheck ------------------------------------------------------------------------------------
def test_gradcheck_dense_and_output_layers():
    mask = MASK[:2].double()
    x3 = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    x2 = torch.randn(4, 3, dtype=torch.float64, requires_grad=True)
    dense = Dense(2, 3, activation="tanh").double()
    assert torch.autograd.gradcheck(lambda v: dense(v, mask), (x3,))
    assert torch.autograd.gradcheck(lambda v: dense(v), (x2,))
    rnn_out = RnnOutput(4, 3).double()
    labels = _labels(2, 4, 5)
    assert torch.autograd.gradcheck(lambda v: rnn_out(v, mask), (x3,))
    assert torch.autograd.gradcheck(lambda v: rnn_out.score_input(v, labels, mask), (x3,))
    w = rnn_out.weight.detach().clone().requires_grad_(True)                    # gradient wrt the weights
    b = rnn_out.bias.detach()[None, :, None]
    assert torch.autograd.gradcheck(
        lambda wt: rnn_out.score(torch.einsum("hf,nft->nht", wt, x3.detach()) + b, labels, mask), (w,))
    out = Output(3, 3, activation="sigmoid", loss="xent").double()
    y2 = torch.rand(4, 3, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda v: out.score_input(v, y2, torch.tensor([1.0, 0, 1, 1])), (x2,))
    loss_layer = RnnLoss(3, activation="softmax", loss="mse")
    y3 = torch.rand(2, 3, 5, dtype=torch.float64)
    assert torch.autograd.gradcheck(
        lambda v: loss_layer.score_input(v, y3, mask, reduction="per_step"), (x3,))
    assert torch.autograd.gradcheck(lambda v: loss_layer(v, mask), (x3,))
