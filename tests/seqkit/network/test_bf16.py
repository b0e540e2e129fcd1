"""precision="bf16-mixed" trains every kind of stack on the CPU (autocast with bfloat16).

Policy (seqkit.layers._kernel_precision): matmul and convolution layers run
under autocast and hand bfloat16 on; every recurrent layer runs with autocast
off in its weights' float32, casting a bfloat16 input up; the loss is float32.
Each stack here must train (finite loss, going down over a few steps) and give
outputs close to the same network's in float32.
"""

import numpy as np
import pytest
import torch

import readers
from seqkit import InputType, Sequential
from seqkit.layers import (GRU, LSTM, RNN, Bidirectional, Conv1D, ConvLSTM2D, Dense, GravesLSTM, GRUCell,
                           LastTimeStep, LSTMCell, MaskZero, Output, RnnOutput, SimpleRNN, SimpleRNNCell,
                           TimeDistributed)

from netdata import sequence_data

F, T, N = 4, 9, 6

#: name -> (layers factory, per-step labels?)
STACKS = {
    "lstm_gru_last_simple_rnn": (lambda: [LSTM(8), GRU(6), LastTimeStep(SimpleRNN(4)), Output(3)], False),
    "gru_reset_before_graves": (lambda: [GRU(6, reset_after=False), GravesLSTM(5), RnnOutput(3)], True),
    "cells_rnn": (lambda: [RNN([LSTMCell(6), GRUCell(5)]), RNN(SimpleRNNCell(4)), RnnOutput(3)], True),
    "bidirectional": (lambda: [Bidirectional(LSTM(5)), Bidirectional(GRU(4, reset_after=False), "add"),
                               RnnOutput(3)], True),
    "bidirectional_last_step": (lambda: [Bidirectional(LastTimeStep(GRU(5))), Output(3)], False),
    "time_distributed_dense": (lambda: [TimeDistributed(Dense(7, activation="tanh")), LSTM(6),
                                        Dense(5, activation="relu"), SimpleRNN(4, activation="relu"),
                                        RnnOutput(3)], True),
    "conv1d": (lambda: [Conv1D(6, 3, activation="relu"), LSTM(5), LastTimeStep(GRU(4)), Output(3)], False),
    "mask_zero": (lambda: [MaskZero(LSTM(5)), GRU(4), RnnOutput(3)], True),
}


def _data(per_step: bool):
    x, y = sequence_data(n=N, f=F, t=T, c=3, per_step=per_step)
    mask = np.ones((N, T), np.float32)
    mask[1, 6:] = 0                                                      # right padding
    mask[2, :3] = 0                                                      # left padding
    x = x * mask[:, None, :]
    lmask = mask if per_step else None
    return readers.Batch(x, y, mask, lmask, list(range(N)))


def _net(name: str, precision=None):
    make, _ = STACKS[name]
    return Sequential(make(), input_type=InputType.recurrent(F), seed=7, learning_rate=0.02,
                      precision=precision)


@pytest.mark.parametrize("name", sorted(STACKS))
def test_bf16_mixed_output_is_close_to_float32(name):
    batch = _data(STACKS[name][1])
    full, mixed = _net(name), _net(name, "bf16-mixed")
    mixed.load_state_dict(full.state_dict())
    a = full.output(batch.features, batch.features_mask)
    b = mixed.output(batch.features, batch.features_mask)
    assert np.asarray(b).dtype == np.float32
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), atol=3e-2)   # bf16: ~3 decimal digits


@pytest.mark.parametrize("name", sorted(STACKS))
def test_bf16_mixed_trains(name):
    batch = _data(STACKS[name][1])
    net = _net(name, "bf16-mixed")
    before = net.score([batch])
    net.fit([batch], epochs=6, progress=False)
    after = net.score([batch])
    assert np.isfinite(after) and after < before


def test_recurrent_layer_under_autocast_takes_bf16_and_keeps_float32():
    torch.manual_seed(0)
    layers = [LSTM(5, 4), GRU(5, 4, reset_after=False), GravesLSTM(5, 4), SimpleRNN(5, 4),
              RNN(LSTMCell(5, 4)), Bidirectional(GRU(5, 4))]
    x = torch.randn(3, 4, 6)
    mask = torch.tensor([[1.0] * 6, [1.0] * 4 + [0.0] * 2, [0.0] * 2 + [1.0] * 4])
    for layer in layers:
        name = type(layer).__name__
        ref = layer(x, mask)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y = layer(x.bfloat16(), mask)
        assert y.dtype == torch.float32, name
        assert torch.allclose(y, ref, atol=3e-2), name                   # only the input was rounded
        if isinstance(layer, Bidirectional):                             # no run(): both directions
            continue
        with torch.autocast("cpu", dtype=torch.bfloat16):
            y_run, state = layer.run(x.bfloat16(), mask)
            y_ref, _ = layer.reference(x.bfloat16(), mask)
        assert all(s.dtype == torch.float32 for s in state.values()), name
        torch.testing.assert_close(y_run, y, atol=1e-6, rtol=0)
        torch.testing.assert_close(y_ref, y, atol=1e-5, rtol=0)


def test_conv_lstm_under_bf16_mixed():
    torch.manual_seed(0)
    x = torch.randn(2, 2, 4, 5, 5)
    net = Sequential([ConvLSTM2D(3, 3, padding="same"), LastTimeStep(LSTM(4)), Output(2)],
                     input_type=InputType.convolutional(5, 5, 2, sequence=True), seed=0,
                     precision="bf16-mixed", learning_rate=0.02)
    y = torch.nn.functional.one_hot(torch.tensor([0, 1]), 2).float()
    before = net.score((x, y))
    net.fit((x, y), epochs=5, progress=False)
    after = net.score((x, y))
    assert np.isfinite(after) and after < before


def test_float64_input_to_a_float32_layer_is_still_an_error_under_autocast():
    layer = LSTM(3, 2)
    with torch.autocast("cpu", dtype=torch.bfloat16), pytest.raises(ValueError, match="differs from the weights"):
        layer(torch.randn(1, 2, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match="input dtype torch.bfloat16 differs"):
        layer(torch.randn(1, 2, 4).bfloat16())                           # outside autocast: the user's error
