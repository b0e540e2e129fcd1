"""Every fast path equals the plain step-loop reference (float64, atol 1e-6), gradients included.

Fast paths: the fused kernels of LSTM, GRU (reset_after=True) and SimpleRNN
(tanh, relu), with their shift-and-gather handling of one-run masks, and the
hand-written loops of GravesLSTM, GRU (both modes) and SimpleRNN. GRU and
SimpleRNN take the hand-written loops on the CPU and torch's kernels on CUDA;
the "*_torch_kernel" cases force torch's kernels on the CPU too. Masks with gaps take the loops but are held to
the reference too.
"""

import pytest
import torch

from recurrent_cases import DEVICES, FAST, MASK_KINDS, get_mask, inputs, make, random_state

ATOL = 1e-6


def _loss_weights(y, state, seed=5):
    g = torch.Generator().manual_seed(seed)
    wy = torch.randn(y.shape, generator=g, dtype=torch.float64).to(y)
    ws = {k: torch.randn(v.shape, generator=g, dtype=torch.float64).to(v) for k, v in state.items()}
    return wy, ws


def _grads(layer, fn, x, state, wy, ws):
    """Gradients of a fixed random projection of ``fn``'s outputs and final states."""
    x = x.clone().requires_grad_()
    st = {k: v.clone().requires_grad_() for k, v in state.items()}
    y, final = fn(x, st)
    loss = (y * wy).sum() + sum((final[k] * ws[k]).sum() for k in final)
    leaves = [x, *st.values(), *layer.parameters()]
    return torch.autograd.grad(loss, leaves, allow_unused=True)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mask_kind", MASK_KINDS)
@pytest.mark.parametrize("name", FAST)
def test_run_equals_reference(name, mask_kind, device):
    layer = make(name, device=device)
    x, mask = inputs(device=device), get_mask(mask_kind, device=device)
    state = random_state(layer, device=device)
    y, final = layer.run(x, mask, state)
    y_ref, final_ref = layer.reference(x, mask, state)
    torch.testing.assert_close(y, y_ref, atol=ATOL, rtol=0)
    for k in layer.state_keys:
        torch.testing.assert_close(final[k], final_ref[k], atol=ATOL, rtol=0)
    if mask is not None:
        assert (y.permute(1, 0, 2)[:, mask == 0] == 0).all(), "masked outputs must be exact zeros"
    wy, ws = _loss_weights(y, final)
    fast = _grads(layer, lambda a, s: layer.run(a, mask, s), x, state, wy, ws)
    ref = _grads(layer, lambda a, s: layer.reference(a, mask, s), x, state, wy, ws)
    for a, b in zip(fast, ref):
        torch.testing.assert_close(a, b, atol=ATOL, rtol=0)


@pytest.mark.parametrize("mask_kind", ["right", "left", "gaps"])
@pytest.mark.parametrize("name", FAST)
def test_run_without_state_gives_same_outputs(name, mask_kind):
    layer = make(name)
    x, mask = inputs(), get_mask(mask_kind)
    y, final = layer.run(x, mask, need_state=False)
    assert final is None
    torch.testing.assert_close(y, layer.reference(x, mask)[0], atol=ATOL, rtol=0)


def _flagged_reference(layer, x, mask, state):
    """The layer's flags applied by hand around ``reference``: the test's own oracle."""
    if layer.go_backwards:
        x = x.flip(2)
        mask = None if mask is None else mask.flip(1)
    y, final = layer.reference(x, mask, state)
    if not layer.return_sequences:
        last = [int(torch.nonzero(mask[n])[-1]) if mask is not None else x.shape[2] - 1
                for n in range(x.shape[0])]
        y = torch.stack([y[n, :, t] for n, t in enumerate(last)])
    return y, final


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mask_kind", [None, "right", "left"])
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("return_sequences", [True, False])
@pytest.mark.parametrize("name", FAST)
def test_forward_flags_equal_reference(name, return_sequences, go_backwards, mask_kind, device):
    layer = make(name, device=device, return_sequences=return_sequences,
                 go_backwards=go_backwards, return_state=True)
    x, mask = inputs(device=device), get_mask(mask_kind, device=device)
    state = random_state(layer, device=device)
    y, *states = layer(x, mask, initial_state=state)
    y_ref, final_ref = _flagged_reference(layer, x, mask, state)
    torch.testing.assert_close(y, y_ref, atol=ATOL, rtol=0)
    assert len(states) == len(layer.state_keys)
    for s, k in zip(states, layer.state_keys):
        torch.testing.assert_close(s, final_ref[k], atol=ATOL, rtol=0)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mask_kind", [None, "right", "gaps"])
