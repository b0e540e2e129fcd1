"""TimeDistributed: a plain loop over steps, Keras's oracle and layer, mask rows, spatial input."""

import numpy as np
import pytest
import torch
from torch import nn

from seqkit import ConfigError
from seqkit.layers import Conv2D, Dense, TimeDistributed

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
DTYPES = [torch.float32, torch.float64]


def _loop(inner, x):
    """Reference: the inner module called on each step separately."""
    return torch.stack([inner(x[:, :, t]) for t in range(x.shape[2])], dim=2)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make", [lambda: Dense(4, 3, activation="tanh"), lambda: nn.Linear(3, 4),
                                  lambda: nn.Sequential(nn.Linear(3, 5), nn.ReLU(), nn.Linear(5, 2))])
def test_equals_a_loop_over_steps(make, dtype, device):
    inner = make().to(device=device, dtype=dtype)
    layer = TimeDistributed(inner)
    x = torch.randn(3, 3, 6, dtype=dtype, device=device)                        # [N, F, T]
    torch.testing.assert_close(layer(x), _loop(inner, x))


def test_keras_oracle_15b():
    """keras.md §9 15b: Dense(1, kernel 0.01, no bias) on arange(24).reshape(3, 2, 4) (N, T, F)."""
    inner = Dense(1, 4, use_bias=False)
    inner.set_keras_weights([np.full((4, 1), 0.01, dtype="float32")])
    x_nwc = torch.arange(24, dtype=torch.float32).reshape(3, 2, 4)              # [N, T, F]
    y = TimeDistributed(inner)(x_nwc.permute(0, 2, 1))                          # [N, 1, T]
    want = torch.tensor([[[0.06], [0.22]], [[0.38], [0.54]], [[0.7], [0.86]]])  # [N, T, 1]
    torch.testing.assert_close(y.permute(0, 2, 1), want)


def test_keras_time_distributed_parity():
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(1)
    theirs = keras.layers.TimeDistributed(keras.layers.Dense(3, activation="relu"))
    x = rng.normal(size=(2, 5, 4)).astype("float32")                            # [N, T, F]
    want = keras.ops.convert_to_numpy(theirs(x))                                # [N, T, H]
    inner = Dense(3, activation="relu").set_keras_weights(theirs.layer.get_weights())
    got = TimeDistributed(inner)(torch.as_tensor(x).permute(0, 2, 1))           # [N, H, T]
    torch.testing.assert_close(got.detach().permute(0, 2, 1), torch.as_tensor(want), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("device", DEVICES)
def test_mask_hits_the_right_rows(device):
    """N > 1 and T > 1 with an asymmetric mask: each masked (n, t) is zero, each real one is the loop's."""
    inner = nn.Linear(2, 3).to(device)
    with torch.no_grad():
        inner.bias.fill_(1.0)                                                   # nonzero output everywhere
    x = torch.randn(3, 2, 4, device=device)
    mask = torch.tensor([[1, 1, 0, 0], [1, 0, 1, 1], [0, 0, 0, 1]], device=device)
    y = TimeDistributed(inner)(x, mask)
    ref = _loop(inner, x)
    for n in range(3):
        for t in range(4):
            if mask[n, t]:
                torch.testing.assert_close(y[n, :, t], ref[n, :, t])
            else:
                assert torch.all(y[n, :, t] == 0)


def test_masked_rows_get_no_gradient():
    inner = nn.Linear(2, 3)
    x = torch.randn(2, 2, 3, requires_grad=True)
    mask = torch.tensor([[1.0, 0.0, 1.0], [0.0, 1.0, 1.0]])
    TimeDistributed(inner)(x, mask).sum().backward()
    assert torch.all(x.grad.permute(0, 2, 1)[mask == 0] == 0)
    assert torch.all(x.grad.permute(0, 2, 1)[mask == 1] != 0)


@pytest.mark.parametrize("device", DEVICES)
def test_spatial_input_goes_frame_by_frame(device):
    inner = nn.Conv2d(3, 2, kernel_size=3).to(device)
    x = torch.randn(2, 3, 4, 6, 5, device=device)                               # [N, C, T, H, W]
    y = TimeDistributed(inner)(x, torch.tensor([[1, 1, 1, 0], [1, 1, 1, 1]], device=device))
    assert y.shape == (2, 2, 4, 4, 3)
    ref = torch.stack([inner(x[:, :, t]) for t in range(4)], dim=2)
    torch.testing.assert_close(y[:, :, :3], ref[:, :, :3])
    torch.testing.assert_close(y[1], ref[1])
    assert torch.all(y[0, :, 3] == 0)


def test_seqkit_inner_is_built_lazily_and_shapes_infer():
    layer = TimeDistributed(Dense(5))
    assert layer.n_in is None and layer.n_out == 5 and not layer.built
    assert layer.output_shape((3, None)) == (5, None)
    y = layer(torch.randn(2, 3, 4, dtype=torch.float64))
    assert y.shape == (2, 5, 4) and y.dtype == torch.float64
    assert layer.n_in == 3 and layer.layer.n_in == 3
    conv = TimeDistributed(Conv2D(4, 3))
    assert conv.output_shape((3, 7, 8, 8)) == (4, 7, 6, 6)


def test_output_shape_of_a_plain_module_by_probe():
    assert TimeDistributed(nn.Linear(3, 4)).output_shape((3, 10)) == (4, 10)
    seq = TimeDistributed(nn.Sequential(nn.Conv2d(3, 2, 3), nn.Flatten()))
    assert seq.n_in is None and seq.n_out is None
    assert seq.output_shape((3, None, 5, 5)) == (18, None)
    with pytest.raises(ConfigError, match="unknown sizes"):
        seq.output_shape((3, None, None, 5))
    with pytest.raises(ConfigError, match="cannot take one step"):
        TimeDistributed(nn.Sequential(nn.Linear(4, 2))).output_shape((3, 2))


def test_gradcheck_with_mask():
    mask = torch.tensor([[1.0, 1.0, 0.0], [0.0, 1.0, 1.0]], dtype=torch.float64)
    layer = TimeDistributed(Dense(2, 3, activation="sigmoid")).double()
    x = torch.randn(2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: layer(v, mask), (x,))
    conv = TimeDistributed(nn.Conv2d(2, 1, 2)).double()
    x5 = torch.randn(2, 2, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda v: conv(v, mask), (x5,))


def test_errors():
    with pytest.raises(ConfigError, match="must be a torch.nn.Module"):
        TimeDistributed(lambda x: x)
    layer = TimeDistributed(nn.Linear(3, 2))
    with pytest.raises(ValueError, match=r"expected input \[N, F, T\]"):
        layer(torch.randn(4, 3))
    with pytest.raises(ValueError, match=r"mask must be \[N, T\]"):
        layer(torch.randn(2, 3, 4), torch.ones(2, 5))
    with pytest.raises(ValueError, match="expected 3 input features"):
        layer(torch.randn(2, 4, 4))
    with pytest.raises(ConfigError, match="n_in=3 but the input has 4"):
        layer.output_shape((4, 2))
    with pytest.raises(ConfigError, match="expected input"):
        layer.output_shape((3,))

    class Collapse(nn.Module):                                                  # returns one row in total
        def forward(self, x):
            return x.sum(dim=0, keepdim=True)

    with pytest.raises(ValueError, match="must return one tensor with 8 rows"):
        TimeDistributed(Collapse())(torch.randn(2, 3, 4))
