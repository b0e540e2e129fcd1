"""Sequential construction: shape inference, preprocessors, config errors, options, init, summary."""

import numpy as np
import pytest
import torch

import seqkit
from seqkit import ConfigError, InputType, Sequential
from seqkit.layers import (Bidirectional, CnnToRnn, Conv2D, ConvLSTM1D, Dense, LastTimeStep, Output,
                           RnnOutput, Subsampling2D)

from netdata import GRU, LSTM, GravesLSTM, SimpleRNN, params_of, sequence_data


def test_n_in_inferred_through_the_stack():
    net = Sequential([LSTM(8), Dense(5, activation="relu"), GRU(6), RnnOutput(3)],
                     input_type=InputType.recurrent(4))
    assert net.built
    assert [layer.n_in for layer in net.layers] == [4, 8, 5, 6]
    assert net.output_shapes == [(8, None), (5, None), (6, None), (3, None)]
    x, _ = sequence_data(n=2, f=4, t=7)
    assert net.output(x).shape == (2, 3, 7)          # Dense applied at every step


def test_first_layer_n_in_is_enough():
    net = Sequential([LSTM(8, n_in=4), RnnOutput(2)])
    assert net.built and net.input_type == InputType.recurrent(4)


def test_built_from_the_first_batch_when_nothing_says_the_size():
    net = Sequential([LSTM(8), RnnOutput(2)], seed=0)
    assert not net.built
    x, y = sequence_data(n=3, f=5, t=4, c=2)
    net.fit((x, y))
    assert net.built and net.layers[0].n_in == 5


def test_size_mismatch_names_index_class_and_both_sizes():
    with pytest.raises(ConfigError, match=r"layer 1 \(LSTM\): n_in=64 but layer 0 \(LSTM\) outputs 128"):
        Sequential([LSTM(128, n_in=4), LSTM(32, n_in=64), RnnOutput(3)])
    with pytest.raises(ConfigError, match=r"layer 0 \(GRU\): n_in=3 but the input has 4"):
        Sequential([GRU(8, n_in=3), RnnOutput(2)], input_type=InputType.recurrent(4))


def test_sequence_into_per_example_output_suggests_fixes():
    with pytest.raises(ConfigError, match=r"layer 1 \(Output\).*LastTimeStep.*RnnOutput"):
        Sequential([LSTM(8), Output(3)], input_type=InputType.recurrent(4))


def test_vectors_into_a_sequence_layer_is_an_error():
    with pytest.raises(ConfigError, match=r"layer 2 \(RnnOutput\) works on sequences.*layer 1 "
                                          r"\(LastTimeStep\) gives vectors \[N, 8\]"):
        Sequential([LSTM(8), LastTimeStep(LSTM(8)), RnnOutput(3)], input_type=InputType.recurrent(4))


def test_output_layer_must_be_last():
    with pytest.raises(ConfigError, match=r"layer 0 \(RnnOutput\) is an output layer but is not last"):
        Sequential([RnnOutput(4), LSTM(3)], input_type=InputType.recurrent(2))


def test_fit_needs_an_output_layer():
    net = Sequential([LSTM(3)], input_type=InputType.recurrent(2))
    x, y = sequence_data(n=2, f=2, t=3, c=3)
    with pytest.raises(ConfigError, match=r"last layer, layer 0 \(LSTM\), is not an output layer"):
        net.fit((x, y))
    assert net.output(x).shape == (2, 3, 3)          # inference without a loss head is fine


