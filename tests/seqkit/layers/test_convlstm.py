"""ConvLSTM1D/2D/3D: Keras parity, an independent loop for 3-D, keras.md §9 oracles 14-15,
the masking semantic, gradcheck, errors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from seqkit import ConfigError
from seqkit.layers import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
CLASSES = {1: ConvLSTM1D, 2: ConvLSTM2D, 3: ConvLSTM3D}
CONFIGS = [
    dict(kernel_size=3),
    dict(kernel_size=2, padding="same"),                         # even kernel: extra pad after
    dict(kernel_size=3, strides=2, padding="same"),
    dict(kernel_size=2, strides=2, padding="same"),              # odd total padding with a stride
    dict(kernel_size=2, strides=2),
    dict(kernel_size=2, dilation_rate=2, padding="same"),
    dict(kernel_size=3, dilation_rate=2),
]
KERAS_SHAPE = {1: (2, 5, 7, 3), 2: (2, 4, 7, 6, 3)}             # (N, T, *spatial, C)


def _ours(x_keras: np.ndarray) -> torch.Tensor:
    """Keras's channels-last (N, T, *S, C) as seqkit's [N, C, T, *S]."""
    return torch.as_tensor(x_keras).movedim(-1, 1)


def _keras_layout(y: torch.Tensor) -> torch.Tensor:
    """seqkit's [N, F, ...] as channels-last (N, ..., F)."""
    return y.detach().movedim(1, -1)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: "-".join(f"{k}{v}" for k, v in c.items()))
@pytest.mark.parametrize("rank", [1, 2])
def test_keras_parity(rank, config):
    """Unmasked and masked (right padding; left padding with a gap), outputs and states."""
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(rank)
    x = rng.normal(size=KERAS_SHAPE[rank]).astype("float32")
    kcls = {1: keras.layers.ConvLSTM1D, 2: keras.layers.ConvLSTM2D}[rank]
    theirs = kcls(filters=2, return_sequences=True, return_state=True, **config)
    theirs(x)
    theirs.set_weights([rng.normal(scale=0.3, size=w.shape).astype("float32") for w in theirs.get_weights()])
    ours = CLASSES[rank](2, **config, return_state=True).set_keras_weights(theirs.get_weights())
    last = CLASSES[rank](2, **config, return_sequences=False).set_keras_weights(theirs.get_weights())
    assert all(np.array_equal(a, b) for a, b in zip(ours.get_keras_weights(), theirs.get_weights()))
    masked = np.ones(x.shape[:2], dtype=bool)
    masked[0, -2:] = False
    masked[1, [0, 2]] = False
    tol = dict(atol=1e-5, rtol=1e-5)
    for mask in (None, masked):
        want_y, want_h, want_c = (torch.as_tensor(keras.ops.convert_to_numpy(a))
                                  for a in theirs(x, mask=mask))
        m = None if mask is None else torch.as_tensor(mask, dtype=torch.float32)
        y, h, c = ours(_ours(x), m)
        real = torch.ones(x.shape[:2], dtype=torch.bool) if mask is None else torch.as_tensor(mask)
        # Keras carries the previous output at masked steps; seqkit outputs zero there
        steps = real.t()                                                   # [T, N]
        torch.testing.assert_close(_keras_layout(y).movedim(1, 0)[steps], want_y.movedim(1, 0)[steps], **tol)
        assert torch.all(y.movedim(2, 0)[~steps] == 0)
        torch.testing.assert_close(_keras_layout(h), want_h, **tol)
        torch.testing.assert_close(_keras_layout(c), want_c, **tol)
        torch.testing.assert_close(_keras_layout(last(_ours(x), m)), want_h, **tol)


