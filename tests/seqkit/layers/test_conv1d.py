"""Conv1D: against a written-out convolution, causality, masks, Keras parity, gradcheck, networks."""

import numpy as np
import pytest
import torch
from torch import nn

import seqkit
from seqkit import ConfigError, InputType, Sequential
from seqkit.layers import LSTM, Conv1D, Dense, LastTimeStep, Output, RnnOutput, TimeDistributed

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
CASES = [  # kernel_size, dilation, padding
    (1, 1, "causal"), (2, 1, "causal"), (3, 2, "causal"),
    (1, 1, "same"), (2, 1, "same"), (3, 1, "same"), (4, 2, "same"),
]


def _reference(layer: Conv1D, x: torch.Tensor) -> torch.Tensor:
    """The docstring's sum over taps, step by step, with zeros outside 0..T-1."""
    k, d = layer.kernel_size, layer.dilation
    left = (k - 1) * d if layer.padding == "causal" else ((k - 1) * d) // 2
    n, _, t = x.shape
    out = torch.zeros(n, layer.n_out, t, dtype=x.dtype)
    for step in range(t):
        acc = layer.bias.detach().clone().expand(n, -1).clone() if layer.bias is not None else 0.0
        for j in range(k):
            src = step - left + j * d
            if 0 <= src < t:
                acc = acc + x[:, :, src] @ layer.weight.detach()[:, :, j].T
        out[:, :, step] = acc
    return layer.activation(out)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("k,d,padding", CASES)
def test_equals_the_written_out_convolution(k, d, padding, device):
    layer = Conv1D(4, k, 3, dilation=d, padding=padding, activation="tanh").double()
    with torch.no_grad():
        layer.bias.uniform_(-0.5, 0.5)
    x = torch.randn(2, 3, 7, dtype=torch.float64)
    want = _reference(layer, x)
    got = layer.to(device)(x.to(device))
    assert got.shape == (2, 4, 7)                                       # T kept
    torch.testing.assert_close(got.cpu(), want)
    assert layer.output_shape((3, None)) == (4, None) and layer.output_shape((3, 7)) == (4, 7)


@pytest.mark.parametrize("k,d", [(2, 1), (3, 2), (5, 1)])
def test_causal_output_never_sees_a_later_step(k, d):
    layer = Conv1D(2, k, 3, dilation=d)
    x = torch.randn(1, 3, 9)
    base = layer(x)
    for t in range(9):
        changed = x.clone()
        changed[:, :, t + 1:] += 10.0                                    # change the future only
        torch.testing.assert_close(layer(changed)[:, :, :t + 1], base[:, :, :t + 1])
    assert layer.receptive_field == (k - 1) * d + 1


def test_same_padding_does_see_later_steps():
    layer = Conv1D(2, 3, 3, padding="same")
    x = torch.randn(1, 3, 6)
    changed = x.clone()
    changed[:, :, 4] += 10.0
    assert not torch.allclose(layer(changed)[:, :, 3], layer(x)[:, :, 3])


@pytest.mark.parametrize("padding", ["causal", "same"])
def test_mask_zeroes_outputs_and_padding_at_either_end_equals_the_example_alone(padding):
    layer = Conv1D(3, 3, 2, padding=padding, activation="relu")
    with torch.no_grad():
        layer.bias.fill_(0.3)                                            # so zeros are not free
    x = torch.randn(2, 2, 7)
    mask = torch.tensor([[1, 1, 1, 1, 1, 0, 0],                          # right padding
                         [0, 0, 1, 1, 1, 1, 1.]])                        # left padding
    y = layer(x, mask)
    assert (y.permute(0, 2, 1)[mask == 0] == 0).all()
    torch.testing.assert_close(y[0:1, :, :5], layer(x[0:1, :, :5]))
    torch.testing.assert_close(y[1:2, :, 2:], layer(x[1:2, :, 2:]))
    garbage = x.clone()
    garbage[mask.unsqueeze(1).expand_as(x) == 0] = 1e3                   # values at masked steps
    torch.testing.assert_close(layer(garbage, mask), y)                  # change nothing


