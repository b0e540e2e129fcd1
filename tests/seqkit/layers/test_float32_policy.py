"""seqkit's float32 policy on CUDA (seqkit.layers._float32): cuDNN RNNs and convolutions in IEEE
float32 unless "tf32" is chosen, forward and backward, through torch's new fp32_precision API only.

The switching itself is checked on the CPU by forcing it (torch's settings are process state
and can be read and written without a GPU); the numbers are checked on CUDA.
"""

import os
import subprocess
import sys

import pytest
import torch

from seqkit.layers import (FLOAT32_PRECISIONS, GRU, LSTM, Conv1D, SimpleRNN, float32_precision,
                           get_float32_precision, set_float32_precision)
from seqkit.layers import _float32

from recurrent_cases import FAST, TF32_ATOL, float32_atol, get_mask, inputs, make


@pytest.fixture(autouse=True)
def _restore_settings():
    """Every test leaves seqkit's mode and torch's cuDNN settings as it found them."""
    mode = get_float32_precision()
    saved = (torch.backends.cudnn.conv.fp32_precision, torch.backends.cudnn.rnn.fp32_precision)
    try:
        yield
    finally:
        set_float32_precision(mode)
        torch.backends.cudnn.conv.fp32_precision, torch.backends.cudnn.rnn.fp32_precision = saved


def _cudnn_now() -> tuple[str, str]:
    return torch.backends.cudnn.conv.fp32_precision, torch.backends.cudnn.rnn.fp32_precision


class _Probe(torch.autograd.Function):
    """Identity that records torch's cuDNN settings in its forward and in its backward."""

    seen: list = []

    @staticmethod
    def forward(ctx, x):
        _Probe.seen.append(("forward", _cudnn_now()))
        return x.clone()

    @staticmethod
    def backward(ctx, g):
        _Probe.seen.append(("backward", _cudnn_now()))
        return g


# -- the setting ----------------------------------------------------------------------------------
def test_default_is_ieee_and_the_setting_round_trips():
    assert FLOAT32_PRECISIONS == ("ieee", "tf32")
    assert get_float32_precision() == os.environ.get("SEQKIT_FLOAT32", "ieee")
    set_float32_precision("tf32")
    assert get_float32_precision() == "tf32"
    with float32_precision("ieee"):
        assert get_float32_precision() == "ieee"
    assert get_float32_precision() == "tf32"


@pytest.mark.parametrize("bad", ["TF32", "highest", None, 32])
def test_unknown_modes_are_errors(bad):
    with pytest.raises(ValueError, match=r"set_float32_precision: float32 precision must be one of \['ieee', 'tf32'\]"):
        set_float32_precision(bad)
    with pytest.raises(ValueError, match="float32_precision: float32 precision must be one of"):
        with float32_precision(bad):
            pass


