"""Layer configs: a layer as JSON-safe data, and the layer rebuilt from it.

Every :class:`~seqkit.layers.Layer` records the arguments its constructor was
called with (``seqkit.layers._base.record_init_args``). :func:`layer_to_config`
turns them into plain data; :func:`layer_from_config` calls the constructor
again. A network file stores these configs next to the parameters, so loading
one never runs code from the file: classes are looked up by name in a registry
(seqkit's public layers plus classes given to :func:`register_layer`), never
imported or evaluated.

The shape of a config::

    {"class": "Bidirectional",
     "config": {"layer": {"__layer__": {"class": "LSTM",
                                        "config": {"n_out": 32, "n_in": 8, "activation": "tanh", ...}}},
                "mode": "concat"}}

Every constructor argument appears, defaults included. Values are JSON
scalars, lists and objects with string keys; other values are tagged objects
with a single key:

- ``{"__tuple__": [...]}``: a tuple (a plain list stays a list);
- ``{"__dtype__": "float64"}``: a ``torch.dtype``;
- ``{"__layer__": {"class": ..., "config": ...}}``: a nested layer or cell;
- ``{"__float__": "nan" | "inf" | "-inf"}``: a non-finite float, so configs
  stay strict JSON.

Named activations (``Activation``) are written as their name, and built-in
losses as theirs. A layer that is built records its input size as ``n_in``
(when its constructor takes ``n_in``) even if it was left out, so the rebuilt
layer has its parameters at once and takes the same ``state_dict``. A layer
object that appears twice in a config is rebuilt as two layers.
"""

from __future__ import annotations

import inspect
import math
import re
from typing import Any

import torch
from torch import nn

from .._errors import ConfigError
from ._activations import Activation
from ._base import INIT_ARGS_ATTR, Layer, record_init_args
from ._losses import Loss, get_loss

__all__ = ["layer_from_config", "layer_to_config", "register_layer", "registered_layers"]

_TUPLE, _DTYPE, _LAYER, _FLOAT = "__tuple__", "__dtype__", "__layer__", "__float__"
_TAGS = (_TUPLE, _DTYPE, _LAYER, _FLOAT)
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.]*$")

#: Classes registered by users: config name -> class.
_USER_CLASSES: dict[str, type] = {}

#: Every torch dtype by its short name ("float32"), the only dtypes a config can name.
_DTYPES: dict[str, torch.dtype] = {str(v).removeprefix("torch."): v
                                   for v in vars(torch).values() if isinstance(v, torch.dtype)}

_HOW_TO_REGISTER = ("decorate the class with @seqkit.layers.register_layer (a seqkit Layer "
                    "subclass, or a torch.nn.Module subclass such as a custom cell) and make sure "
                    "the module defining it is imported before the model is loaded")


# -- registry ----------------------------------------------------------------------
def _builtin_classes() -> dict[str, type]:
    """seqkit.layers' public Layer classes by name (read at call time: the list grows)."""
    from seqkit import layers
    out = {}
    for name in layers.__all__:
        obj = getattr(layers, name, None)
        if isinstance(obj, type) and issubclass(obj, Layer) and obj is not Layer:
            out[name] = obj
    return out


def registered_layers() -> dict[str, type]:
    """Every class a config can name: seqkit's public layers and the registered ones."""
    return {**_USER_CLASSES, **_builtin_classes()}


def register_layer(cls: type | None = None, *, name: str | None = None):
    """Let configs (and so saved models) name a layer or cell class of your own.

    Use it as a decorator, bare or with ``name=``::

        @seqkit.layers.register_layer
        class MyCell(torch.nn.Module):
            def __init__(self, units, n_in=None): ...

    A seqkit :class:`Layer` subclass records its constructor arguments by
    itself. For a plain ``torch.nn.Module`` subclass (e.g. a cell used inside
    ``RNN``) this wraps its ``__init__`` so that instances created *after*
    registering record theirs. The constructor's arguments must be values a
    config can hold (see :mod:`seqkit.layers._config`). Re-registering a class
    of the same module and qualified name (a re-run notebook cell) replaces it.

    Args:
        cls: the class.
        name: the name configs use (default ``cls.__name__``); it may not be
            the name of a seqkit layer.

    Returns:
        ``cls`` itself (or a decorator when ``cls`` is left out).

    Raises:
        ConfigError: not a ``torch.nn.Module`` subclass, a bad name, or a name
            taken by a seqkit layer or by another registered class.
    """
    if cls is None:
        return lambda c: register_layer(c, name=name)
    if not isinstance(cls, type) or not issubclass(cls, nn.Module):
        raise ConfigError(f"register_layer: expected a torch.nn.Module subclass, got {cls!r}")
    key = cls.__name__ if name is None else name
    if not isinstance(key, str) or not _NAME.match(key):
        raise ConfigError(f"register_layer: the name must be an identifier (dots allowed), got {key!r}")
    builtin = _builtin_classes()
    if key in builtin and builtin[key] is not cls:
        raise ConfigError(f"register_layer: {key!r} is the name of a seqkit layer; register "
                          f"{cls.__module__}.{cls.__qualname__} with another name, e.g. "
                          f"register_layer(name='my_{key}')")
    previous = _USER_CLASSES.get(key)
    if previous is not None and previous is not cls and (
            previous.__module__, previous.__qualname__) != (cls.__module__, cls.__qualname__):
        raise ConfigError(f"register_layer: the name {key!r} is already registered for "
                          f"{previous.__module__}.{previous.__qualname__}; pass another name=")
    if not issubclass(cls, Layer):
        cls.__init__ = record_init_args(cls.__init__)
    for other, registered in list(_USER_CLASSES.items()):
        if registered is cls and other != key:
            del _USER_CLASSES[other]
    if key not in builtin:
        _USER_CLASSES[key] = cls
    return cls


