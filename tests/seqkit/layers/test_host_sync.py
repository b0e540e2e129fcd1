"""No host-device sync inside a training step (DESIGN: Speed), over the masking and training modes.

On the CPU, :class:`sync_audit.SyncAudit` records every operation that would
sync with a CUDA device (device values read on the host, value-dependent
ops, blocking host-to-device copies); on a GPU the same cases run under
``torch.cuda.set_sync_debug_mode("error")``. One training step is what
``fit`` does per batch (``FitRun.iteration``: forward, loss, backward, clip,
optimizer step, loss bookkeeping), after one warm-up step (optimizer state
and cached constants are made lazily at the first one).
"""

import dataclasses
import warnings

import numpy as np
import pytest
import torch

import readers
from seqkit import InputType, Sequential
from seqkit.layers import (GRU, LSTM, Bidirectional, Conv1D, Dense, GravesLSTM, LastTimeStep, MaskZero, Output,
                           RnnOutput, SimpleRNN)
from seqkit.network import FitState
from seqkit.network._data import to_device
from seqkit.network._fit import FitRun

from sync_audit import SyncAudit

N, F, T, C = 5, 3, 12, 3


def _mask(kind: str) -> np.ndarray | None:
    m = np.ones((N, T), np.float32)
    if kind == "none":
        return None
    if kind in ("right", "both"):
        m[1, 8:] = 0
        m[3, 5:] = 0
    if kind in ("left", "both"):
        m[2, :4] = 0
        m[4, :2] = 0
    if kind == "gaps":
        m[1, 3:5] = 0
        m[2, 9:] = 0
    return m


def _batch(kind: str, per_step: bool = True, seed: int = 0) -> readers.Batch:
    rng = np.random.default_rng(seed)
    mask = _mask(kind)
    x = rng.standard_normal((N, F, T)).astype(np.float32)
    if mask is not None:
        x *= mask[:, None, :]
    if per_step:
        y = np.moveaxis(np.eye(C, dtype=np.float32)[rng.integers(0, C, (N, T))], -1, 1)
        return readers.Batch(x, y, mask, mask, list(range(N)))
    y = np.eye(C, dtype=np.float32)[rng.integers(0, C, N)]
    return readers.Batch(x, y, mask, None, list(range(N)))


def _net(layers, **kwargs):
    return Sequential(layers, input_type=InputType.recurrent(F), seed=1, **kwargs)


#: name -> (network factory, batch factory)
CASES = {
    "right_padding": (lambda: _net([LSTM(8), Dense(6, activation="tanh"), GRU(5), RnnOutput(C)]),
                      lambda: _batch("right")),
    "left_padding": (lambda: _net([LSTM(8), SimpleRNN(6), GRU(5), RnnOutput(C)]), lambda: _batch("left")),
    "no_mask": (lambda: _net([LSTM(8), GRU(5), RnnOutput(C)]), lambda: _batch("none")),
    "gaps_hand_written": (lambda: _net([GravesLSTM(6), GRU(5, reset_after=False), SimpleRNN(4), RnnOutput(C)]),
                          lambda: _batch("gaps")),
    "many_to_one": (lambda: _net([LSTM(8), LastTimeStep(SimpleRNN(6)), Dense(5), Output(C)], l2=1e-4,
                                 grad_clip=1.0), lambda: _batch("both", per_step=False)),
    "tbptt": (lambda: _net([LSTM(6), GRU(5), RnnOutput(C)], backprop="tbptt", tbptt_length=4,
                           tbptt_back_length=2), lambda: _batch("both")),
    "per_step": (lambda: _net([LSTM(6), GRU(5), RnnOutput(C)], loss_reduction="per_step"),
                 lambda: _batch("both")),
    "per_step_unmasked": (lambda: _net([LSTM(6), RnnOutput(C)], loss_reduction="per_step"),
                          lambda: _batch("none")),
    "bidirectional": (lambda: _net([Bidirectional(LSTM(6)), Bidirectional(LastTimeStep(GRU(4))), Output(C)]),
                      lambda: _batch("both", per_step=False)),
    "stateful_lstm": (lambda: _net([LSTM(6, stateful=True), RnnOutput(C)]), lambda: _batch("both")),
    "bf16_mixed": (lambda: _net([LSTM(6), Dense(5), GRU(5, reset_after=False), GravesLSTM(4), RnnOutput(C)],
                                precision="bf16-mixed"), lambda: _batch("both")),
    "conv1d": (lambda: _net([Conv1D(4, 3, activation="relu"), LSTM(5), RnnOutput(C)]), lambda: _batch("right")),
}


