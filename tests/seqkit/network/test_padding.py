"""Masks through the network: padding equals truncation, DL4J's score magnitudes, zeroed outputs."""

import functools

import numpy as np
import pytest
import torch

import readers
import seqkit
from seqkit import InputType, Sequential
from seqkit.layers import Dense, RnnOutput

from netdata import GRU, LSTM, GravesLSTM, params_of, sequence_data


def net_for(seed=3):
    return Sequential([LSTM(5), Dense(4, activation="tanh"), GRU(4), RnnOutput(3)],
                      input_type=InputType.recurrent(2), seed=seed,
                      updater=functools.partial(torch.optim.SGD, lr=0.5))


@pytest.mark.parametrize("where", ["end", "start"])
def test_padding_equals_truncation_for_score_and_gradients(where):
    x, y = sequence_data(n=3, f=2, t=4, c=3)
    pad = np.zeros((3, 2, 1), np.float32)
    junk = np.full((3, 3, 1), 7.0, np.float32)                 # labels at masked steps: anything
    if where == "end":
        xp, yp = np.concatenate([x, pad], 2), np.concatenate([y, junk], 2)
        mask = np.array([[1, 1, 1, 1, 0]] * 3, np.float32)
    else:
        xp, yp = np.concatenate([pad, x], 2), np.concatenate([junk, y], 2)
        mask = np.array([[0, 1, 1, 1, 1]] * 3, np.float32)
    plain, padded = net_for(), net_for()
    assert padded.score(readers.Batch(xp, yp, mask, mask, [0, 1, 2])) == pytest.approx(
        plain.score((x, y)), rel=1e-6)
    plain.fit((x, y), progress=False)
    padded.fit(readers.Batch(xp, yp, mask, mask, [0, 1, 2]), progress=False)
    a, b = params_of(plain), params_of(padded)
    assert all(torch.allclose(a[k], b[k], atol=1e-6) for k in a)


def test_variable_lengths_in_one_batch_match_each_example_alone():
    x, y = sequence_data(n=2, f=2, t=6, c=3)
    mask = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0]], np.float32)
    net = net_for()
    out = net.output(x, mask)
    alone = net.output(x[1:, :, :3])
    np.testing.assert_allclose(out[1:, :, :3], alone, atol=1e-6)
    assert (out[1, :, 3:] == 0).all()


def test_labels_at_masked_steps_change_nothing():
    x, y = sequence_data(n=2, f=2, t=5, c=3)
    lm = np.array([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]], np.float32)
    y2 = y.copy()
    y2[0, :, 3:] = np.nan
    net = net_for()
    assert net.score(readers.Batch(x, y2, None, lm, [0, 1])) == pytest.approx(
        net.score(readers.Batch(x, y, None, lm, [0, 1])), rel=1e-7)


def test_output_is_zero_at_label_masked_steps():
    x, _ = sequence_data(n=2, f=2, t=5, c=3)
    lm = np.array([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]], np.float32)
    out = net_for().output(x, labels_mask=lm)
    assert (out[np.broadcast_to(lm[:, None, :] == 0, out.shape)] == 0.0).all()


@pytest.mark.parametrize("t", [3, 10])
@pytest.mark.parametrize("n_out", [1, 2, 5])
@pytest.mark.parametrize("mb", [1, 4])
def test_dl4j_score_magnitude(t, n_out, mb):
    # GravesLSTM -> RnnOutput(identity, mse) with zero output weights, labels 1: each real step
    # costs exactly 1, so the per-sequence score is T minus the masked steps
    head = seqkit.options(RnnOutput(n_out, activation="identity", loss="mse"), weight_init="zeros")
    net = Sequential([GravesLSTM(4), head], input_type=InputType.recurrent(3), seed=0)
    rng = np.random.default_rng(t * 10 + n_out)
    x = rng.standard_normal((mb, 3, t)).astype(np.float32)
    y = np.ones((mb, n_out, t), np.float32)
    for masked in range(t):
        lm = np.ones((mb, t), np.float32)
        lm[:, :masked] = 0
        score = net.score(readers.Batch(x, y, None, lm, list(range(mb))))
        assert score == pytest.approx(t - masked, abs=1e-5)
