"""Bidirectional: two layers by hand, the masking semantic, Keras parity and oracles, errors."""

import numpy as np
import pytest
import torch

from seqkit import ConfigError
from seqkit.layers import Bidirectional, ConvLSTM1D, Dense, LastTimeStep, MaskZero, TimeDistributed
from seqkit.layers._cells import LSTMCell
from seqkit.layers._graves import GravesLSTM
from seqkit.layers._gru import GRU
from seqkit.layers._lstm import LSTM
from seqkit.layers._rnn import RNN
from seqkit.layers._simple_rnn import SimpleRNN

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
MODES = ["concat", "add", "mul", "average"]
KERAS_MODES = {"concat": "concat", "add": "sum", "mul": "mul", "average": "ave"}
INNERS = {
    "lstm": lambda f, h, **kw: LSTM(h, f, **kw),
    "gru": lambda f, h, **kw: GRU(h, f, **kw),
    "simple_rnn": lambda f, h, **kw: SimpleRNN(h, f, **kw),
    "graves": lambda f, h, **kw: GravesLSTM(h, f, **kw),
    "rnn_cell": lambda f, h, **kw: RNN(LSTMCell(h, f), **kw),
}
MASKS = {                                                     # N = 3, T = 6
    "none": None,
    "right": [[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 0, 0, 0, 0]],
    "left": [[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]],
    "both_ends_and_gap": [[0, 1, 1, 1, 1, 0], [1, 1, 0, 1, 1, 0], [0, 0, 1, 0, 1, 1]],
}


def merge(mode, a, b):
    return {"concat": lambda: torch.cat([a, b], dim=1), "add": lambda: a + b,
            "mul": lambda: a * b, "average": lambda: (a + b) / 2}[mode]()


def by_hand(bi, x, mask):
    """Each example alone on its real steps: forward layer, and backward layer on the
    reversed real steps (reversed back); merged; zeros at the padded steps."""
    fwd, bwd = bi.forward_layer, bi.backward_layer
    t = x.shape[2]
    rows = []
    for n in range(x.shape[0]):
        real = torch.arange(t) if mask is None else torch.nonzero(mask[n]).flatten()
        xn = x[n:n + 1, :, real]                                           # [1, F, L]
        y_f, y_b = fwd(xn), bwd(xn.flip(2))
        if y_b.dim() == 3:                                                 # a sequence
            y_b = y_b.flip(2)
        y = merge(bi.mode, y_f, y_b)
        if y.dim() == 3:
            full = y.new_zeros(1, y.shape[1], t)
            full[:, :, real.to(y.device)] = y
            y = full
        rows.append(y)
    return torch.cat(rows)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mask_kind", list(MASKS))
@pytest.mark.parametrize("inner", list(INNERS))
@pytest.mark.parametrize("mode", MODES)
def test_equals_two_layers_by_hand(mode, inner, mask_kind, device):
    """Also the masking semantic: each padded example equals that example alone."""
    torch.manual_seed(0)
    bi = Bidirectional(INNERS[inner](4, 3), mode).to(device=device, dtype=torch.float64)
    x = torch.randn(3, 4, 6, dtype=torch.float64, device=device)
    mask = None if MASKS[mask_kind] is None else torch.tensor(MASKS[mask_kind], dtype=torch.float64)
    got = bi(x, None if mask is None else mask.to(device))
    assert got.shape == (3, bi.n_out, 6)
    torch.testing.assert_close(got, by_hand(bi, x, mask), atol=1e-10, rtol=1e-8)
    if mask is not None:
        assert torch.all(got.permute(0, 2, 1)[mask.to(device) == 0] == 0)


@pytest.mark.parametrize("mask_kind", list(MASKS))
@pytest.mark.parametrize("mode", MODES)
def test_last_step_outputs_equal_two_layers_by_hand(mode, mask_kind):
    torch.manual_seed(1)
    bi = Bidirectional(LSTM(3, 4, return_sequences=False), mode).double()
    x = torch.randn(3, 4, 6, dtype=torch.float64)
    mask = None if MASKS[mask_kind] is None else torch.tensor(MASKS[mask_kind], dtype=torch.float64)
    got = bi(x, mask)
    assert got.shape == (3, bi.n_out)
    torch.testing.assert_close(got, by_hand(bi, x, mask), atol=1e-10, rtol=1e-8)