@pytest.mark.parametrize("kwargs, message", [
    ({"updater": "lbfgs"}, r"unknown updater 'lbfgs'; allowed names: adam, adamw, sgd, rmsprop, nadam"),
    ({"weight_init": "glorot"}, r"unknown weight_init 'glorot'; allowed: xavier, xavier_normal, he"),
    ({"backprop": "truncated"}, r"unknown backprop 'truncated'; allowed: standard, tbptt"),
    ({"loss_reduction": "mean"}, r"unknown loss_reduction 'mean'; allowed: per_sequence, per_step"),
    ({"precision": "fp16"}, r"unknown precision 'fp16'"),
    ({"tbptt_length": 5, "tbptt_back_length": 8}, r"TBPTT: tbptt_back_length=8 must not exceed "
                                                   r"tbptt_length=5"),
    ({"dropout": 1.5}, r"dropout must be a drop rate in \[0, 1\)"),
    ({"grad_clip": -1.0}, r"grad_clip must be a positive number"),
    ({"dtype": torch.float16}, r"dtype must be torch.float32 or torch.float64"),
])
def test_unknown_settings_list_the_allowed_values(kwargs, message):
    with pytest.raises(ConfigError, match=message):
        Sequential([LSTM(3), RnnOutput(2)], input_type=InputType.recurrent(2), **kwargs)


def test_cnn_rnn_video_model_builds_from_input_type_and_trains_a_step():
    # the seed's CNN+RNN video classifier, with smaller sizes
    net = Sequential([
        Conv2D(4, 3, activation="relu"),
        Subsampling2D(2, stride=2, pooling="max"),
        Conv2D(6, 3, activation="relu"),
        Subsampling2D(2, stride=2, pooling="max"),
        LSTM(10, activation="tanh"),
        RnnOutput(3, activation="softmax", loss="mcxent"),
    ], input_type=InputType.convolutional(14, 14, 3), seed=1)
    assert isinstance(net.preprocessors["4"], CnnToRnn)
    assert net.output_shapes[3] == (6, None, 2, 2) and net.layers[4].n_in == 24
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 3, 5, 14, 14)).astype(np.float32)   # [N, C, T, H, W]
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, (2, 5))].transpose(0, 2, 1)
    before = params_of(net)
    net.fit((x, y), progress=False)
    after = params_of(net)
    assert all(not torch.equal(before[k], after[k]) for k in before if "bias" not in k)
    assert net.output(x).shape == (2, 3, 5)
    assert "CnnToRnn (inserted)" in net.summary()


def test_cnn_on_images_flattens_into_dense():
    net = Sequential([Conv2D(4, 3), Subsampling2D(2), Dense(5), Output(3)],
                     input_type=InputType.convolutional(8, 8, 2))
    assert net.layers[2].n_in == 4 * 3 * 3
    x = np.random.default_rng(0).standard_normal((2, 2, 8, 8)).astype(np.float32)
    assert net.output(x).shape == (2, 3)


def test_signals_input_type_for_convlstm1d():
    kind = InputType.signals(6, 2)
    assert kind.shape() == (2, None, 6) and repr(kind) == "InputType.signals(6, 2)"
    assert InputType.from_dict(kind.to_dict()) == kind
    with pytest.raises(ConfigError, match="length"):
        InputType.signals(0, 2)
    net = Sequential([ConvLSTM1D(3, 3, padding="same"), ConvLSTM1D(2, 3, return_sequences=False), Dense(4)],
                     input_type=kind, seed=0)
    text = net.summary()
    assert "input [N, 2, T, 6]" in text and "[N, 3, T, 6]" in text and "[N, 2, 4]" in text
    x = torch.randn(2, 2, 9, 6)                                   # any T: T is not fixed by the type
    mask = torch.ones(2, 9)
    mask[0, 5:] = 0.0
    assert net.output(x, mask).shape == (2, 4, 4)
    torch.testing.assert_close(net.output(x, mask)[:1], net.output(x[:1, :, :5]), atol=1e-6, rtol=0)


