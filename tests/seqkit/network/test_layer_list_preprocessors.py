"""Preprocessors placed in a Sequential's layer list (DL4J style): batch size, masks, summary."""

import numpy as np
import pytest
import torch

from seqkit import InputType, Sequential
from seqkit.layers import Dense, FeedForwardToRnn, RnnOutput, RnnToFeedForward

from netdata import LSTM, one_hot

N, F, T, H = 2, 3, 5, 4
MASK = torch.tensor([[1.0, 1.0, 1.0, 0.0, 0.0],          # right padding
                     [0.0, 1.0, 1.0, 1.0, 1.0]])         # left padding


def _chain(*tail, seed=0):
    layers = [RnnToFeedForward(), Dense(H, activation="tanh"), FeedForwardToRnn(), *tail]
    return Sequential(layers, input_type=InputType.recurrent(F), seed=seed)


def test_chain_equals_dense_per_step_with_mask():
    net = _chain()
    x = torch.randn(N, F, T)
    dense = net.layers[1]
    y = net.output(x, MASK)
    assert y.shape == (N, H, T)
    torch.testing.assert_close(y, dense(x, MASK))                         # Dense on [N, F, T]
    assert (y.permute(0, 2, 1)[MASK == 0] == 0).all()                      # masked steps are zero
    assert (y.permute(0, 2, 1)[MASK == 1] != 0).any()
    torch.testing.assert_close(net.output(x), dense(x))                   # and without a mask


def test_mask_reaches_the_layers_after_the_chain_in_their_layout():
    """The LSTM after the chain gets the [N, T] mask back: left padding is skipped, as without it."""
    chained = _chain(LSTM(3), RnnOutput(2))
    plain = Sequential([Dense(H, activation="tanh"), LSTM(3), RnnOutput(2)],
                       input_type=InputType.recurrent(F), seed=0)
    plain.layers[0].load_state_dict(chained.layers[1].state_dict())
    plain.layers[1].load_state_dict(chained.layers[3].state_dict())
    plain.layers[2].load_state_dict(chained.layers[4].state_dict())
    x = torch.randn(N, F, T)
    torch.testing.assert_close(chained.output(x, MASK), plain.output(x, MASK))
    # example 1 alone on its real steps gives the same output there
    alone = chained.output(x[1:, :, 1:])
    torch.testing.assert_close(chained.output(x, MASK)[1:, :, 1:], alone)
    # and training sees the same masked loss
    labels = torch.as_tensor(one_hot(np.random.default_rng(0).integers(0, 2, (N, T)), 2))
    batch = (x, labels, MASK, None)
    assert chained.score(batch) == pytest.approx(plain.score(batch), rel=1e-6)


def test_summary_shapes_match_the_real_outputs():
    net = _chain(LSTM(3), RnnOutput(2))
    assert net.output_shapes == [(F,), (H,), (H, None), (3, None), (2, None)]
    text = net.summary()
    assert "[N*T, 3]" in text and "[N*T, 4]" in text                       # rows, not examples
    assert "[N, 4, T]" in text and "[N, 2, T]" in text
    x = torch.randn(N, F, T)
    acts = net.activations(x)
    assert [tuple(a.shape) for a in acts] == [(N * T, F), (N * T, H), (N, H, T), (N, 3, T), (N, 2, T)]
