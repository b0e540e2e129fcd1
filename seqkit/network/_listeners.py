"""Training listeners: score printing, a progress bar, checkpoints, early stopping.

A listener is an object with four hooks that ``fit`` calls with a
:class:`~seqkit.network.FitState` (``state.net``, ``state.epoch``,
``state.iteration``, ``state.batch``, ``state.score()``, ``state.epoch_score()``,
``state.validation_score()``; set ``state.stop = True`` to end training).
Reading a score copies it from the device, so listeners only do it when they
print or decide something, never every iteration by default.

Hooks: ``on_fit_start``, ``on_iteration_end`` (after each minibatch),
``on_epoch_end`` (after each epoch; ``state.epoch`` already counts it),
``on_fit_end`` (also after an early stop).

State and resuming: a listener's ``state_dict()`` is what it has learnt while
training (EarlyStopping's best score, patience count and best parameters,
Checkpoint's list of written files, ScoreListener's history), as JSON-safe
data. Checkpoints written during ``fit`` store every listener's state in the
model file's training state (``training_state["listeners"]``: one
``{"class": name, "state": ...}`` per listener, in order), and
``fit(..., resume_from=path)`` gives it back through ``load_state_dict``, so a
resumed run's listeners decide as the uninterrupted run's would. Matching is
by class and position: the k-th listener of a class gets the state of the k-th
saved listener of that class; one without a saved counterpart starts afresh,
and saved states nobody claims are ignored. A checkpoint is written once
every listener's hook for that iteration or epoch has run (see
``FitState.after_listeners``), so its state is complete whatever the order of
the listeners.
"""

from __future__ import annotations

import os
import re
import sys
import time

from ._settings import positive_int
from ._listener_state import state_error, state_field, tensors_from_json, tensors_to_json

__all__ = ["Checkpoint", "EarlyStopping", "EpochLog", "Listener", "ProgressBar", "ScoreListener"]


class Listener:
    """Base class: override the hooks you need (each does nothing by default).

    A listener that learns something while training (a best score, a counter)
    also overrides :meth:`state_dict` and :meth:`load_state_dict`, so that
    ``fit(..., resume_from=path)`` restores it.
    """

    def state_dict(self) -> dict:
        """What this listener has learnt so far, as JSON-safe data (None, bool, int, float,
        str, lists, dicts with str keys); stored in checkpoints. Empty by default."""
        return {}

    def load_state_dict(self, state: dict) -> None:
        """Restore what :meth:`state_dict` gave (on ``fit(..., resume_from=...)``).

        Raises:
            ValueError: a state this listener cannot take, saying what is wrong.
        """

    def on_fit_start(self, state) -> None:
        """Before the first iteration of a ``fit`` call."""

    def on_iteration_end(self, state) -> None:
        """After each iteration (minibatch)."""

    def on_epoch_end(self, state) -> None:
        """After each epoch; ``state.epoch`` is the number of epochs completed."""

    def on_fit_end(self, state) -> None:
        """At the end of ``fit`` (normal end or early stop; not after an error)."""


