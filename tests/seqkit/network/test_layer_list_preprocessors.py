"""Preprocessors placed in a Sequential's layer list (DL4J style): batch size, masks, summary."""

import numpy as np
import pytest
import torch

from seqkit import InputType, Sequential
from seqkit.layers import Dense, FeedForwardToRnn, Preprocessor, RnnOutput, RnnToFeedForward

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


def test_chain_under_streaming_and_tbptt():
    net = _chain(LSTM(3), RnnOutput(2))
    x = torch.randn(N, F, T)
    whole = net.output(x, MASK)
    parts = [net.rnn_time_step(x[:, :, :2], MASK[:, :2]), net.rnn_time_step(x[:, :, 2:], MASK[:, 2:])]
    torch.testing.assert_close(torch.cat(parts, dim=2), whole)
    labels = torch.as_tensor(one_hot(np.random.default_rng(1).integers(0, 2, (N, T)), 2))
    full = _chain(LSTM(3), RnnOutput(2), seed=4)
    tbptt = Sequential(list(_chain(LSTM(3), RnnOutput(2), seed=4).layers), input_type=InputType.recurrent(F),
                       backprop="tbptt", tbptt_length=T, seed=4)
    tbptt.load_state_dict(full.state_dict())
    full.fit((x, labels, MASK, None), progress=False)
    tbptt.fit((x, labels, MASK, None), progress=False)
    for (k, a), b in zip(full.named_parameters(), tbptt.parameters()):
        torch.testing.assert_close(a, b, msg=k)


def test_rows_into_a_sequence_layer_say_how_to_restore_time():
    from seqkit import ConfigError

    with pytest.raises(ConfigError, match=r"layer 2 \(LSTM\) works on sequences \[N, F, T\] but layer 1 "
                                          r"\(Dense\) gives rows \[N\*T, 4\] \(put a FeedForwardToRnn "
                                          r"before it"):
        Sequential([RnnToFeedForward(), Dense(H), LSTM(3), RnnOutput(2)], input_type=InputType.recurrent(F))


class _FlattenForgetsMask(Preprocessor):
    """Sequence to rows, but without a forward_mask saying how the mask follows."""

    def forward(self, x, mask=None, *, batch_size=None):
        return x.transpose(1, 2).reshape(-1, x.shape[1])

    def output_shape(self, input_shape):
        return (input_shape[0],)


def test_a_preprocessor_whose_mask_does_not_fit_its_output_is_a_clear_error():
    net = Sequential([_FlattenForgetsMask(), Dense(H), FeedForwardToRnn()], input_type=InputType.recurrent(F))
    x = torch.randn(N, F, T)
    assert net.output(x).shape == (N, H, T)                              # fine without a mask
    with pytest.raises(ValueError, match=r"_FlattenForgetsMask: forward_mask gives a mask of shape "
                                         r"\(2, 5\), which does not fit its output of shape \(10, 3\).*"
                                         r"override forward_mask"):
        net.output(x, MASK)
