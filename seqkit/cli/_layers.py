"""The ``[[layers]]`` of a run configuration: checked against the layer registry, then built.

Each entry names a layer class by ``type`` (any class in
``seqkit.layers._config.registered_layers()``: seqkit's layers and classes
registered with ``seqkit.layers.register_layer``) and gives its constructor
arguments by name. A nested layer is a table with its own ``type``::

    [[layers]]
    type = "LastTimeStep"
    layer = { type = "SimpleRNN", n_out = 32 }

Argument names are checked against the constructor's signature, and
activation, loss and merge-mode names against ``seqkit.layers.ACTIVATIONS``,
``LOSSES`` and ``MERGE_MODES``, so a mistake names its key
(``layers[2].activation``) and the allowed values. ``options`` (a table) holds
per-layer overrides of the network settings (``seqkit.options``).
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

from torch import nn

from .._errors import ConfigError
from ..layers import ACTIVATIONS, LOSSES, MERGE_MODES, LossHead, registered_layers
from ..network import OPTION_NAMES
from ..network import options as layer_options
from ._errors import ConfigFileError
from ._schema import describe

__all__ = ["LayerSpec", "build_layers", "check_layers"]

_ENUMS = {"loss": LOSSES, "mode": MERGE_MODES}
_SCALARS = {"int": (int,), "float": (int, float), "bool": (bool,), "str": (str,)}


@dataclass
class LayerSpec:
    """One checked layer table: the class, its arguments (nested layers as specs) and options."""

    cls: type
    key: str
    args: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)

    def build(self, n_outputs: int | None = None) -> nn.Module:
        """A new layer; ``n_outputs`` fills a missing ``n_out`` of an output layer."""
        args = {name: _build_value(value) for name, value in self.args.items()}
        if n_outputs is not None and issubclass(self.cls, LossHead) and "n_out" not in args \
                and "n_out" in _parameters(self.cls):
            args["n_out"] = n_outputs
        try:
            layer = self.cls(**args)
        except (ConfigError, ValueError, TypeError) as err:
            raise ConfigFileError(f"{self.cls.__name__}: {err}", key=self.key) from None
        if self.options:
            try:
                layer_options(layer, **self.options)
            except ConfigError as err:
                raise ConfigFileError(str(err), key=f"{self.key}.options") from None
        return layer


def _build_value(value):
    if isinstance(value, LayerSpec):
        return value.build()
    if isinstance(value, list):
        return [_build_value(v) for v in value]
    return value


def _parameters(cls: type) -> dict:
    """The constructor's named parameters (not ``self``, ``*args``, ``**kwargs``)."""
    params = list(inspect.signature(cls.__init__).parameters.values())[1:]
    return {p.name: p for p in params if p.kind not in (p.VAR_POSITIONAL, p.VAR_KEYWORD)}


def _is_layer_table(value) -> bool:
    return isinstance(value, dict) and "type" in value


def _enum_for(name: str):
    if "activation" in name:
        return ACTIVATIONS
    return _ENUMS.get(name)


def _check_scalar(param: inspect.Parameter, value, key: str, cls_name: str) -> None:
    """Type-check against a plain annotation (``int``, ``float | None``...); others pass."""
    annotation = param.annotation
    if not isinstance(annotation, str):
        annotation = getattr(annotation, "__name__", "")
    parts = [p.strip() for p in annotation.split("|")]
    kinds = [p for p in parts if p != "None"]
    if len(kinds) != 1 or kinds[0] not in _SCALARS:
        return
    allowed = _SCALARS[kinds[0]]
    if isinstance(value, bool) and kinds[0] != "bool":
        ok = False
    else:
        ok = isinstance(value, allowed)
    if not ok:
        what = {"int": "an integer", "float": "a number", "bool": "true or false",
                "str": "a string"}[kinds[0]]
        raise ConfigFileError(f"{cls_name} takes {what} here, got {describe(value)}", key=key)


