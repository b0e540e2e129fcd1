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
  (see :func:`seqkit._forward.run_recurrent`). Layers above the topmost
  recurrent layer, the output layer included, still learn from every step's
  loss; no gradient from the early steps reaches a recurrent layer or
  anything below it. This is DL4J's truncation, expressed with autograd;
- features and labels must have the same T, and per-step labels: anything
  else is an error (DL4J only logs a warning and skips the minibatch).

No host-device sync in the step: the loss stays on the device. It is read
(``.item()``) only when a listener asks for it (``state.score()``), and the
check for NaN/inf losses runs on the device and is read every
``check_every`` iterations and at each epoch end; it then names the first
bad iteration. Reproducibility: the network's own random stream (dropout)
is restored around ``fit`` and saved in checkpoints.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import tempfile

import torch

from ._data import ArrayBatches, Prefetcher, as_source, is_one_shot
from ._errors import ConfigError
from ._fit_state import FitState, NonFiniteLossError, default_progress
from ._forward import make_mask, run_layers, slice_mask
from ._labels import ClassIndexLabels
from ._parameters import param_groups, penalty, penalty_groups
from ._updaters import make_optimizer, make_schedule

__all__ = ["TrainingMixin"]


class TrainingMixin:
    """``fit`` and the training step (see the module docstring)."""

    # -- optimizer ----------------------------------------------------------------------------
    def _ensure_optimizer(self):
        if self._optimizer is None:
            groups = param_groups(self.layers)
            if not groups:
                raise ConfigError("the network has no trainable parameters")
            self._optimizer = make_optimizer(self.updater, groups, self.learning_rate)
            if self.lr_schedule is not None:
                self._scheduler = make_schedule(self.lr_schedule, self._optimizer)
            pending, self._pending = self._pending, {}
            if "optimizer" in pending:
                self._optimizer.load_state_dict(pending["optimizer"])
            if "scheduler" in pending:
                if self._scheduler is None:
                    raise ConfigError("the saved state has a learning-rate schedule; pass lr_schedule= "
                                      "(to seqkit.load or the network) to continue it")
                self._scheduler.load_state_dict(pending["scheduler"])
        return self._optimizer

    @property
    def optimizer(self):
        """The torch optimizer (created on first use, after the network is built)."""
        if not self.built:
            raise ConfigError("the network is not built yet, so it has no optimizer")
        return self._ensure_optimizer()

    @property
    def scheduler(self):
        """The learning-rate scheduler, or None."""
        if self.built:
            self._ensure_optimizer()
        return self._scheduler

    # -- random stream ------------------------------------------------------------------------
    def _capture_rng(self) -> dict:
        out = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            out["cuda"] = torch.cuda.get_rng_state(self.device)
        return out

    @contextlib.contextmanager
    def _rng_scope(self):
        """Run with the network's own random stream in torch's global generators."""
        dev = self.device
        cuda = dev.type == "cuda"
        devices = [dev.index if dev.index is not None else torch.cuda.current_device()] if cuda else []
        with torch.random.fork_rng(devices=devices):
            st = self._rng_state
            if "cpu" in st:
                torch.set_rng_state(st["cpu"])
            else:
                torch.default_generator.manual_seed(self._stream_seed)
            if cuda:
                if "cuda" in st:
                    torch.cuda.set_rng_state(st["cuda"], dev)
                else:
                    with torch.cuda.device(dev):
                        torch.cuda.manual_seed(self._stream_seed)
            self._in_fit = True
            try:
                yield
            finally:
                self._rng_state = self._capture_rng()
                self._in_fit = False

    # -- data ---------------------------------------------------------------------------------
    def _build_from_source(self, source):
        """Build from the first batch when needed; returns the source (re-chained if one-shot)."""
        if self.built:
            return source
        from ._data import _as_host

        if isinstance(source, ArrayBatches):
            self._ensure_built(tuple(source._arrays["features"].shape))
            return source
        if is_one_shot(source):
            first = next(source, None)
            if first is None:
                raise ValueError("fit: the data holds no batch")
            self._ensure_built(tuple(_as_host(first).features.shape))
            return itertools.chain([first], source)
        first = next(iter(source), None)
        if first is None:
            raise ValueError("fit: the data holds no batch")
        self._ensure_built(tuple(_as_host(first).features.shape))
        return source

    # -- fit ----------------------------------------------------------------------------------
    def fit(self, data, epochs: int = 1, *, listeners=(), validation=None, resume_from=None,
            batch_size: int = 32, shuffle: bool = False, progress: bool | None = None,
            check_every: int = 50):
        """Train on ``data`` for ``epochs`` epochs; returns the network.

        Args:
            data: a ``readers.SequenceBatches``, any iterable of ``readers.Batch``,
                one ``Batch``, or arrays ``(features, labels[, features_mask,
                labels_mask])`` (numpy or torch). With a classification head
                (softmax with mcxent or nll) labels may be integer class indices,
                ``[N]`` or ``[N, T]``; they become one-hot (see :mod:`seqkit._labels`).
            epochs: passes over the data. With ``resume_from`` it counts from
                the start of the interrupted ``fit``: pass the same number.
            listeners: ``seqkit`` listeners (ScoreListener, ProgressBar,
                Checkpoint, EarlyStopping, or your own ``Listener``).
            validation: data for ``state.validation_score()`` (EarlyStopping).
            resume_from: a checkpoint file to continue from: parameters,
                optimizer and schedule state, counters, random stream, the
                position in the epoch (batches already used are skipped), and
                the listeners' states (``Listener.load_state_dict``; matched by
                class and position, see :mod:`seqkit._listeners`).
            batch_size, shuffle: for array data only (the order of epoch e is a
                function of the network's seed and e).
            progress: a tqdm progress bar; default: on a terminal outside CI.
            check_every: iterations between reads of the device-side NaN/inf
                flag (also read at every epoch end); 1 checks every iteration.

        Raises:
            ConfigError: the last layer is not an output layer.
            NonFiniteLossError: a NaN or infinite loss; names the first bad
                iteration and the checkpoint written when it was detected: into
                the first Checkpoint listener's directory, else into a new
                temporary directory (``tempfile.mkdtemp``).
            ValueError: a one-shot iterator with ``epochs > 1``; bad data.
        """
        from ._listeners import Checkpoint, Listener, ProgressBar

        head = self._check_trainable()
        if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
            raise ValueError(f"epochs must be a positive int, got {epochs!r}")
        if isinstance(check_every, bool) or not isinstance(check_every, int) or check_every < 1:
            raise ValueError(f"check_every must be a positive int, got {check_every!r}")
        listeners = list(listeners)
        for item in listeners:
            if not isinstance(item, Listener):
                raise TypeError(f"listeners must be seqkit Listener objects, got {type(item).__name__}")
        if (progress is None and default_progress()) or progress is True:
            if not any(isinstance(item, ProgressBar) for item in listeners):
                listeners.append(ProgressBar())
        source = as_source(data, batch_size=batch_size, shuffle=shuffle, seed=self._stream_seed)
        if is_one_shot(source) and epochs > 1:
            raise ValueError(f"fit: data is a one-shot iterator (e.g. a generator) but epochs={epochs}; "
                             f"pass something re-iterable (a list of batches, readers.SequenceBatches, "
                             f"arrays) or use epochs=1")
        source = self._build_from_source(source)
        skip = 0
        if resume_from is not None:
            skip = self._resume(resume_from, listeners)
            if isinstance(source, ArrayBatches):
                source.seed = self._stream_seed          # the interrupted run's shuffle seed
        else:
            self._fit_start_epoch, self._batch_in_epoch = self.epoch, 0
        end_epoch = self._fit_start_epoch + epochs
        self._ensure_optimizer()
        try:
            per_epoch = len(source)
        except TypeError:
            per_epoch = None
        state = FitState(self, end_epoch, per_epoch, validation)
        ckpt_dirs = [item.directory for item in listeners if isinstance(item, Checkpoint)]
        self._nan_dir = ckpt_dirs[0] if ckpt_dirs else None
        was_training = self.training
        self.train()
        self._fit_listeners = listeners                   # their states go into checkpoints
        try:
            with self._rng_scope():
                self._fit_loop(source, head, listeners, state, skip, check_every)
        finally:
            self._fit_listeners = None
            self.train(was_training)
        return self

    def _fit_loop(self, source, head, listeners, state: FitState, skip: int, check_every: int) -> None:
        dev = self.device
        self._first_bad = torch.full((), -1, dtype=torch.long, device=dev)
        self._iter_dev = torch.full((), self.iteration, dtype=torch.long, device=dev)
        reg_groups = penalty_groups(self.layers, self.l1, self.l2)
        classes = ClassIndexLabels(head, len(self.layers) - 1)
        state._notify(listeners, "on_fit_start")
        while self.epoch < state.end_epoch and not state.stop:
            if hasattr(source, "set_epoch"):
                source.set_epoch(self.epoch)
            state._new_epoch()
            feed = Prefetcher(source, dev, self.dtype, skip=skip, class_labels=classes)
            skip = 0
            try:
                for batch in feed:
                    loss = self._train_minibatch(batch, head, reg_groups)
                    self.iteration += 1
                    self._batch_in_epoch += 1
                    self._iter_dev += 1
                    bad = ~torch.isfinite(loss)
                    self._first_bad = torch.where(bad & (self._first_bad < 0), self._iter_dev,
                                                  self._first_bad)
                    state._record(loss)
                    if self._scheduler is not None and self.lr_schedule_interval == "iteration":
                        self._scheduler.step()
                    if self.iteration % check_every == 0:
                        self._check_finite()
                    state._notify(listeners, "on_iteration_end")
                    if state.stop:
                        break
            finally:
                feed.close()
            self._check_finite()
            if state.stop:
                break
            self.epoch += 1
            self._batch_in_epoch = 0
            if self._scheduler is not None and self.lr_schedule_interval == "epoch":
                self._scheduler.step()
            state._notify(listeners, "on_epoch_end")
        state._notify(listeners, "on_fit_end")

    def _check_finite(self) -> None:
        """Read the device flag; on a NaN/inf loss write a checkpoint and raise."""
        first = int(self._first_bad)
        if first < 0:
            return
        directory = self._nan_dir or tempfile.mkdtemp(prefix="seqkit-nonfinite-")
        path = os.path.join(directory, f"nonfinite-iteration{first}.seqkit")
        self._save_checkpoint(path)
        raise NonFiniteLossError(
            f"training stopped: the loss was NaN or infinite at iteration {first} (minibatch {first} "
            f"counted over all fits; detected at iteration {self.iteration}, epoch {self.epoch + 1}). "
            f"A checkpoint of the state at detection (its parameters may already hold NaN/inf) was "
            f"written to {path}. Check the inputs for NaN/inf, lower the learning rate or set "
            f"grad_clip; check_every=1 stops at the first bad iteration.", first, path)

    # -- one minibatch ------------------------------------------------------------------------
    def _train_minibatch(self, b, head, reg_groups) -> torch.Tensor:
        """Train on one device batch; returns its loss (plus penalty), detached, on the device."""
        if b.labels is None:
            raise ValueError("fit needs labels: the batch has none")
        if self.backprop == "tbptt":
            return self._train_tbptt(b, head, reg_groups)
        step_mask = make_mask(b.features_mask, b.features_mask_host, b.features)
        loss, reg = self._train_segment(b.features, b.labels, step_mask, b.labels_mask, head,
                                        reg_groups)
        return loss if reg is None else loss + reg

    def _train_segment(self, x, labels, step_mask, labels_mask, head, reg_groups, *,
                       states: dict | None = None, back: int | None = None):
        """Forward, loss, backward, clip and one optimizer step; returns ``(loss, penalty)`` detached."""
        opt = self._optimizer
        opt.zero_grad(set_to_none=True)
        with self._autocast():
            h, m = run_layers(self, x, step_mask, stop=len(self.layers) - 1, training=True,
                              states=states, back=back)
            mask = self._loss_mask(labels_mask, m, h)
            loss = head.score(head.preactivation(h), labels, mask, reduction=self.loss_reduction)
        loss = loss.float()
        reg = penalty(reg_groups)
        (loss if reg is None else loss + reg).backward()
        self._clip_gradients()
        opt.step()
        self.updates += 1
        return loss.detach(), (None if reg is None else reg.detach())

    def _clip_gradients(self) -> None:
        if self.grad_clip is None:
            return
        kind, limit = self.grad_clip
        params = [p for p in self.parameters() if p.grad is not None]
        if kind == "norm":
            torch.nn.utils.clip_grad_norm_(params, limit)
        else:
            torch.nn.utils.clip_grad_value_(params, limit)

    def _train_tbptt(self, b, head, reg_groups) -> torch.Tensor:
        """Truncated BPTT over one minibatch (module docstring); returns the minibatch loss."""
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
        length, back = self.tbptt_length, self.tbptt_back_length
        states: dict = {}
        total, weights, reg = None, 0.0, None
        for start in range(0, t, length):
            stop = min(start + length, t)
            lm = None if b.labels_mask is None else b.labels_mask[:, start:stop]
            window = back if back is not None and back < stop - start else None
            loss, reg = self._train_segment(x[:, :, start:stop], y[:, :, start:stop],
                                            slice_mask(step_mask, start, stop), lm, head, reg_groups,
                                            states=states, back=window)
            if self.loss_reduction == "per_step":
                w = float(weight_host[:, start:stop].sum()) if weight_host is not None \
                    else float(len(b) * (stop - start))
            else:
                w = 1.0
            total = loss * w if total is None else total + loss * w
            weights += w
        if self.loss_reduction == "per_step":
            total = total / max(weights, 1.0)
        return total if reg is None else total + reg