def test_a_gap_is_seen_as_zeros():
    layer = Conv1D(2, 2, 1, use_bias=False)
    x = torch.ones(1, 1, 4)
    mask = torch.tensor([[1, 0, 1, 1.]])
    zeroed = x.clone()
    zeroed[0, 0, 1] = 0.0
    want = layer(zeroed) * mask
    torch.testing.assert_close(layer(x, mask), want)


@pytest.mark.parametrize("padding", ["causal", "same"])
def test_gradcheck_input_weight_and_bias_with_mask(padding):
    layer = Conv1D(2, 3, 3, dilation=2, padding=padding, activation="tanh").double()
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [0, 1, 1, 0, 1, 1.]], dtype=torch.float64)
    x = torch.randn(2, 3, 6, dtype=torch.float64, requires_grad=True)
    w = layer.weight.detach().clone().requires_grad_()
    b = layer.bias.detach().clone().requires_grad_()

    def run(v, weight, bias):
        return torch.func.functional_call(layer, {"weight": weight, "bias": bias}, (v, mask))

    assert torch.autograd.gradcheck(run, (x, w, b))


def test_lazy_build_init_and_repr():
    layer = Conv1D(8, 3)
    assert not layer.built and layer.n_in is None
    y = layer(torch.randn(2, 5, 4))
    assert layer.built and layer.n_in == 5 and y.shape == (2, 8, 4)
    assert layer.weight.shape == (8, 5, 3) and layer.bias.shape == (8,)
    bound = (6.0 / ((5 + 8) * 3)) ** 0.5                                  # Glorot with the kernel length
    assert layer.weight.abs().max() <= bound and (layer.bias == 0).all()
    assert "kernel_size=3" in repr(layer) and "padding='causal'" in repr(layer)
    assert Conv1D(2, 2, 3, use_bias=False).bias is None


@pytest.mark.parametrize("kwargs,match", [
    (dict(padding="valid"), r"Conv1D: padding='valid' is not offered: it shortens T .*mask"),
    (dict(padding="full"), r"Conv1D: padding must be one of causal, same, got 'full'"),
    (dict(dilation=0), r"Conv1D: dilation must be a positive int, got 0"),
    (dict(activation="relu7"), r"Conv1D: unknown activation 'relu7'"),
    (dict(kernel_size=0), r"Conv1D: kernel_size must be a positive int, got 0"),
    (dict(n_out=2.5), r"Conv1D: n_out must be a positive int, got 2.5"),
])
def test_config_errors(kwargs, match):
    args = {"n_out": 2, "kernel_size": 3, **kwargs}
    with pytest.raises(ConfigError, match=match):
        Conv1D(**args)


def test_stride_is_not_an_argument():
    with pytest.raises(TypeError):
        Conv1D(2, 3, stride=2)                                           # would change T


def test_input_errors():
    layer = Conv1D(2, 3, 4)
    with pytest.raises(ValueError, match=r"Conv1D: expected sequences \[N, F, T\], got shape \(2, 4\)"):
        layer(torch.randn(2, 4))
    with pytest.raises(ValueError, match=r"Conv1D: expected 4 input features"):
        layer(torch.randn(2, 3, 5))
    with pytest.raises(ValueError, match=r"Conv1D: mask must be \[N, T\] = \[2, 5\]"):
        layer(torch.randn(2, 4, 5), torch.ones(2, 4))
    with pytest.raises(ConfigError, match=r"Conv1D: expected sequences \(N, F, T\), got \(N, 4\)"):
        layer.output_shape((4,))
    with pytest.raises(ConfigError, match=r"Conv1D: n_in=4 but the input has 3 features"):
        layer.output_shape((3, None))


