"""Saving, loading and resuming networks through the seqkit model file.

A saved network is one file (:mod:`seqkit._modelfile`): the config as JSON
(each layer's ``layer_to_config``, per-layer ``seqkit.options``, the input
type and every network setting), the parameters, the optimizer and schedule
state, the counters (iteration, epoch, position within the epoch) and the
network's random stream. ``seqkit.load`` rebuilds the network from the JSON
(classes from the layer registry; nothing in the file is imported or run).

Updaters and schedules: a name, or a ``functools.partial`` of an allow-listed
``torch.optim`` / ``torch.optim.lr_scheduler`` class with JSON-safe arguments,
is stored and restored. Anything else is not stored: loading works for
inference, and training or resuming asks for ``updater=`` / ``lr_schedule=``
given to :func:`load`.

Resuming (``fit(..., resume_from=path)``) restores all of it, so the losses
after the resume equal those of an uninterrupted run: the data order of
epoch e is set from (seed, e) and the batches already used in the
interrupted epoch are skipped. Checkpoints written during ``fit`` also hold
every listener's ``state_dict()`` (``training_state["listeners"]``), which
the resumed ``fit`` hands back to its listeners (see :mod:`seqkit._listeners`).
"""

from __future__ import annotations

import os

import torch

from ._errors import ConfigError
from ._input_type import InputType
from ._listener_state import listener_states, restore_listener_states
from ._modelfile import read_model_file, write_model_file
from ._options import layer_options, options
from ._updaters import OPTIMIZER_CLASSES, SCHEDULES, describe_callable, restore_callable
from .layers._config import layer_from_config, layer_to_config

__all__ = ["PersistMixin", "load"]

_FORMAT = "seqkit.Sequential"
_VERSION = 1
_DTYPES = {"float32": torch.float32, "float64": torch.float64}


class _Missing:
    """Stands in for an updater or schedule a model file could not store; fails when used."""

    def __init__(self, what: str):
        self.what = what

    def __call__(self, *args, **kwargs):
        raise ConfigError(f"this network was saved with a custom {self.what} that a model file cannot "
                          f"store; pass {self.what}= to seqkit.load to train or resume it")


class PersistMixin:
    """``save`` and the checkpoint/resume plumbing ``fit`` uses."""

    def _network_config(self) -> dict:
        grad_clip = None if self.grad_clip is None else list(self.grad_clip)
        settings = {
            "seed": self.seed, "learning_rate": self.learning_rate,
            "lr_schedule_interval": self.lr_schedule_interval, "weight_init": self.weight_init,
            "weight_init_recurrent": self.weight_init_recurrent, "l1": self.l1, "l2": self.l2,
            "dropout": self.dropout, "dtype": str(self.dtype).removeprefix("torch."),
            "backprop": self.backprop, "tbptt_length": self.tbptt_length,
            "tbptt_back_length": self.tbptt_back_length, "loss_reduction": self.loss_reduction,
            "grad_clip": grad_clip, "precision": self.precision,
        }
        updater = self.updater if not isinstance(self.updater, _Missing) else None
        schedule = self.lr_schedule if not isinstance(self.lr_schedule, _Missing) else None
        return {
            "format": _FORMAT, "version": _VERSION,
            "layers": [layer_to_config(layer) for layer in self.layers],
            "layer_options": [layer_options(layer) for layer in self.layers],
            "input_type": None if self.input_type is None else self.input_type.to_dict(),
            "settings": settings,
            "updater": None if updater is None else describe_callable(updater, OPTIMIZER_CLASSES),
            "lr_schedule": None if schedule is None else describe_callable(schedule, SCHEDULES),
            "has_lr_schedule": self.lr_schedule is not None,
        }

    def _training_state(self) -> dict:
        """Counters, and during ``fit`` the listeners' states (``[{"class", "state"}, ...]``)."""
        out = {"iteration": self.iteration, "epoch": self.epoch, "updates": self.updates,
               "batch_in_epoch": self._batch_in_epoch, "fit_start_epoch": self._fit_start_epoch,
               "stream_seed": self._stream_seed}
        listeners = getattr(self, "_fit_listeners", None)
        if listeners:
            out["listeners"] = listener_states(listeners)
        return out

    def save(self, path) -> None:
        """Write the network to ``path`` (atomically): config, parameters, optimizer and
        schedule state, counters and random stream. ``seqkit.load`` reads it back.

        Raises:
            ConfigError: a layer whose config cannot be stored (e.g. a callable
                activation), naming the layer and argument.
        """
        self._save_checkpoint(path)

    def _save_checkpoint(self, path) -> None:
        config = self._network_config()
        params = {k: v.detach().cpu() for k, v in self.state_dict().items()}
        rng = self._capture_rng() if getattr(self, "_in_fit", False) else dict(self._rng_state)
        write_model_file(
            os.fspath(path), config=config, parameters=params,
            optimizer_state=None if self._optimizer is None else self._optimizer.state_dict(),
            scheduler_state=None if self._scheduler is None else self._scheduler.state_dict(),
            training_state=self._training_state(), rng_state=rng or None)

    def _restore_training(self, mf) -> None:
        ts = mf.training_state or {}
        self.iteration = int(ts.get("iteration", 0))
        self.epoch = int(ts.get("epoch", 0))
        self.updates = int(ts.get("updates", 0))
        self._batch_in_epoch = int(ts.get("batch_in_epoch", 0))
        self._fit_start_epoch = int(ts.get("fit_start_epoch", self.epoch))
        if "stream_seed" in ts:
            self._stream_seed = int(ts["stream_seed"])
        self._rng_state = {k: v.cpu() for k, v in (mf.rng_state or {}).items()}
        pending = {}
        if mf.optimizer_state is not None:
            pending["optimizer"] = mf.optimizer_state
        if mf.scheduler_state is not None:
            pending["scheduler"] = mf.scheduler_state
        if self._optimizer is not None:
            self._optimizer, self._scheduler = None, None
        self._pending = pending

    def _resume(self, path, listeners=()) -> int:
        """Load a checkpoint into this network and ``listeners`` for ``fit``; returns the
        batches to skip."""
        mf = read_model_file(path, map_location="cpu")
        saved = [c.get("class") for c in mf.config.get("layers", [])]
        ours = [type(layer).__name__ for layer in self.layers]
        if saved != ours:
            raise ValueError(f"resume_from {os.fspath(path)}: the checkpoint holds layers {saved} but "
                             f"this network has {ours}")
        try:
            self.load_state_dict(mf.parameters)
        except RuntimeError as err:
            raise ValueError(f"resume_from {os.fspath(path)}: the checkpoint's parameters do not fit "
                             f"this network: {err}") from None
        self._restore_training(mf)
        restore_listener_states(listeners, (mf.training_state or {}).get("listeners"), os.fspath(path))
        return self._batch_in_epoch


