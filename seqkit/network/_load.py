"""``seqkit.load``: a network back from its model file."""

from __future__ import annotations

import os

import torch

from .._errors import ConfigError
from ..layers import layer_from_config
from ._data_description import DataDescription
from ._input_type import InputType
from ._modelfile import read_model_file
from ._options import options
from ._saving import FORMAT, FORMAT_VERSION, MissingCallable, restore_training
from ._sequential import Sequential
from ._updaters import OPTIMIZER_CLASSES, SCHEDULES, restore_callable

__all__ = ["load"]

_DTYPES = {"float32": torch.float32, "float64": torch.float64}


def _check_parameter_shapes(build, stored: dict, where: str) -> None:
    """ConfigError unless the config builds exactly the stored parameters' names and shapes.

    The network is first built on torch's ``meta`` device (shapes, no memory),
    so a config that asks for huge layers is refused before anything is
    allocated: the real network is then no larger than the parameters the file holds.
    """
    try:
        with torch.device("meta"):
            probe = build(seed=0, device="meta")       # a seed: no random draw on the meta device
    except ConfigError:
        raise
    except (RuntimeError, ValueError, TypeError, OverflowError) as err:
        raise ConfigError(f"{where}: the stored config cannot be built ({type(err).__name__}: {err})") from None
    if not probe.built:
        return                                         # built from the first batch: nothing stored to check
    expected = {k: tuple(v.shape) for k, v in probe.state_dict().items()}
    found = {k: tuple(v.shape) for k, v in stored.items()}
    for name in expected:
        if name not in found:
            raise ConfigError(f"{where}: the stored config has parameter {name} {list(expected[name])} but the "
                              f"file holds no such parameter")
        if expected[name] != found[name]:
            raise ConfigError(f"{where}: the stored config makes parameter {name} of shape "
                              f"{list(expected[name])} but the file holds {list(found[name])}")
    extra = sorted(set(found) - set(expected))
    if extra:
        raise ConfigError(f"{where}: the file holds parameter {extra[0]} {list(found[extra[0]])}, which the "
                          f"stored config does not make")


def load(path, *, updater=None, lr_schedule=None, device=None) -> Sequential:
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
    mf = read_model_file(path, map_location="cpu")
    cfg = mf.config
    where = os.fspath(path)
    if not isinstance(cfg, dict) or cfg.get("format") != FORMAT:
        raise ConfigError(f"{where}: not a seqkit Sequential network (config format "
                          f"{cfg.get('format') if isinstance(cfg, dict) else None!r})")
    if cfg.get("version") != FORMAT_VERSION:
        raise ConfigError(f"{where}: network config version {cfg.get('version')!r} is not "
                          f"supported (this seqkit reads version {FORMAT_VERSION})")
    s = dict(cfg["settings"])
    if s.get("dtype") not in _DTYPES:
        raise ConfigError(f"{where}: unsupported dtype {s.get('dtype')!r}")
    s["dtype"] = _DTYPES[s["dtype"]]
    if s.get("grad_clip") is not None:
        s["grad_clip"] = tuple(s["grad_clip"])
    if updater is None:
        desc = cfg.get("updater")
        updater = restore_callable(desc, OPTIMIZER_CLASSES, "updater") if desc else MissingCallable("updater")
    if lr_schedule is None and cfg.get("has_lr_schedule"):
        desc = cfg.get("lr_schedule")
        lr_schedule = (restore_callable(desc, SCHEDULES, "lr_schedule") if desc
                       else MissingCallable("lr_schedule"))
    input_type = InputType.from_dict(cfg["input_type"]) if cfg.get("input_type") else None

    def build(**overrides) -> Sequential:
        layers = [layer_from_config(c) for c in cfg["layers"]]
        for layer, opts in zip(layers, cfg.get("layer_options") or [{}] * len(layers)):
            if opts:
                options(layer, **opts)
        return Sequential(layers, input_type=input_type, updater=updater, lr_schedule=lr_schedule,
                          **{**s, "device": device, **overrides})

    _check_parameter_shapes(build, mf.parameters, where)
    net = build()
    try:
        net.load_state_dict(dict(mf.parameters))
    except RuntimeError as err:
        raise ConfigError(f"{where}: the stored parameters do not fit the stored config: {err}") from None
    restore_training(net, mf)
    if cfg.get("data") is not None:
        net.data_description = DataDescription.from_dict(cfg["data"], f"{where}: data description")
    return net
