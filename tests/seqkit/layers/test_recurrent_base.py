"""The Recurrent contract shared by every recurrent layer: flags, states, dtypes, errors."""

import pytest
import torch

from seqkit import ConfigError
from seqkit.layers import GRU, LSTM, RNN, GravesLSTM, LSTMCell, Recurrent, SimpleRNN

from recurrent_cases import DEVICES, LAYERS, get_mask, inputs, make, random_state

LAYER_CLASSES = [LSTM, GRU, SimpleRNN, GravesLSTM]


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_contract_attributes(name):
    layer = make(name)
    assert isinstance(layer, Recurrent)
    assert layer.units == layer.n_out == 3
    assert layer.return_sequences is True and layer.return_state is False
    assert layer.go_backwards is False and layer.stateful is False
    zeros = layer.initial_state(5, dtype=torch.float64)
    assert list(zeros) == list(layer.state_keys)
    assert all(v.shape[0] == 5 and (v == 0).all() for v in zeros.values())


def test_state_keys():
    assert LSTM(3).state_keys == GravesLSTM(3).state_keys == ("h", "c")
    assert GRU(3).state_keys == SimpleRNN(3).state_keys == ("h",)
    assert RNN(LSTMCell(3)).state_keys == ("h", "c")
    assert RNN([LSTMCell(3), LSTMCell(2)]).state_keys == ("cell0_h", "cell0_c", "cell1_h", "cell1_c")


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("cls", LAYER_CLASSES)
def test_lazy_n_in_and_dtype(cls, dtype, device):
    layer = cls(5)
    assert not layer.built
    x = torch.randn(2, 3, 4, dtype=dtype, device=device)
    y = layer(x)
    assert layer.built and layer.n_in == 3
    assert y.shape == (2, 5, 4) and y.dtype == dtype and y.device.type == device
    assert all(p.dtype == dtype for p in layer.parameters())


@pytest.mark.parametrize("cls", LAYER_CLASSES)
def test_input_errors(cls):
    layer = cls(4, 3)
    name = cls.__name__
    with pytest.raises(ValueError, match=rf"{name}: input must be 3-D \[N, F, T\].*\(2, 3\).*unsqueeze"):
        layer(torch.randn(2, 3))
    with pytest.raises(ValueError, match=rf"{name}: expected 3 input features.*\(2, 5, 4\)"):
        layer(torch.randn(2, 5, 4))
    with pytest.raises(ValueError, match=f"{name}: input must be a float tensor"):
        layer(torch.ones(2, 3, 4, dtype=torch.long))
    with pytest.raises(ValueError, match=f"{name}: input dtype torch.float64 differs"):
        layer(torch.randn(2, 3, 4, dtype=torch.float64))
    with pytest.raises(ValueError, match=f"{name}: input has no time steps"):
        layer(torch.randn(2, 3, 0))
    with pytest.raises(ValueError, match=r"mask must be \[N, T\] = \[2, 4\]"):
        layer(torch.randn(2, 3, 4), torch.ones(2, 5))


@pytest.mark.parametrize("cls", LAYER_CLASSES)
def test_constructor_errors(cls):
    with pytest.raises(ConfigError, match="units .* positive int"):
        cls(0)
    with pytest.raises(ConfigError, match="n_in must be a positive int"):
        cls(3, -1)
    with pytest.raises(ConfigError, match="return_sequences must be True or False"):
        cls(3, return_sequences=1)
    with pytest.raises(ConfigError, match="dropout must be a number in \\[0, 1\\)"):
        cls(3, dropout=1.0)
    with pytest.raises(ConfigError, match="recurrent_dropout must be"):
        cls(3, recurrent_dropout=-0.1)
    with pytest.raises(ConfigError, match="activation.*unknown activation 'tanhh'"):
        cls(3, activation="tanhh")


@pytest.mark.parametrize("name", ["LSTM", "GRU", "GravesLSTM", "RNN_stacked"])
def test_initial_state_as_dict_list_or_nested(name):
    layer = make(name)
    x = inputs()
    state = random_state(layer)
    y_dict = layer(x, initial_state=state)
    torch.testing.assert_close(layer(x, initial_state=list(state.values())), y_dict)
    if name == "RNN_stacked":                                            # grouped per cell
        grouped = layer.cell.group(list(state.values()))
        torch.testing.assert_close(layer(x, initial_state=grouped), y_dict)
    with pytest.raises(ValueError, match="state keys must be"):
        layer(x, initial_state={"nope": state[layer.state_keys[0]]})
    with pytest.raises(ValueError, match=f"expected {len(layer.state_keys)} state tensors"):
        layer(x, initial_state=list(state.values()) * 2)
    with pytest.raises(ValueError, match="must have shape"):
        layer(x, initial_state={k: v[:2] for k, v in state.items()})


@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN", "GravesLSTM"])
def test_return_state_order_and_run(name):
    layer = make(name, return_state=True)
    x, mask = inputs(), get_mask("left")
    y, *states = layer(x, mask)
    y_run, final = layer.run(x, mask)
    torch.testing.assert_close(y, y_run)
    assert len(states) == len(layer.state_keys)
    for s, k in zip(states, layer.state_keys):
        torch.testing.assert_close(s, final[k])
    torch.testing.assert_close(states[0], y[:, :, -1])                   # left padding: last real = T-1


