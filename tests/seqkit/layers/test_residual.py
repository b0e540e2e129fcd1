"""Residual: inner layers plus the (projected) input, masks, carried state, shapes, saving, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import seqkit
from seqkit import ConfigError, InputType, Sequential
from seqkit import layers as L
from seqkit.layers import Residual, StepMask, layer_to_config, layer_trait

MASK = [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [0, 0, 1, 1, 1, 1]]


def _data(f=3, seed=0, junk=True):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(3, f, 6, dtype=torch.float64, generator=gen)
    mask = torch.tensor(MASK, dtype=torch.float64)
    if junk:
        x = torch.where(mask[:, None, :] != 0, x, 10.0 * torch.randn(3, f, 6, dtype=torch.float64, generator=gen))
    return x, mask


def _noisy(module, seed=1):
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in module.parameters():
            p.add_(0.3 * torch.randn(p.shape, dtype=p.dtype, generator=gen))
    return module


def test_identity_shortcut_adds_the_input():
    x, mask = _data()
    conv, act = L.Conv1D(3, 3, padding="same"), L.Activation("tanh")
    block = _noisy(Residual([conv, act]).build(3).double())
    assert block.shortcut is None and block.n_out == 3
    y = block(x, mask)
    want = act(conv(x, mask), mask) + x
    real = (mask != 0)[:, None, :].expand_as(x)
    torch.testing.assert_close(y[real], want[real])
    assert (y[~real] == 0).all()


def test_a_projection_when_the_sizes_differ():
    x, mask = _data()
    lstm = L.LSTM(5)
    block = _noisy(Residual([lstm]).build(3).double())
    assert isinstance(block.shortcut, L.Dense) and (block.shortcut.n_in, block.shortcut.n_out) == (3, 5)
    y = block(x, mask)
    want = lstm(x, mask) + block.shortcut(x, mask)
    torch.testing.assert_close(y, want * mask[:, None, :])
    assert (y.permute(0, 2, 1)[mask == 0] == 0).all()


def test_projection_always_and_never():
    assert isinstance(Residual([L.Dense(3)], projection="ALWAYS", n_in=3).shortcut, L.Dense)
    assert Residual([L.Dense(3)], projection="never", n_in=3).shortcut is None
    with pytest.raises(ConfigError, match="the block's layers output 4 features but its input has 3; with "
                                          "projection='never'"):
        Residual([L.Dense(4)], projection="never", n_in=3)
    with pytest.raises(ConfigError, match="projection='never'"):
        Residual([L.Dense(4)], projection="never").output_shape((3, None))
    with pytest.raises(ConfigError, match="projection must be one of always, auto, never, got 'sometimes'"):
        Residual([L.Dense(4)], projection="sometimes")


@pytest.mark.parametrize("left", [False, True])
def test_padding_changes_no_example(left):
    block = _noisy(Residual([L.Conv1D(4, 3, padding="same", activation="tanh"), L.LayerNorm(),
                             L.GRU(4), L.Activation("relu")]).build(3).double()).eval()
    x, mask = _data()
    if left:
        mask = mask.flip(1)
    y = block(x, mask)
    for n in range(3):
        keep = mask[n] != 0
        torch.testing.assert_close(y[n][:, keep], block(x[n:n + 1, :, keep])[0], rtol=0, atol=1e-10)


def test_step_mask_reaches_recurrent_layers_and_mask_zero_steers_the_layers_after_it():
    x, mask = _data(junk=False)
    x = x * mask[:, None, :]                                           # zero padding, no mask given
    block = _noisy(Residual([L.MaskZero(L.LSTM(3)), L.SimpleRNN(3)]).build(3).double())
    y = block(x)
    for n in range(3):
        keep = mask[n] != 0
        alone = block(x[n:n + 1, :, keep])[0]
        torch.testing.assert_close(y[n][:, keep], alone, rtol=0, atol=1e-10)
    sm = StepMask.wrap(mask, mask.clone())
    torch.testing.assert_close(block(x, sm), block(x, mask))


def test_vectors_with_a_row_mask():
    block = Residual([L.Dense(4, activation="tanh"), L.LayerNorm(), L.BatchNorm()]).eval()
    x = torch.randn(5, 4)
    y = block(x, torch.tensor([1.0, 1, 0, 1, 1]))
    assert y.shape == (5, 4) and (y[2] == 0).all()
    assert block.input_layouts == {"vectors", "sequences"} and not block.needs_time


@pytest.mark.parametrize("layers, match", [
    ([], "layers must be a non-empty list of seqkit layers"),
    ("LSTM", "layers must be a non-empty list"),
    ([torch.nn.Linear(3, 3)], r"Residual: layer 0 is a Linear, not a seqkit layer \(wrap a plain"),
    ([L.Dense(3), L.RnnOutput(3)], r"layer 1 \(RnnOutput\): output layers and preprocessors cannot be inside"),
    ([L.RnnToFeedForward()], "output layers and preprocessors"),
    ([L.LSTM(3, return_sequences=False)], r"layer 0 \(LSTM\) removes the time axis"),
    ([L.LastTimeStep(L.LSTM(3))], "removes the time axis"),
    ([L.GlobalPooling()], "removes the time axis"),
    ([L.GRU(3, go_backwards=True)], r"layer 0 \(GRU\) outputs its sequence reversed \(go_backwards\)"),
    ([L.LSTM(3), L.Conv2D(3, 2)], r"layer 1 \(Conv2D\) takes images, video, but a Residual block works on "
                                  r"sequences"),
])
def test_layers_that_cannot_be_in_a_block(layers, match):
    with pytest.raises(ConfigError, match=match):
        Residual(layers)


def test_build_and_input_errors():
    with pytest.raises(ConfigError, match=r"Residual: layer 0 \(LSTM\): built for n_in=4 but got input with 3 "):
        Residual([L.LSTM(3, 4)], n_in=3)
    with pytest.raises(ValueError, match=r"Residual: its layers need sequences \[N, F, T\], got \(2, 3\)"):
        Residual([L.LSTM(3)])(torch.randn(2, 3))
    with pytest.raises(ValueError, match=r"Residual: expected input \[N, F, T\] or \[N, F\], got \(2, 3, 4, 4\)"):
        Residual([L.Dense(3)])(torch.randn(2, 3, 4, 4))
    with pytest.raises(ValueError, match=r"Residual: mask must be \[N, T\]"):
        Residual([L.LSTM(3)])(torch.randn(2, 3, 4), torch.ones(2, 5))


def test_output_shape_walks_the_layers():
    block = Residual([L.Conv1D(8, 3), L.BatchNorm(), L.LSTM(5)])
    assert block.output_shape((3, None)) == (5, None)
    assert not block.built
    with pytest.raises(ConfigError, match=r"Residual: expected vectors \(N, F\) or sequences \(N, F, T\)"):
        block.output_shape((3, 4, 4))
    with pytest.raises(ConfigError, match="Residual: n_in=4 but the input has 3 features"):
        Residual([L.Dense(3)], n_in=4).output_shape((3, None))
    with pytest.raises(ConfigError, match=r"Residual: layer 0 \(Conv1D\): expected sequences"):
        block.output_shape((3,))
    with pytest.raises(ConfigError, match=r"Residual: the input's feature \(channel\) count must be known"):
        block.output_shape((None, None))


def test_a_layer_that_changes_the_layout_inside_is_refused_by_output_shape():
    class Shorten(L.Layer):                                           # a user layer that drops a step
        def __init__(self, n_in=None):
            super().__init__(n_in)

        @property
        def n_out(self):
            return self.n_in

        def forward(self, x, mask=None):
            return x[:, :, 1:]

        def output_shape(self, shape):
            return (shape[0], None if shape[1] is None else shape[1] - 1)
    with pytest.raises(ConfigError, match=r"Residual: layer 0 \(Shorten\) turns \(3, 5\) into \(3, 4\); every "
                                          r"inner layer must keep the layout and T"):
        Residual([Shorten()]).output_shape((3, 5))


def test_describes_itself_from_its_layers():
    conv = Residual([L.Conv1D(3, 3), L.Activation("relu")])
    assert layer_trait(conv, "needs_time") and layer_trait(conv, "mixes_steps")
    assert layer_trait(conv, "stepwise_obstacle") == "mixes_steps" and not layer_trait(conv, "carries_state")
    assert conv.input_layouts == {"sequences"} and layer_trait(conv, "takes_step_mask")
    rec = Residual([L.Conv1D(3, 1), L.LSTM(3), L.Residual([L.GRU(3)])])
    assert layer_trait(rec, "carries_state") and layer_trait(rec, "stepwise_obstacle") is None
    assert rec.state_keys == ("1.h", "1.c", "2.0.h")
    assert not layer_trait(rec, "reduces_time") and not layer_trait(rec, "reverses_time")
    bi = Residual([L.Bidirectional(L.LSTM(3))])
    assert layer_trait(bi, "stepwise_obstacle") == "bidirectional" and not layer_trait(bi, "carries_state")
    assert layer_trait(Residual([L.Dense(3)]), "wrapped") is None
    assert "projection='auto'" in repr(rec)


# -- carried state: TBPTT and streaming ----------------------------------------------------------------
def test_run_in_chunks_equals_forward_on_the_whole():
    block = _noisy(Residual([L.Conv1D(4, 1, activation="tanh"), L.LSTM(4), L.Residual([L.GRU(4)])])
                   .build(3).double())
    x, mask = _data()
    whole = block(x, mask)
    y1, state = block.run(x[:, :, :4], mask[:, :4])
    assert set(state) == {"1.h", "1.c", "2.0.h"}
    y2, final = block.run(x[:, :, 4:], StepMask.wrap(mask[:, 4:], mask[:, 4:]), state)
    torch.testing.assert_close(torch.cat([y1, y2], 2), whole, rtol=0, atol=1e-12)
    assert set(final) == set(state)


def test_run_errors():
    with pytest.raises(ValueError, match=r"Residual: run\(\) needs an inner layer that carries state"):
        Residual([L.Conv1D(3, 3)]).run(torch.randn(2, 3, 4))
    block = Residual([L.LSTM(3)])
    with pytest.raises(ValueError, match=r"Residual: state must be a dict with keys \['0.h', '0.c'\], got \['h'\]"):
        block.run(torch.randn(2, 3, 4), None, {"h": torch.zeros(2, 3)})
    with pytest.raises(ValueError, match=r"expected input \[N, F, T\], got \(2, 3\)"):
        block.run(torch.randn(2, 3))


def test_rnn_time_step_and_tbptt_carry_the_inner_states():
    net = Sequential([Residual([L.LSTM(4), L.LayerNorm()]), L.RnnOutput(2)],
                     input_type=InputType.recurrent(3), seed=0, dtype=torch.float64)
    x = np.random.default_rng(0).normal(size=(2, 3, 7))
    whole = net.output(x)
    first = net.rnn_time_step(x[:, :, :3])
    rest = net.rnn_time_step(x[:, :, 3:])
    np.testing.assert_allclose(np.concatenate([first, rest], 2), whole, rtol=0, atol=1e-12)
    assert set(net.rnn_get_previous_state(0)) == {"0.h", "0.c"}
    tbptt = Sequential([Residual([L.LSTM(4)]), L.RnnOutput(2)], input_type=InputType.recurrent(3), seed=0,
                       backprop="tbptt", tbptt_length=3)
    y = np.eye(2, dtype=np.float32)[np.zeros((2, 7), int)].transpose(0, 2, 1)
    before = [p.detach().clone() for p in tbptt.parameters()]
    tbptt.fit((x.astype(np.float32), y), epochs=1, batch_size=2, progress=False)
    assert all(not torch.equal(a, b) for a, b in zip(before, tbptt.parameters()))


def test_tbptt_and_streaming_refuse_a_block_that_mixes_steps():
    layers = lambda: [Residual([L.Conv1D(3, 3), L.LSTM(3)]), L.RnnOutput(2)]  # noqa: E731
    with pytest.raises(ConfigError, match=r"layer 0 \(Residual\): TBPTT cannot train a Conv1D with kernel_size > 1"):
        Sequential(layers(), input_type=InputType.recurrent(3), backprop="tbptt")
    net = Sequential(layers(), input_type=InputType.recurrent(3))
    with pytest.raises(ValueError, match=r"rnn_time_step: layer 0 \(Residual\)"):
        net.rnn_time_step(np.zeros((1, 3, 2), np.float32))


# -- in a network: inference of n_in, saving -----------------------------------------------------------
def test_resnet_blocks_in_a_network_build_and_save(tmp_path):
    def block(h):
        return Residual([L.Conv1D(h, 5, padding="same"), L.BatchNorm(), L.Activation("relu"),
                         L.Conv1D(h, 3, padding="same"), L.BatchNorm()])
    net = Sequential([block(8), L.Activation("relu"), Residual([block(8), L.LSTM(6)], projection="always"),
                      L.GlobalPooling("avg"), L.Output(3)], input_type=InputType.recurrent(2), seed=0)
    assert net.output_shapes[:4] == [(8, None), (8, None), (6, None), (6,)]
    assert isinstance(net.layers[0].shortcut, L.Dense) and net.layers[0].layers[0].n_in == 2
    rng = np.random.default_rng(0)
    x = rng.normal(size=(4, 2, 9)).astype(np.float32)
    mask = np.ones((4, 9), np.float32)
    mask[1, 6:] = 0
    mask[2, :2] = 0
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 1]]
    net.fit((x, y, mask, None), epochs=2, batch_size=4, progress=False)
    net.save(tmp_path / "resnet.seqkit")
    loaded = seqkit.load(tmp_path / "resnet.seqkit")
    np.testing.assert_array_equal(loaded.output(x, mask), net.output(x, mask))
    assert layer_to_config(loaded.layers[2]) == layer_to_config(net.layers[2])
    assert loaded.summary() == net.summary()


# -- gradients --------------------------------------------------------------------------------------
@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("kind", ["identity", "projection"])
def test_gradcheck(kind, masked):
    h = 3 if kind == "identity" else 4
    block = _noisy(Residual([L.Conv1D(h, 2, padding="same"), L.LayerNorm(), L.Activation("tanh"),
                             L.LSTM(h)]).build(3).double())
    x, mask = _data(junk=False)
    x = x[:, :, :4]
    mask = mask[:, :4] if masked else None
    names = [n for n, _ in block.named_parameters()]
    assert ("shortcut.weight" in names) == (kind == "projection") and len(names) >= 7

    def fn(xv, *params):
        return torch.func.functional_call(block, dict(zip(names, params)), (xv, mask))
    leaves = [x.clone().requires_grad_()] + [p.detach().clone().requires_grad_() for p in block.parameters()]
    assert torch.autograd.gradcheck(fn, leaves, eps=1e-6, atol=1e-5)
