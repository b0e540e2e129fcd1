"""No host-device sync in a training step through GlobalPooling, BatchNorm, LayerNorm, Activation, Residual.

GlobalPooling checks for examples with no real step on the mask's CPU copy
(batches from the readers carry one); BatchNorm keeps a batch with no real
step out of its running statistics with a device-side select. Audited on the
CPU with :class:`sync_audit.SyncAudit` (see tests/seqkit/layers/test_host_sync.py),
and under ``torch.cuda.set_sync_debug_mode("error")`` on a GPU.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

import readers
from seqkit import InputType, Sequential
from seqkit import layers as L
from seqkit.network import FitState
from seqkit.network._data import to_device
from seqkit.network._fit import FitRun

from sync_audit import SyncAudit

N, F, T, C = 5, 3, 10, 3


def _batch(per_step: bool, seed: int = 0) -> readers.Batch:
    rng = np.random.default_rng(seed)
    mask = np.ones((N, T), np.float32)
    mask[1, 7:] = 0
    mask[2, :3] = 0
    mask[3, 4:6] = 0
    x = rng.standard_normal((N, F, T)).astype(np.float32) * mask[:, None, :]
    if per_step:
        y = np.moveaxis(np.eye(C, dtype=np.float32)[rng.integers(0, C, (N, T))], -1, 1)
        return readers.Batch(x, y, mask, mask, list(range(N)))
    return readers.Batch(x, np.eye(C, dtype=np.float32)[rng.integers(0, C, N)], mask, None, list(range(N)))


CASES = {
    "fcn": (lambda: [L.Conv1D(8, 4, padding="same"), L.BatchNorm(), L.Activation("relu"),
                     L.Conv1D(6, 3, padding="same"), L.BatchNorm(), L.Activation("relu"),
                     L.GlobalPooling("avg"), L.Output(C)], False),
    "lstm_pooling": (lambda: [L.LSTM(6), L.LayerNorm(), L.GlobalPooling("pnorm"), L.Output(C)], False),
    "residual": (lambda: [L.Residual([L.Conv1D(6, 3, padding="same"), L.BatchNorm(), L.Activation("relu"),
                                      L.LSTM(6)]),
                          L.Residual([L.LayerNorm(), L.GRU(6)]), L.RnnOutput(C)], True),
}


def _device_batch(batch, net):
    b = to_device(batch, net.device, net.dtype)
    for field in ("features_mask", "labels_mask"):
        host = getattr(b, field + "_host")
        if host is not None and host is getattr(b, field):
            b = dataclasses.replace(b, **{field + "_host": host.clone()})
    return b


def _run(layers, per_step: bool, device: str = "cpu"):
    net = Sequential(layers, input_type=InputType.recurrent(F), seed=1).to(device)
    net.optimization.ensure(net.layers)
    run = FitRun(net, net, [], FitState(net, 1, None, None), check_every=10**9)
    return run, [_device_batch(_batch(per_step, seed), net) for seed in range(3)]


def _audited(run, batches) -> SyncAudit:
    run.iteration(batches[0])                                            # warm-up
    with SyncAudit() as audit:
        audit.host_state_of(run.net.optimization.optimizer)
        for b in batches[1:]:
            audit.host(b.features_mask_host, b.labels_mask_host)
            run.iteration(b)
    return audit


@pytest.mark.parametrize("name", sorted(CASES))
def test_training_step_has_no_host_sync_cpu_audit(name):
    make, per_step = CASES[name]
    audit = _audited(*_run(make(), per_step))
    assert not audit.events, audit.report()


def test_global_pooling_checks_the_host_copy_and_syncs_once_without_one():
    """With the mask's CPU copy the check for empty examples reads no device value; with a
    mask on the device only (after MaskZero, or a user's own) it costs one read."""
    x = torch.randn(3, 2, 4)
    host = torch.tensor([[1.0, 1, 0, 0], [1, 1, 1, 1], [0, 1, 1, 0]])
    values = host.clone()
    with SyncAudit() as audit:
        audit.host(host)
        L.GlobalPooling()(x, L.StepMask.wrap(values, host))
    assert not audit.events, audit.report()
    with SyncAudit() as audit:
        L.GlobalPooling()(x, L.StepMask.wrap(values))
    assert len(audit.events) == 1 and "_global_pooling.py" in audit.events[0][1], audit.report()


@pytest.mark.cuda
@pytest.mark.parametrize("name", sorted(CASES))
def test_training_step_has_no_host_sync_cuda(name):
    make, per_step = CASES[name]
    run, batches = _run(make(), per_step, "cuda")
    run.iteration(batches[0])
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for b in batches[1:]:
            run.iteration(b)
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
