"""A saved Keras model's config as a plain chain of layers: ``Sequential``, or a ``Functional``
model in which every layer takes the previous one's output.

The config is the JSON Keras serializes (``config.json`` of a ``.keras``
file, ``model_config`` of a legacy ``.h5``). Both Keras 3's and Keras 2's
spellings are read: the input shape as ``batch_shape`` or
``batch_input_shape``, a Functional layer's inputs as ``keras_history``
entries or as ``[name, node, tensor, kwargs]`` lists.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .._errors import ConfigError
from ._keras_file import keras_group_names
from ._modelfile import ModelFileError

__all__ = ["KerasChain", "KerasLayer", "MODEL_CLASSES", "model_chain"]

#: Class names of whole models (a model nested in another is not imported).
MODEL_CLASSES: tuple[str, ...] = ("Functional", "Model", "Sequential")

_FUNCTIONAL = ("Functional", "Model")
#: The operations Keras 3 traces a Masking layer's mask into (see :func:`_mask_ops`).
_MASK_OPS = frozenset({"Any", "NotEqual"})


@dataclass(frozen=True)
class KerasLayer:
    """One layer of the chain as its config says it."""

    class_name: str
    name: str
    config: dict
    group: str                  # its group under ``layers/`` in a .keras weights file

    @property
    def where(self) -> str:
        """The layer as messages name it: ``Keras layer 'lstm_1' (LSTM)``."""
        return f"Keras layer {self.name!r} ({self.class_name})"


@dataclass(frozen=True)
class KerasChain:
    """The model's layers in order (the input layer left out) and one example's input shape."""

    model_class: str
    input_shape: tuple          # without the batch dim: (T, F) with T an int or None, (F,) or (T, L, C)
    layers: list[KerasLayer]


def _entries(model: dict, where: str) -> tuple[dict, list[dict]]:
    cfg = model.get("config")
    if isinstance(cfg, list):                                   # early Keras 2 Sequential: a bare list
        cfg = {"layers": cfg}
    layers = cfg.get("layers") if isinstance(cfg, dict) else None
    if not isinstance(layers, list) or not all(isinstance(e, dict) and isinstance(e.get("config"), dict)
                                                and isinstance(e.get("class_name"), str) for e in layers):
        raise ModelFileError(f"{where}: the model config has no readable 'layers' list")
    return cfg, layers


def _name(entry: dict) -> str:
    return str(entry.get("name") or entry["config"].get("name") or entry["class_name"])


def _shape_of(entry: dict) -> Any:
    cfg = entry["config"]
    for key in ("batch_shape", "batch_input_shape"):
        if cfg.get(key) is not None:
            return cfg[key]
    build = entry.get("build_config")
    return build.get("input_shape") if isinstance(build, dict) else None


def _input_shape(batch_shape: Any, where: str) -> tuple:
    """``(T, F)``, ``(F,)`` or ``(T, L, C)`` from a Keras batch shape ``[N, T, F]``, ``[N, F]`` or
    ``[N, T, L, C]`` (sequences of 1-D signals, ConvLSTM1D's input; L and C known)."""
    ok = isinstance(batch_shape, (list, tuple)) and all(
        d is None or (isinstance(d, int) and not isinstance(d, bool) and d > 0) for d in batch_shape)
    if not ok or len(batch_shape) not in (2, 3, 4) or batch_shape[-1] is None \
            or (len(batch_shape) == 4 and batch_shape[2] is None):
        raise ConfigError(f"{where}: input shape {batch_shape!r} cannot be imported; seqkit.load_keras "
                          f"takes sequences (T, F) (T may be None), feature vectors (F,), or sequences of "
                          f"1-D signals (T, L, C) for ConvLSTM1D, with F, L and C known")
    return tuple(batch_shape[1:])


def _sequential(model: dict, where: str) -> KerasChain:
    cfg, entries = _entries(model, where)
    groups = keras_group_names([e["class_name"] for e in entries])
    shape = None
    layers = []
    for i, (entry, group) in enumerate(zip(entries, groups)):
        if entry["class_name"] == "InputLayer":
            if i != 0:
                raise ConfigError(f"{where}: Keras layer {_name(entry)!r} (InputLayer) is not first")
            shape = _shape_of(entry)
            continue
        layers.append(KerasLayer(entry["class_name"], _name(entry), entry["config"], group))
    if shape is None and entries:
        shape = _shape_of(entries[0]) or cfg.get("build_input_shape")
    if shape is None:
        raise ConfigError(f"{where}: the file does not say the model's input shape (a Sequential "
                          f"without keras.Input that was never built); add keras.Input((T, F)) first")
    if not layers:
        raise ConfigError(f"{where}: the model has no layers")
    return KerasChain(model.get("class_name") or "Sequential", _input_shape(shape, where), layers)


def _refs(value: Any, what: str, where: str) -> list[tuple]:
    """``[(name, node, tensor), ...]`` from ``input_layers`` / ``output_layers`` (flat or nested)."""
    if isinstance(value, list) and len(value) == 3 and isinstance(value[0], str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, list) and len(v) >= 3 and isinstance(v[0], str)
                                              for v in value):
        raise ModelFileError(f"{where}: the model config's {what} cannot be read: {value!r}")
    return [tuple(v[:3]) for v in value]