@pytest.mark.parametrize("name", FAST)
def test_stateful_two_calls_equal_reference(name, mask_kind, device):
    layer = make(name, device=device, stateful=True)
    x1, x2 = inputs(device=device, seed=3), inputs(device=device, seed=4)
    mask = get_mask(mask_kind, device=device)
    y1, y2 = layer(x1, mask), layer(x2, mask)
    r1, s1 = layer.reference(x1, mask)
    r2, _ = layer.reference(x2, mask, s1)
    torch.testing.assert_close(y1, r1, atol=ATOL, rtol=0)
    torch.testing.assert_close(y2, r2, atol=ATOL, rtol=0)


@pytest.mark.parametrize("name", FAST)
def test_float32_fast_path_close_to_float64_reference(name):
    layer64 = make(name)
    layer32 = make(name, dtype=torch.float32)
    x, mask = inputs(), get_mask("left")
    y32, s32 = layer32.run(x.float(), mask.float())
    y64, s64 = layer64.reference(x, mask)
    assert y32.dtype == torch.float32
    torch.testing.assert_close(y32.double(), y64, atol=2e-5, rtol=0)
    for k in s64:
        torch.testing.assert_close(s32[k].double(), s64[k], atol=2e-5, rtol=0)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "GRU_reset_before", "SimpleRNN", "GravesLSTM"])
def test_input_dropout_same_masks_as_reference(name):
    layer = make(name, dropout=0.4).train()
    x, mask = inputs(), get_mask("right")
    torch.manual_seed(7)
    y, s = layer.run(x, mask)
    torch.manual_seed(7)
    y_ref, s_ref = layer.reference(x, mask)
    torch.testing.assert_close(y, y_ref, atol=ATOL, rtol=0)
    torch.manual_seed(8)
    assert not torch.allclose(layer.run(x, mask)[0], y), "a new call draws a new mask"
    layer.eval()
    torch.testing.assert_close(layer.run(x, mask)[0], make(name).run(x, mask)[0])


def test_recurrent_dropout_uses_the_loop_in_training_only(monkeypatch):
    from seqkit.layers import _fused
    x = inputs()
    y_plain = make("LSTM")(x)
    calls = []
    real = _fused.fused_run
    monkeypatch.setattr(_fused, "fused_run", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    layer = make("LSTM", recurrent_dropout=0.3).train()
    torch.manual_seed(0)
    a = layer(x)
    torch.manual_seed(0)
    b = layer.reference(x)[0]
    torch.testing.assert_close(a, b)
    assert not torch.allclose(a, y_plain)
    assert calls == []
    layer.eval()
    torch.testing.assert_close(layer(x), y_plain)
    assert calls == ["lstm"]


@pytest.mark.parametrize("mask_kind", [None, "right", "left", "gaps"])
def test_fused_path_taken_unless_gaps(monkeypatch, mask_kind):
    from seqkit.layers import _fused
    calls = []
    real = _fused.fused_run
    monkeypatch.setattr(_fused, "fused_run", lambda *a, **k: calls.append(a[0]) or real(*a, **k))
    for name in ["LSTM", "GRU_torch_kernel", "SimpleRNN_torch_kernel", "SimpleRNN_relu_torch_kernel",
                 "GRU", "GRU_reset_before", "SimpleRNN", "LSTM_hard_sigmoid"]:
        make(name).run(inputs(), get_mask(mask_kind))
    expected = [] if mask_kind == "gaps" else ["lstm", "gru", "rnn_tanh", "rnn_relu"]
    assert calls == expected