class ScoreListener(Listener):
    """Print (and record) the score every ``every`` iterations, DL4J's ``ScoreIterationListener``.

    Args:
        every: iterations between reports.
        printer: a function taking one line (``print`` by default); None records only.
        epoch_summary: also report each epoch's mean score (and the
            validation score when ``fit`` got ``validation=``).

    Attributes:
        history: ``[(iteration, score), ...]`` for every report.
        epoch_history: ``[(epoch, mean score, validation score or None), ...]``.
    """

    def __init__(self, every: int = 10, *, printer=print, epoch_summary: bool = True):
        self.every = positive_int(every, "every", error=ValueError)
        self.printer, self.epoch_summary = printer, epoch_summary
        self.history: list[tuple[int, float]] = []
        self.epoch_history: list[tuple[int, float, float | None]] = []

    def on_iteration_end(self, state) -> None:
        if state.iteration % self.every:
            return
        score = state.score()
        self.history.append((state.iteration, score))
        if self.printer is not None:
            self.printer(f"iteration {state.iteration} (epoch {state.epoch + 1}, batch {state.batch}): "
                         f"score {score:.6g}")

    def state_dict(self) -> dict:
        """``{"history": [[iteration, score], ...], "epoch_history": [[epoch, mean, val], ...]}``."""
        return {"history": [list(item) for item in self.history],
                "epoch_history": [list(item) for item in self.epoch_history]}

    def load_state_dict(self, state: dict) -> None:
        owner = type(self).__name__
        try:
            history = [(int(i), float(v)) for i, v in state_field(state, "history", owner)]
            epochs = [(int(e), float(m), None if v is None else float(v))
                      for e, m, v in state_field(state, "epoch_history", owner)]
        except (TypeError, ValueError) as err:
            raise state_error(owner, f"bad history ({err})") from None
        self.history, self.epoch_history = history, epochs

    def on_epoch_end(self, state) -> None:
        if not self.epoch_summary:
            return
        mean, val = state.epoch_score(), state.validation_score()
        self.epoch_history.append((state.epoch, mean, val))
        if self.printer is not None:
            extra = f", validation score {val:.6g}" if val is not None else ""
            self.printer(f"epoch {state.epoch}: mean score {mean:.6g}{extra}")


class ProgressBar(Listener):
    """A tqdm progress bar per epoch, with the score refreshed every ``every`` iterations.

    ``fit`` adds one by default when stdout is a terminal and the ``CI``
    environment variable is unset (``progress=False`` turns it off).
    """

    def __init__(self, every: int = 10, *, file=None, leave: bool = True):
        self.every = positive_int(every, "every", error=ValueError)
        self.file, self.leave = file, leave
        self._bar = None

    def _open(self, state):
        from tqdm.auto import tqdm

        self._bar = tqdm(total=state.batches_per_epoch, initial=max(state.batch - 1, 0),
                         desc=f"epoch {state.epoch + 1}/{state.end_epoch}", unit="batch",
                         file=self.file if self.file is not None else sys.stderr, leave=self.leave,
                         dynamic_ncols=True)

    def on_iteration_end(self, state) -> None:
        if self._bar is None:
            self._open(state)
        self._bar.update(1)
        if state.iteration % self.every == 0:
            self._bar.set_postfix(score=f"{state.score():.4g}", refresh=False)

    def on_epoch_end(self, state) -> None:
        if self._bar is not None:
            val = state.validation_score()
            post = {"score": f"{state.epoch_score():.4g}"}
            if val is not None:
                post["validation"] = f"{val:.4g}"
            self._bar.set_postfix(post)
            self._bar.close()
            self._bar = None

    def on_fit_end(self, state) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class EpochLog(Listener):
    """One line per epoch: its number, mean loss, validation score and time (Keras's ``verbose=2``).

    ``fit`` adds one by default when stdout is not a terminal (a script's log,
    a notebook, CI); ``progress=False`` turns it off.

    Args:
        printer: receives each line (default ``print``).
    """

    def __init__(self, printer=None):
        self.printer = printer if printer is not None else print
        self._start = None

    def on_fit_start(self, state) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, state) -> None:
        now = time.perf_counter()
        seconds, self._start = now - (self._start if self._start is not None else now), now
        val = state.validation_score()
        extra = f" - validation {val:.4g}" if val is not None else ""
        self.printer(f"epoch {state.epoch}/{state.end_epoch} - loss {state.epoch_score():.4g}{extra} - "
                     f"{seconds:.1f} s")


_CKPT = re.compile(r"^(?P<prefix>.+)-e(?P<epoch>\d+)-i(?P<iteration>\d+)\.seqkit$")