def load(path, *, updater=None, lr_schedule=None, device=None):
    """Read a network written by ``Sequential.save`` (or a Checkpoint listener).

    Args:
        path: the model file.
        updater, lr_schedule: needed to train a network whose updater or
            schedule could not be stored (a lambda, a custom class); they
            replace the stored ones when given.
        device: where to put the network (default: the CPU).

    Returns:
        A ready ``Sequential``: same outputs, and ``fit`` continues with the
        stored optimizer state and counters.

    Raises:
        FileNotFoundError: no file at ``path``.
        seqkit.ModelFileError: a truncated, tampered or foreign file.
        ConfigError: a config seqkit cannot rebuild (unknown layer class...).
    """
    from ._network import Sequential

    mf = read_model_file(path, map_location="cpu")
    cfg = mf.config
    if not isinstance(cfg, dict) or cfg.get("format") != _FORMAT:
        raise ConfigError(f"{os.fspath(path)}: not a seqkit Sequential network (config format "
                          f"{cfg.get('format') if isinstance(cfg, dict) else None!r})")
    if cfg.get("version") != _VERSION:
        raise ConfigError(f"{os.fspath(path)}: network config version {cfg.get('version')!r} is not "
                          f"supported (this seqkit reads version {_VERSION})")
    layers = [layer_from_config(c) for c in cfg["layers"]]
    for layer, opts in zip(layers, cfg.get("layer_options") or [{}] * len(layers)):
        if opts:
            options(layer, **opts)
    s = dict(cfg["settings"])
    if s.get("dtype") not in _DTYPES:
        raise ConfigError(f"{os.fspath(path)}: unsupported dtype {s.get('dtype')!r}")
    s["dtype"] = _DTYPES[s["dtype"]]
    if s.get("grad_clip") is not None:
        s["grad_clip"] = tuple(s["grad_clip"])
    if updater is None:
        desc = cfg.get("updater")
        updater = restore_callable(desc, OPTIMIZER_CLASSES, "updater") if desc else _Missing("updater")
    if lr_schedule is None and cfg.get("has_lr_schedule"):
        desc = cfg.get("lr_schedule")
        lr_schedule = restore_callable(desc, SCHEDULES, "lr_schedule") if desc else _Missing("lr_schedule")
    input_type = InputType.from_dict(cfg["input_type"]) if cfg.get("input_type") else None
    net = Sequential(layers, input_type=input_type, updater=updater, lr_schedule=lr_schedule,
                     device=device, **s)
    try:
        net.load_state_dict({k: v for k, v in mf.parameters.items()})
    except RuntimeError as err:
        raise ConfigError(f"{os.fspath(path)}: the stored parameters do not fit the stored config: "
                          f"{err}") from None
    net._restore_training(mf)
    return net