@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("mode", MODES)
def test_dl4j_masking_bidirectional_rnn(mode, return_sequences):
    """dl4j.md §8 #7: mask rows 11111, 11110, 11100 (and the same on the left): example i
    equals itself run alone, truncated to its real steps."""
    torch.manual_seed(2)
    bi = Bidirectional(GRU(3, 2, return_sequences=return_sequences), mode).double()
    x = torch.randn(3, 2, 5, dtype=torch.float64)
    right = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 1, 0], [1, 1, 1, 0, 0]], dtype=torch.float64)
    for mask in (right, right.flip(1)):
        y = bi(x, mask)
        for n in range(3):
            real = torch.nonzero(mask[n]).flatten()
            alone = bi(x[n:n + 1, :, real])
            if return_sequences:
                torch.testing.assert_close(y[n:n + 1, :, real], alone)
            else:
                torch.testing.assert_close(y[n:n + 1], alone)


def test_last_time_step_inner_equals_return_sequences_false():
    torch.manual_seed(3)
    seq = Bidirectional(LSTM(3, 2, return_sequences=False)).double()
    wrapped = Bidirectional(LastTimeStep(LSTM(3, 2))).double()
    wrapped.set_keras_weights(seq.get_keras_weights())
    x = torch.randn(3, 2, 6, dtype=torch.float64)
    mask = torch.tensor(MASKS["both_ends_and_gap"], dtype=torch.float64)
    torch.testing.assert_close(wrapped(x, mask), seq(x, mask))
    assert wrapped(x).shape == (3, 6) and wrapped.n_out == 6


def test_mask_zero_inner_and_convlstm_inner():
    torch.manual_seed(4)
    bi = Bidirectional(MaskZero(LSTM(2, 3))).double()
    x = torch.randn(2, 3, 5, dtype=torch.float64)
    x[1, :, 3:] = 0.0
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.float64)
    plain = Bidirectional(LSTM(2, 3)).double()
    plain.set_keras_weights(bi.get_keras_weights())
    torch.testing.assert_close(bi(x), plain(x, mask))
    conv = Bidirectional(ConvLSTM1D(2, 3, padding="same"), "add").double()
    xc = torch.randn(2, 3, 4, 5, dtype=torch.float64)                          # [N, C, T, L]
    mc = torch.tensor([[1, 1, 1, 0], [0, 1, 1, 1]], dtype=torch.float64)
    y = conv(xc, mc)
    assert y.shape == (2, 2, 4, 5)
    torch.testing.assert_close(y[1:, :, 1:], conv(xc[1:, :, 1:]))


def test_backward_layer_is_a_fresh_copy_and_lazy_n_in():
    fwd = LSTM(4)
    bi = Bidirectional(fwd)
    assert bi.forward_layer is fwd and bi.n_in is None and not bi.built and bi.n_out == 8
    y = bi(torch.randn(2, 3, 5))
    assert y.shape == (2, 8, 5) and bi.n_in == 3 and bi.backward_layer.n_in == 3
    assert not torch.equal(bi.forward_layer.cell.weight_ih, bi.backward_layer.cell.weight_ih)
    built = LSTM(4, 3)
    bi2 = Bidirectional(built, "mul")
    assert bi2.built and bi2.n_out == 4
    assert not torch.equal(built.cell.weight_hh, bi2.backward_layer.cell.weight_hh)
    assert len(list(bi2.parameters())) == 6
    assert Bidirectional(LSTM(4), "sum").mode == "add" and Bidirectional(LSTM(4), "ave").mode == "average"


