"""MaskZero: DL4J's MaskZeroLayer case (dl4j.md §8 #9), combined masks, spatial input, errors."""

import math

import numpy as np
import pytest
import torch

from seqkit import ConfigError
from seqkit.layers import LastTimeStep, MaskZero
from seqkit.layers._gru import GRU
from seqkit.layers._lstm import LSTM

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


@pytest.mark.parametrize("device", DEVICES)
def test_dl4j_mask_zero_layer_case(device):
    """LSTM with 2 inputs and 1 unit, identity activation and gates, zero weights and all four
    biases 1: every gate is 1, so c_t = c_{t-1} + 1 and h_t = c_t at a real step.

    Example 1 (features x steps) [[0,3,5],[0,0,2]] has step 0 all zero (masked); example 2
    [[0,0,2],[0,0,2]] has steps 0 and 1 masked. The masked steps come first, so seqkit's
    semantic (state carried, output 0) and DL4J's (state reset to 0 at masked steps) agree:
    the state entering the first real step is 0 either way. Expected [0,1,2] and [0,0,1].
    """
    lstm = LSTM(1, 2, activation="identity", gate_activation="identity")
    lstm.set_keras_weights([np.zeros((2, 4)), np.zeros((1, 4)), np.ones(4)])
    layer = MaskZero(lstm, mask_value=0.0).to(device)
    x = torch.tensor([[[0, 3, 5], [0, 0, 2]], [[0, 0, 2], [0, 0, 2]]], dtype=torch.float32, device=device)
    y = layer(x)
    torch.testing.assert_close(y.cpu(), torch.tensor([[[0.0, 1.0, 2.0]], [[0.0, 0.0, 1.0]]]))
    torch.testing.assert_close(layer.compute_mask(x).cpu(), torch.tensor([[0.0, 1, 1], [0, 0, 1]]))


def test_combined_with_an_incoming_mask():
    torch.manual_seed(0)
    inner = GRU(3, 2).double()
    layer = MaskZero(inner)
    x = torch.randn(2, 2, 5, dtype=torch.float64)
    x[0, :, 1] = 0.0                                                     # a gap from the data
    x[1, :, 4] = 0.0
    incoming = torch.tensor([[1, 1, 1, 1, 0], [0, 1, 1, 1, 1]], dtype=torch.float64)
    want_mask = torch.tensor([[1, 0, 1, 1, 0], [0, 1, 1, 1, 0]], dtype=torch.float64)
    torch.testing.assert_close(layer.compute_mask(x, incoming), want_mask)
    torch.testing.assert_close(layer(x, incoming), inner(x, want_mask))
    x[0, 0, 3] = 0.0                                                     # one zero feature is not padding
    assert layer.compute_mask(x)[0, 3] == 1


def test_mask_value_nan_spatial_input_and_flags():
    x = torch.ones(2, 3, 4, 5, 5)                                        # [N, C, T, H, W]
    x[0, :, 2] = 7.0
    x[1, 1, 3, 2, 2] = 7.0
    layer = MaskZero(LSTM(2), mask_value=7)
    torch.testing.assert_close(layer.compute_mask(x), torch.tensor([[1.0, 1, 0, 1], [1, 1, 1, 1]]))
    y = torch.randn(1, 2, 3)
    y[0, :, 1] = math.nan
    torch.testing.assert_close(MaskZero(LSTM(2), math.nan).compute_mask(y), torch.tensor([[1.0, 0, 1]]))
    assert MaskZero(LastTimeStep(LSTM(2))).reduces_time and not layer.reduces_time
    assert layer.n_out == 2 and layer.n_in is None


def test_streaming_run_uses_the_derived_mask():
    torch.manual_seed(1)
    inner = LSTM(2, 2)
    layer = MaskZero(inner)
    assert layer.state_keys == ("h", "c")
    x = torch.randn(2, 2, 4)
    x[1, :, :2] = 0.0
    y, state = layer.run(x)
    y_ref, state_ref = inner.run(x, torch.tensor([[1.0, 1, 1, 1], [0, 0, 1, 1]]))
    torch.testing.assert_close(y, y_ref)
    torch.testing.assert_close(state["c"], state_ref["c"])


def test_gradcheck_with_masks():
    """Only the real steps' values vary: nudging a padding zero would change the mask itself."""
    torch.manual_seed(2)
    layer = MaskZero(LSTM(2, 2)).double()
    real = torch.tensor([[1, 1, 1, 0], [0, 1, 1, 1]], dtype=torch.bool)     # zeros elsewhere
    incoming = torch.tensor([[1, 1, 0, 1], [1, 1, 1, 1]], dtype=torch.float64)
    values = torch.randn(int(real.sum()), 2, dtype=torch.float64, requires_grad=True)

    def fn(values):
        x = torch.zeros(2, 4, 2, dtype=torch.float64).index_put((real,), values)   # [N, T, F]
        return layer(x.permute(0, 2, 1), incoming)
    assert torch.autograd.gradcheck(fn, (values,))


def test_errors():
    with pytest.raises(ConfigError, match="mask_value must be a number"):
        MaskZero(LSTM(2), mask_value="0")
    with pytest.raises(ConfigError, match="layer must be a torch.nn.Module"):
        MaskZero(None)
    layer = MaskZero(LSTM(2, 3))
    with pytest.raises(ValueError, match=r"input must be \[N, F, T\]"):
        layer(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"mask must be \[N, T\]"):
        layer(torch.randn(2, 3, 4), torch.ones(2, 5))
