"""Truncated BPTT: equality with full BPTT, carried state, gradient window, invalid configurations."""

import functools

import numpy as np
import pytest
import torch

import readers
from seqkit import ConfigError, InputType, Sequential
from seqkit.network._forward import run_layers
from seqkit.layers import Bidirectional, Dense, LastTimeStep, Output, RnnOutput

from netdata import GRU, LSTM, GravesLSTM, Recorder, SimpleRNN, params_of, sequence_data

SGD = functools.partial(torch.optim.SGD, lr=0.1)


def stack(**kwargs):
    kwargs.setdefault("updater", SGD)
    return Sequential([LSTM(5), Dense(4, activation="tanh"), GRU(4), RnnOutput(3)],
                      input_type=InputType.recurrent(3), seed=5, **kwargs)


def test_tbptt_with_both_lengths_t_equals_full_bptt():
    x, y = sequence_data(n=4, f=3, t=9)
    full, trunc = stack(), stack(backprop="tbptt", tbptt_length=9, tbptt_back_length=9)
    full.fit((x, y), progress=False)
    trunc.fit((x, y), progress=False)
    a, b = params_of(full), params_of(trunc)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)
    assert trunc.updates == 1


def test_segments_make_one_update_each_and_state_is_cleared_per_minibatch():
    x, y = sequence_data(n=4, f=3, t=10)
    net = stack(backprop="tbptt", tbptt_length=4)
    net.fit((x, y), epochs=2, batch_size=2, progress=False)
    assert net.updates == 2 * 2 * 3 and net.iteration == 4         # ceil(10/4) = 3 segments
    # with a zero learning rate, the same minibatch twice scores the same: no state leaks
    frozen = stack(backprop="tbptt", tbptt_length=4, updater=functools.partial(torch.optim.SGD, lr=0.0))
    rec = Recorder()
    frozen.fit([(x, y), (x, y)], listeners=[rec], progress=False)
    assert rec.scores[0] == rec.scores[1]


def test_tbptt_score_matches_the_full_sequence_score():
    x, y = sequence_data(n=4, f=3, t=10)
    rec = Recorder()
    net = stack(backprop="tbptt", tbptt_length=10)
    before = net.score((x, y))
    net.fit((x, y), listeners=[rec], progress=False)
    assert rec.scores[0] == pytest.approx(before, rel=1e-5)


def test_chained_segment_forward_equals_full_forward():
    x, _ = sequence_data(n=3, f=3, t=20)
    net = stack()
    full = net.output(x)
    xt = torch.from_numpy(x)
    states, parts = {}, []
    with torch.no_grad():
        for start in range(0, 20, 4):                              # 5 chunks, state carried
            h, m = run_layers(net, xt[:, :, start:start + 4], None, states=states)
            parts.append(h)
    assert np.allclose(torch.cat(parts, 2).numpy(), full, atol=1e-6)


def test_a_segment_longer_than_the_sequence_still_updates():
    x, y = sequence_data(n=2, f=3, t=20)
    net = stack(backprop="tbptt", tbptt_length=1000)
    before = params_of(net)
    net.fit((x, y), progress=False)
    after = params_of(net)
    assert net.updates == 1 and all(not torch.equal(before[k], after[k]) for k in before)


def test_back_length_stops_gradients_from_early_steps_at_the_recurrent_layer():
    # the loss sits only on steps 0..3 of a 6-step segment; back=2 keeps the last 2 steps
    x, y = sequence_data(n=2, f=3, t=6)
    lm = np.zeros((2, 6), np.float32)
    lm[:, :4] = 1
    net = Sequential([LSTM(4), Dense(4, activation="tanh"), RnnOutput(3)],
                     input_type=InputType.recurrent(3), seed=2, updater=SGD,
                     backprop="tbptt", tbptt_length=6, tbptt_back_length=2)
    before = params_of(net)
    net.fit(readers.Batch(x, y, None, lm, [0, 1]), progress=False)
    after = params_of(net)
    changed = {k for k in before if not torch.equal(before[k], after[k])}
    assert changed == {"layers.1.weight", "layers.1.bias", "layers.2.weight", "layers.2.bias"}


def test_back_length_equals_detached_split_of_each_recurrent_layer():
    x, y = sequence_data(n=2, f=3, t=8)
    net = Sequential([LSTM(4), RnnOutput(3)], input_type=InputType.recurrent(3), seed=3, updater=SGD,
                     backprop="tbptt", tbptt_length=8, tbptt_back_length=3)
    ref = Sequential([LSTM(4), RnnOutput(3)], input_type=InputType.recurrent(3), seed=3)
    # reference gradient: steps 0..4 without autograd, steps 5..7 from the detached state
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    lstm, out = ref.layers
    with torch.no_grad():
        y0, mid = lstm.run(xt[:, :, :5])
    y1, _ = lstm.run(xt[:, :, 5:], None, mid)
    loss = out.score_input(torch.cat([y0, y1], 2), yt)
    loss.backward()
    expected = {k: p.detach() - 0.1 * p.grad for k, p in ref.named_parameters()}
    net.fit((x, y), progress=False)
    got = params_of(net)
    assert all(torch.allclose(expected[k], got[k], atol=1e-6) for k in got)


def test_masked_segment_still_steps_the_optimizer():
    x, y = sequence_data(n=2, f=3, t=8)
    fm = np.ones((2, 8), np.float32)
    fm[:, 4:] = 0                                                   # the second segment is padding
    net = stack(backprop="tbptt", tbptt_length=4)
    net.fit(readers.Batch(x, y, fm, fm, [0, 1]), progress=False)
    assert net.updates == 2


@pytest.mark.parametrize("layers, message", [
    (lambda: [LSTM(4), LastTimeStep(LSTM(4)), Output(2)],
     r"layer 1 \(LastTimeStep\) removes the time axis.*TBPTT"),
    (lambda: [LSTM(4, return_sequences=False), Output(2)],
     r"layer 0 \(LSTM\) removes the time axis.*TBPTT"),
    (lambda: [Bidirectional(LSTM(4)), RnnOutput(2)],
     r"layer 0 \(Bidirectional\): TBPTT cannot train"),
    (lambda: [SimpleRNN(4, go_backwards=True), RnnOutput(2)],
     r"TBPTT cannot carry the state of a go_backwards"),
])
def test_invalid_tbptt_configurations(layers, message):
    with pytest.raises(ConfigError, match=message):
        Sequential(layers(), input_type=InputType.recurrent(3), backprop="tbptt")


def test_tbptt_data_errors():
    net = stack(backprop="tbptt", tbptt_length=4)
    x, y = sequence_data(n=2, f=3, t=6)
    with pytest.raises(ValueError, match=r"TBPTT: the features have 6 steps but the labels have 5"):
        net.fit((x, y[:, :, :5]), progress=False)
    with pytest.raises(ValueError, match=r"TBPTT needs per-step labels"):
        net.fit((x, y[:, :, 0]), progress=False)


def test_graves_lstm_under_tbptt_carries_peephole_state():
    x, y = sequence_data(n=2, f=3, t=9)
    a = Sequential([GravesLSTM(4), RnnOutput(3)], input_type=InputType.recurrent(3), seed=1,
                   updater=SGD)
    b = Sequential([GravesLSTM(4), RnnOutput(3)], input_type=InputType.recurrent(3), seed=1,
                   updater=SGD, backprop="tbptt", tbptt_length=9)
    a.fit((x, y), progress=False)
    b.fit((x, y), progress=False)
    pa, pb = params_of(a), params_of(b)
    assert all(torch.allclose(pa[k], pb[k], atol=1e-6) for k in pa)