def test_return_state_and_initial_state_halves():
    torch.manual_seed(5)
    bi = Bidirectional(LSTM(2, 3, return_state=True)).double()
    x = torch.randn(2, 3, 4, dtype=torch.float64)
    states = [torch.randn(2, 2, dtype=torch.float64) for _ in range(4)]
    y, h_f, c_f, h_b, c_b = bi(x, initial_state=states)
    y_f, hf, cf = bi.forward_layer(x, initial_state=states[:2])
    y_b, hb, cb = bi.backward_layer(x.flip(2), initial_state=states[2:])
    torch.testing.assert_close(y, torch.cat([y_f, y_b.flip(2)], dim=1))
    for a, b in ((h_f, hf), (c_f, cf), (h_b, hb), (c_b, cb)):
        torch.testing.assert_close(a, b)
    as_dict = bi(x, initial_state={"forward": states[:2], "backward": states[2:]})
    torch.testing.assert_close(as_dict[0], y)


def test_gradcheck_each_mode():
    mask = torch.tensor([[1, 1, 1, 0], [0, 1, 1, 1]], dtype=torch.float64)
    for mode in MODES:
        torch.manual_seed(6)
        bi = Bidirectional(LSTM(2, 2), mode).double()
        names = [n for n, _ in bi.named_parameters()]
        params = [p.detach().clone().requires_grad_(True) for p in bi.parameters()]
        x = torch.randn(2, 2, 4, dtype=torch.float64, requires_grad=True)

        def fn(x, *ps, bi=bi, names=names):
            return torch.func.functional_call(bi, dict(zip(names, ps)), (x, mask))
        assert torch.autograd.gradcheck(fn, (x, *params))


def test_errors():
    with pytest.raises(ConfigError, match=r"unknown mode 'max'; expected one of 'concat', 'add', 'mul', "
                                          r"'average' \(or Keras's aliases 'sum', 'ave'\)"):
        Bidirectional(LSTM(2), "max")
    with pytest.raises(ConfigError, match="must be a recurrent layer"):
        Bidirectional(Dense(3))
    with pytest.raises(ConfigError, match="must be a recurrent layer"):
        Bidirectional(LastTimeStep(TimeDistributed(Dense(3))))
    with pytest.raises(ConfigError, match="go_backwards=True"):
        Bidirectional(LSTM(2, go_backwards=True))
    bi = Bidirectional(LSTM(2, 3))
    with pytest.raises(ValueError, match=r"input must be \[N, F, T\]"):
        bi(torch.randn(2, 3))
    with pytest.raises(ValueError, match="expected 3 input features"):
        bi(torch.randn(2, 4, 5))
    with pytest.raises(ValueError, match=r"mask must be \[N, T\]"):
        bi(torch.randn(2, 3, 5), torch.ones(2, 4))
    with pytest.raises(ConfigError, match="cannot be used step by step / with truncated BPTT"):
        bi.run(torch.randn(2, 3, 5))
    assert Bidirectional.supports_stepwise is False
    with pytest.raises(ValueError, match="must hold 4 tensors"):
        bi(torch.randn(2, 3, 5), initial_state=[torch.zeros(2, 2)] * 3)
    with pytest.raises(ValueError, match="keys 'forward' and 'backward'"):
        bi(torch.randn(2, 3, 5), initial_state={"fwd": []})
    with pytest.raises(ValueError, match="even number of arrays"):
        bi.set_keras_weights([np.zeros((3, 8))] * 3)
    with pytest.raises(ValueError, match="no Keras weight layout"):
        Bidirectional(GravesLSTM(2, 3)).set_keras_weights([np.zeros(1)] * 2)
    last = Bidirectional(LSTM(2, 3, return_sequences=False))
    with pytest.raises(ValueError, match="example 1 .*entirely masked"):
        last(torch.randn(2, 3, 4), torch.tensor([[1, 1, 0, 0], [0, 0, 0, 0]]))


# -- Keras ---------------------------------------------------------------------------------
def _keras_inner(keras, kind, units, return_sequences, return_state=False):
    cls = {"lstm": keras.layers.LSTM, "gru": keras.layers.GRU, "simple_rnn": keras.layers.SimpleRNN}[kind]
    return cls(units, return_sequences=return_sequences, return_state=return_state)