class Checkpoint(Listener):
    """Save the network with its training state every N iterations and/or epochs; keep the last K.

    Files are ``{prefix}-e{epoch}-i{iteration}.seqkit`` in ``directory``
    (created if missing). ``fit(..., resume_from=path)`` continues from one;
    :meth:`latest` finds the newest. A NaN/inf loss also writes its
    checkpoint into this directory. A file is written once every listener's
    hook for that iteration or epoch has run, so it holds the listeners'
    complete states (module docstring), whatever their order.

    Args:
        directory: where to write.
        every_iterations: save every this many iterations (None: not by iteration).
        every_epochs: save every this many epochs (None: not by epoch); default 1.
        keep_last: how many of this prefix's checkpoints to keep (older ones are
            deleted); None keeps all.
        prefix: the file name prefix.
    """

    def __init__(self, directory, *, every_iterations: int | None = None, every_epochs: int | None = 1,
                 keep_last: int | None = 3, prefix: str = "checkpoint"):
        self.every_iterations = positive_int(every_iterations, "every_iterations", allow_none=True,
                                             error=ValueError)
        self.every_epochs = positive_int(every_epochs, "every_epochs", allow_none=True, error=ValueError)
        if self.every_iterations is None and self.every_epochs is None:
            raise ValueError("Checkpoint: give every_iterations, every_epochs or both")
        self.keep_last = positive_int(keep_last, "keep_last", allow_none=True, error=ValueError)
        if not isinstance(prefix, str) or not prefix or os.sep in prefix:
            raise ValueError(f"Checkpoint: prefix must be a file name part, got {prefix!r}")
        self.directory, self.prefix = os.fspath(directory), prefix
        os.makedirs(self.directory, exist_ok=True)
        self.saved: list[str] = []

    def _save(self, state) -> None:
        """Write a checkpoint once every listener has run for this event (complete state)."""
        name = f"{self.prefix}-e{state.epoch:04d}-i{state.iteration:09d}.seqkit"
        path = os.path.join(self.directory, name)
        if self.saved and self.saved[-1] == path:
            return
        self.saved.append(path)                        # so the file's own state lists it

        def write() -> None:
            try:
                state.save_checkpoint(path)
            except BaseException:
                self.saved.remove(path)
                raise
            if state.is_main:                          # under torch.distributed only rank 0 writes
                self._prune()

        state.after_listeners(write)

    def state_dict(self) -> dict:
        """``{"saved": [path, ...]}``: the files this listener wrote (older ones may be pruned)."""
        return {"saved": list(self.saved)}

    def load_state_dict(self, state: dict) -> None:
        saved = state_field(state, "saved", type(self).__name__)
        if not isinstance(saved, list) or not all(isinstance(p, str) for p in saved):
            raise state_error(type(self).__name__, "'saved' must be a list of paths")
        self.saved = list(saved)

    def _prune(self) -> None:
        if self.keep_last is None:
            return
        found = self._files(self.directory, self.prefix)
        for _, path in found[:-self.keep_last]:
            try:
                os.remove(path)
            except FileNotFoundError:
                pass

    @staticmethod
    def _files(directory, prefix: str) -> list[tuple[int, str]]:
        out = []
        for name in os.listdir(directory):
            m = _CKPT.match(name)
            if m and m.group("prefix") == prefix:
                out.append((int(m.group("iteration")), os.path.join(directory, name)))
        return sorted(out)

    @classmethod
    def latest(cls, directory, prefix: str = "checkpoint") -> str | None:
        """The newest checkpoint (highest iteration) in ``directory``, or None."""
        if not os.path.isdir(directory):
            return None
        found = cls._files(directory, prefix)
        return found[-1][1] if found else None

    def on_iteration_end(self, state) -> None:
        if self.every_iterations is not None and state.iteration % self.every_iterations == 0:
            self._save(state)

    def on_epoch_end(self, state) -> None:
        if self.every_epochs is not None and state.epoch % self.every_epochs == 0:
            self._save(state)


