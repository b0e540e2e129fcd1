"""Updaters (torch optimizers) and learning-rate schedules, by name or as callables.

seqkit does not reimplement optimizers: an updater is a name used with the
network's ``learning_rate`` (:data:`UPDATERS`) or a callable that takes the
parameter groups and returns a ``torch.optim.Optimizer``, e.g.
``functools.partial(torch.optim.SGD, lr=0.1, momentum=0.9)``. A schedule is a
callable taking the optimizer and returning a ``torch.optim.lr_scheduler``
object, e.g. ``functools.partial(torch.optim.lr_scheduler.StepLR, step_size=10)``.

Model files describe an updater or schedule in JSON only when it is a name,
or a ``functools.partial`` of an allow-listed ``torch.optim`` class with
JSON-safe keyword arguments. Anything else (a lambda, a custom class) is not
stored, and loading such a model needs ``updater=`` / ``lr_schedule=`` again.
Loading never imports a name outside the allow-lists.
"""

from __future__ import annotations

import functools
import math

import torch

from .._errors import ConfigError

__all__ = ["SCHEDULES", "UPDATERS", "check_updater", "describe_callable", "make_optimizer",
           "make_schedule", "restore_callable"]

#: Updater names accepted by ``Sequential(updater=...)``.
UPDATERS: dict[str, type] = {
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "rmsprop": torch.optim.RMSprop,
    "nadam": torch.optim.NAdam,
    "adagrad": torch.optim.Adagrad,
    "adadelta": torch.optim.Adadelta,
    "adamax": torch.optim.Adamax,
}

_OPTIMIZER_CLASSES = {cls.__name__: cls for cls in (
    torch.optim.Adam, torch.optim.AdamW, torch.optim.SGD, torch.optim.RMSprop, torch.optim.NAdam,
    torch.optim.Adagrad, torch.optim.Adadelta, torch.optim.Adamax, torch.optim.RAdam,
    torch.optim.ASGD, torch.optim.Rprop)}

_sched = torch.optim.lr_scheduler
#: Scheduler classes a model file may name (as ``functools.partial`` of them).
SCHEDULES: dict[str, type] = {cls.__name__: cls for cls in (
    _sched.StepLR, _sched.MultiStepLR, _sched.ExponentialLR, _sched.CosineAnnealingLR,
    _sched.CosineAnnealingWarmRestarts, _sched.LinearLR, _sched.ConstantLR, _sched.PolynomialLR,
    _sched.OneCycleLR, _sched.CyclicLR)}


def check_updater(updater) -> None:
    """ConfigError unless ``updater`` is a known name or a callable."""
    if isinstance(updater, str):
        if updater.strip().lower() not in UPDATERS:
            raise ConfigError(f"unknown updater {updater!r}; allowed names: {', '.join(UPDATERS)} "
                              f"(or a callable params -> torch.optim.Optimizer)")
        return
    if not callable(updater):
        raise ConfigError(f"updater must be a name ({', '.join(UPDATERS)}) or a callable taking the "
                          f"parameters and returning a torch optimizer, got {type(updater).__name__}")


def make_optimizer(updater, param_groups: list[dict], learning_rate: float) -> torch.optim.Optimizer:
    """The optimizer for ``param_groups`` (dicts with ``params`` and optionally ``lr``)."""
    check_updater(updater)
    if isinstance(updater, str):
        return UPDATERS[updater.strip().lower()](param_groups, lr=learning_rate)
    opt = updater(param_groups)
    if not isinstance(opt, torch.optim.Optimizer):
        raise ConfigError(f"the updater callable must return a torch.optim.Optimizer, got "
                          f"{type(opt).__name__}")
    return opt


def make_schedule(schedule, optimizer):
    """``schedule(optimizer)``, checked to be a learning-rate scheduler."""
    if not callable(schedule):
        raise ConfigError(f"lr_schedule must be a callable optimizer -> torch.optim.lr_scheduler "
                          f"scheduler, got {type(schedule).__name__}")
    out = schedule(optimizer)
    if not hasattr(out, "step") or not hasattr(out, "state_dict"):
        raise ConfigError(f"lr_schedule must return a torch.optim.lr_scheduler scheduler, got "
                          f"{type(out).__name__}")
    return out


# -- JSON descriptions ------------------------------------------------------------------------
def _json_value(value):
    """``value`` as JSON (numbers, bools, strings, lists of them), or raise TypeError."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise TypeError("non-finite number")
        return value
    if isinstance(value, (list, tuple)):
        return [_json_value(v) for v in value]
    raise TypeError(type(value).__name__)


def describe_callable(value, allowed: dict[str, type]):
    """A JSON description of a name or an allow-listed ``functools.partial``; None if impossible.

    Returns ``{"name": str}`` for a name, ``{"class": name, "kwargs": {...}}``
    for a partial of an allowed class, else None.
    """
    if isinstance(value, str):
        return {"name": value.strip().lower()}
    if isinstance(value, functools.partial) and not value.args:
        cls = value.func
        if isinstance(cls, type) and allowed.get(cls.__name__) is cls:
            try:
                kwargs = {k: _json_value(v) for k, v in value.keywords.items()}
            except TypeError:
                return None
            return {"class": cls.__name__, "kwargs": kwargs}
    if isinstance(value, type) and allowed.get(value.__name__) is value:
        return {"class": value.__name__, "kwargs": {}}
    return None


_TUPLE_ARGS = {"betas", "etas", "step_sizes", "milestones"}


def restore_callable(desc, allowed: dict[str, type], what: str):
    """The name or ``functools.partial`` a :func:`describe_callable` result describes."""
    if not isinstance(desc, dict):
        raise ConfigError(f"model file: bad {what} description {desc!r}")
    if "name" in desc:
        return desc["name"]
    cls = allowed.get(desc.get("class"))
    if cls is None:
        raise ConfigError(f"model file: {what} class {desc.get('class')!r} is not one seqkit loads; "
                          f"allowed: {', '.join(sorted(allowed))}")
    kwargs = {k: tuple(v) if k in _TUPLE_ARGS and isinstance(v, list) else v
              for k, v in dict(desc.get("kwargs", {})).items()}
    return functools.partial(cls, **kwargs)


OPTIMIZER_CLASSES = _OPTIMIZER_CLASSES