KERAS_MASK = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [0, 1, 1, 0, 1, 0]], dtype=bool)


@pytest.mark.parametrize("masked", [False, True])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["lstm", "gru", "simple_rnn"])
def test_keras_parity(kind, mode, return_sequences, masked):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(7)
    x = rng.normal(size=(3, 6, 4)).astype("float32")                          # [N, T, F]
    theirs = keras.layers.Bidirectional(_keras_inner(keras, kind, 3, return_sequences),
                                        merge_mode=KERAS_MODES[mode])
    theirs(x)                                                                  # build
    theirs.set_weights([rng.normal(scale=0.5, size=w.shape).astype("float32")
                        for w in theirs.get_weights()])
    mask = KERAS_MASK if masked else None
    want = keras.ops.convert_to_numpy(theirs(x, mask=mask))
    ours = Bidirectional(INNERS[kind](4, 3, return_sequences=return_sequences), mode)
    ours.set_keras_weights(theirs.get_weights())
    got = ours(torch.as_tensor(x).permute(0, 2, 1),
               None if mask is None else torch.as_tensor(mask, dtype=torch.float32)).detach()
    if return_sequences:
        got = got.permute(0, 2, 1)                                             # [N, T, H]
    torch.testing.assert_close(got, torch.as_tensor(want), atol=1e-5, rtol=1e-5)
    back = ours.get_keras_weights()
    assert all(np.array_equal(a, b) for a, b in zip(back, theirs.get_weights()))


