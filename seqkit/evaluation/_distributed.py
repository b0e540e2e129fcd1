"""Combine an evaluation across the ranks of a ``torch.distributed`` process group.

Counts are summed with one ``all_reduce``; regression moments, ROC scores and
worst-sequence lists are gathered and merged in rank order, so every rank ends
with identical, global figures. Collectives run on CPU tensors for gloo and on
the current CUDA device for NCCL.
"""

from __future__ import annotations

import torch
import torch.distributed as dist

from ._binary import EvaluationBinary
from ._by_time import CountTable
from ._classification import Evaluation
from ._regression import RegressionEvaluation, combine
from ._roc import ROC, ROCMultiClass, _ScoreStore
from ._worst import WorstSequences

__all__ = ["all_reduce_evaluation"]


def _comm_device(group) -> torch.device:
    if dist.get_backend(group) == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def _gather_objects(obj, group) -> list:
    out = [None] * dist.get_world_size(group)
    dist.all_gather_object(out, obj, group=group)
    return out


def all_reduce_evaluation(evaluation, group=None):
    """Turn each rank's local evaluation into the evaluation over all ranks, in place.

    Call it once, on every rank of ``group``, after the local ``eval`` calls;
    afterwards every rank holds the same global figures (calling it again would
    count everything again). Returns ``evaluation``.

    Args:
        evaluation: an ``Evaluation``, ``RegressionEvaluation``, ``ROC``,
            ``ROCMultiClass`` or ``EvaluationBinary``.
        group: the process group (default: the world).

    Raises:
        RuntimeError: ``torch.distributed`` is not initialised.
        ValueError: an unsupported object, or ranks whose evaluations cannot be merged
            (different class or column counts, different ``top_n``).
    """
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError("all_reduce_evaluation: torch.distributed is not initialised; call "
                           "torch.distributed.init_process_group first (torchrun does this for you)")
    if isinstance(evaluation, Evaluation):
        _reduce_classification(evaluation, group)
    elif isinstance(evaluation, RegressionEvaluation):
        _reduce_regression(evaluation, group)
    elif isinstance(evaluation, (ROC, ROCMultiClass)):
        _reduce_scores(evaluation, group)
    elif isinstance(evaluation, EvaluationBinary):
        _reduce_binary(evaluation, group)
    else:
        raise ValueError(f"all_reduce_evaluation: cannot reduce a {type(evaluation).__name__}")
    return evaluation


def _common(values: list, what: str):
    known = {v for v in values if v is not None}
    if len(known) > 1:
        raise ValueError(f"all_reduce_evaluation: ranks disagree on {what}: {values}")
    return known.pop() if known else None


def _width(table: CountTable) -> int:
    return 0 if table.counts is None else table.counts.shape[1]


def _reduce_classification(ev: Evaluation, group) -> None:
    tables = (ev._by_start, ev._by_end, ev._by_length)
    metas = _gather_objects({"c": ev._num_classes if ev._cm is not None else None, "top_n": ev.top_n,
                             "widths": [_width(t) for t in tables], "names": ev._names,
                             "worst": (ev._worst.records, ev._worst._seen)}, group)
    _common([m["top_n"] for m in metas], "top_n")
    c = _common([m["c"] for m in metas], "the number of classes")
    merged_worst = WorstSequences(ev._worst.k)
    for m in metas:
        other = WorstSequences(ev._worst.k)
        other.records, other._seen = m["worst"]
        merged_worst.merge(other)
    if ev._names is None:
        ev._names = next((m["names"] for m in metas if m["names"] is not None), None)
    if c is None:
        return                                                              # no rank has data
    widths = [max(m["widths"][i] for m in metas) for i in range(3)]
    device = _comm_device(group)
    parts = [ev._cm[:c * c].to(device) if ev._cm is not None else torch.zeros(c * c, dtype=torch.long, device=device),
             ev._top_n_hits.reshape(1).to(device) if ev._top_n_hits is not None
             else torch.zeros(1, dtype=torch.long, device=device)]
    for table, width in zip(tables, widths):
        block = torch.zeros(table.rows, width, dtype=torch.long, device=device)   # [R, L] padded to the widest
        if table.counts is not None:
            block[:, :table.counts.shape[1]] = table.counts.to(device)
        parts.append(block.reshape(-1))
    packed = torch.cat(parts)                                              # int64 [C*C + 1 + sum R*L]
    dist.all_reduce(packed, op=dist.ReduceOp.SUM, group=group)

    home = ev._device if ev._device is not None else torch.device("cpu")
    packed = packed.to(home)
    ev._device = home
    ev._num_classes = c
    ev._cm = torch.cat([packed[:c * c], torch.zeros(1, dtype=torch.long, device=home)])
    ev._top_n_hits = packed[c * c].clone()
    offset = c * c + 1
    for table, width in zip(tables, widths):
        size = table.rows * width
        table.counts = packed[offset:offset + size].reshape(table.rows, width).clone() if width else None
        offset += size
    ev._worst = merged_worst
    ev._host_cm = None


