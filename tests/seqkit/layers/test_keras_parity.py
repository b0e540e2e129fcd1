"""Parity with Keras 3 (torch backend) through set_keras_weights, and the weight round trip.

With random weights loaded from a Keras layer, LSTM, GRU (both reset_after
modes) and SimpleRNN give Keras's outputs and states to 1e-5, unmasked and
masked (Keras gets the same boolean mask), forwards and backwards. Keras
outputs the previous output at a masked step and seqkit outputs zero, so
sequences are compared at the real steps; states and last outputs in full.
"""

import numpy as np
import pytest
import torch

from seqkit.layers import GRU, LSTM, GRUCell, LSTMCell, SimpleRNN, SimpleRNNCell

from recurrent_cases import DEVICES, float32_atol

keras = pytest.importorskip("keras")

N, F, T, H = 3, 4, 6, 5
ATOL = 1e-5
MASKS = {
    None: None,
    "right": [[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [1, 1, 1, 1, 1, 0]],
    "left": [[1, 1, 1, 1, 1, 1], [0, 0, 1, 1, 1, 1], [0, 0, 0, 0, 1, 1]],
    "gaps": [[1, 0, 1, 1, 0, 1], [0, 1, 1, 0, 1, 0], [1, 1, 0, 0, 0, 1]],
}
KINDS = {
    "LSTM": (lambda **kw: keras.layers.LSTM(H, **kw), lambda **kw: LSTM(H, **kw)),
    "GRU": (lambda **kw: keras.layers.GRU(H, **kw), lambda **kw: GRU(H, **kw)),
    "GRU_reset_before": (lambda **kw: keras.layers.GRU(H, reset_after=False, **kw),
                         lambda **kw: GRU(H, reset_after=False, **kw)),
    "SimpleRNN": (lambda **kw: keras.layers.SimpleRNN(H, **kw), lambda **kw: SimpleRNN(H, **kw)),
}


def _pair(kind, seed=0, **flags):
    """A Keras layer with random weights and the seqkit layer loaded from them."""
    make_keras, make_ours = KINDS[kind]
    k = make_keras(return_sequences=True, return_state=True, **flags)
    k.build((N, T, F))
    rng = np.random.default_rng(seed)
    weights = [(rng.normal(size=w.shape) * 0.5).astype(np.float32) for w in k.get_weights()]
    k.set_weights(weights)
    ours = make_ours(return_state=True, **flags)
    ours.set_keras_weights(weights)
    return k, ours, weights


def _to_numpy(t):
    return np.asarray(keras.ops.convert_to_numpy(t))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("mask_kind", list(MASKS))
@pytest.mark.parametrize("kind", list(KINDS))
def test_matches_keras(kind, mask_kind, go_backwards, device):
    k, ours, _ = _pair(kind, go_backwards=go_backwards)
    ours = ours.to(device)
    x = np.random.default_rng(1).normal(size=(N, T, F)).astype(np.float32)
    mask = None if MASKS[mask_kind] is None else np.array(MASKS[mask_kind], dtype=bool)
    k_out = [_to_numpy(t) for t in k(x, mask=mask)]                      # [y (N,T,H), *states]
    x_ours = torch.as_tensor(x).permute(0, 2, 1).to(device)              # [N, F, T]
    m_ours = None if mask is None else torch.as_tensor(mask, dtype=torch.float32)
    y, *states = ours(x_ours, m_ours)
    y = y.detach().cpu().numpy().transpose(0, 2, 1)                      # [N, T, H]
    real = np.ones((N, T), bool) if mask is None else mask
    if go_backwards:
        real = real[:, ::-1]                                             # processing order
    atol = float32_atol(device, ATOL)                                    # by seqkit's float32 policy
    np.testing.assert_allclose(y[real], k_out[0][real], atol=atol, rtol=0)
    assert (y[~real] == 0).all()
    assert len(states) == len(k_out) - 1
    for ours_s, keras_s in zip(states, k_out[1:]):
        np.testing.assert_allclose(ours_s.detach().cpu().numpy(), keras_s, atol=atol, rtol=0)


@pytest.mark.parametrize("mask_kind", ["right", "gaps"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_last_output_matches_keras(kind, mask_kind):
    make_keras, make_ours = KINDS[kind]
    k = make_keras()                                                     # Keras default: last output
    k.build((N, T, F))
    rng = np.random.default_rng(3)
    weights = [(rng.normal(size=w.shape) * 0.5).astype(np.float32) for w in k.get_weights()]
    k.set_weights(weights)
    ours = make_ours(return_sequences=False)
    ours.set_keras_weights(weights)
    x = rng.normal(size=(N, T, F)).astype(np.float32)
    mask = np.array(MASKS[mask_kind], dtype=bool)
    y = ours(torch.as_tensor(x).permute(0, 2, 1), torch.as_tensor(mask))
    np.testing.assert_allclose(y.detach().numpy(), _to_numpy(k(x, mask=mask)), atol=ATOL, rtol=0)


@pytest.mark.parametrize("kind", list(KINDS))
def test_initial_state_matches_keras(kind):
    k, ours, _ = _pair(kind)
    rng = np.random.default_rng(4)
    x = rng.normal(size=(N, T, F)).astype(np.float32)
    init = [rng.normal(size=(N, H)).astype(np.float32) for _ in ours.state_keys]
    k_out = [_to_numpy(t) for t in k(x, initial_state=init)]
    y, *states = ours(torch.as_tensor(x).permute(0, 2, 1), initial_state=[torch.as_tensor(s) for s in init])
    np.testing.assert_allclose(y.detach().numpy().transpose(0, 2, 1), k_out[0], atol=ATOL, rtol=0)
    for a, b in zip(states, k_out[1:]):
        np.testing.assert_allclose(a.detach().numpy(), b, atol=ATOL, rtol=0)


@pytest.mark.parametrize("kind", list(KINDS))
def test_keras_weights_round_trip_exactly(kind):
    k, ours, weights = _pair(kind)
    back = ours.get_keras_weights()
    assert len(back) == len(weights)
    for a, b in zip(back, weights):
        assert a.shape == b.shape and a.dtype == b.dtype
        np.testing.assert_array_equal(a, b)
    k2 = KINDS[kind][0](return_sequences=True)                           # and Keras takes ours
    k2.build((N, T, F))
    k2.set_weights(back)
    for a, b in zip(k2.get_weights(), weights):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("cell, keras_cell", [
    (lambda: LSTMCell(H), lambda: keras.layers.LSTMCell(H)),
    (lambda: GRUCell(H), lambda: keras.layers.GRUCell(H)),
    (lambda: GRUCell(H, reset_after=False), lambda: keras.layers.GRUCell(H, reset_after=False)),
    (lambda: SimpleRNNCell(H), lambda: keras.layers.SimpleRNNCell(H)),
    (lambda: LSTMCell(H, use_bias=False), lambda: keras.layers.LSTMCell(H, use_bias=False)),
])
def test_cells_match_keras_cells(cell, keras_cell):
    k = keras_cell()
    k.build((N, F))
    rng = np.random.default_rng(5)
    weights = [(rng.normal(size=w.shape) * 0.5).astype(np.float32) for w in k.get_weights()]
    k.set_weights(weights)
    ours = cell()
    ours.set_keras_weights(weights)                                      # builds the lazy cell
    x = rng.normal(size=(N, F)).astype(np.float32)
    sizes = ours.state_size if isinstance(ours.state_size, tuple) else (ours.state_size,)
    states = [rng.normal(size=(N, s)).astype(np.float32) for s in sizes]
    k_out, k_states = k(x, states)
    out, new = ours(torch.as_tensor(x), tuple(torch.as_tensor(s) for s in states))
    np.testing.assert_allclose(out.detach().numpy(), _to_numpy(k_out), atol=ATOL, rtol=0)
    k_states = k_states if isinstance(k_states, (list, tuple)) else [k_states]
    for a, b in zip(new, k_states):
        np.testing.assert_allclose(a.detach().numpy(), _to_numpy(b), atol=ATOL, rtol=0)


def test_keras_runs_on_the_cpu_even_on_a_gpu_host():
    """tests/conftest.py pins Keras's torch backend to the CPU (KERAS_TORCH_DEVICE, read when the
    backend is imported): the Keras side of a CPU test must not move to a GPU."""
    import os

    from keras.src.backend.torch import core

    assert os.environ["KERAS_TORCH_DEVICE"] == "cpu"
    assert core.get_device() == "cpu"
    assert keras.ops.ones((2,)).device.type == "cpu"
    k = keras.layers.LSTM(2)
    k(np.zeros((1, 3, 2), np.float32))
    assert all(w.value.device.type == "cpu" for w in k.weights)