@pytest.mark.parametrize("masked", [False, True])
def test_keras_parity_return_state(masked):
    keras = pytest.importorskip("keras")
    rng = np.random.default_rng(8)
    x = rng.normal(size=(3, 6, 4)).astype("float32")
    theirs = keras.layers.Bidirectional(_keras_inner(keras, "lstm", 3, True, return_state=True))
    theirs(x)
    mask = KERAS_MASK if masked else None
    want = [keras.ops.convert_to_numpy(a) for a in theirs(x, mask=mask)]
    ours = Bidirectional(LSTM(3, 4, return_state=True)).set_keras_weights(theirs.get_weights())
    got = ours(torch.as_tensor(x).permute(0, 2, 1),
               None if mask is None else torch.as_tensor(mask, dtype=torch.float32))
    assert len(got) == 5
    tol = dict(atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(got[0].detach().permute(0, 2, 1), torch.as_tensor(want[0]), **tol)
    for a, b in zip(got[1:], want[1:]):
        torch.testing.assert_close(a.detach(), torch.as_tensor(b), **tol)


# -- keras.md §9 oracles (constant weights: kernel 0.01, recurrent 0.02, bias 0.03) ----------
def _const(kind, n_in, units, kernel=0.01, recurrent=0.02, bias=0.03):
    g = {"lstm": 4, "gru": 3, "simple_rnn": 1}[kind] * units
    b = np.full((2, g) if kind == "gru" else (g,), bias, dtype="float32")
    if kind == "lstm":
        b[units:2 * units] = 1.0                                # unit_forget_bias: forget bias exactly 1
    return [np.full((n_in, g), kernel, dtype="float32"), np.full((units, g), recurrent, dtype="float32"), b]


TOL = dict(atol=1e-5, rtol=1e-5)


def _ntf(shape):
    """``arange`` in Keras's (N, T, F) layout, returned as seqkit's [N, F, T]."""
    return torch.arange(int(np.prod(shape)), dtype=torch.float32).reshape(shape).permute(0, 2, 1)


def test_oracle_9_correctness():
    x = _ntf((2, 3, 4))
    bi = Bidirectional(SimpleRNN(2, 4, return_sequences=False))
    bi.set_keras_weights(_const("simple_rnn", 4, 2) * 2)
    want = torch.tensor([[0.39687276, 0.39687276, 0.10004295, 0.10004295],
                         [0.7237238, 0.7237238, 0.53391594, 0.53391594]])
    torch.testing.assert_close(bi(x), want, atol=1e-5, rtol=1e-5)
    ave = Bidirectional(SimpleRNN(2, 4, return_sequences=False), "ave")
    ave.set_keras_weights(_const("simple_rnn", 4, 2) * 2)
    torch.testing.assert_close(ave(x), torch.tensor([[0.24845785] * 2, [0.6288199] * 2]), **TOL)
    mul = Bidirectional(SimpleRNN(2, 4, return_sequences=False), "mul")    # custom backward weights
    mul.set_keras_weights(_const("simple_rnn", 4, 2) + _const("simple_rnn", 4, 2, kernel=0.03, bias=0.01))
    torch.testing.assert_close(mul(x), torch.tensor([[0.08374989] * 2, [0.6740834] * 2]), **TOL)
    gru = Bidirectional(GRU(2, 4), "sum")
    gru.set_keras_weights(_const("gru", 4, 2) * 2)
    want = torch.tensor([[0.20937867, 0.34462988, 0.40290534], [0.59829646, 0.6734641, 0.6479671]])
    torch.testing.assert_close(gru(x), want[:, None, :].expand(2, 2, 3), atol=1e-5, rtol=1e-5)


def test_oracle_10_return_state():
    bi = Bidirectional(LSTM(2, 3, return_sequences=False, return_state=True))
    bi.set_keras_weights(_const("lstm", 3, 2) * 2)
    y, h_f, c_f, h_b, c_b = bi(_ntf((2, 4, 3)))
    tol = dict(atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(y, torch.tensor([[0.1990008] * 2 + [0.12659755] * 2,
                                                [0.52335435] * 2 + [0.44717982] * 2]), **tol)
    torch.testing.assert_close(h_f, torch.tensor([[0.1990008] * 2, [0.52335435] * 2]), **tol)
    torch.testing.assert_close(c_f, torch.tensor([[0.35567185] * 2, [1.0492687] * 2]), **tol)
    torch.testing.assert_close(h_b, torch.tensor([[0.12659755] * 2, [0.44717982] * 2]), **tol)
    torch.testing.assert_close(c_b, torch.tensor([[0.2501858] * 2, [0.941473] * 2]), **tol)


def test_oracle_11_masking():
    bi = Bidirectional(GRU(2, 3, return_sequences=False))
    bi.set_keras_weights(_const("gru", 3, 2) * 2)
    mask = torch.tensor([[1, 1, 0, 1], [1, 0, 0, 1]], dtype=torch.float32)
    want = torch.tensor([[0.19393763] * 2 + [0.11669192] * 2, [0.30818558] * 2 + [0.28380975] * 2])
    torch.testing.assert_close(bi(_ntf((2, 4, 3)), mask), want, atol=1e-5, rtol=1e-5)


def test_oracle_11b_initial_state_and_stateful():
    a = torch.arange(4, dtype=torch.float32).reshape(2, 2)
    bi = Bidirectional(LSTM(2, 3, return_sequences=False))
    bi.set_keras_weights(_const("lstm", 3, 2) * 2)
    want = torch.tensor([[0.20794602, 0.4577124, 0.14046375, 0.48191673],
                         [0.6682636, 0.6711909, 0.60943645, 0.60950446]])
    torch.testing.assert_close(bi(_ntf((2, 4, 3)), initial_state=[a, 2 * a, 3 * a, 4 * a]), want,
                               atol=1e-5, rtol=1e-5)
    st = Bidirectional(LSTM(2, 3, return_sequences=False, stateful=True))
    st.set_keras_weights(_const("lstm", 3, 2) * 2)
    second = torch.tensor([[0.26234663] * 2 + [0.16959146] * 2, [0.6137073] * 2 + [0.5381646] * 2])
    for _ in range(2):                                                         # again after reset_state()
        st(_ntf((2, 4, 3)))
        torch.testing.assert_close(st(_ntf((2, 4, 3))), second, atol=1e-5, rtol=1e-5)
        st.reset_state()