def _tensors(value: Any, found: list) -> None:
    """Collect Keras 3 ``keras_history`` references anywhere in ``value``."""
    if isinstance(value, dict):
        if value.get("class_name") == "__keras_tensor__":
            cfg = value.get("config")
            history = cfg.get("keras_history") if isinstance(cfg, dict) else None
            found.append(tuple(history[:3]) if isinstance(history, list) else ("?", 0, 0))
            return
        for v in value.values():
            _tensors(v, found)
    elif isinstance(value, list):
        for v in value:
            _tensors(v, found)


def _node_inputs(node: Any, where: str) -> tuple[list[tuple], list[tuple], dict]:
    """The tensors a call took, the tensors given as its ``mask``, and its other keyword arguments."""
    found: list = []
    masks: list = []
    kwargs: Any = {}
    if isinstance(node, dict):                                     # Keras 3
        _tensors(node.get("args", []), found)
        kwargs = node.get("kwargs") or {}
        if isinstance(kwargs, dict):
            for key, value in kwargs.items():
                _tensors(value, masks if key == "mask" else found)
    elif isinstance(node, list):                                   # Keras 2: [[name, node, tensor, kwargs]]
        for item in node:
            if isinstance(item, list) and len(item) >= 3 and isinstance(item[0], str):
                found.append(tuple(item[:3]))
                if len(item) > 3 and isinstance(item[3], dict):
                    kwargs.update(item[3])
    else:
        raise ModelFileError(f"{where}: its inbound node cannot be read: {node!r}")
    kwargs = kwargs if isinstance(kwargs, dict) else {}
    return found, masks, {k: v for k, v in kwargs.items() if k not in ("mask", "training") and v is not None}


def _mask_ops(mask_refs: set[str], on_chain: set[str], by_name: dict, nodes: dict, where: str) -> set[str]:
    """The layers off the chain that compute the masks its layers are called with.

    Keras 3 traces a ``Masking`` layer's mask into a Functional model as
    operations (``NotEqual``, then ``Any``) off the chain; seqkit derives the
    same mask itself (``MaskZero``). Any other mask computation is refused.
    """
    seen: set[str] = set()
    todo = [n for n in mask_refs if n not in on_chain]
    while todo:
        name = todo.pop()
        if name in seen or name in on_chain:
            continue
        layer = by_name.get(name)
        if layer is None or layer.class_name not in _MASK_OPS:
            what = layer.where if layer is not None else repr(name)
            raise ConfigError(f"{where}: a layer is called with a mask computed by {what}; seqkit.load_keras "
                              f"imports the masks of Masking layers only")
        seen.add(name)
        for node in nodes[name]:
            refs, _, _ = _node_inputs(node, f"{where}: {layer.where}")
            todo.extend(r[0] for r in refs)
    return seen