@pytest.mark.parametrize("value, expected", [("tf32", "tf32"), (" IEEE ", "ieee")])
def test_environment_variable_sets_the_initial_mode(value, expected):
    out = subprocess.run([sys.executable, "-c", "import seqkit.layers as L; print(L.get_float32_precision())"],
                         env={**os.environ, "SEQKIT_FLOAT32": value}, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == expected


def test_a_bad_environment_variable_is_an_error_naming_it():
    out = subprocess.run([sys.executable, "-c", "import seqkit.layers"],
                         env={**os.environ, "SEQKIT_FLOAT32": "fast"}, capture_output=True, text=True)
    assert out.returncode != 0
    assert "environment variable SEQKIT_FLOAT32: float32 precision must be one of ['ieee', 'tf32'], got 'fast'" \
        in out.stderr


def test_effective_precision_follows_torch_inheritance():
    torch.backends.cudnn.rnn.fp32_precision = "none"                    # inherits cudnn's, then generic
    cudnn_all, generic = torch.backends.cudnn.fp32_precision, torch.backends.fp32_precision
    try:
        torch.backends.cudnn.fp32_precision = "tf32"
        assert _float32._effective("rnn") == "tf32"
        torch.backends.cudnn.fp32_precision = "none"
        torch.backends.fp32_precision = "none"
        assert _float32._effective("rnn") == "ieee"
        torch.backends.cudnn.rnn.fp32_precision = "tf32"
        assert _float32._effective("rnn") == "tf32"
    finally:
        torch.backends.cudnn.fp32_precision, torch.backends.fp32_precision = cudnn_all, generic


def test_torch_cudnn_precision_sets_and_restores_the_new_api_only():
    torch.backends.cudnn.conv.fp32_precision = "tf32"
    torch.backends.cudnn.rnn.fp32_precision = "tf32"
    with _float32.torch_cudnn_precision("ieee"):
        assert _cudnn_now() == ("ieee", "ieee")
    assert _cudnn_now() == ("tf32", "tf32")
    with pytest.raises(RuntimeError), _float32.torch_cudnn_precision("ieee"):
        raise RuntimeError("boom")
    assert _cudnn_now() == ("tf32", "tf32")


# -- the switch, forced on the CPU ----------------------------------------------------------------
def test_no_switch_on_the_cpu():
    torch.backends.cudnn.rnn.fp32_precision = "tf32"
    _Probe.seen = []
    x = torch.randn(3, requires_grad=True)
    _float32.cudnn_call(_Probe.apply, x).sum().backward()
    assert _Probe.seen == [("forward", _cudnn_now()), ("backward", _cudnn_now())]
    assert _cudnn_now()[1] == "tf32"


@pytest.mark.parametrize("mode", ["ieee", "tf32"])
@pytest.mark.parametrize("grad", [True, False])
def test_forward_and_backward_run_in_seqkits_mode(monkeypatch, mode, grad):
    monkeypatch.setattr(_float32, "_needs_switch", lambda tensors: True)
    other = "tf32" if mode == "ieee" else "ieee"
    torch.backends.cudnn.conv.fp32_precision = torch.backends.cudnn.rnn.fp32_precision = other
    set_float32_precision(mode)
    _Probe.seen = []
    x = torch.randn(3, requires_grad=grad)
    w = torch.randn(3, requires_grad=grad)
    y = _float32.cudnn_call(lambda a, b: _Probe.apply(a) * b, x, w)
    assert _cudnn_now() == (other, other)                               # restored after the forward
    if grad:
        y.sum().backward()
        torch.testing.assert_close(x.grad, w.detach())
        torch.testing.assert_close(w.grad, x.detach())
        assert _Probe.seen == [("forward", (mode, mode)), ("backward", (mode, mode))]
    else:
        assert not y.requires_grad and _Probe.seen == [("forward", (mode, mode))]
    assert _cudnn_now() == (other, other)


def test_switched_fused_lstm_and_conv_give_the_same_numbers_and_gradients(monkeypatch):
    """The autograd wrapper is transparent: same outputs and gradients as the plain call."""
    torch.manual_seed(0)
    x = torch.randn(4, 3, 6, dtype=torch.float64)
    mask = torch.ones(4, 6, dtype=torch.float64)
    mask[1, 4:] = 0
    mask[2, :2] = 0
    results = []
    for forced in (False, True):
        monkeypatch.setattr(_float32, "_needs_switch", lambda tensors, forced=forced: forced)
        torch.manual_seed(1)
        lstm = LSTM(5, 3, return_state=True).double()
        conv = Conv1D(3, 2, 3).double()
        xi = x.clone().requires_grad_(True)
        y, h, c = lstm(conv(xi, mask), mask)
        (y.square().sum() + h.sum() + c.sum()).backward()
        grads = [p.grad for p in list(lstm.parameters()) + list(conv.parameters())]
        results.append((y.detach(), h.detach(), c.detach(), xi.grad, grads))
    for a, b in zip(results[0][:4], results[1][:4]):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)
    for a, b in zip(results[0][4], results[1][4]):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_switched_call_is_not_twice_differentiable(monkeypatch):
    monkeypatch.setattr(_float32, "_needs_switch", lambda tensors: True)
    x = torch.randn(3, requires_grad=True)
    y = _float32.cudnn_call(lambda a: a.pow(3), x)
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    with pytest.raises(RuntimeError, match="once_differentiable|does not require grad|trying to differentiate"):
        g.sum().backward()