def _name_of(module: nn.Module, where: str) -> str:
    """The config name of ``module``'s class, or a ConfigError saying how to register it."""
    cls = type(module)
    for key, registered in registered_layers().items():
        if registered is cls:
            return key
    full = f"{cls.__module__}.{cls.__qualname__}"
    if isinstance(module, Layer):
        raise ConfigError(f"{where}: the layer class {full} is not registered, so it cannot be saved "
                          f"in a config; {_HOW_TO_REGISTER}")
    raise ConfigError(f"{where}: {full} is a plain torch module, not a seqkit layer, so it cannot be "
                      f"saved in a config; use the seqkit layer that does the same (e.g. Dense for "
                      f"torch.nn.Linear, Conv2D for torch.nn.Conv2d), or, for a module class of your "
                      f"own, {_HOW_TO_REGISTER}")


# -- to config ---------------------------------------------------------------------
def layer_to_config(layer: nn.Module) -> dict:
    """The JSON-safe config of ``layer``: ``{"class": name, "config": {argument: value}}``.

    Nested layers and cells (the layer inside a wrapper, the cell of ``RNN``,
    the cells of ``StackedRNNCells``) are converted recursively; the module
    docstring gives the encoding.

    Raises:
        ConfigError: naming the layer class and argument, for a value a config
            cannot hold (a callable activation, a tensor, any other object),
            and for a module whose class is not registered (a plain torch
            module inside ``TimeDistributed``, an unregistered custom layer).
    """
    if not isinstance(layer, nn.Module):
        raise ConfigError(f"layer_to_config: expected a seqkit layer, got {type(layer).__name__}")
    return _module_config(layer, type(layer).__name__)


def _module_config(module: nn.Module, where: str) -> dict:
    name = _name_of(module, where)
    args = module.__dict__.get(INIT_ARGS_ATTR)
    if args is None or not getattr(type(module).__init__, "_seqkit_records_args", False):
        raise ConfigError(f"{where}: {type(module).__name__} has no recorded constructor arguments "
                          f"(was it created before its class was registered, or does a subclass "
                          f"define __init__ without being registered?); {_HOW_TO_REGISTER}")
    config = {arg: _encode(value, where, arg) for arg, value in args.items()}
    n_in = getattr(module, "n_in", None)
    if "n_in" in config and config["n_in"] is None and isinstance(n_in, int) and n_in > 0:
        config["n_in"] = n_in                  # built lazily: record the size it was built for
    return {"class": name, "config": config}


def _encode(value: Any, where: str, loc: str) -> Any:
    """One argument value as JSON-safe data (see the module docstring).

    ``where`` names the layer (a path through nested layers), ``loc`` the
    argument, with indices into lists, tuples and dicts.
    """
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value) if math.isfinite(value) else {_FLOAT: repr(float(value))}
    if isinstance(value, nn.Module):
        return {_LAYER: _module_config(value, f"{where}.{loc} ({type(value).__name__})")}
    if isinstance(value, Activation):
        return value.name
    if isinstance(value, Loss):
        if _is_named_loss(value):
            return value.name
        raise _unsupported(value, where, loc, "pass the loss by its name (see seqkit.layers.LOSSES)")
    if isinstance(value, torch.dtype):
        return {_DTYPE: str(value).removeprefix("torch.")}
    if type(value) is tuple:
        return {_TUPLE: [_encode(v, where, f"{loc}[{i}]") for i, v in enumerate(value)]}
    if type(value) is list:
        return [_encode(v, where, f"{loc}[{i}]") for i, v in enumerate(value)]
    if type(value) is dict:
        for key in value:
            if not isinstance(key, str):
                raise ConfigError(f"{where}: argument {loc!r}: a dict in a config must have str "
                                  f"keys, got the key {key!r} ({type(key).__name__})")
            if key in _TAGS:
                raise ConfigError(f"{where}: argument {loc!r}: the dict key {key!r} is reserved "
                                  f"by the config format")
        return {k: _encode(v, where, f"{loc}[{k!r}]") for k, v in value.items()}
    if hasattr(value, "item") and getattr(value, "shape", None) == () and not isinstance(value, torch.Tensor):
        scalar = value.item()                  # a numpy scalar: its Python value
        if isinstance(scalar, (bool, int, float)):
            return _encode(scalar, where, loc)
    if callable(value) and not isinstance(value, torch.Tensor):
        raise _unsupported(value, where, loc, "pass a named activation instead (one of "
                           "seqkit.layers.ACTIVATIONS, e.g. 'relu')")
    raise _unsupported(value, where, loc, "pass a plain value instead")


