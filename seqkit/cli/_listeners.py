"""Listeners ``seqkit train`` adds to ``fit``: the metrics log and the Ctrl-C stop.

:class:`MetricsLog` appends one JSON object per epoch to ``metrics.jsonl``
and prints a one-line summary. :class:`InterruptStop` turns the first Ctrl-C
(SIGINT) into a clean stop after the current minibatch, so the run can save a
checkpoint at a batch boundary; a second Ctrl-C interrupts at once, and none
after it cuts the checkpoint short.
"""

from __future__ import annotations

import json
import math
import signal
import threading
import time

from ..network import Listener

__all__ = ["InterruptStop", "MetricsLog", "validation_metrics"]


def _finite(value):
    """JSON has no NaN: None in its place."""
    return None if value is None or (isinstance(value, float) and not math.isfinite(value)) else value


def validation_metrics(evaluation) -> dict:
    """The headline figures of an evaluation: accuracy and macro F1, or MSE, MAE and R^2."""
    if hasattr(evaluation, "accuracy"):
        return {"accuracy": evaluation.accuracy(), "f1": evaluation.f1()}
    return {"mse": evaluation.average_mean_squared_error(),
            "mae": evaluation.average_mean_absolute_error(),
            "r2": evaluation.average_r_squared()}


class MetricsLog(Listener):
    """One JSON line per epoch: ``epoch``, ``iteration``, ``train_loss``, ``seconds``, and
    with validation data ``validation_loss`` plus ``validation_accuracy``/``validation_f1``
    (classification) or ``validation_mse``/``validation_mae``/``validation_r2`` (regression).

    Args:
        path: the log file; opened for appending.
        validation: the validation batches or None.
        printer: called with a one-line summary per epoch (None: silent).
    """

    def __init__(self, path, validation=None, printer=print):
        self.path, self.validation, self.printer = path, validation, printer
        self.records: list[dict] = []
        self._start = time.perf_counter()

    def on_fit_start(self, state) -> None:
        self._start = time.perf_counter()

    def on_epoch_end(self, state) -> None:
        record = {"epoch": state.epoch, "iteration": state.iteration,
                  "train_loss": _finite(state.epoch_score())}
        if self.validation is not None:
            record["validation_loss"] = _finite(state.validation_score())
            figures = validation_metrics(state.net.evaluate(self.validation))
            record.update({f"validation_{k}": _finite(v) for k, v in figures.items()})
        record["seconds"] = round(time.perf_counter() - self._start, 3)
        self.records.append(record)
        if not state.is_main:                          # every rank evaluates (a collective); rank 0 writes
            return
        with open(self.path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")
        if self.printer is not None:
            self.printer(self.summary(record, state.end_epoch))

    @staticmethod
    def summary(record: dict, end_epoch: int) -> str:
        """``epoch 3/10 (iteration 45, 4.1 s): train loss 0.512, validation loss 0.61, accuracy 0.83``."""
        def show(value):
            return "n/a" if value is None else f"{value:.4g}"
        text = (f"epoch {record['epoch']}/{end_epoch} (iteration {record['iteration']}, "
                f"{record['seconds']:.1f} s): train loss {show(record['train_loss'])}")
        for key, value in record.items():
            if key.startswith("validation_"):
                name = key.removeprefix("validation_")
                text += f", {'validation ' if name == 'loss' else ''}{name} {show(value)}"
        return text


class InterruptStop(Listener):
    """Stop ``fit`` after the current minibatch on the first Ctrl-C.

    Use as a context manager around ``fit`` and the writing of the checkpoint
    (it installs the SIGINT handler and puts the previous one back).
    ``interrupted`` tells whether it fired. A second Ctrl-C raises
    ``KeyboardInterrupt`` at once; any after that, or after :meth:`hold`, are
    ignored, so they cannot cut the checkpoint short. Outside the main thread
    signals cannot be caught, and it does nothing.
    """

    def __init__(self):
        self.interrupted = False
        self._previous = None
        self._held = False

    def hold(self) -> None:
        """Ignore Ctrl-C from now on (until the context exits): the checkpoint is being written."""
        self._held = True

    def _handle(self, signum, frame):
        if self._held:
            return
        if self.interrupted:
            self._held = True
            raise KeyboardInterrupt
        self.interrupted = True

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self._previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def __exit__(self, *exc):
        if self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None
        return False

    def on_iteration_end(self, state) -> None:
        if self.interrupted:
            state.stop = True