# -- on CUDA: the numbers ---------------------------------------------------------------------------
@pytest.mark.cuda
@pytest.mark.parametrize("name", FAST)
def test_cuda_float32_fast_path_close_to_float64_reference(name):
    """Tight in "ieee" mode (cuDNN in IEEE float32), within TF32's error in "tf32" mode."""
    layer64 = make(name)
    layer32 = make(name, dtype=torch.float32).cuda()
    x, mask = inputs(), get_mask("left")
    y32, s32 = layer32.run(x.float().cuda(), mask.float().cuda())
    y64, s64 = layer64.reference(x, mask)
    atol = float32_atol("cuda", 2e-5)
    torch.testing.assert_close(y32.double().cpu(), y64, atol=atol, rtol=0)
    for k in s64:
        torch.testing.assert_close(s32[k].double().cpu(), s64[k], atol=atol, rtol=0)


@pytest.mark.cuda
@pytest.mark.parametrize("make_layer", [lambda: LSTM(256, 256), lambda: GRU(256, 256),
                                        lambda: SimpleRNN(256, 256)], ids=["lstm", "gru", "simple_rnn"])
def test_cuda_ieee_mode_is_ieee_even_where_torch_defaults_to_tf32(make_layer):
    """Wide layers make TF32's 10-bit mantissa visible: the "ieee" default must not show it
    although torch's own cuDNN RNN setting is left at its TF32 default."""
    torch.manual_seed(0)
    layer = make_layer().cuda()
    x = torch.randn(16, 256, 40, device="cuda")
    mask = torch.ones(16, 40, device="cuda")
    mask[3, 30:] = 0
    torch.backends.cudnn.rnn.fp32_precision = "tf32"                    # torch's default, explicitly
    torch.backends.cudnn.conv.fp32_precision = "tf32"
    ref = layer.double()(x.double(), mask.double()).float()
    layer.float()
    with float32_precision("ieee"):
        y_ieee = layer(x, mask)
        y_ieee.sum().backward()                                           # backward under the mode too
    with float32_precision("tf32"):
        y_tf32 = layer(x, mask)
    assert _cudnn_now() == ("tf32", "tf32")
    err_ieee, err_tf32 = (y_ieee - ref).abs().max().item(), (y_tf32 - ref).abs().max().item()
    assert err_ieee < 1e-4, err_ieee
    assert err_tf32 < 10 * TF32_ATOL, err_tf32


def test_every_cudnn_call_site_goes_through_the_switch(monkeypatch):
    """Fused LSTM/GRU/SimpleRNN kernels and every convolution (Conv1D, Conv2D on images and video,
    ConvLSTM input and recurrent convolutions) run through cudnn_call, forward and backward."""
    from seqkit.layers import Conv2D, ConvLSTM2D
    monkeypatch.setattr(_float32, "_needs_switch", lambda tensors: True)
    for cls in (GRU, SimpleRNN):                                        # torch's kernel on the CPU too
        monkeypatch.setattr(cls, "_hand_written_on_cpu", False)
    calls = []
    real = _float32._InPrecision.apply
    monkeypatch.setattr(_float32._InPrecision, "apply", lambda *a: calls.append(a[0]) or real(*a))
    torch.manual_seed(0)
    cases = [(LSTM(3, 2), torch.randn(2, 2, 5)), (GRU(3, 2), torch.randn(2, 2, 5)),
             (SimpleRNN(3, 2), torch.randn(2, 2, 5)), (Conv1D(3, 2, 2), torch.randn(2, 2, 5)),
             (Conv2D(3, 2, 2), torch.randn(2, 2, 4, 4)), (Conv2D(3, 2, 2), torch.randn(2, 2, 3, 4, 4)),
             (ConvLSTM2D(3, 2, 2, padding="same"), torch.randn(2, 2, 3, 4, 4))]
    for layer, x in cases:
        calls.clear()
        x.requires_grad_(True)
        y = layer(x)
        y.sum().backward()
        expected = 1 + x.shape[2] if isinstance(layer, ConvLSTM2D) else 1     # input conv + one per step
        assert len(calls) == expected, (type(layer).__name__, len(calls))
        assert x.grad is not None and all(p.grad is not None for p in layer.parameters())
