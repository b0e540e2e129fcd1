"""LastTimeStep: the last real step per example (dl4j.md §8 #8), no mask, errors, streaming."""

import pytest
import torch

from seqkit import ConfigError
from seqkit.layers import Bidirectional, Dense, LastTimeStep, TimeDistributed
from seqkit.layers._gru import GRU
from seqkit.layers._lstm import LSTM

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


@pytest.mark.parametrize("device", DEVICES)
def test_picks_last_unmasked_index_2_3_4(device):
    """dl4j.md §8 #8: last unmasked index 2, 3 and 4 (post- and pre-padding) is the step taken."""
    torch.manual_seed(0)
    inner = LSTM(3, 2).to(device=device, dtype=torch.float64)
    layer = LastTimeStep(inner)
    x = torch.randn(3, 2, 6, dtype=torch.float64, device=device)
    mask = torch.tensor([[1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 0, 0], [0, 1, 1, 1, 1, 0]],
                        dtype=torch.float64, device=device)
    y = layer(x, mask)
    seq = inner(x, mask)                                                       # [N, H, T]
    assert y.shape == (3, 3)
    for n, t in enumerate([2, 3, 4]):
        torch.testing.assert_close(y[n], seq[n, :, t])
    # the last real step is the example's own, wherever its padding is
    for n in range(3):
        real = torch.nonzero(mask[n]).flatten()
        torch.testing.assert_close(y[n:n + 1], layer(x[n:n + 1, :, real]))


def test_no_mask_is_last_step_and_a_mask_changes_it():
    torch.manual_seed(1)
    inner = GRU(4, 3)
    layer = LastTimeStep(inner)
    x = torch.randn(2, 3, 24)
    y = layer(x)
    torch.testing.assert_close(y, inner(x)[:, :, -1])
    first5 = torch.zeros(2, 24)
    first5[:, :5] = 1
    assert not torch.allclose(layer(x, first5), y)              # a mask of the first 5 of 24 changes it
    torch.testing.assert_close(layer(x, first5), inner(x[:, :, :5])[:, :, -1])


def test_all_zero_row_raises_naming_the_example():
    layer = LastTimeStep(LSTM(2, 3))
    mask = torch.tensor([[1.0, 1.0, 0.0], [1.0, 0.0, 0.0], [0.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match=r"LastTimeStep: example 2 of the batch is entirely masked out "
                                         r"\(its mask row is all 0s\)"):
        layer(torch.randn(3, 3, 3), mask)


def test_inner_without_sequences_go_backwards_and_return_state():
    torch.manual_seed(2)
    x = torch.randn(2, 3, 5, dtype=torch.float64)
    mask = torch.tensor([[0, 1, 1, 1, 0], [1, 1, 0, 0, 0]], dtype=torch.float64)
    reduced = LSTM(2, 3, return_sequences=False).double()
    torch.testing.assert_close(LastTimeStep(reduced)(x, mask), reduced(x, mask))
    back_seq = LSTM(2, 3, go_backwards=True).double()
    back_last = LSTM(2, 3, go_backwards=True, return_sequences=False).double()
    back_last.load_state_dict(back_seq.state_dict())
    torch.testing.assert_close(LastTimeStep(back_seq)(x, mask), back_last(x, mask))
    with_state = LSTM(2, 3, return_state=True).double()
    y, h, c = LastTimeStep(with_state)(x, mask)
    torch.testing.assert_close(y, h)
    assert c.shape == (2, 2)


def test_wraps_any_sequence_layer_lazily():
    layer = LastTimeStep(TimeDistributed(Dense(4)))
    assert layer.n_in is None and layer.n_out == 4 and layer.reduces_time is True
    x = torch.randn(2, 3, 5)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    y = layer(x, mask)
    assert y.shape == (2, 4) and layer.n_in == 3
    torch.testing.assert_close(y[0], layer.inner(x)[0, :, 2])
    bi = LastTimeStep(Bidirectional(LSTM(2, 3)))                # DL4J's LastTimeStep(Bidirectional)
    assert bi(x, mask).shape == (2, 4)


def test_state_api_and_streaming_run():
    torch.manual_seed(3)
    inner = LSTM(2, 3, stateful=True)
    layer = LastTimeStep(inner)
    assert layer.state_keys == ("h", "c") and layer.stateful
    assert set(layer.initial_state(4)) == {"h", "c"}
    x = torch.randn(2, 3, 6)
    mask = torch.tensor([[1, 1, 1, 1, 0, 0], [1, 1, 1, 1, 1, 1.0]])
    full = LastTimeStep(LSTM(2, 3))
    full.inner.load_state_dict(inner.state_dict())
    y1, s1 = layer.run(x[:, :, :3], mask[:, :3])
    y2, s2 = layer.run(x[:, :, 3:], mask[:, 3:], s1)
    torch.testing.assert_close(y2, full(x, mask))
    torch.testing.assert_close(s2["h"], y2)
    layer(x)
    layer.reset_state()
    with pytest.raises(ValueError, match="cannot be run step by step"):
        LastTimeStep(TimeDistributed(Dense(2, 3))).run(x)


def test_gradcheck_with_mask():
    torch.manual_seed(4)
    layer = LastTimeStep(GRU(2, 2)).double()
    mask = torch.tensor([[1, 1, 0], [0, 1, 1]], dtype=torch.float64)
    x = torch.randn(2, 2, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: layer(v, mask), (x,))


def test_errors():
    with pytest.raises(ConfigError, match="layer must be a torch.nn.Module"):
        LastTimeStep("lstm")
    layer = LastTimeStep(LSTM(2, 3))
    with pytest.raises(ValueError, match=r"input must be \[N, F, T\]"):
        layer(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"mask must be \[N, T\]"):
        layer(torch.randn(2, 3, 4), torch.ones(2, 3))
    with pytest.raises(AttributeError):
        _ = LastTimeStep(Dense(2)).state_keys