def test_stacked_return_state_groups_per_cell_like_keras():
    layer = RNN([LSTMCell(10), LSTMCell(10)], return_state=True)
    out, first, second = layer(torch.randn(2, 3, 5))
    assert out.shape == (2, 10, 5)
    assert isinstance(first, tuple) and len(first) == 2 and first[0].shape == (2, 10)
    assert isinstance(second, tuple) and len(second) == 2
    torch.testing.assert_close(second[0], out[:, :, -1])


@pytest.mark.parametrize("name", ["LSTM", "GRU", "GravesLSTM"])
def test_go_backwards_flips_time_and_keeps_processing_order(name):
    fwd, back = make(name), make(name, go_backwards=True)
    x, mask = inputs(), get_mask("right")
    torch.testing.assert_close(back(x, mask), fwd(x.flip(2), mask.flip(1)))


@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN", "GravesLSTM"])
def test_stateful_chunks_equal_one_long_call(name):
    full = make(name)
    stream = make(name, stateful=True)
    x = inputs()
    y = torch.cat([stream(x[:, :, :3]), stream(x[:, :, 3:5]), stream(x[:, :, 5:])], dim=2)
    torch.testing.assert_close(y, full(x))
    assert not any(k.startswith("_state") for k in stream.state_dict())
    assert all(not b.requires_grad for b in stream.buffers())


def test_stateful_batch_size_change_and_reset():
    layer = make("LSTM", stateful=True)
    layer(inputs())
    with pytest.raises(ValueError, match="holds state for a batch of 4 but got a batch of 2.*reset_state"):
        layer(inputs(n=2))
    layer.reset_state()                                                  # zero: any batch size
    torch.testing.assert_close(layer(inputs(n=2)), make("LSTM")(inputs(n=2)))
    state = random_state(layer, n=2)
    layer.reset_state(state)
    torch.testing.assert_close(layer(inputs(n=2)), make("LSTM")(inputs(n=2), initial_state=state))
    layer.reset_state(list(state.values()))
    torch.testing.assert_close(layer(inputs(n=2)), make("LSTM")(inputs(n=2), initial_state=state))
    with pytest.raises(ValueError, match="reset_state expects tensors"):
        layer.reset_state([state["h"]])
    with pytest.raises(ValueError, match="reset_state\\(states\\) needs stateful=True"):
        make("LSTM").reset_state(state)
    make("LSTM").reset_state()                                           # a no-op, not an error


def test_stateful_initial_state_overrides_and_is_stored():
    layer = make("GRU", stateful=True)
    x = inputs()
    state = random_state(layer)
    y1 = layer(x, initial_state=state)
    _, after = make("GRU").run(x, None, state)
    torch.testing.assert_close(layer(x), make("GRU")(x, initial_state=after))
    torch.testing.assert_close(y1, make("GRU")(x, initial_state=state))


def test_stored_state_follows_the_module_dtype():
    layer = make("LSTM", stateful=True, dtype=torch.float32)
    layer(inputs(dtype=torch.float32))
    layer.double()
    assert layer(inputs()).dtype == torch.float64


def test_return_sequences_false_without_mask_is_last_step():
    layer, seq = make("SimpleRNN", return_sequences=False), make("SimpleRNN")
    torch.testing.assert_close(layer(inputs()), seq(inputs())[:, :, -1])


def test_bool_mask_and_mask_on_any_float_dtype():
    layer = make("LSTM")
    x, mask = inputs(), get_mask("both_ends")
    y = layer(x, mask)
    torch.testing.assert_close(layer(x, mask.bool()), y)
    torch.testing.assert_close(layer(x, mask.float()), y)


def test_extra_repr_names_flags():
    text = repr(LSTM(4, 2, return_sequences=False, stateful=True))
    assert "n_in=2" in text and "return_sequences=False" in text and "stateful" in text


def test_host_mask_analysis_matches_single_runs():
    """The numpy analysis of CPU masks agrees with the shared torch helper on random masks."""
    from seqkit.layers._mask import single_runs
    from seqkit.layers._step_mask import StepMask
    g = torch.Generator().manual_seed(0)
    x = torch.zeros(6, 1, 9)
    for trial in range(200):
        kind = trial % 4
        if kind == 0:                                                    # random: gaps likely
            mask = (torch.rand(6, 9, generator=g) > 0.4).float()
        else:                                                            # one run per row
            start = torch.randint(0, 9, (6, 1), generator=g)
            length = torch.randint(0, 10, (6, 1), generator=g)
            steps = torch.arange(9)[None]
            if kind == 1:
                start = torch.zeros_like(start)                          # right padding
            mask = ((steps >= start) & (steps < start + length)).float()
        host = StepMask(mask, x, "test")
        device_like = StepMask.wrap(mask, None)                         # no host copy: torch path
        s, n_len, one = single_runs(mask)
        for m in (host, device_like):
            starts, lengths, one_run = m.runs()
            assert one_run == one
            assert torch.equal(lengths, n_len)
            if one:
                assert torch.equal(starts, s)
            assert m.shifted == bool(s.any())
            assert m.padded == bool((n_len < 9).any())
        torch.testing.assert_close(host.zero_masked(torch.ones(9, 6, 2)),
                                   (mask != 0).t().float()[:, :, None].expand(9, 6, 2))


def test_a_step_mask_of_the_wrong_shape_is_an_error():
    from seqkit.layers._step_mask import StepMask
    layer = make("LSTM")
    wrong = StepMask(torch.ones(4, 5), torch.zeros(4, 1, 5), "test")
    with pytest.raises(ValueError, match=r"LSTM: mask must be \[N, T\] = \[4, 7\]"):
        layer(inputs(), wrong)