def test_summary_lists_layers_shapes_and_counts():
    net = Sequential([LSTM(8), LastTimeStep(SimpleRNN(4)), Dense(5, activation="relu"), Output(3)],
                     input_type=InputType.recurrent(2))
    text = net.summary()
    lstm = 4 * (8 * 2 + 8 * 8 + 8)
    assert "LSTM(2 -> 8, tanh)" in text and f"{lstm:,}" in text
    assert "LastTimeStep(SimpleRNN(8 -> 4, tanh))" in text
    assert "[N, 8, T]" in text and "[N, 4]" in text and "[N, 3]" in text
    assert "Output(5 -> 3, softmax, mcxent)" in text
    total = sum(p.numel() for p in net.parameters())
    assert f"Total parameters: {total:,}" in text


def test_bidirectional_concat_doubles_the_size():
    net = Sequential([Bidirectional(LSTM(4)), RnnOutput(2)], input_type=InputType.recurrent(3))
    assert net.layers[1].n_in == 8


def test_same_seed_same_parameters_different_seed_different():
    def make(seed):
        return Sequential([LSTM(6), GravesLSTM(5), RnnOutput(2)], input_type=InputType.recurrent(3),
                          seed=seed)
    a, b, c = params_of(make(7)), params_of(make(7)), params_of(make(8))
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_weight_init_touches_kernels_not_biases():
    net = Sequential([LSTM(4), RnnOutput(2)], input_type=InputType.recurrent(3), weight_init="zeros")
    cell = net.layers[0].cell
    assert torch.count_nonzero(cell.weight_ih) == 0
    assert torch.count_nonzero(net.layers[1].weight) == 0
    # recurrent kernels stay orthogonal (weight_init_recurrent), forget bias stays 1.0
    w = cell.weight_hh                                                   # [4H, H]
    assert torch.allclose(w.t() @ w, torch.eye(4), atol=1e-5)
    assert torch.equal(cell.bias[4:8], torch.ones(4)) and torch.count_nonzero(cell.bias[:4]) == 0


def test_weight_init_keras_keeps_the_layer_defaults_and_is_seeded():
    a = Sequential([LSTM(4), RnnOutput(2)], input_type=InputType.recurrent(3), weight_init="keras", seed=3)
    b = Sequential([LSTM(4), RnnOutput(2)], input_type=InputType.recurrent(3), weight_init="keras", seed=3)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))


def test_options_override_network_settings_per_layer():
    lstm = seqkit.options(LSTM(4), l2=0.5, learning_rate=0.1, dropout=0.25, weight_init="zeros")
    net = Sequential([lstm, RnnOutput(2)], input_type=InputType.recurrent(3), l2=0.0, dropout=0.1,
                     learning_rate=0.01)
    assert net.dropout_rates == [0.25, 0.1]
    assert torch.count_nonzero(lstm.cell.weight_ih) == 0
    assert torch.count_nonzero(net.layers[1].weight) > 0
    groups = net.optimizer.param_groups
    assert [g["lr"] for g in groups] == [0.1, 0.01]
    with pytest.raises(ConfigError, match="unknown option 'l3'"):
        seqkit.options(LSTM(4), l3=1.0)
    with pytest.raises(ConfigError, match="learning_rate must be a positive number"):
        seqkit.options(LSTM(4), learning_rate=0)


def test_l2_penalty_covers_weights_only():
    net = Sequential([seqkit.options(LSTM(3), l2=0.2), RnnOutput(2)], input_type=InputType.recurrent(2),
                     seed=0, l1=0.1)
    x, y = sequence_data(n=2, f=2, t=4, c=2)
    plain = net.score((x, y), regularization=False)
    full = net.score((x, y))
    cell, out = net.layers[0].cell, net.layers[1].requires_grad_(False)
    net.requires_grad_(False)
    l2 = 0.5 * 0.2 * (cell.weight_ih.square().sum() + cell.weight_hh.square().sum())
    l1 = 0.1 * (cell.weight_ih.abs().sum() + cell.weight_hh.abs().sum() + out.weight.abs().sum())
    assert full - plain == pytest.approx(float(l2 + l1), rel=1e-5)
