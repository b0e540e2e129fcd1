"""rnn_time_step and stored states (DL4J's testRnnTimeStepLayers and 2-D input cases)."""

import numpy as np
import pytest
import torch

from seqkit import InputType, Sequential
from seqkit.layers import Bidirectional, Dense, LastTimeStep, MaskZero, Output, RnnOutput

from netdata import RECURRENT, sequence_data

CHUNKS = (1, 2, 3, 4, 6, 12)


def stack(kind: str):
    cls = RECURRENT[kind]
    return Sequential([cls(7), Dense(5, activation="tanh"), cls(6), RnnOutput(4)],
                      input_type=InputType.recurrent(5), seed=4)


@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_chunks_equal_the_full_output_and_stored_state_the_activation(kind):
    net = stack(kind)
    x, _ = sequence_data(n=3, f=5, t=12)
    full = net.output(x)
    acts = net.activations(x)
    for size in CHUNKS:
        net.rnn_clear_previous_state()
        parts = []
        for start in range(0, 12, size):
            parts.append(net.rnn_time_step(x[:, :, start:start + size]))
            end = start + size - 1
            for i in (0, 2):                                   # the recurrent layers
                state = net.rnn_get_previous_state(i)
                np.testing.assert_allclose(state["h"].numpy(), acts[i][:, :, end], atol=1e-5)
        steps = np.concatenate([p if p.ndim == 3 else p[:, :, None] for p in parts], axis=2)
        np.testing.assert_allclose(steps, full, atol=1e-5)
    keys = ("h", "c") if kind in ("LSTM", "GravesLSTM") else ("h",)
    assert tuple(net.rnn_get_previous_state(0)) == keys
    net.rnn_clear_previous_state()
    assert net.rnn_get_previous_state(0) == {}


def test_two_dimensional_input_gives_two_dimensional_output():
    net = stack("LSTM")
    x, _ = sequence_data(n=3, f=5, t=1)
    assert net.rnn_time_step(x[:, :, 0]).shape == (3, 4)
    net.rnn_clear_previous_state()
    assert net.rnn_time_step(x).shape == (3, 4, 1)
    assert isinstance(net.rnn_time_step(torch.from_numpy(x)), torch.Tensor)


def test_batch_size_change_needs_clearing():
    net = stack("GRU")
    x, _ = sequence_data(n=3, f=5, t=2)
    net.rnn_time_step(x)
    with pytest.raises(ValueError, match=r"layer 0 \(GRU\) holds state for a batch of 3 but got a batch "
                                         r"of 2; call rnn_clear_previous_state\(\)"):
        net.rnn_time_step(x[:2])
    net.rnn_clear_previous_state()
    assert net.rnn_time_step(x[:2]).shape == (2, 4, 2)


def test_set_state_continues_a_sequence():
    net = stack("LSTM")
    x, _ = sequence_data(n=2, f=5, t=6)
    full = net.output(x)
    net.rnn_time_step(x[:, :, :4])
    saved = {i: net.rnn_get_previous_state(i) for i in (0, 2)}
    net.rnn_clear_previous_state()
    for i, state in saved.items():
        net.rnn_set_previous_state(i, state)
    np.testing.assert_allclose(net.rnn_time_step(x[:, :, 4:]), full[:, :, 4:], atol=1e-5)
    with pytest.raises(ValueError, match=r"state must be a dict with keys \['h', 'c'\]"):
        net.rnn_set_previous_state(0, {"h": saved[0]["h"]})
    with pytest.raises(ValueError, match=r"layer index 1 has no recurrent state; layers with state: "
                                         r"0 \(LSTM\), 2 \(LSTM\)"):
        net.rnn_get_previous_state(1)


def test_bidirectional_cannot_stream():
    net = Sequential([Bidirectional(RECURRENT["LSTM"](3)), RnnOutput(2)], input_type=InputType.recurrent(2))
    with pytest.raises(ValueError, match=r"layer 0 \(Bidirectional\).*cannot run step by step"):
        net.rnn_time_step(np.zeros((1, 2), np.float32))


def test_last_time_step_streams_the_prefix_output():
    lstm = RECURRENT["LSTM"]
    net = Sequential([lstm(6), LastTimeStep(lstm(5)), Output(3)], input_type=InputType.recurrent(2), seed=1)
    x, _ = sequence_data(n=2, f=2, t=6)
    for end, chunk in ((2, x[:, :, :2]), (3, x[:, :, 2]), (6, x[:, :, 3:])):
        out = net.rnn_time_step(chunk)
        np.testing.assert_allclose(out, net.output(x[:, :, :end]), atol=1e-5)
    assert tuple(net.rnn_get_previous_state(1)) == ("h", "c")


def test_mask_zero_streams_with_its_mask():
    gru = RECURRENT["GRU"]
    net = Sequential([MaskZero(gru(4)), RnnOutput(2)], input_type=InputType.recurrent(2), seed=1)
    x, _ = sequence_data(n=2, f=2, t=6)
    x[1, :, 4:] = 0.0                                          # padding steps, all features 0
    full = net.output(x)
    parts = [net.rnn_time_step(x[:, :, s:s + 2]) for s in (0, 2, 4)]
    np.testing.assert_allclose(np.concatenate(parts, 2), full, atol=1e-5)