def _loop_3d(layer, x, mask, h, c):
    """Independent reference for ConvLSTM3D: one conv3d per gate and step, explicit carry."""
    f = layer.filters
    w_x = layer.weight_ih.split(f)                                          # 4 x [F, C, *k]
    w_h = layer.weight_hh.split(f)
    b = layer.bias.split(f)
    ys = []
    for t in range(x.shape[2]):
        x_t = x[:, :, t]
        if layer.padding == "same":
            pads = []
            for size, k, s in reversed(list(zip(x_t.shape[2:], layer.kernel_size, layer.strides))):
                total = max(0, (-(-size // s) - 1) * s + k - size)
                pads += [total // 2, total - total // 2]
            x_t = F.pad(x_t, pads)
        rec_pads = []
        for k in reversed(layer.kernel_size):
            rec_pads += [(k - 1) // 2, k - 1 - (k - 1) // 2]
        z = [F.conv3d(x_t, w_x[g], b[g], stride=layer.strides) + F.conv3d(F.pad(h, rec_pads), w_h[g])
             for g in range(4)]
        c_new = torch.sigmoid(z[1]) * c + torch.sigmoid(z[0]) * torch.tanh(z[2])
        h_new = torch.sigmoid(z[3]) * torch.tanh(c_new)
        real = (mask[:, t] != 0).view(-1, 1, 1, 1, 1)
        h, c = torch.where(real, h_new, h), torch.where(real, c_new, c)
        ys.append(torch.where(real, h_new, torch.zeros_like(h_new)))
    return torch.stack(ys, dim=2), h, c


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("config", [dict(kernel_size=3), dict(kernel_size=(2, 3, 2), padding="same"),
                                    dict(kernel_size=2, strides=(1, 2, 2), padding="same")])
def test_convlstm3d_equals_an_independent_loop(config, device):
    torch.manual_seed(0)
    layer = ConvLSTM3D(3, n_in=2, return_state=True, **config).to(device=device, dtype=torch.float64)
    with torch.no_grad():
        layer.bias.normal_()
    x = torch.randn(2, 2, 4, 5, 4, 5, dtype=torch.float64, device=device)  # [N, C, T, D, H, W]
    mask = torch.tensor([[1, 1, 1, 0], [0, 1, 0, 1]], dtype=torch.float64, device=device)
    h0 = torch.randn((2, 3) + layer.output_spatial(x.shape[3:]), dtype=torch.float64, device=device)
    c0 = torch.randn_like(h0)
    y, h, c = layer(x, mask, initial_state=[h0, c0])
    ry, rh, rc = _loop_3d(layer, x, mask, h0, c0)
    for a, b in ((y, ry), (h, rh), (c, rc)):
        torch.testing.assert_close(a, b, atol=1e-10, rtol=1e-8)


# -- keras.md §9 oracles: kernel 0.01, recurrent kernel 0.02, bias 0.03 (forget bias 1.0) --------
def _const(layer, c_in, bias=0.03):
    k, f = layer.kernel_size, layer.filters
    b = np.full(4 * f, bias, dtype="float32")
    b[f:2 * f] = 1.0                                                       # unit_forget_bias
    return layer.set_keras_weights([np.full(k + (c_in, 4 * f), 0.01, dtype="float32"),
                                    np.full(k + (f, 4 * f), 0.02, dtype="float32"), b])


def _arange(shape, scale):
    return np.arange(int(np.prod(shape)), dtype="float32").reshape(shape) / scale


def test_oracle_14_convlstm1d():
    layer = _const(ConvLSTM1D(2, 3, return_sequences=False), 5)
    y = layer(_ours(_arange((2, 3, 4, 5), 10)))
    want = [[[0.40807986] * 2, [0.46421072] * 2], [[0.80933154] * 2, [0.8233646] * 2]]
    torch.testing.assert_close(_keras_layout(y), torch.tensor(want), atol=1e-5, rtol=1e-5)


def test_oracle_14b_convlstm2d():
    layer = _const(ConvLSTM2D(2, 3, return_sequences=False), 5)
    y = layer(_ours(_arange((2, 3, 4, 4, 5), 100)))
    want = [[[0.48694518, 0.50237733], [0.5461202, 0.5598283]],
            [[0.8661607, 0.86909103], [0.8774414, 0.8800861]]]            # per position; filters equal
    torch.testing.assert_close(_keras_layout(y), torch.tensor(want)[..., None].expand(2, 2, 2, 2),
                               atol=1e-5, rtol=1e-5)


def test_oracle_14c_convlstm3d():
    layer = _const(ConvLSTM3D(2, 3, return_sequences=False), 5)
    y = layer(_ours(_arange((2, 3, 4, 4, 4, 5), 100)))
    s0 = [[[0.99149036, 0.99180907], [0.99258363, 0.9927925]],
          [[0.99413764, 0.99420583], [0.9943788, 0.9944278]]]
    want = torch.stack([torch.tensor(s0), torch.full((2, 2, 2), 0.9950547)])[..., None].expand(2, 2, 2, 2, 2)
    torch.testing.assert_close(_keras_layout(y), want, atol=1e-5, rtol=1e-5)


def test_oracle_15_cell_step_and_initial_state():
    """conv_lstm_test: kernel 0.01, recurrent 0.02, default bias (zeros, forget 1.0), "same"."""
    cell = _const(ConvLSTM2D(4, 3, padding="same", return_state=True), 3, bias=0.0)
    x = _ours(_arange((2, 1, 5, 5, 3), 10))                               # one step
    s = torch.as_tensor(_arange((2, 5, 5, 4), 10)).movedim(-1, 1)          # [N, F, H, W]
    _, h, c = cell(x, initial_state=[s, s])
    torch.testing.assert_close(h.sum(), torch.tensor(188.89502), rtol=1e-5, atol=1e-4)
    torch.testing.assert_close(c.sum(), torch.tensor(2170.444), rtol=1e-5, atol=1e-3)
    layer = _const(ConvLSTM2D(4, 3, padding="same", return_sequences=False), 3, bias=0.0)
    s = torch.as_tensor(_arange((2, 5, 5, 4), 100)).movedim(-1, 1)
    out = layer(_ours(_arange((2, 3, 5, 5, 3), 100)), initial_state=[s, s])
    torch.testing.assert_close(out.sum(), torch.tensor(119.812454), rtol=1e-5, atol=1e-3)


# -- semantics ----------------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
def test_masking_semantic_each_example_alone(device):
    torch.manual_seed(1)
    layer = ConvLSTM2D(2, 3, n_in=2, padding="same", return_state=True).to(device=device, dtype=torch.float64)
    x = torch.randn(3, 2, 5, 4, 4, dtype=torch.float64, device=device)
    mask = torch.tensor([[1, 1, 1, 0, 0], [0, 0, 1, 1, 1], [0, 1, 0, 1, 0]],
                        dtype=torch.float64, device=device)
    y, h, c = layer(x, mask)
    for n in range(3):
        real = torch.nonzero(mask[n]).flatten()
        y_n, h_n, c_n = layer(x[n:n + 1, :, real])
        torch.testing.assert_close(y[n:n + 1, :, real], y_n)
        torch.testing.assert_close(h[n:n + 1], h_n)
        torch.testing.assert_close(c[n:n + 1], c_n)
        assert torch.all(y[n, :, mask[n] == 0] == 0)


def test_stateful_go_backwards_and_state_api():
    torch.manual_seed(2)
    x = torch.randn(2, 3, 6, 5, dtype=torch.float64)
    full = ConvLSTM1D(2, 3, n_in=3, padding="same").double()
    stateful = ConvLSTM1D(2, 3, n_in=3, padding="same", stateful=True).double()
    stateful.load_state_dict(full.state_dict())
    torch.testing.assert_close(torch.cat([stateful(x[:, :, :3]), stateful(x[:, :, 3:])], dim=2), full(x))
    stateful.reset_state()
    back = ConvLSTM1D(2, 3, n_in=3, padding="same", go_backwards=True).double()
    back.load_state_dict(full.state_dict())
    torch.testing.assert_close(back(x), full(x.flip(2)))
    assert full.state_keys == ("h", "c") and full.n_out == 2
    assert full.initial_state(4)["h"].shape == (4, 2, 5)                    # last input's spatial size
    assert ConvLSTM1D(2, 3, strides=2).initial_state(1, spatial=(9,))["c"].shape == (1, 2, 4)
    y, state = full.run(x)
    torch.testing.assert_close(state["h"], y[:, :, -1])


def test_initialisation_and_lazy_build():
    layer = ConvLSTM2D(3, (3, 2))
    assert not layer.built and layer.n_in is None
    y = layer(torch.randn(2, 4, 3, 6, 6))
    assert y.shape == (2, 3, 3, 4, 5) and layer.n_in == 4
    assert layer.weight_ih.shape == (12, 4, 3, 2) and layer.weight_hh.shape == (12, 3, 3, 2)
    torch.testing.assert_close(layer.bias, torch.tensor([0.0] * 3 + [1.0] * 3 + [0.0] * 6))
    assert ConvLSTM2D(3, 3, unit_forget_bias=False, n_in=2).bias.abs().sum() == 0
    assert ConvLSTM1D(2, 3, n_in=2, use_bias=False).bias is None
    assert len(ConvLSTM1D(2, 3, n_in=2, use_bias=False).get_keras_weights()) == 2
    assert ConvLSTM1D(2, 3, recurrent_activation="hard_sigmoid").gate_activation_name == "hard_sigmoid"


@pytest.mark.parametrize("rank", [1, 2])
def test_gradcheck_with_mask(rank):
    torch.manual_seed(3)
    layer = CLASSES[rank](1, 2, n_in=1, padding="same").double()
    x = torch.randn((2, 1, 3) + (3,) * rank, dtype=torch.float64, requires_grad=True)
    mask = torch.tensor([[1, 1, 0], [0, 1, 1]], dtype=torch.float64)
    names = [n for n, _ in layer.named_parameters()]
    params = [p.detach().clone().requires_grad_(True) for p in layer.parameters()]

    def fn(x, *ps):
        return torch.func.functional_call(layer, dict(zip(names, ps)), (x, mask))
    assert torch.autograd.gradcheck(fn, (x, *params))


def test_dropout_trains_and_evaluates():
    torch.manual_seed(4)
    layer = ConvLSTM1D(2, 3, n_in=2, dropout=0.5, recurrent_dropout=0.5)
    x = torch.randn(2, 2, 4, 6)
    layer.eval()
    torch.testing.assert_close(layer(x), layer(x))
    layer.train()
    assert not torch.allclose(layer(x), layer(x))


def test_errors():
    with pytest.raises(ConfigError, match="strides > 1 cannot be combined with dilation_rate > 1"):
        ConvLSTM2D(1, 1, strides=2, padding="same", dilation_rate=3)
    with pytest.raises(ConfigError, match="padding must be 'valid' or 'same'"):
        ConvLSTM1D(2, 3, padding="causal")
    with pytest.raises(ConfigError, match="kernel_size must be a positive int or 2 positive ints"):
        ConvLSTM2D(2, (3, 3, 3))
    with pytest.raises(ConfigError, match="filters must be a positive int"):
        ConvLSTM1D(0, 3)
    with pytest.raises(ConfigError, match="gate_activation='tanh' and recurrent_activation='sigmoid'"):
        ConvLSTM1D(2, 3, gate_activation="tanh", recurrent_activation="sigmoid")
    with pytest.raises(ConfigError, match="unit_forget_bias must be True or False"):
        ConvLSTM1D(2, 3, unit_forget_bias=1)
    layer = ConvLSTM2D(2, 3, n_in=2)
    with pytest.raises(ValueError, match=r"input must be 5-D \[N, C, T, H, W\] \(channels first"):
        layer(torch.randn(2, 2, 3, 5))
    with pytest.raises(ValueError, match="smaller than the dilated kernel"):
        layer(torch.randn(2, 2, 3, 2, 5))
    with pytest.raises(ValueError, match="expected 2 input features"):
        layer(torch.randn(2, 3, 3, 5, 5))
    with pytest.raises(ValueError, match=r"mask must be \[N, T\]"):
        layer(torch.randn(2, 2, 3, 5, 5), torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"state 'h' must have shape \(2, 2, 3, 3\)"):
        layer(torch.randn(2, 2, 3, 5, 5), initial_state=[torch.zeros(2, 2, 5, 5)] * 2)
    with pytest.raises(ValueError, match="example 1 .*entirely masked"):
        ConvLSTM1D(2, 3, return_sequences=False)(torch.randn(2, 1, 3, 4),
                                                 torch.tensor([[1, 0, 0], [0, 0, 0]]))
    with pytest.raises(ValueError, match="pass spatial= to initial_state"):
        ConvLSTM1D(2, 3).initial_state(2)
    with pytest.raises(ValueError, match="expected 3 Keras arrays"):
        layer.set_keras_weights([np.zeros((3, 3, 2, 8))])
    with pytest.raises(ValueError, match=r"Keras recurrent_kernel must have shape \(3, 3, 2, 8\)"):
        layer.set_keras_weights([np.zeros((3, 3, 2, 8)), np.zeros((3, 3, 8, 8)), np.zeros(8)])
    with pytest.raises(ValueError, match="kernel must be 4-D"):
        layer.set_keras_weights([np.zeros((3, 2, 8)), np.zeros((3, 3, 2, 8)), np.zeros(8)])
    with pytest.raises(ValueError, match="not built yet"):
        ConvLSTM1D(2, 3).get_keras_weights()