def _check_value(name: str, param, value, key: str, cls_name: str):
    if _is_layer_table(value):
        return _check_layer(value, key)
    if isinstance(value, list) and value and all(_is_layer_table(v) for v in value):
        return [_check_layer(v, f"{key}[{i}]") for i, v in enumerate(value)]
    if isinstance(value, dict):
        raise ConfigFileError(f"a table here must be a layer with a 'type' key; got {describe(value)}",
                              key=key)
    allowed = _enum_for(name)
    if allowed is not None and isinstance(value, str):
        if value.strip().lower() not in allowed:
            raise ConfigFileError(f"unknown value {value!r}; allowed: {', '.join(allowed)}", key=key)
        return value.strip().lower()
    if value == "none" and param.default is None:
        return None
    _check_scalar(param, value, key, cls_name)
    return value


def _check_layer(table: dict, key: str) -> LayerSpec:
    if not isinstance(table, dict):
        raise ConfigFileError(f"expected a layer table (with type = \"...\"), got {describe(table)}",
                              key=key)
    classes = registered_layers()
    name = table.get("type")
    if name is None:
        raise ConfigFileError(f"missing; every layer needs a type, one of: {', '.join(sorted(classes))}",
                              key=f"{key}.type")
    if name not in classes:
        raise ConfigFileError(f"unknown layer type {name!r}; allowed: {', '.join(sorted(classes))}",
                              key=f"{key}.type")
    cls = classes[name]
    params = _parameters(cls)
    spec = LayerSpec(cls, key)
    for arg, value in table.items():
        sub = f"{key}.{arg}"
        if arg == "type":
            continue
        if arg == "options":
            spec.options = _check_options(value, sub)
            continue
        if arg not in params:
            raise ConfigFileError(f"{name} has no argument {arg!r}; allowed: "
                                  f"{', '.join(list(params) + ['options'])}", key=sub)
        spec.args[arg] = _check_value(arg, params[arg], value, sub, name)
    return spec


def _check_options(value, key: str) -> dict:
    if not isinstance(value, dict):
        raise ConfigFileError(f"expected a table of per-layer settings, got {describe(value)}", key=key)
    for name in value:
        if name not in OPTION_NAMES:
            raise ConfigFileError(f"unknown key; allowed keys in [{key}]: {', '.join(OPTION_NAMES)}",
                                  key=f"{key}.{name}")
    return dict(value)


def _missing(spec: LayerSpec, n_outputs_known: bool) -> None:
    """A missing required argument, named (an output layer's n_out may come from the data)."""
    for name, param in _parameters(spec.cls).items():
        if param.default is inspect.Parameter.empty and name not in spec.args:
            if name == "n_out" and issubclass(spec.cls, LossHead) and n_outputs_known:
                continue
            raise ConfigFileError(f"missing; {spec.cls.__name__} needs {name}", key=f"{spec.key}.{name}")
    for value in spec.args.values():
        for inner in value if isinstance(value, list) else [value]:
            if isinstance(inner, LayerSpec):
                _missing(inner, False)


def check_layers(value, n_outputs: int | None) -> list[LayerSpec]:
    """Check the ``layers`` array and build it once, so constructor errors show at load.

    Args:
        value: the TOML ``layers`` value (an array of tables).
        n_outputs: classes or label columns when the ``[data]`` table tells;
            an output layer may then leave out ``n_out``.

    Raises:
        ConfigFileError: naming the key (``layers[i].arg``) and the allowed values.
    """
    if not isinstance(value, list) or not value:
        raise ConfigFileError("expected an array of layer tables ([[layers]] type = \"LSTM\" ...)",
                              key="layers")
    specs = [_check_layer(table, f"layers[{i}]") for i, table in enumerate(value)]
    last = specs[-1]
    for spec in specs:
        _missing(spec, spec is last)
    if not issubclass(last.cls, LossHead):
        raise ConfigFileError(f"the last layer is {last.cls.__name__}; a network to train ends in an "
                              f"output layer (Output, RnnOutput or RnnLoss)", key=f"{last.key}.type")
    build_layers(specs, n_outputs if n_outputs is not None else 2)
    return specs


def build_layers(specs: list[LayerSpec], n_outputs: int | None) -> list[nn.Module]:
    """New layer objects for a network; the output layer's missing ``n_out`` is ``n_outputs``."""
    return [spec.build(n_outputs if i == len(specs) - 1 else None) for i, spec in enumerate(specs)]
