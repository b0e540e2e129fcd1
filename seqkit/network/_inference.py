"""Inference on a network: output, predict, activations, score, evaluate.

Inputs may be numpy arrays or torch tensors; ``output`` and ``predict``
return the same kind as their input (numpy on the CPU for numpy input, torch
on the network's device for torch input). Everything here runs in eval mode
without autograd and restores the training flag afterwards. Every forward
goes through :func:`seqkit.network._forward.network_output`.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

import torch.distributed as dist

from ..evaluation import Evaluation, RegressionEvaluation, all_reduce_evaluation, eval_features_mask
from ._data import as_host, as_source, data_view, match_columns, to_device
from ._data_description import describe_data
from ._distributed import distributed_world, start_distributed
from ._forward import make_mask, network_output, run_layers
from ._labels import ClassIndexLabels
from ._parameters import penalty, penalty_groups

__all__ = ["as_tensor", "eval_mode", "evaluate", "like_input", "output", "predict", "prepare_input",
           "score", "activations"]


@contextlib.contextmanager
def eval_mode(net):
    """``net`` in eval mode without autograd; its training flag restored after."""
    was = net.training
    net.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        net.train(was)


def as_tensor(x, what: str) -> torch.Tensor:
    """``x`` as a tensor (numpy arrays without a copy); TypeError for non-numeric data."""
    if isinstance(x, torch.Tensor):
        return x
    array = np.asarray(x)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{what} must be a numeric numpy array or torch tensor, got dtype {array.dtype}")
    return torch.from_numpy(np.ascontiguousarray(array))


def like_input(out: torch.Tensor, x):
    """``out`` as numpy when the caller gave numpy ``x``, else as it is."""
    return out.detach().cpu().numpy() if not isinstance(x, torch.Tensor) else out


def prepare_input(net, x, mask):
    """``(x, StepMask or None)`` on the device, building the network from ``x`` if needed."""
    x = as_tensor(x, "x")
    net.ensure_built(tuple(x.shape))
    x = x.to(device=net.device, dtype=net.dtype)
    if mask is None:
        return x, None
    mask = as_tensor(mask, "mask")
    host = mask.detach().to("cpu", torch.float32)
    return x, make_mask(mask.to(device=net.device, dtype=net.dtype), host, x)


def _sharing(net, data) -> tuple:
    """``(shard, merge)`` for ``score``/``evaluate`` in a torch.distributed process group.

    Array data is split round-robin by rank and the results merged; a
    ``readers.SequenceBatches`` split by rank (``shard=``) is merged; other
    data (whole on every rank) is neither split nor merged.
    """
    rank, world = distributed_world()
    if world <= 1:
        return None, False
    if not (dist.is_available() and dist.is_initialized()):
        start_distributed(net)                          # under torchrun: the process group, as fit sets it up
    arrays = isinstance(data, dict) or (isinstance(data, (tuple, list)) and 1 <= len(data) <= 4
                                        and isinstance(data[0], (np.ndarray, torch.Tensor)))
    if arrays:
        return (rank, world), True
    return None, getattr(data, "world_size", 1) > 1


def _device_batches(net, data, batch_size: int, what: str, shard=None, allow_empty: bool = False):
    """The batches of ``data`` on the device (integer class labels one-hot); ValueError without labels."""
    classes = ClassIndexLabels(net.head(), len(net.layers) - 1)
    count = 0
    for item in match_columns(net, data_view(data), as_source(data, batch_size=batch_size, shard=shard), what):
        host = as_host(item)
        net.ensure_built(tuple(host.features.shape))
        b = to_device(host, net.device, net.dtype, class_labels=classes)
        if b.labels is None:
            raise ValueError(f"{what} needs labels, but the batch has none: give SequenceBatches a labels "
                             f"reader or label_column=, or pass arrays (features, labels)")
        count += 1
        yield b
    if count == 0 and not allow_empty:
        raise ValueError(f"{what}: the data holds no batch")


def _float(out: torch.Tensor) -> torch.Tensor:
    return out.float() if out.dtype == torch.bfloat16 else out


def output(net, x, mask=None, *, labels_mask=None):
    """See ``Sequential.output``."""
    with eval_mode(net):
        xt, step_mask = prepare_input(net, x, mask)
        per_step = len(net.output_shapes[-1]) >= 2
        lm = None if labels_mask is None or not per_step else as_tensor(labels_mask, "labels_mask").to(
            device=net.device, dtype=net.dtype)
        with net.autocast():
            if net.compiled and lm is None:                               # through the compiled forward
                out = net(xt, step_mask)
            else:
                out = network_output(net, xt, step_mask, labels_mask=lm)[0]
    return like_input(_float(out), x)


def predict(net, x, mask=None):
    """See ``Sequential.predict``."""
    out = output(net, x if isinstance(x, torch.Tensor) else as_tensor(x, "x"), mask)
    idx = out.argmax(dim=1)                                              # [N] or [N, T]
    if mask is not None and idx.dim() == 2:
        m = as_tensor(mask, "mask").to(idx.device)
        idx = torch.where(m != 0, idx, torch.full_like(idx, -1))
    return like_input(idx, x)


def activations(net, x, mask=None) -> list:
    """See ``Sequential.activations``."""
    with eval_mode(net):
        xt, step_mask = prepare_input(net, x, mask)
        out: list = []
        with net.autocast():
            run_layers(net, xt, step_mask, collect=out)
    return [like_input(a, x) for a in out]


def score(net, data, *, regularization: bool = True, batch_size: int = 32) -> float:
    """See ``Sequential.score``."""
    head = net.head()
    total, count = None, 0.0
    shard, merge = _sharing(net, data)
    with eval_mode(net):
        for b in _device_batches(net, data, batch_size, "score", shard, allow_empty=merge):
            step_mask = make_mask(b.features_mask, b.features_mask_host, b.features)
            with net.autocast():
                logits, mask = network_output(net, b.features, step_mask, logits=True, labels_mask=b.labels_mask)
                s = head.score(logits, b.labels, mask, reduction="sum").float()
            total = s if total is None else total + s
            if net.loss_reduction == "per_step":
                host = b.labels_mask_host if b.labels_mask is not None else (
                    b.features_mask_host if mask is not None else None)
                count += float(host.sum()) if host is not None else float(
                    len(b) * (b.labels.shape[2] if b.labels.dim() == 3 else 1))
            else:
                count += len(b)
        if merge:                                           # the loss over every rank's share
            both = torch.tensor([0.0 if total is None else float(total), count], dtype=torch.float64)
            dist.all_reduce(both)
            total, count = both[0], float(both[1])
        elif total is None:
            raise ValueError("score: the data holds no batch")
        value = float(total) / max(count, 1.0)
        if regularization:
            reg = penalty(penalty_groups(net.layers, net.l1, net.l2))
            value += float(reg) if reg is not None else 0.0
    return value


def _provenance(net, data) -> dict:
    """What the network knows of where an evaluation comes from (the report's Provenance section)."""
    out = {"epochs": net.epoch, "iterations": net.iteration, "training_time_s": round(net.progress.seconds, 3)}
    if hasattr(data, "feature_columns"):                  # a readers.SequenceBatches (maybe standardised)
        out["data_source"] = repr(getattr(data, "batches", data))
    return out


def evaluate(net, data, *, batch_size: int = 32, labels=None, top_n: int = 1):
    """See ``Sequential.evaluate``.

    Per-step outputs are evaluated at the steps the **labels** mask marks
    real (DL4J's rule); without a labels mask, at the steps the features
    mask marks real (all steps when neither is given). Batch keys go to
    the evaluation (``Evaluation`` reports the worst sequences by key), and
    so does the features mask: sequence lengths for ``accuracy_by_length``
    and step indices for ``accuracy_by_step`` come from it, not from the
    labels mask (one step per series in the many-to-one case).
    """
    head = net.head()
    regression = head.is_regression
    if labels is None and not regression:                 # class names travel with the data or the network
        described = describe_data(data) or net.data_description
        labels = None if described is None else described.class_names
    ev = RegressionEvaluation() if regression else Evaluation(labels=labels, top_n=top_n)
    ev.provenance = _provenance(net, data)
    shard, merge = _sharing(net, data)
    with eval_mode(net):
        for b in _device_batches(net, data, batch_size, "evaluate", shard, allow_empty=merge):
            step_mask = make_mask(b.features_mask, b.features_mask_host, b.features)
            with net.autocast():
                pred, mask = network_output(net, b.features, step_mask, labels_mask=b.labels_mask)
            pred = pred.float()
            if regression:
                ev.eval(b.labels, pred, mask)
            else:
                ev.eval(b.labels, pred, mask, keys=b.keys,               # lengths from the features mask
                        features_mask=eval_features_mask(b.features, b.features_mask, pred, mask))
    if merge:
        all_reduce_evaluation(ev)                           # the same global figures on every rank
    return ev
