"""What ``fit`` shares with listeners: the :class:`FitState`, and the NaN/inf error.

Reading a score from a :class:`FitState` copies it from the device (a host
sync), so listeners read it only when they report or decide something.
"""

from __future__ import annotations

import os
import sys

import torch

from ._saving import save

__all__ = ["FitState", "NonFiniteLossError", "default_progress"]


class NonFiniteLossError(FloatingPointError):
    """Training stopped on a NaN or infinite loss.

    Attributes:
        iteration: the first iteration (minibatch, counted over all fits) whose loss was not finite.
        checkpoint: the path of the checkpoint written when it was detected.
    """

    def __init__(self, message: str, iteration: int, checkpoint: str | None):
        super().__init__(message)
        self.iteration, self.checkpoint = iteration, checkpoint


class FitState:
    """What listeners see during ``fit``.

    Attributes:
        net: the network.
        epoch: epochs completed so far (during an epoch: the index of the current one).
        end_epoch: the epoch count at which this fit ends.
        iteration: minibatches trained on so far, over all fits.
        batch: minibatches of the current epoch done so far.
        batches_per_epoch: the data's batch count when known, else None.
        stop: set True to end training after the current iteration.
    """

    def __init__(self, net, end_epoch: int, batches_per_epoch, validation, listeners=(), *, is_main: bool = True):
        self.net, self.end_epoch, self.batches_per_epoch = net, end_epoch, batches_per_epoch
        #: True on the rank that writes files (rank 0; always in one process).
        self.is_main = is_main
        self._listeners = list(listeners)
        self.stop = False
        self._validation, self._val_cache = validation, None
        self._loss = None
        self._epoch_sum, self._epoch_count = None, 0
        self._deferred: list = []

    def after_listeners(self, fn) -> None:
        """Call ``fn()`` once every listener's hook for the current event has run.

        ``Checkpoint`` writes its file this way, so the listener states in it
        are complete whatever the order of the listeners. ``fn`` also runs when
        a later listener's hook raises.
        """
        self._deferred.append(fn)

    def save_checkpoint(self, path) -> None:
        """Write the network to ``path`` as a checkpoint of this fit: the model file plus every
        listener's state and the live random stream, so ``fit(resume_from=path)`` continues exactly.
        Only the main rank writes under torch.distributed."""
        if not self.is_main:
            return
        save(self.net, path, listeners=self._listeners)

    def notify(self, listeners, hook: str) -> None:
        """Call ``hook`` on every listener, then the functions given to :meth:`after_listeners`."""
        try:
            for item in listeners:
                getattr(item, hook)(self)
        finally:
            deferred, self._deferred = self._deferred, []
            for fn in deferred:
                fn()

    @property
    def epoch(self) -> int:
        return self.net.epoch

    @property
    def iteration(self) -> int:
        return self.net.iteration

    @property
    def batch(self) -> int:
        return self.net.progress.batch_in_epoch

    @property
    def validation(self):
        """The validation data given to ``fit``, or None."""
        return self._validation

    @property
    def has_validation(self) -> bool:
        return self._validation is not None

    def score(self) -> float:
        """The last iteration's loss (plus penalties). Reads it from the device (a sync)."""
        return float(self._loss) if self._loss is not None else float("nan")

    def epoch_score(self) -> float:
        """The mean loss over this epoch's iterations so far (a sync)."""
        if self._epoch_sum is None or not self._epoch_count:
            return float("nan")
        return float(self._epoch_sum) / self._epoch_count

    def validation_score(self) -> float | None:
        """``net.score(validation)`` now (computed once per epoch); None without validation."""
        if self._validation is None:
            return None
        key = (self.net.epoch, self.net.progress.batch_in_epoch)
        if self._val_cache is None or self._val_cache[0] != key:
            self._val_cache = (key, self.net.score(self._validation))
        return self._val_cache[1]

    def record(self, loss: torch.Tensor) -> None:
        """Keep the last iteration's loss (on the device) and add it to the epoch's sum."""
        self._loss = loss
        self._epoch_sum = loss if self._epoch_sum is None else self._epoch_sum + loss
        self._epoch_count += 1

    def new_epoch(self) -> None:
        """Start a new epoch's loss sum."""
        self._epoch_sum, self._epoch_count = None, 0


def default_progress() -> bool:
    """A progress bar by default only on a terminal, and never in CI (the ``CI`` variable set);
    elsewhere ``fit`` prints one line per epoch."""
    try:
        tty = sys.stdout.isatty()
    except (AttributeError, ValueError):
        tty = False
    return tty and not os.environ.get("CI")
