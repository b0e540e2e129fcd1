"""The fused layers keep their CUDA weights as views of one cuDNN buffer, with unchanged parameters.

cuDNN wants one flat weight buffer; given separate tensors it builds one on
every call (and warns). LSTM, GRU and SimpleRNN flatten their weights as
``torch.nn.RNNBase`` does, after ``.to()`` and whenever a parameter was
replaced, and pass a cached zero tensor as torch's second bias. The names,
shapes and ``state_dict`` must not change: model files and Keras weight
import depend on them. On the CPU the bookkeeping runs with torch's
flattening op emulated; on CUDA the real one.
"""

import warnings

import numpy as np
import pytest
import torch
from torch import nn

from seqkit.layers import GRU, LSTM, SimpleRNN
from seqkit.layers import _fused

EXPECTED = {
    "LSTM": {"cell.weight_ih": (20, 3), "cell.weight_hh": (20, 5), "cell.bias": (20,)},
    "LSTM_nobias": {"cell.weight_ih": (20, 3), "cell.weight_hh": (20, 5)},
    "GRU": {"cell.weight_ih": (15, 3), "cell.weight_hh": (15, 5), "cell.bias_ih": (15,), "cell.bias_hh": (15,)},
    "GRU_before": {"cell.weight_ih": (15, 3), "cell.weight_hh": (15, 5), "cell.bias_ih": (15,)},
    "SimpleRNN": {"cell.weight_ih": (5, 3), "cell.weight_hh": (5, 5), "cell.bias": (5,)},
}
MAKE = {
    "LSTM": lambda: LSTM(5, 3), "LSTM_nobias": lambda: LSTM(5, 3, use_bias=False), "GRU": lambda: GRU(5, 3),
    "GRU_before": lambda: GRU(5, 3, reset_after=False), "SimpleRNN": lambda: SimpleRNN(5, 3),
}
FUSED = ["LSTM", "LSTM_nobias", "GRU", "SimpleRNN"]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_parameter_names_shapes_and_state_dict_are_unchanged(name):
    layer = MAKE[name]()
    assert {k: tuple(p.shape) for k, p in layer.named_parameters()} == EXPECTED[name]
    assert {k: tuple(v.shape) for k, v in layer.state_dict().items()} == EXPECTED[name]
    layer(torch.randn(2, 3, 4))                                          # a call adds nothing saved
    assert list(layer.state_dict()) == list(EXPECTED[name])
    assert not list(layer.buffers())


@pytest.mark.parametrize("name", ["LSTM", "SimpleRNN"])
def test_second_bias_is_cached_zero_and_no_parameter(name):
    layer = MAKE[name]()
    first, second = layer._kernel_weights()[3], layer._kernel_weights()[3]
    assert first is second and not first.requires_grad and (first == 0).all()
    assert all(first is not p for p in layer.parameters())
    layer.double()
    assert layer._kernel_weights()[3].dtype == torch.float64             # follows the bias


def test_flatten_is_a_no_op_on_the_cpu():
    layer = LSTM(5, 3)
    ptrs = [p.data_ptr() for p in layer.parameters()]
    assert layer.flatten_parameters() is False
    assert [p.data_ptr() for p in layer.parameters()] == ptrs


# -- the bookkeeping, with torch's CUDA-only flattening op emulated on the CPU ----------------------
@pytest.fixture
def emulated(monkeypatch):
    """``torch._cudnn_rnn_flatten_weight`` as a plain concatenation (cuDNN's real layout is its
    own business), made to apply on the CPU; records every call."""
    calls = []

    def flatten(weights, n, *rest):
        assert n == len(weights)
        calls.append(rest)
        with torch.no_grad():
            buf = torch.cat([w.detach().reshape(-1) for w in weights])
            offset = 0
            for w in weights:
                w.set_(buf.untyped_storage(), offset, w.shape, w.stride() if w.is_contiguous() else None)
                offset += w.numel()
        return buf

    monkeypatch.setattr(torch, "_cudnn_rnn_flatten_weight", flatten)
    monkeypatch.setattr(_fused.FusedRecurrent, "_flattenable",
                        lambda self, weights: len({w.data_ptr() for w in weights}) == len(weights))
    monkeypatch.setattr(_fused.FusedRecurrent, "_flat_devices", ("cuda", "cpu"))
    from torch.backends.cudnn import rnn as cudnn_rnn
    monkeypatch.setattr(cudnn_rnn, "get_cudnn_mode", lambda mode: {"LSTM": 2, "GRU": 3, "RNN_TANH": 1,
                                                                    "RNN_RELU": 0}[mode])
    return calls