class EarlyStopping(Listener):
    """Stop when the validation figure has not improved for ``patience`` epochs.

    Needs ``fit(..., validation=data)``.

    Args:
        patience: epochs without improvement before stopping.
        metric: ``"score"`` (the validation loss, lower is better) or
            ``"accuracy"`` (``net.evaluate(validation).accuracy()``, higher is better).
        min_delta: the smallest change that counts as an improvement.
        restore_best: at the end, put back the parameters of the best epoch.

    Attributes:
        best, best_epoch: the best value and the epoch (1-based) it came at.
        stopped_epoch: the epoch training stopped after, or None.
        history: every epoch's value.

    All of it, the epochs waited and (with ``restore_best``) the best epoch's
    parameters are saved in checkpoints, so a run resumed with
    ``fit(..., resume_from=path)`` stops, and restores, as the uninterrupted
    run would.
    """

    def __init__(self, patience: int = 5, *, metric: str = "score", min_delta: float = 0.0,
                 restore_best: bool = True):
        self.patience = positive_int(patience, "patience", error=ValueError)
        if metric not in ("score", "accuracy"):
            raise ValueError(f"EarlyStopping: metric must be 'score' or 'accuracy', got {metric!r}")
        if isinstance(min_delta, bool) or not isinstance(min_delta, (int, float)) or min_delta < 0:
            raise ValueError(f"EarlyStopping: min_delta must be a number >= 0, got {min_delta!r}")
        self.metric, self.min_delta, self.restore_best = metric, float(min_delta), restore_best
        self.best = self.best_epoch = self.stopped_epoch = None
        self.history: list[float] = []
        self._wait, self._best_state = 0, None

    def on_fit_start(self, state) -> None:
        if not state.has_validation:
            raise ValueError("EarlyStopping needs validation data: fit(..., validation=...)")

    def state_dict(self) -> dict:
        """Best value and epoch, epochs waited, stop epoch, history and, with ``restore_best``,
        the best epoch's parameters (as exact base64 bytes, so a resumed run restores them)."""
        out = {"best": self.best, "best_epoch": self.best_epoch, "stopped_epoch": self.stopped_epoch,
               "wait": self._wait, "history": list(self.history)}
        if self._best_state is not None:
            out["best_parameters"] = tensors_to_json(self._best_state)
        return out

    def load_state_dict(self, state: dict) -> None:
        owner = type(self).__name__
        values = {key: state_field(state, key, owner)
                  for key in ("best", "best_epoch", "stopped_epoch", "wait", "history")}
        try:
            best = None if values["best"] is None else float(values["best"])
            best_epoch = None if values["best_epoch"] is None else int(values["best_epoch"])
            stopped = None if values["stopped_epoch"] is None else int(values["stopped_epoch"])
            wait, history = int(values["wait"]), [float(v) for v in values["history"]]
        except (TypeError, ValueError) as err:
            raise state_error(owner, f"bad value ({err})") from None
        params = state.get("best_parameters")
        best_state = None if params is None else tensors_from_json(params, owner, "best_parameters")
        self.best, self.best_epoch, self.stopped_epoch = best, best_epoch, stopped
        self._wait, self.history, self._best_state = wait, history, best_state

    def _value(self, state) -> float:
        if self.metric == "score":
            return state.validation_score()
        return state.net.evaluate(state.validation).accuracy()

    def on_epoch_end(self, state) -> None:
        value = self._value(state)
        self.history.append(value)
        sign = 1.0 if self.metric == "score" else -1.0
        if self.best is None or sign * (self.best - value) > self.min_delta:
            self.best, self.best_epoch, self._wait = value, state.epoch, 0
            if self.restore_best:
                self._best_state = {k: v.detach().clone() for k, v in state.net.state_dict().items()}
            return
        self._wait += 1
        if self._wait >= self.patience:
            self.stopped_epoch = state.epoch
            state.stop = True

    def on_fit_end(self, state) -> None:
        if self.restore_best and self._best_state is not None and self.stopped_epoch is not None:
            state.net.load_state_dict(self._best_state)
