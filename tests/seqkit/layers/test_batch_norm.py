"""BatchNorm: statistics over real steps only, Keras's momentum and weights, padding, gradients.

Keras parity (Keras 3 on its torch backend, pinned to the CPU) is on
unpadded data; padded batches are held to a plain masked reference and to
Keras with the same boolean mask at the real steps.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import seqkit
from seqkit import ConfigError, InputType, Sequential
from seqkit import layers as L
from seqkit.layers import BatchNorm, layer_trait

N, F, T = 3, 4, 6
MASK = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 0, 1]]


def _data(seed=0, dtype=torch.float64, junk=True):
    """``[N, F, T]`` features (junk at the padded steps when ``junk``) and the ``[N, T]`` mask."""
    gen = torch.Generator().manual_seed(seed)
    x = 2.0 + 3.0 * torch.randn(N, F, T, dtype=dtype, generator=gen)
    mask = torch.tensor(MASK, dtype=dtype)
    if junk:
        x = torch.where(mask[:, None, :] != 0, x, 1e3 * torch.randn(N, F, T, dtype=dtype, generator=gen))
    return x, mask


def _masked_stats(x: torch.Tensor, mask: torch.Tensor):
    """Mean and biased variance per feature over the real steps, by selecting them."""
    real = x.permute(0, 2, 1)[mask != 0]                                 # [real steps, F]
    return real.mean(0), real.var(0, unbiased=False)


def _randomised(layer: BatchNorm, seed=1) -> BatchNorm:
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        layer.weight.copy_(1.0 + 0.5 * torch.randn(layer.weight.shape, generator=gen))
        layer.bias.copy_(0.5 * torch.randn(layer.bias.shape, generator=gen))
        layer.running_mean.copy_(torch.randn(layer.running_mean.shape, generator=gen))
        layer.running_var.copy_(0.5 + torch.rand(layer.running_var.shape, generator=gen))
    return layer


# -- training: batch statistics over the real steps --------------------------------------------------
def test_training_uses_the_statistics_of_the_real_steps_only():
    x, mask = _data()
    layer = _randomised(BatchNorm(F, momentum=0.9).double())
    before_mean, before_var = layer.running_mean.clone(), layer.running_var.clone()
    y = layer(x, mask)
    mean, var = _masked_stats(x, mask)
    want = (x - mean[None, :, None]) / torch.sqrt(var[None, :, None] + 1e-3) \
        * layer.weight[None, :, None] + layer.bias[None, :, None]
    real = (mask != 0)[:, None, :].expand_as(x)
    torch.testing.assert_close(y[real], want[real].detach(), rtol=1e-12, atol=1e-12)
    assert (y[~real] == 0).all()
    torch.testing.assert_close(layer.running_mean, 0.9 * before_mean + 0.1 * mean)
    torch.testing.assert_close(layer.running_var, 0.9 * before_var + 0.1 * var)


def test_training_is_the_same_however_the_examples_are_padded():
    """Batch statistics depend on the batch, never on the padding."""
    x, mask = _data()
    layer = BatchNorm(F).double()
    lengths = mask.sum(1).long()
    steps = [x[n][:, mask[n] != 0] for n in range(N)]                   # each example's real steps
    outputs, stats = [], []
    for arrangement in ("right", "left", "long"):
        t = int(lengths.max()) + (3 if arrangement == "long" else 0)
        xp = 50.0 * torch.randn(N, F, t, dtype=torch.float64)           # junk everywhere first
        mp = torch.zeros(N, t, dtype=torch.float64)
        for n, s in enumerate(steps):
            start = t - s.shape[1] if arrangement == "left" else 0
            xp[n, :, start:start + s.shape[1]] = s
            mp[n, start:start + s.shape[1]] = 1.0
        layer.reset_parameters()
        y = layer(xp, mp)
        outputs.append([y[n][:, mp[n] != 0] for n in range(N)])
        stats.append((layer.running_mean.clone(), layer.running_var.clone()))
    for other, other_stats in zip(outputs[1:], stats[1:]):
        for a, b in zip(outputs[0], other):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
        torch.testing.assert_close(stats[0][0], other_stats[0])
        torch.testing.assert_close(stats[0][1], other_stats[1])


def test_nan_in_the_padding_reaches_neither_the_output_nor_the_gradients():
    x, mask = _data()
    x = torch.where(mask[:, None, :] != 0, x, torch.full_like(x, float("nan"))).requires_grad_()
    layer = BatchNorm(F).double()
    y = layer(x, mask)
    assert torch.isfinite(y).all() and torch.isfinite(layer.running_mean).all()
    y.square().sum().backward()
    assert torch.isfinite(x.grad).all() and torch.isfinite(layer.weight.grad).all()
    assert (x.grad.permute(0, 2, 1)[mask == 0] == 0).all()


def test_a_batch_with_no_real_step_leaves_the_running_statistics_alone():
    layer = _randomised(BatchNorm(F))
    before = layer.running_mean.clone(), layer.running_var.clone()
    x = torch.randn(2, F, 3, requires_grad=True)
    y = layer(x, torch.zeros(2, 3))
    assert (y == 0).all()
    y.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert torch.equal(layer.running_mean, before[0]) and torch.equal(layer.running_var, before[1])


def test_vectors_with_and_without_a_row_mask():
    x = torch.randn(5, F, dtype=torch.float64)
    layer = BatchNorm(momentum=0.0).double()
    y = layer(x)
    torch.testing.assert_close(y, (x - x.mean(0)) / torch.sqrt(x.var(0, unbiased=False) + 1e-3))
    rows = torch.tensor([1.0, 1, 0, 1, 0], dtype=torch.float64)
    y = layer(x, rows)
    real = x[rows != 0]
    torch.testing.assert_close(y[rows != 0], (real - real.mean(0)) / torch.sqrt(real.var(0, unbiased=False) + 1e-3))
    assert (y[rows == 0] == 0).all()
    torch.testing.assert_close(layer.running_mean, real.mean(0))      # momentum 0: the last batch's


# -- inference: the running statistics, step by step --------------------------------------------------
def test_eval_uses_the_running_statistics_and_zeroes_padding():
    x, mask = _data()
    layer = _randomised(BatchNorm(F).double()).eval()
    before = layer.running_mean.clone()
    y = layer(x, mask)
    want = (x - layer.running_mean[None, :, None]) / torch.sqrt(layer.running_var[None, :, None] + 1e-3) \
        * layer.weight[None, :, None] + layer.bias[None, :, None]
    real = (mask != 0)[:, None, :].expand_as(x)
    torch.testing.assert_close(y[real], want[real].detach())
    assert (y[~real] == 0).all()
    assert torch.equal(layer.running_mean, before)
    for n in range(N):                                                   # alone, without padding
        keep = mask[n] != 0
        torch.testing.assert_close(y[n][:, keep], layer(x[n:n + 1, :, keep])[0], rtol=0, atol=1e-12)


def test_momentum_is_keras_convention_and_torch_is_one_minus_it():
    x = torch.randn(8, F, 5)
    ours, theirs = BatchNorm(F, momentum=0.9), torch.nn.BatchNorm1d(F, momentum=0.1)
    for _ in range(3):
        ours(x)
        theirs(x)
    torch.testing.assert_close(ours.running_mean, theirs.running_mean)
    # torch's running variance is the unbiased one; seqkit's (and Keras's) the biased one
    count = x.shape[0] * x.shape[2]
    biased_to_unbiased = count / (count - 1)
    expected = 0.729 * 1.0 + (1 - 0.729) * x.var((0, 2), unbiased=False)
    torch.testing.assert_close(ours.running_var, expected)
    torch.testing.assert_close(theirs.running_var, 0.729 + (1 - 0.729) * x.var((0, 2), unbiased=False)
                               * biased_to_unbiased)


# -- Keras -------------------------------------------------------------------------------------------
def _keras():
    return pytest.importorskip("keras")


def _keras_pair(seed=0):
    keras = _keras()
    with keras.device("cpu"):
        k = keras.layers.BatchNormalization(momentum=0.9)
        k.build((N, T, F))
        rng = np.random.default_rng(seed)
        weights = [rng.normal(size=F).astype(np.float32) + 1.0, rng.normal(size=F).astype(np.float32),
                   rng.normal(size=F).astype(np.float32), rng.uniform(0.5, 2.0, size=F).astype(np.float32)]
        k.set_weights(weights)
    ours = BatchNorm(momentum=0.9).set_keras_weights(weights)
    return keras, k, ours, weights


def _np(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else np.asarray(t)


@pytest.mark.parametrize("training", [False, True])
def test_matches_keras_batch_normalization_on_unpadded_data(training):
    keras, k, ours, _ = _keras_pair()
    x = np.random.default_rng(1).normal(loc=1.0, scale=2.0, size=(N, T, F)).astype(np.float32)
    with keras.device("cpu"):
        want = _np(k(x, training=training))
    ours.train(training)
    got = ours(torch.as_tensor(x).permute(0, 2, 1)).detach().numpy().transpose(0, 2, 1)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-5)
    for a, b in zip(ours.get_keras_weights(), k.get_weights()):         # moving statistics too
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_matches_keras_with_a_mask_at_the_real_steps():
    keras, k, ours, _ = _keras_pair()
    x = np.random.default_rng(2).normal(size=(N, T, F)).astype(np.float32)
    mask = np.array(MASK, bool)
    with keras.device("cpu"):
        want = _np(k(x, training=True, mask=mask))
    got = ours(torch.as_tensor(x).permute(0, 2, 1), torch.as_tensor(mask, dtype=torch.float32))
    got = got.detach().numpy().transpose(0, 2, 1)
    np.testing.assert_allclose(got[mask], want[mask], rtol=1e-5, atol=1e-5)
    assert (got[~mask] == 0).all()
    for a, b in zip(ours.get_keras_weights(), k.get_weights()):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-5)


def test_keras_weight_order_and_round_trip():
    _, k, ours, weights = _keras_pair()
    assert [w.path.rsplit("/", 1)[-1] for w in k.weights] == ["gamma", "beta", "moving_mean", "moving_variance"]
    for a, b in zip(ours.get_keras_weights(), weights):
        np.testing.assert_array_equal(a, b)
    assert ours.n_in == F and ours.built
    again = BatchNorm(F).set_keras_weights([torch.as_tensor(w) for w in weights])
    assert torch.equal(again.running_var, ours.running_var)


@pytest.mark.parametrize("weights, match", [
    ([np.ones(4)] * 3, r"expected 4 Keras arrays \[gamma, beta, moving_mean, moving_variance\], got 3"),
    ([np.ones(4)] * 3 + [np.ones(5)], r"Keras moving_variance must have shape \(4,\), got \(5,\)"),
    ([np.ones((4, 1))] * 4, r"Keras gamma must have shape \(F,\), got \(4, 1\)"),
    (np.ones((4, 4)), "set_keras_weights takes a list of arrays"),
])
def test_keras_weight_errors(weights, match):
    with pytest.raises(ValueError, match=match):
        BatchNorm().set_keras_weights(weights)


def test_keras_weights_of_a_built_layer_must_fit_it():
    with pytest.raises(ValueError, match=r"Keras gamma must have shape \(3,\), got \(4,\)"):
        BatchNorm(3).set_keras_weights([np.ones(4)] * 4)
    with pytest.raises(ConfigError, match="BatchNorm: not built yet"):
        BatchNorm().get_keras_weights()


# -- construction, shapes, description ------------------------------------------------------------
@pytest.mark.parametrize("kwargs, match", [
    (dict(momentum=1.5), r"momentum must be a number in \[0, 1\]"),
    (dict(momentum=-0.1), r"momentum must be a number in \[0, 1\]"),
    (dict(momentum=True), "momentum must be a number"),
    (dict(momentum="0.9"), "momentum must be a number"),
    (dict(eps=0.0), "eps must be a positive number, got 0.0"),
    (dict(eps=float("nan")), "eps must be a positive number"),
    (dict(eps="small"), "eps must be a positive number"),
    (dict(n_in=-1), "n_in must be a positive int"),
])
def test_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        BatchNorm(**kwargs)


def test_input_errors_and_shapes():
    with pytest.raises(ValueError, match=r"BatchNorm: expected input \[N, F\] or \[N, F, T\], got \(2, 3, 4, 4\)"):
        BatchNorm()(torch.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"BatchNorm: mask must be \[N, T\]"):
        BatchNorm()(torch.randn(2, 3, 4), torch.ones(2, 5))
    assert BatchNorm().output_shape((5, None)) == (5, None)
    assert BatchNorm(5).output_shape((5,)) == (5,)
    with pytest.raises(ConfigError, match=r"BatchNorm: expected input \[N, F\] or \[N, F, T\], got \(N, 3, 4, 4\)"):
        BatchNorm().output_shape((3, 4, 4))
    with pytest.raises(ConfigError, match="n_in=5 but the input has 4 features"):
        BatchNorm(5).output_shape((4, None))
    layer = BatchNorm()
    assert layer.n_out is None and layer_trait(layer, "input_layouts") == {"vectors", "sequences"}
    assert not layer_trait(layer, "needs_time") and not layer_trait(layer, "mixes_steps")
    assert "momentum=0.99" in repr(BatchNorm(2))


def test_buffers_are_saved_and_follow_the_dtype():
    layer = BatchNorm(3).double()
    assert layer.running_var.dtype == torch.float64
    assert set(layer.state_dict()) == {"weight", "bias", "running_mean", "running_var"}


def test_low_precision_is_normalised_in_float32():
    x, mask = _data(dtype=torch.float32, junk=False)
    ref = BatchNorm(F)
    want = ref(x.bfloat16().float(), mask)
    got = BatchNorm(F)(x.bfloat16(), mask)
    assert got.dtype == torch.bfloat16
    torch.testing.assert_close(got.float(), want, rtol=2e-2, atol=2e-2)


# -- gradients --------------------------------------------------------------------------------------
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("masked", [False, True])
def test_gradcheck(training, masked):
    x, mask = _data(junk=False)
    layer = _randomised(BatchNorm(F).double()).train(training)
    mask = mask if masked else None
    params = dict(layer.named_parameters())

    def fn(xv, w, b):
        return torch.func.functional_call(layer, {"weight": w, "bias": b}, (xv, mask))
    leaves = [t.detach().clone().requires_grad_() for t in (x, params["weight"], params["bias"])]
    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-5)


# -- in a network ---------------------------------------------------------------------------------
def test_in_a_network_fit_trains_in_train_mode_and_output_uses_running_statistics(tmp_path):
    net = Sequential([L.Conv1D(3, 2), BatchNorm(momentum=0.5), L.LSTM(3), L.RnnOutput(2)],
                     input_type=InputType.recurrent(2), seed=0)
    rng = np.random.default_rng(0)
    x = rng.normal(loc=3.0, size=(4, 2, 5)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, size=(4, 5))].transpose(0, 2, 1)
    mask = np.ones((4, 5), np.float32)
    mask[1, 3:] = 0
    net.fit((x, y, mask, mask), epochs=2, batch_size=4, progress=False)
    assert not torch.equal(net.layers[1].running_mean, torch.zeros(3))
    net.save(tmp_path / "bn.seqkit")
    loaded = seqkit.load(tmp_path / "bn.seqkit")
    assert torch.equal(loaded.layers[1].running_var, net.layers[1].running_var)
    np.testing.assert_array_equal(loaded.output(x, mask), net.output(x, mask))
