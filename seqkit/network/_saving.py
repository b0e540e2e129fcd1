"""Saving and resuming networks through the seqkit model file.

A saved network is one file (:mod:`seqkit.network._modelfile`): the config as
JSON (each layer's ``layer_to_config``, per-layer ``seqkit.options``, the
input type and every network setting), the parameters, the optimizer and
schedule state, the counters (iteration, epoch, position within the epoch)
and the network's random stream. :func:`seqkit.load` rebuilds the network
from the JSON (classes from the layer registry; nothing in the file is
imported or run).

Updaters and schedules: a name, or a ``functools.partial`` of an allow-listed
``torch.optim`` / ``torch.optim.lr_scheduler`` class with JSON-safe arguments,
is stored and restored. Anything else is not stored: loading works for
inference, and training or resuming asks for ``updater=`` / ``lr_schedule=``
given to :func:`seqkit.load`.

Resuming (``fit(..., resume_from=path)``) restores all of it, so the losses
after the resume equal those of an uninterrupted run: the data order of
epoch e is set from (seed, e) and the batches already used in the
interrupted epoch are skipped. Checkpoints written during ``fit`` also hold
every listener's ``state_dict()`` (``training_state["listeners"]``), which
the resumed ``fit`` hands back to its listeners (see :mod:`seqkit.network._listeners`).
"""

from __future__ import annotations

import os

from .._errors import ConfigError
from ..layers import layer_to_config
from ._listener_state import listener_states, restore_listener_states
from ._modelfile import read_model_file, write_model_file
from ._options import layer_options
from ._updaters import OPTIMIZER_CLASSES, SCHEDULES, describe_callable

__all__ = ["FORMAT", "FORMAT_VERSION", "MissingCallable", "network_config", "restore_training", "resume",
           "save"]

#: The config's ``format`` and ``version`` for a Sequential network.
FORMAT = "seqkit.Sequential"
FORMAT_VERSION = 1


class MissingCallable:
    """Stands in for an updater or schedule a model file could not store; fails when used."""

    def __init__(self, what: str):
        self.what = what

    def __call__(self, *args, **kwargs):
        raise ConfigError(f"this network was saved with a custom {self.what} that a model file cannot "
                          f"store; pass {self.what}= to seqkit.load to train or resume it")


def network_config(net) -> dict:
    """The JSON config of ``net``: layers, layer options, input type, settings, updater, schedule."""
    grad_clip = None if net.grad_clip is None else list(net.grad_clip)
    settings = {
        "seed": net.seed, "learning_rate": net.learning_rate,
        "lr_schedule_interval": net.lr_schedule_interval, "weight_init": net.weight_init,
        "weight_init_recurrent": net.weight_init_recurrent, "l1": net.l1, "l2": net.l2,
        "dropout": net.dropout, "dtype": str(net.dtype).removeprefix("torch."),
        "backprop": net.backprop, "tbptt_length": net.tbptt_length,
        "tbptt_back_length": net.tbptt_back_length, "loss_reduction": net.loss_reduction,
        "grad_clip": grad_clip, "precision": net.precision,
    }
    updater = net.updater if not isinstance(net.updater, MissingCallable) else None
    schedule = net.lr_schedule if not isinstance(net.lr_schedule, MissingCallable) else None
    return {
        "format": FORMAT, "version": FORMAT_VERSION,
        "layers": [layer_to_config(layer) for layer in net.layers],
        "layer_options": [layer_options(layer) for layer in net.layers],
        "input_type": None if net.input_type is None else net.input_type.to_dict(),
        "settings": settings,
        "updater": None if updater is None else describe_callable(updater, OPTIMIZER_CLASSES),
        "lr_schedule": None if schedule is None else describe_callable(schedule, SCHEDULES),
        "has_lr_schedule": net.lr_schedule is not None,
        "data": None if net.data_description is None else net.data_description.to_dict(),
    }


def save(net, path, *, listeners=()) -> None:
    """Write ``net`` to ``path`` atomically (config, parameters, optimizer and schedule state,
    counters, random stream; with ``listeners``, their states too: a checkpoint of a ``fit``)."""
    training_state = dict(net.progress.to_dict(), stream_seed=net.random_stream.seed)
    if listeners:
        training_state["listeners"] = listener_states(listeners)
    optimizer_state, scheduler_state = net.optimization.state_dicts()
    rng = net.random_stream.snapshot(net.device)
    write_model_file(
        os.fspath(path), config=network_config(net),
        parameters={k: v.detach().cpu() for k, v in net.state_dict().items()},
        optimizer_state=optimizer_state, scheduler_state=scheduler_state,
        training_state=training_state, rng_state=rng or None)


def restore_training(net, mf) -> None:
    """Counters, random stream, optimizer and schedule state from model file ``mf`` into ``net``."""
    ts = mf.training_state or {}
    net.progress.load_dict(ts)
    if "stream_seed" in ts:
        net.random_stream.seed = int(ts["stream_seed"])
    net.random_stream.state = {k: v.cpu() for k, v in (mf.rng_state or {}).items()}
    net.optimization.restore(mf.optimizer_state, mf.scheduler_state)


def resume(net, path, listeners=()) -> int:
    """Load a checkpoint into ``net`` and ``listeners`` for ``fit``; returns the batches to skip.

    Raises:
        ConfigError: the checkpoint holds other layers, or parameters that do not fit.
    """
    mf = read_model_file(path, map_location="cpu")
    saved = [c.get("class") for c in mf.config.get("layers", [])]
    ours = [type(layer).__name__ for layer in net.layers]
    if saved != ours:
        raise ConfigError(f"resume_from {os.fspath(path)}: the checkpoint holds layers {saved} but "
                          f"this network has {ours}; resume with the network that wrote it")
    try:
        net.load_state_dict(mf.parameters)
    except RuntimeError as err:
        raise ConfigError(f"resume_from {os.fspath(path)}: the checkpoint's parameters do not fit "
                          f"this network: {err}") from None
    restore_training(net, mf)
    restore_listener_states(listeners, (mf.training_state or {}).get("listeners"), os.fspath(path))
    return net.progress.batch_in_epoch