def test_keras_weight_errors():
    layer = Conv1D(3, 2)
    with pytest.raises(ValueError, match=r"Conv1D: expected 2 Keras arrays, got 1"):
        layer.set_keras_weights([np.zeros((2, 4, 3))])
    with pytest.raises(ValueError, match=r"Conv1D: Keras kernel must be \(2, n_in, 3\), got \(3, 4, 3\)"):
        layer.set_keras_weights([np.zeros((3, 4, 3)), np.zeros(3)])
    with pytest.raises(ValueError, match=r"Conv1D: Keras bias must be \(3,\), got \(2,\)"):
        layer.set_keras_weights([np.zeros((2, 4, 3)), np.zeros(2)])
    with pytest.raises(ConfigError, match=r"Conv1D: not built yet"):
        Conv1D(3, 2).get_keras_weights()
    built = Conv1D(3, 2, 5)
    with pytest.raises(ValueError, match=r"Keras kernel has 4 input channels, layer has n_in=5"):
        built.set_keras_weights([np.zeros((2, 4, 3)), np.zeros(3)])


@pytest.mark.parametrize("padding", ["same", "causal"])
@pytest.mark.parametrize("k,d", [(1, 1), (2, 1), (3, 1), (3, 2), (4, 3)])
def test_keras_parity(k, d, padding):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(k * 10 + d)
    theirs = keras.layers.Conv1D(4, k, padding=padding, dilation_rate=d, activation="tanh")
    x = rng.normal(size=(2, 9, 3)).astype("float32")                      # NTC
    theirs.build(x.shape)
    theirs.set_weights([(rng.normal(size=w.shape) * 0.5).astype("float32") for w in theirs.get_weights()])
    want = keras.ops.convert_to_numpy(theirs(x))                          # [N, T, H]
    ours = Conv1D(4, k, dilation=d, padding=padding, activation="tanh")
    ours.set_keras_weights(theirs.get_weights())                          # builds n_in=3
    got = ours(torch.as_tensor(x).permute(0, 2, 1)).detach().permute(0, 2, 1)
    torch.testing.assert_close(got, torch.as_tensor(want), atol=1e-5, rtol=1e-5)
    for a, b in zip(ours.get_keras_weights(), theirs.get_weights()):      # exact round trip
        assert a.shape == b.shape
        np.testing.assert_array_equal(a, b)


# -- in a network -------------------------------------------------------------------------------
def test_conv1d_lstm_rnn_output_builds_from_the_input_type_and_trains():
    net = Sequential([Conv1D(6, 3, activation="relu"), LSTM(5), RnnOutput(2)],
                     input_type=InputType.recurrent(4), seed=0)
    assert [layer.n_in for layer in net.layers] == [4, 6, 5]
    assert net.output_shapes == [(6, None), (5, None), (2, None)]
    assert "Conv1D(4 -> 6, kernel 3, causal, relu)" in net.summary()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 7)).astype(np.float32)
    y = np.eye(2, dtype=np.float32)[rng.integers(0, 2, (3, 7))].transpose(0, 2, 1)
    mask = np.ones((3, 7), np.float32)
    mask[1, 5:] = 0
    before = net.score((x, y, mask, None))
    net.fit((x, y, mask, None), epochs=3)
    assert net.score((x, y, mask, None)) < before
    out = net.output(x, mask)
    assert out.shape == (3, 2, 7) and (out[1, :, 5:] == 0).all()


def test_last_time_step_wraps_conv1d():
    net = Sequential([LastTimeStep(Conv1D(5, 2)), Output(3)], input_type=InputType.recurrent(4), seed=0)
    assert net.output_shapes == [(5,), (3,)]
    conv = net.layers[0].inner
    x = torch.randn(2, 4, 6)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [0, 1, 1, 1, 1, 1.]])
    want = conv(x, mask)[torch.arange(2), :, torch.tensor([3, 5])]         # each example's last real step
    torch.testing.assert_close(net.layers[0](x, mask), want)
    torch.testing.assert_close(net.output(x, mask), net.layers[1](want))
    # and the standalone wrapper builds lazily from its first input
    alone = LastTimeStep(Conv1D(2, 3))
    assert alone(torch.randn(2, 4, 5)).shape == (2, 2)