def _reduce_regression(ev: RegressionEvaluation, group) -> None:
    states = _gather_objects(None if ev._state is None else ev._state.cpu(), group)
    _common([None if s is None else s.shape[1] for s in states], "the number of columns")
    total = None
    for state in states:
        if state is not None:
            total = state.clone() if total is None else combine(total, state)
    if total is not None:
        home = ev._state.device if ev._state is not None else torch.device("cpu")
        ev._state = total.to(home)


def _gather_variable(tensor: torch.Tensor, sizes: list[int], group, device) -> list[torch.Tensor]:
    """All ranks' first-dimension-varying tensors, padded to the largest for ``all_gather``."""
    longest = max(sizes)
    padded = torch.zeros((longest, *tensor.shape[1:]), dtype=tensor.dtype, device=device)
    padded[:tensor.shape[0]] = tensor.to(device)
    out = [torch.empty_like(padded) for _ in sizes]
    dist.all_gather(out, padded, group=group)
    return [t[:n].cpu() for t, n in zip(out, sizes)]


def _reduce_scores(ev: _ScoreStore, group) -> None:
    scores, labels = ev._arrays()
    scores_t, labels_t = torch.from_numpy(scores.copy()), torch.from_numpy(labels.copy())
    metas = _gather_objects({"n": int(labels_t.shape[0]), "dtype": scores_t.dtype,
                             "c": getattr(ev, "_num_classes", None), "names": getattr(ev, "_names", None)}, group)
    c = _common([m["c"] for m in metas], "the number of classes")
    sizes = [m["n"] for m in metas]
    if sum(sizes) == 0:
        return
    dtype = scores_t.dtype
    for m in metas:
        dtype = torch.promote_types(dtype, m["dtype"])
    if c is not None and scores_t.dim() == 1:                               # a rank without data
        scores_t = scores_t.reshape(0, c)
    device = _comm_device(group)
    all_scores = _gather_variable(scores_t.to(dtype), sizes, group, device)
    all_labels = _gather_variable(labels_t.to(torch.bool if isinstance(ev, ROC) else torch.long),
                                  sizes, group, device)
    ev._scores = [s for s, n in zip(all_scores, sizes) if n]
    ev._labels = [y for y, n in zip(all_labels, sizes) if n]
    if isinstance(ev, ROCMultiClass):
        ev._num_classes = c
        if ev._names is None:
            ev._names = next((m["names"] for m in metas if m["names"] is not None), None)
    ev._host = None
    ev._curves = {}


def _reduce_binary(ev: EvaluationBinary, group) -> None:
    k = _common(_gather_objects(None if ev._counts is None else ev._counts.shape[1], group), "the number of outputs")
    if k is None:
        return
    device = _comm_device(group)
    counts = ev._counts.to(device) if ev._counts is not None else torch.zeros(4, k, dtype=torch.long, device=device)
    counts = counts.clone()
    dist.all_reduce(counts, op=dist.ReduceOp.SUM, group=group)
    ev._counts = counts.to(ev._counts.device if ev._counts is not None else torch.device("cpu"))