def _is_named_loss(loss: Loss) -> bool:
    """True when ``get_loss(loss.name)`` rebuilds an equal loss (a built-in, stateless one)."""
    try:
        return not vars(loss) and type(get_loss(loss.name)) is type(loss)
    except ValueError:
        return False


def _unsupported(value, where: str, loc: str, fix: str) -> ConfigError:
    kind = f"{type(value).__module__}.{type(value).__qualname__}"
    return ConfigError(
        f"{where}: argument {loc!r} is a {kind}, which a config cannot hold (allowed: None, bool, "
        f"int, float, str, lists, tuples, dicts with str keys, torch.dtype, seqkit layers); {fix}, "
        f"or put the custom behaviour in a layer class of your own registered with "
        f"seqkit.layers.register_layer")


# -- from config -------------------------------------------------------------------
def layer_from_config(config: dict) -> nn.Module:
    """Rebuild the layer a :func:`layer_to_config` config describes.

    Classes are looked up in :func:`registered_layers` only; nothing named in
    the config is imported or evaluated.

    Raises:
        ConfigError: a malformed config, an unknown class (saying how to
            register it), arguments the class's constructor does not take, or
            the constructor's own error for the values.
    """
    return _build(config, "config")


def _build(config: Any, where: str) -> nn.Module:
    if not isinstance(config, dict) or set(config) != {"class", "config"}:
        raise ConfigError(f"{where}: a layer config must be {{'class': name, 'config': {{...}}}}, "
                          f"got {_short(config)}")
    name, raw = config["class"], config["config"]
    if not isinstance(name, str) or not isinstance(raw, dict):
        raise ConfigError(f"{where}: 'class' must be a str and 'config' a dict, got {_short(config)}")
    classes = registered_layers()
    cls = classes.get(name)
    if cls is None:
        raise ConfigError(f"{where}: unknown layer class {name!r}: it is neither a seqkit layer nor "
                          f"a registered class; to load a custom class, {_HOW_TO_REGISTER}. "
                          f"Known classes: {', '.join(sorted(classes))}")
    where = f"{where} ({name})"
    args = {arg: _decode(value, f"{where}.{arg}") for arg, value in raw.items()}
    return _call(cls, args, where)


def _call(cls: type, args: dict, where: str) -> nn.Module:
    """``cls(...)`` with the recorded arguments, ``*args``/``**kwargs`` parameters spread out."""
    signature = inspect.signature(cls.__init__)
    params = list(signature.parameters.values())[1:]
    unknown = sorted(set(args) - {p.name for p in params})
    if unknown:
        raise ConfigError(f"{where}: the constructor of {cls.__name__} takes no argument "
                          f"{', '.join(map(repr, unknown))}")
    star = next((p for p in params if p.kind is p.VAR_POSITIONAL), None)
    positional, keywords = [], {}
    for p in params:
        if p.name not in args:
            continue
        value = args[p.name]
        if p.kind is p.VAR_POSITIONAL:
            positional.extend(value if isinstance(value, (list, tuple)) else [value])
        elif p.kind is p.VAR_KEYWORD:
            if not isinstance(value, dict):
                raise ConfigError(f"{where}: **{p.name} must be a dict, got {_short(value)}")
            keywords.update(value)
        elif p.kind is p.POSITIONAL_ONLY or (star is not None and p.kind is p.POSITIONAL_OR_KEYWORD
                                             and args.get(star.name)):
            positional.append(value)
        else:
            keywords[p.name] = value
    try:
        signature.bind(None, *positional, **keywords)
    except TypeError as err:
        raise ConfigError(f"{where}: the config does not match the constructor of "
                          f"{cls.__name__}: {err}") from None
    return cls(*positional, **keywords)


def _decode(value: Any, where: str) -> Any:
    if isinstance(value, list):
        return [_decode(v, f"{where}[{i}]") for i, v in enumerate(value)]
    if not isinstance(value, dict):
        return value
    if len(value) == 1:
        (tag, inner), = value.items()
        if tag == _TUPLE:
            if not isinstance(inner, list):
                raise ConfigError(f"{where}: {_TUPLE} must hold a list, got {_short(inner)}")
            return tuple(_decode(v, f"{where}[{i}]") for i, v in enumerate(inner))
        if tag == _DTYPE:
            if inner not in _DTYPES:
                raise ConfigError(f"{where}: unknown torch dtype {inner!r}")
            return _DTYPES[inner]
        if tag == _LAYER:
            return _build(inner, where)
        if tag == _FLOAT:
            if inner not in ("nan", "inf", "-inf"):
                raise ConfigError(f"{where}: {_FLOAT} must be 'nan', 'inf' or '-inf', got {inner!r}")
            return float(inner)
    return {k: _decode(v, f"{where}[{k!r}]") for k, v in value.items()}


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