def _one_buffer(layer) -> bool:
    weights = layer._kernel_weights()
    return len({w.untyped_storage().data_ptr() for w in weights}) == 1


@pytest.mark.parametrize("name", FUSED)
def test_weights_become_one_buffer_and_stay_one(emulated, name):
    torch.manual_seed(0)
    layer = MAKE[name]()
    x, mask = torch.randn(4, 3, 6), torch.ones(4, 6)
    mask[1, 4:] = 0
    before = {k: v.clone() for k, v in layer.state_dict().items()}
    ref = layer(x, mask)
    layer.to("cpu", torch.float32)                                       # any .to() flattens
    assert emulated and _one_buffer(layer)
    params = list(layer.parameters())
    assert {k: v for k, v in layer.state_dict().items()}.keys() == before.keys()
    for k, v in layer.state_dict().items():
        torch.testing.assert_close(v, before[k], atol=0, rtol=0)
    torch.testing.assert_close(layer(x, mask), ref, atol=0, rtol=0)
    calls = len(emulated)
    opt = torch.optim.Adam(layer.parameters(), lr=0.1)                   # training keeps the views
    for _ in range(2):
        opt.zero_grad()
        layer(x, mask).square().sum().backward()
        opt.step()
    assert len(emulated) == calls and _one_buffer(layer) and list(layer.parameters()) == params
    layer.load_state_dict(before)                                        # in place: still one buffer
    assert len(emulated) == calls and _one_buffer(layer)
    torch.testing.assert_close(layer(x, mask), ref, atol=0, rtol=0)


def test_a_replaced_parameter_is_flattened_again_at_the_next_call(emulated):
    layer = LSTM(5, 3)
    layer.to("cpu")
    calls = len(emulated)
    layer.cell.weight_hh = nn.Parameter(layer.cell.weight_hh.detach().clone())
    assert not _one_buffer(layer)
    layer(torch.randn(2, 3, 4))
    assert len(emulated) == calls + 1 and _one_buffer(layer)
    layer(torch.randn(2, 3, 4))
    assert len(emulated) == calls + 1                                    # once, not every call


def test_keras_weights_load_into_the_buffer(emulated):
    layer = LSTM(5, 3)
    layer.to("cpu")
    arrays = [np.full((3, 20), 0.1, np.float32), np.full((5, 20), 0.2, np.float32), np.full(20, 0.3, np.float32)]
    layer.set_keras_weights(arrays)
    assert _one_buffer(layer)
    for a, b in zip(layer.get_keras_weights(), arrays):
        np.testing.assert_array_equal(a, b)


# -- CUDA: the real thing -------------------------------------------------------------------------
def _cuda_case(name, seed=0):
    torch.manual_seed(seed)
    layer = MAKE[name]()
    x = torch.randn(4, 3, 7)
    mask = torch.ones(4, 7)
    mask[1, 5:] = 0
    mask[2, :2] = 0
    return layer, x, mask


@pytest.mark.cuda
@pytest.mark.parametrize("name", FUSED)
def test_cuda_no_weight_copy_warning_and_same_numbers_as_cpu(name):
    from recurrent_cases import float32_atol
    layer, x, mask = _cuda_case(name)
    y_cpu = layer(x, mask)
    y_cpu.square().sum().backward()
    g_cpu = [p.grad.clone() for p in layer.parameters()]
    layer.zero_grad()
    gpu = layer.to("cuda")
    assert gpu.flatten_parameters() and _one_buffer(gpu)
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                   # "not part of single contiguous chunk"
        y = gpu(x.cuda(), mask.cuda())
        y.square().sum().backward()
        gpu.load_state_dict(gpu.state_dict())                            # still one buffer
        gpu(x.cuda(), mask.cuda())
    atol = float32_atol("cuda", 1e-5)
    torch.testing.assert_close(y.cpu(), y_cpu, atol=atol, rtol=0)
    for p, g in zip(gpu.parameters(), g_cpu):
        torch.testing.assert_close(p.grad.cpu(), g, atol=10 * atol, rtol=1e-4)


@pytest.mark.cuda
def test_cuda_parameters_replaced_are_reflattened_without_a_warning():
    layer, x, mask = _cuda_case("LSTM")
    layer = layer.cuda()
    layer.cell.weight_ih = nn.Parameter(layer.cell.weight_ih.detach().clone())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        layer(x.cuda(), mask.cuda())
    assert _one_buffer(layer)