def _device_batch(batch, net):
    """``batch`` on the network's device. On the CPU ``to_device`` may hand back the host mask
    itself as the "device" mask; the audit needs two objects (the values are the same)."""
    b = to_device(batch, net.device, net.dtype)
    for field in ("features_mask", "labels_mask"):
        host = getattr(b, field + "_host")
        if host is not None and host is getattr(b, field):
            b = dataclasses.replace(b, **{field + "_host": host.clone()})
    return b


def _runner(net):
    net.optimization.ensure(net.layers)
    return FitRun(net, net, [], FitState(net, 1, None, None), check_every=10**9)


def _steps(name: str, device: str, steps: int = 2):
    """The network on ``device``, its step runner and ``steps + 1`` device batches."""
    make_net, make_batch = CASES[name]
    net = make_net().to(device)
    return _runner(net), [_device_batch(make_batch(), net) for _ in range(steps + 1)]


def _audited(run, batches) -> SyncAudit:
    """Train on each batch under a :class:`SyncAudit` (after a warm-up step on the first)."""
    run.iteration(batches[0])                                            # warm-up
    with SyncAudit() as audit:
        audit.host_state_of(run.net.optimization.optimizer)
        for b in batches[1:]:
            audit.host(b.features_mask_host, b.labels_mask_host)
            run.iteration(b)
    return audit


@pytest.mark.parametrize("name", sorted(CASES))
def test_training_step_has_no_host_sync_cpu_audit(name):
    audit = _audited(*_steps(name, "cpu"))
    assert not audit.events, audit.report()


def test_mask_zero_syncs_once_per_call_cpu_audit():
    """MaskZero derives its mask from the data on the device, and the fast path is chosen on the
    host: one device-to-host copy of the derived mask per call, no more (the layers after it get
    that mask from the network without its CPU copy: see the report)."""
    net = _net([LSTM(6), MaskZero(GRU(5)), RnnOutput(C)])
    audit = _audited(_runner(net), [_device_batch(_batch("right"), net) for _ in range(2)])
    assert len(audit.events) == 1 and "_mask_zero.py" in audit.events[0][1], audit.report()


def test_the_audit_sees_what_it_should():
    """The audit itself: a read, a value-dependent op, a blocking copy, and none for host work."""
    x = torch.randn(4)
    host = torch.ones(4)
    with SyncAudit() as audit:
        audit.host(host)
        bool((host > 0).all())                                           # host: fine
        torch.arange(4).to(x.device, non_blocking=True)                 # non-blocking: fine
        assert not audit.events
        bool(x.sum() > 0)
        x.tolist()
        x[x > 0]
        torch.arange(4).to(x.device)
        torch.tensor([1.0], device=x.device)
    kinds = [what.split(" (")[0] for what, _ in audit.events]
    assert kinds == ["value-dependent op on a device tensor", "device tensor read on the host",
                     "boolean-mask indexing of a device tensor", "blocking host-to-device copy",
                     "blocking host-to-device copy"], audit.report()


def test_the_audit_catches_the_old_blocking_copies(monkeypatch):
    """A mutation check: the pre-fix shift indices (a blocking copy of host indices) are found."""
    from seqkit.layers import _fused

    def old_shift_indices(mask):
        if not mask.shifted:
            return None, None
        starts = mask.runs()[0]
        t = mask.values.shape[1]
        steps = torch.arange(t)[:, None]
        dev = mask.values.device
        return ((steps + starts) % t).to(dev), ((steps - starts) % t).to(dev)
    monkeypatch.setattr(_fused, "shift_indices", old_shift_indices)
    audit = _audited(*_steps("left_padding", "cpu"))
    assert any("blocking host-to-device" in what for what, _ in audit.events), audit.report()


@pytest.mark.cuda
@pytest.mark.parametrize("name", sorted(CASES))
def test_training_step_has_no_host_sync_cuda(name):
    run, batches = _steps(name, "cuda")
    run.iteration(batches[0])                                            # warm-up (lazy init may sync)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for b in batches[1:]:
            run.iteration(b.wait() if hasattr(b, "wait") else b)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()


@pytest.mark.cuda
def test_mask_zero_syncs_once_per_call_cuda():
    net = _net([LSTM(6), MaskZero(GRU(5)), RnnOutput(C)], device="cuda")
    b = to_device(_batch("right"), net.device, net.dtype)
    run = _runner(net)
    run.iteration(b)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("warn")
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            run.iteration(b)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    syncs = [w for w in caught if "synchronizing" in str(w.message)]
    assert len(syncs) >= 1                                               # the one in MaskZero, at least