def test_video_into_conv1d_gets_cnn_to_rnn():
    net = Sequential([Conv1D(4, 2), RnnOutput(2)], input_type=InputType.convolutional(3, 3, 2), seed=0)
    assert "0" in net.preprocessors and net.layers[0].n_in == 18
    assert net.output(torch.randn(2, 2, 5, 3, 3)).shape == (2, 2, 5)


def test_conv1d_after_vectors_is_an_error():
    with pytest.raises(ConfigError, match=r"layer 1 \(Conv1D\) works on sequences \[N, F, T\] but "
                                          r"layer 0 \(LastTimeStep\) gives vectors \[N, 4\]"):
        Sequential([LastTimeStep(LSTM(4)), Conv1D(3, 2), RnnOutput(2)], input_type=InputType.recurrent(3))


def test_tbptt_and_streaming_refuse_a_conv1d_that_looks_at_other_steps():
    with pytest.raises(ConfigError, match=r"layer 0 \(Conv1D\): TBPTT cannot train a Conv1D with "
                                          r"kernel_size > 1.*backprop='standard'"):
        Sequential([Conv1D(3, 2), LSTM(4), RnnOutput(2)], input_type=InputType.recurrent(3),
                   backprop="tbptt", tbptt_length=3)
    net = Sequential([Conv1D(3, 2), LSTM(4), RnnOutput(2)], input_type=InputType.recurrent(3))
    with pytest.raises(ValueError, match=r"rnn_time_step: layer 0 \(Conv1D\) is a Conv1D with "
                                         r"kernel_size > 1"):
        net.rnn_time_step(torch.randn(2, 3))
    # kernel_size 1 is per step: both work, and chunks equal the whole
    net = Sequential([Conv1D(3, 1), LSTM(4), RnnOutput(2)], input_type=InputType.recurrent(3),
                     backprop="tbptt", tbptt_length=3, seed=0)
    x = torch.randn(2, 3, 6)
    whole = net.output(x)
    chunks = torch.cat([net.rnn_time_step(x[:, :, :2]), net.rnn_time_step(x[:, :, 2:])], dim=2)
    torch.testing.assert_close(chunks, whole)


def test_plain_torch_modules_are_clear_errors():
    with pytest.raises(ConfigError, match=r"layer 0 \(Conv1d\): torch\.nn\.modules\.conv\.Conv1d is "
                                          r"a plain torch module.*use seqkit\.layers\.Conv1D"
                                          r".*TimeDistributed"):
        Sequential([nn.Conv1d(3, 4, 3), LSTM(4), RnnOutput(2)], input_type=InputType.recurrent(3))
    with pytest.raises(ConfigError, match=r"layer 1 \(Linear\): .*plain torch module"):
        Sequential([LSTM(4), nn.Linear(4, 2), RnnOutput(2)])             # at construction, unbuilt too
    # inside TimeDistributed a plain per-step module is fine
    net = Sequential([TimeDistributed(nn.Linear(3, 4)), RnnOutput(2)], input_type=InputType.recurrent(3))
    assert net.output(torch.randn(2, 3, 5)).shape == (2, 2, 5)


def test_round_trips_through_a_model_file(tmp_path):
    net = Sequential([Conv1D(4, 3, dilation=2, padding="same", activation="relu"), Dense(3),
                      RnnOutput(2)], input_type=InputType.recurrent(2), seed=1)
    net.save(tmp_path / "conv.seqkit")
    back = seqkit.load(tmp_path / "conv.seqkit")
    x = torch.randn(2, 2, 8)
    torch.testing.assert_close(back.output(x), net.output(x))
    assert back.layers[0].padding == "same" and back.layers[0].dilation == 2
