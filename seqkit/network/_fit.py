"""Training: ``fit`` with standard backprop or truncated BPTT, without host-device syncs.

One **iteration** is one minibatch. With ``backprop="standard"`` it is one
forward, one backward and one optimizer step. With ``backprop="tbptt"`` the
minibatch is cut into segments of ``tbptt_length`` steps (the last may be
shorter), each with its own forward, backward and optimizer step (DL4J's
truncated BPTT):

- every recurrent layer starts the minibatch from zeros and carries its final
  state, detached, from one segment to the next (nothing crosses minibatches);
- features, labels and both masks are sliced per segment; a segment whose
  steps are all masked still makes an optimizer step (zero loss gradient,
  but momentum and penalties act), as DL4J does;
- ``tbptt_back_length`` < ``tbptt_length`` limits the gradient window: each
  recurrent layer runs the first ``Tseg - back`` steps of a segment without
  autograd and the last ``back`` with it, from the state reached at the split
  (see :func:`seqkit.network._forward.run_recurrent`). Layers above the
  topmost recurrent layer, the output layer included, still learn from every
  step's loss; no gradient from the early steps reaches a recurrent layer or
  anything below it. This is DL4J's truncation, expressed with autograd;
- features and labels must have the same T, and per-step labels: anything
  else is an error (DL4J only logs a warning and skips the minibatch).

The reported loss of a TBPTT minibatch is the segments' losses combined as
one full-sequence loss would be: their sum for ``per_sequence`` (each segment
divides by N), their step-weighted mean for ``per_step``.

Every forward goes through the network's ``__call__`` (``net(x, mask,
logits=True)``), so a wrapper around the module sees it. No host-device sync
in the step: the loss stays on the device. It is read (``.item()``) only when
a listener asks for it (``state.score()``), and the check for NaN/inf losses
runs on the device and is read every ``check_every`` iterations and at each
epoch end; it then names the first bad iteration. State that lives for one
``fit`` call lives in its :class:`FitRun`.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import time

import torch

from .._errors import ConfigError
from ._data import (ArrayBatches, DeviceBatch, Prefetcher, as_host, as_source, data_view, is_one_shot,
                    match_columns)
from ._distributed import Distributed, start_distributed
from ._fit_state import FitState, NonFiniteLossError, default_progress
from ._forward import make_mask, output_mask, slice_mask
from ._labels import ClassIndexLabels
from ._listeners import Checkpoint, EpochLog, Listener, ProgressBar
from ._parameters import penalty, penalty_groups
from ._saving import resume
from ._settings import positive_int
from ._validation_split import check_validation_split, split_validation

__all__ = ["FitRun", "fit", "training_loss"]


def training_loss(net, head, output: torch.Tensor, labels: torch.Tensor, mask: torch.Tensor | None, *,
                  logits: bool) -> torch.Tensor:
    """The output layer's loss reduced by ``net.loss_reduction``, plus the L1/L2 penalty.

    Shape:
        output, labels ``[N, C, T]`` or ``[N, C]``; mask ``[N, T]`` or None; returns a scalar.
    """
    loss = head.score(output, labels, mask, reduction=net.loss_reduction, preactivation=logits).float()
    reg = penalty(penalty_groups(net.layers, net.l1, net.l2))
    return loss if reg is None else loss + reg


def _count(net, labels, labels_mask_host, features_mask_host) -> float:
    """What one batch's loss is divided by: its sequences (``per_sequence``) or real steps (``per_step``).

    From the CPU copies of the masks: no device sync.
    """
    n = float(labels.shape[0])
    if net.loss_reduction != "per_step":
        return n
    if labels_mask_host is not None:
        return float(labels_mask_host.sum())
    if labels.dim() == 3:
        return float(features_mask_host.sum()) if features_mask_host is not None else n * labels.shape[2]
    return n


def filler_batch(net) -> DeviceBatch:
    """A one-example batch for a rank out of data in a distributed step: its loss weight is zero.

    Shape:
        features ``[1, *input_shape]`` with T = 1; labels ``[1, C, 1]`` or ``[1, C]``; one real step.
    """
    dev, dtype = net.device, net.dtype
    shape = [1 if d is None else d for d in net.input_shape]
    out = [1 if d is None else d for d in net.output_shapes[-1]]
    timed = len(net.input_shape) >= 2
    ones = torch.ones(1, 1, device=dev, dtype=dtype) if timed else None
    host = torch.ones(1, 1) if timed else None
    return DeviceBatch(torch.zeros([1, *shape], device=dev, dtype=dtype), torch.zeros([1, *out], device=dev,
                       dtype=dtype), ones, None, host, None, None)


def _check_sharded(data, dist: Distributed) -> None:
    """ConfigError for a ``SequenceBatches`` that every rank would read whole under torch.distributed."""
    world = getattr(data, "world_size", None)
    if isinstance(world, int) and world != dist.world_size:
        raise ConfigError(f"fit under torch.distributed with {dist.world_size} ranks, but the data is split "
                          f"for {world}: give SequenceBatches shard='auto' (or (rank, world_size)) so each rank "
                          f"reads its share")


def pad_steps(b: DeviceBatch, steps: int) -> DeviceBatch:
    """``b`` padded with masked steps at the end to ``steps`` steps (no change when it has them).

    Shape:
        features ``[N, F, T, ...]``, per-step labels ``[N, C, T]`` and masks ``[N, T]`` grow to T = ``steps``.
    """
    x = b.features
    if x.dim() < 3 or x.shape[2] >= steps:
        return b
    extra = steps - x.shape[2]

    def grow(t, dim=2):
        if t is None:
            return None
        shape = list(t.shape)
        shape[dim] = extra
        return torch.cat([t, t.new_zeros(shape)], dim=dim)

    fm, fm_host = b.features_mask, b.features_mask_host
    if fm is None:                                      # every step was real: now the new ones are not
        fm = torch.ones(x.shape[0], x.shape[2], device=x.device, dtype=x.dtype)
        fm_host = torch.ones(x.shape[0], x.shape[2])
    labels = b.labels if b.labels is None or b.labels.dim() != 3 else grow(b.labels)
    lm, lm_host = b.labels_mask, b.labels_mask_host
    if labels is not None and labels.dim() == 3 and lm is None:
        lm, lm_host = fm, fm_host                       # per-step labels count at the real steps only
    return DeviceBatch(grow(x), labels, grow(fm, 1), grow(lm, 1), grow(fm_host, 1), grow(lm_host, 1), b.keys)


def _clip_gradients(net, params) -> None:
    """Clip the gradients of ``params`` (the network's parameters) as ``net.grad_clip`` says."""
    if net.grad_clip is None:
        return
    kind, limit = net.grad_clip
    params = [p for p in params if p.grad is not None]
    if kind == "norm":
        torch.nn.utils.clip_grad_norm_(params, limit)
    else:
        torch.nn.utils.clip_grad_value_(params, limit)


def _build_from_source(net, source, view=None):
    """Build ``net`` from the first batch when needed; returns the source (re-chained if one-shot).

    Sources that know their feature count (arrays, a ``SequenceBatches`` or a DataLoader over
    one) build without reading a batch.
    """
    if net.built:
        return source
    if isinstance(source, ArrayBatches):
        net.ensure_built(source.features_shape)
        return source
    features = getattr(view, "num_features", None)
    if isinstance(features, int):
        net.ensure_built((1, features, 1))              # [N, F, T]: a SequenceBatches is always NCL
        return source
    one_shot = is_one_shot(source)
    first = next(source if one_shot else iter(source), None)
    if first is None:
        raise ValueError("fit: the data holds no batch")
    net.ensure_built(tuple(as_host(first).features.shape))
    return itertools.chain([first], source) if one_shot else source


class FitRun:
    """One ``fit`` call: its listeners, its :class:`FitState` and the device-side loss checks.

    Args:
        net: the network; ``model``: what the forward is called on (the
            network, or a wrapper of it such as ``DistributedDataParallel``).
    """

    def __init__(self, net, model, listeners, state: FitState, check_every: int, dist: Distributed | None = None):
        self.net, self.model, self.listeners, self.state = net, model, listeners, state
        self.check_every, self.dist = check_every, dist
        self.head = net.head()
        self.params = list(net.parameters())          # for clipping: walked once, not at every step
        self.classes = ClassIndexLabels(self.head, len(net.layers) - 1)
        self.reg_groups = penalty_groups(net.layers, net.l1, net.l2)
        dirs = [item.directory for item in listeners if isinstance(item, Checkpoint)]
        self.nonfinite_dir = dirs[0] if dirs else None
        dev = net.device
        self.first_bad = torch.full((), -1, dtype=torch.long, device=dev)   # first non-finite iteration
        self.iter_dev = torch.full((), net.progress.iteration, dtype=torch.long, device=dev)

    # -- epochs -------------------------------------------------------------------------------
    def run(self, source, skip: int) -> None:
        state, progress = self.state, self.net.progress
        state.notify(self.listeners, "on_fit_start")
        started = time.perf_counter()
        try:
            self._epochs(source, skip)
        finally:
            progress.seconds += time.perf_counter() - started
        state.notify(self.listeners, "on_fit_end")

    def _epochs(self, source, skip: int) -> None:
        net, state, progress = self.net, self.state, self.net.progress
        while progress.epoch < state.end_epoch and not state.stop:
            if hasattr(source, "set_epoch"):
                source.set_epoch(progress.epoch)
            state.new_epoch()
            feed = Prefetcher(source, net.device, net.dtype, skip=skip, class_labels=self.classes)
            seen, skipped, skip = 0, skip, 0
            try:
                batches = iter(feed)
                while True:
                    batch = next(batches, None)
                    if self.dist is not None:              # every rank runs the same steps
                        steps = 0 if batch is None or batch.features.dim() < 3 else batch.features.shape[2]
                        more, stop, longest = self.dist.agree(batch is not None, state.stop, steps)
                        if stop:
                            state.stop = True
                            break
                        if not more:
                            break
                        filler = batch is None
                        batch = pad_steps(filler_batch(net) if filler else batch, longest)
                    elif batch is None:
                        break
                    else:
                        filler = False
                    seen += 1
                    self.iteration(batch, filler=filler)
                    if state.stop and self.dist is None:
                        break
            finally:
                feed.close()
            if seen == 0 and not skipped:
                raise ValueError(f"fit: epoch {progress.epoch + 1} got no batch: the data is empty (check "
                                 f"the reader's source, or drop_last with fewer sequences than batch_size)")
            self.check_finite()
            if state.stop:
                break
            progress.epoch += 1
            progress.batch_in_epoch = 0
            net.optimization.step_schedule("epoch")
            state.notify(self.listeners, "on_epoch_end")

    def iteration(self, batch, *, filler: bool = False) -> None:
        """Train on one device batch, count it, and let the listeners see it.

        ``filler``: a rank out of data takes part in a distributed step with a
        batch whose loss weight is zero (it counts nowhere).
        """
        net, progress = self.net, self.net.progress
        loss = self.minibatch(batch, filler=filler)
        progress.iteration += 1
        progress.batch_in_epoch += 1
        self.iter_dev += 1
        bad = ~torch.isfinite(loss)
        self.first_bad = torch.where(bad & (self.first_bad < 0), self.iter_dev, self.first_bad)
        self.state.record(loss)
        net.optimization.step_schedule("iteration")
        if progress.iteration % self.check_every == 0:
            self.check_finite()
        self.state.notify(self.listeners, "on_iteration_end")

    def check_finite(self) -> None:
        """Read the device flag; on a NaN/inf loss write a checkpoint and raise."""
        first = int(self.first_bad)
        if first < 0:
            return
        net = self.net
        directory = self.nonfinite_dir or tempfile.mkdtemp(prefix="seqkit-nonfinite-")
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, f"nonfinite-iteration{first}.seqkit")
        self.state.save_checkpoint(path)
        raise NonFiniteLossError(
            f"training stopped: the loss was NaN or infinite at iteration {first} (minibatch {first} "
            f"counted over all fits; detected at iteration {net.iteration}, epoch {net.epoch + 1}). "
            f"A checkpoint of the state at detection (its parameters may already hold NaN/inf) was "
            f"written to {path}. Check the inputs for NaN/inf, lower the learning rate or set "
            f"grad_clip; check_every=1 stops at the first bad iteration.", first, path)

    # -- one minibatch ------------------------------------------------------------------------
    def minibatch(self, b, *, filler: bool = False) -> torch.Tensor:
        """Train on one device batch; returns its loss (plus penalty), detached, on the device."""
        if b.labels is None:
            raise ValueError("fit needs labels, but the batch has none: give SequenceBatches a labels "
                             "reader or label_column=, or pass arrays (features, labels)")
        if self.net.backprop == "tbptt":
            return self.tbptt(b, filler=filler)
        step_mask = make_mask(b.features_mask, b.features_mask_host, b.features)
        count = 0.0 if filler else _count(self.net, b.labels, b.labels_mask_host, b.features_mask_host)
        loss, reg = self.segment(b.features, b.labels, step_mask, b.labels_mask, count=count)
        return loss if reg is None else loss + reg

    def segment(self, x, labels, step_mask, labels_mask, *, count: float, states: dict | None = None,
                back: int | None = None):
        """Forward (through ``model``), loss, backward, clip and one optimizer step.

        ``count``: the sequences (``per_sequence``) or real steps (``per_step``)
        this segment's loss is over; across ranks the summed loss is divided by
        the total count, so every rank's step equals one process's. Returns
        ``(loss, penalty)``, detached (the global loss under torch.distributed).
        """
        net, head = self.net, self.head
        opt = net.optimization.optimizer
        opt.zero_grad(set_to_none=True)
        with net.autocast():
            out = self.model(x, step_mask, logits=True, state=states, back=back)
            mask = labels_mask
            if mask is None and out.dim() == 3 and step_mask is not None:
                mask = output_mask(net, step_mask.values)
            if self.dist is None:
                loss, total = head.score(out, labels, mask, reduction=net.loss_reduction), count
            else:
                summed = head.score(out, labels, mask, reduction="sum").float() * (1.0 if count else 0.0)
                total = self.dist.total(torch.tensor(count, device=summed.device))
                loss = summed * (self.dist.world_size / total.clamp_min(1.0))    # DDP averages over ranks
        loss = loss.float()
        reg = penalty(self.reg_groups)
        (loss if reg is None else loss + reg).backward()
        _clip_gradients(net, self.params)
        opt.step()
        net.progress.updates += 1
        loss = loss.detach()
        if self.dist is not None:
            loss = self.dist.total(loss).float() / self.dist.world_size    # the global loss, on every rank
        self.last_count = total                                           # over all ranks
        return loss, (None if reg is None else reg.detach())

    def tbptt(self, b, *, filler: bool = False) -> torch.Tensor:
        """Truncated BPTT over one minibatch (module docstring); returns the minibatch loss."""
        net = self.net
        x, y = b.features, b.labels
        if x.dim() < 3:
            raise ValueError(f"TBPTT needs sequence features [N, F, T], got shape {tuple(x.shape)}")
        if y.dim() != 3:
            raise ValueError(f"TBPTT needs per-step labels [N, C, T], got labels of shape "
                             f"{tuple(y.shape)}; use backprop='standard' for sequence labels")
        t = x.shape[2]
        if y.shape[2] != t:
            raise ValueError(f"TBPTT: the features have {t} steps but the labels have {y.shape[2]}; "
                             f"TBPTT needs features and labels of the same length (DL4J skips such "
                             f"a minibatch with a warning; seqkit refuses it)")
        step_mask = make_mask(b.features_mask, b.features_mask_host, x)
        weight_host = b.labels_mask_host if b.labels_mask is not None else b.features_mask_host
        length, back = net.tbptt_length, net.tbptt_back_length
        states: dict = {}
        total, weights, reg = None, 0.0, None
        for start in range(0, t, length):
            stop = min(start + length, t)
            lm = None if b.labels_mask is None else b.labels_mask[:, start:stop]
            window = back if back is not None and back < stop - start else None
            steps = float(weight_host[:, start:stop].sum()) if weight_host is not None \
                else float(len(b) * (stop - start))
            count = 0.0 if filler else (steps if net.loss_reduction == "per_step" else float(len(b)))
            loss, reg = self.segment(x[:, :, start:stop], y[:, :, start:stop],
                                     slice_mask(step_mask, start, stop), lm, count=count, states=states,
                                     back=window)
            w = self.last_count if net.loss_reduction == "per_step" else 1.0
            total = loss * w if total is None else total + loss * w
            weights += w
        if net.loss_reduction == "per_step":
            total = total / (weights.clamp_min(1.0) if isinstance(weights, torch.Tensor) else max(weights, 1.0))
        return total if reg is None else total + reg


