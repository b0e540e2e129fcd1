"""A network's optimizer and learning-rate schedule, made on first use, and its counters.

Both live on the network across ``fit`` calls and go into model files, so a
loaded or resumed network continues where it stopped.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from .._errors import ConfigError
from ._parameters import param_groups
from ._updaters import make_optimizer, make_schedule

__all__ = ["Optimization", "TrainingProgress"]


@dataclass
class TrainingProgress:
    """What training has done so far, over every ``fit`` call.

    Attributes:
        iteration: minibatches trained on.
        epoch: epochs completed.
        updates: optimizer steps (several per minibatch under TBPTT).
        batch_in_epoch: minibatches of the current epoch done (a resume skips them).
        fit_start_epoch: the epoch the current (or last) ``fit`` started at.
        seconds: wall time spent training (``fit``), over every call.
    """

    iteration: int = 0
    epoch: int = 0
    updates: int = 0
    batch_in_epoch: int = 0
    fit_start_epoch: int = 0
    seconds: float = 0.0

    def to_dict(self) -> dict:
        return {"iteration": self.iteration, "epoch": self.epoch, "updates": self.updates,
                "batch_in_epoch": self.batch_in_epoch, "fit_start_epoch": self.fit_start_epoch,
                "seconds": self.seconds}

    def load_dict(self, saved: dict) -> None:
        """Restore from :meth:`to_dict` output (missing counters start at 0)."""
        self.iteration = int(saved.get("iteration", 0))
        self.epoch = int(saved.get("epoch", 0))
        self.updates = int(saved.get("updates", 0))
        self.batch_in_epoch = int(saved.get("batch_in_epoch", 0))
        self.fit_start_epoch = int(saved.get("fit_start_epoch", self.epoch))
        self.seconds = float(saved.get("seconds", 0.0))


class Optimization:
    """The optimizer and schedule of a network, created from its settings on first use.

    Saved states (from a model file) wait in :meth:`restore` until the
    optimizer exists, since it can only be made once the network is built.
    """

    def __init__(self, updater, learning_rate: float, lr_schedule, interval: str):
        self.updater, self.learning_rate = updater, learning_rate
        self.lr_schedule, self.interval = lr_schedule, interval
        self.optimizer: torch.optim.Optimizer | None = None
        self.scheduler = None
        self._pending: dict = {}

    def ensure(self, layers) -> torch.optim.Optimizer:
        """The optimizer over ``layers``' parameters, made now if needed (with its saved state)."""
        if self.optimizer is None:
            groups = param_groups(layers)
            if not groups:
                raise ConfigError("the network has no trainable parameters")
            self.optimizer = make_optimizer(self.updater, groups, self.learning_rate)
            if self.lr_schedule is not None:
                self.scheduler = make_schedule(self.lr_schedule, self.optimizer)
            pending, self._pending = self._pending, {}
            if "optimizer" in pending:
                self.optimizer.load_state_dict(pending["optimizer"])
            if "scheduler" in pending:
                if self.scheduler is None:
                    raise ConfigError("the saved state has a learning-rate schedule; pass lr_schedule= "
                                      "(to seqkit.load or the network) to continue it")
                self.scheduler.load_state_dict(pending["scheduler"])
        return self.optimizer

    def restore(self, optimizer_state, scheduler_state) -> None:
        """Drop the current optimizer; the next :meth:`ensure` makes one with these states."""
        self.optimizer, self.scheduler = None, None
        self._pending = {k: v for k, v in (("optimizer", optimizer_state), ("scheduler", scheduler_state))
                         if v is not None}

    def state_dicts(self) -> tuple[dict | None, dict | None]:
        """``(optimizer state, scheduler state)`` for a model file; None where there is none."""
        return (None if self.optimizer is None else self.optimizer.state_dict(),
                None if self.scheduler is None else self.scheduler.state_dict())

    def step_schedule(self, interval: str) -> None:
        """``scheduler.step()`` when there is a schedule stepping at ``interval``."""
        if self.scheduler is not None and self.interval == interval:
            self.scheduler.step()

    def follow_parameters(self) -> None:
        """Move the optimizer's state tensors to their parameters' devices (after ``net.to``)."""
        if self.optimizer is None:
            return
        for param, state in self.optimizer.state.items():
            for key, value in state.items():
                if isinstance(value, torch.Tensor) and value.dim() > 0 and value.device != param.device:
                    state[key] = value.to(param.device)