def _functional(model: dict, where: str) -> KerasChain:
    cfg, entries = _entries(model, where)
    groups = keras_group_names([e["class_name"] for e in entries])
    by_name = {_name(e): KerasLayer(e["class_name"], _name(e), e["config"], g) for e, g in zip(entries, groups)}
    nodes = {_name(e): e.get("inbound_nodes") or [] for e in entries}
    inputs = _refs(cfg.get("input_layers"), "input_layers", where)
    outputs = _refs(cfg.get("output_layers"), "output_layers", where)
    if len(inputs) != 1 or len(outputs) != 1:
        raise ConfigError(f"{where}: a Functional model with {len(inputs)} inputs and {len(outputs)} "
                          f"outputs; seqkit.load_keras imports one input and one output")
    first = by_name.get(inputs[0][0])
    if first is None or first.class_name != "InputLayer":
        raise ModelFileError(f"{where}: the model's input {inputs[0][0]!r} is not an InputLayer of its config")
    chain: list[KerasLayer] = []
    mask_refs: set[str] = set()
    name = outputs[0][0]
    while name != first.name:
        layer = by_name.get(name)
        if layer is None or len(chain) >= len(entries):
            raise ModelFileError(f"{where}: the model config refers to layer {name!r}, which it does not hold")
        calls = nodes[name]
        if not isinstance(calls, list):
            raise ModelFileError(f"{where}: the inbound nodes of {layer.where} cannot be read: {calls!r}")
        if len(calls) != 1:
            raise ConfigError(f"{where}: {layer.where} is called {len(calls)} times (a shared layer); "
                              f"seqkit.load_keras imports a plain chain of layers")
        refs, masks, kwargs = _node_inputs(calls[0], f"{where}: {layer.where}")
        if len(refs) != 1:
            raise ConfigError(f"{where}: {layer.where} takes {len(refs)} inputs; seqkit.load_keras "
                              f"imports a plain chain of layers, each taking the previous one's output")
        mask_refs.update(r[0] for r in masks)
        extra = sorted(kwargs)
        if extra:
            raise ConfigError(f"{where}: {layer.where} is called with {', '.join(extra)}; seqkit.load_keras "
                              f"imports layers called on one input only")
        chain.append(layer)
        name = refs[0][0]
    chain.reverse()
    on_chain = {layer.name for layer in chain} | {first.name}
    mask_ops = _mask_ops(mask_refs, on_chain, by_name, nodes, where)
    if mask_ops and not any(layer.class_name == "Masking" for layer in chain):
        raise ConfigError(f"{where}: layers are called with a mask the model computes without a Masking "
                          f"layer; seqkit.load_keras imports the masks of Masking layers only")
    branch = [n for n in by_name if n not in on_chain and n not in mask_ops]
    if branch:
        raise ConfigError(f"{where}: {by_name[branch[0]].where} is not on the path from the input to the "
                          f"output (the model branches); seqkit.load_keras imports a plain chain of layers")
    if not chain:
        raise ConfigError(f"{where}: the model has no layers between its input and its output")
    return KerasChain(model.get("class_name") or "Functional", _input_shape(_shape_of(
        {"config": first.config}), where), chain)


def model_chain(model: dict, where: str) -> KerasChain:
    """The chain of layers of a serialized ``Sequential`` or plain-chain ``Functional`` model.

    Raises:
        ConfigError: another kind of model (subclassed, several inputs or
            outputs, branches, shared layers), or an input that is neither
            sequences ``(T, F)``, vectors ``(F,)`` nor 1-D signals ``(T, L, C)``.
        seqkit.ModelFileError: a config that cannot be read.
    """
    cls = model.get("class_name")
    if cls == "Sequential":
        return _sequential(model, where)
    if cls in _FUNCTIONAL:
        return _functional(model, where)
    raise ConfigError(f"{where}: a Keras model of class {cls!r}; seqkit.load_keras imports Sequential "
                      f"models and Functional models that are a plain chain of layers")