def fit(net, data, epochs: int = 1, *, listeners=(), validation=None, resume_from=None,
        batch_size: int = 32, shuffle: bool = False, progress: bool | None = None,
        check_every: int = 50, nonfinite_dir=None, model=None, validation_split=None) -> None:
    """Train ``net`` on ``data`` (see ``Sequential.fit`` for the arguments).

    ``model``: what the forward is called on, ``net`` by default (a
    ``DistributedDataParallel`` wrapper of it under ``torchrun``).
    ``nonfinite_dir``: where the checkpoint of a NaN/inf loss goes (default:
    the first Checkpoint listener's directory, else a new temporary directory).
    ``validation_split``: hold out this share of ``data`` as the validation
    data (seeded, stratified; see :mod:`seqkit.network._validation_split`).

    Raises:
        ConfigError: the last layer is not an output layer.
        NonFiniteLossError: a NaN or infinite loss; names the first bad
            iteration and the checkpoint written when it was detected: into
            the first Checkpoint listener's directory, else into a new
            temporary directory (``tempfile.mkdtemp``).
        ValueError: a one-shot iterator with ``epochs > 1``; bad data.
    """
    net.head()
    positive_int(epochs, "epochs", error=ValueError)
    positive_int(check_every, "check_every", error=ValueError)
    validation_split = check_validation_split(validation_split, validation)
    listeners = list(listeners)
    for item in listeners:
        if not isinstance(item, Listener):
            raise TypeError(f"listeners must be seqkit Listener objects, got {type(item).__name__}")
    dist = start_distributed(net)                       # None in one process
    main = dist is None or dist.is_main
    if main and progress is not False and not any(isinstance(item, (ProgressBar, EpochLog)) for item in listeners):
        listeners.append(ProgressBar() if progress is True or default_progress() else EpochLog())
    shard = None if dist is None else (dist.rank, dist.world_size)
    view = data_view(data)                              # a DataLoader's dataset describes its data
    if dist is not None:
        _check_sharded(view, dist)
        if validation_split is not None:
            raise ValueError("validation_split is for one process; under torchrun pass validation= data")
    source = as_source(data, batch_size=batch_size, shuffle=shuffle, seed=net.random_stream.seed, shard=shard)
    if is_one_shot(source) and epochs > 1:
        raise ValueError(f"fit: data is a one-shot iterator (e.g. a generator) but epochs={epochs}; "
                         f"pass something re-iterable (a list of batches, readers.SequenceBatches, "
                         f"arrays) or use epochs=1")
    source = _build_from_source(net, source, view)
    source = match_columns(net, view, source, "fit", record=True)
    skip = 0
    if resume_from is not None:
        skip = resume(net, resume_from, listeners)
        if isinstance(source, ArrayBatches):
            source.seed = net.random_stream.seed          # the interrupted run's shuffle seed
    else:
        net.progress.fit_start_epoch, net.progress.batch_in_epoch = net.progress.epoch, 0
    if validation_split is not None:
        source, validation = split_validation(
            source, validation_split, seed=net.random_stream.seed,
            batch_size=getattr(view, "batch_size", batch_size), shuffle=bool(getattr(view, "shuffle", shuffle)))
    end_epoch = net.progress.fit_start_epoch + epochs
    net.optimization.ensure(net.layers)
    try:
        per_epoch = len(source)
    except TypeError:
        per_epoch = None
    state = FitState(net, end_epoch, per_epoch, validation, listeners, is_main=main)
    if model is None:
        model = net if dist is None else dist.wrap(net)
    run = FitRun(net, model, listeners, state, check_every, dist)
    if nonfinite_dir is not None:
        run.nonfinite_dir = os.fspath(nonfinite_dir)
    was_training = net.training
    net.train()
    try:
        with net.random_stream.scope(net.device):
            run.run(source, skip)
    finally:
        net.train(was_training)
