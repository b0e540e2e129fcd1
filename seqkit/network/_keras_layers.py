"""One Keras layer's config as a seqkit layer (or as what it does to the layers around it).

:func:`translate_layer` reads one :class:`~._keras_chain.KerasLayer` and
returns a :class:`Translation`:

- ``"layer"``: a seqkit layer to build (LSTM, GRU, SimpleRNN, Bidirectional,
  Dense for ``Dense`` and ``TimeDistributed(Dense)``, Conv1D, ConvLSTM1D,
  GlobalPooling for ``GlobalAveragePooling1D``/``GlobalMaxPooling1D``), where
  its weights sit in the file, its ``seqkit.options`` (L1/L2 from
  regularizers) and the layout it outputs (``"sequences"``, ``"vectors"``, or
  ``"signals"``: sequences of 1-D signals, Keras ``(N, T, L, C)``, seqkit
  ``[N, C, T, L]``);
- ``"mask"`` (``Masking``: its ``mask_value``), ``"dropout"`` (``Dropout``: its
  rate) and ``"activation"`` (``Activation``: seqkit's name of it), which the
  caller applies to the layers next to them.

Every option of a layer's config is mapped, ignored because it cannot change
the imported network (initializers, ``unroll``, ``name``...), noted (it only
matters in training and has no seqkit equivalent: constraints, bias and
activity regularizers), or refused with a :class:`seqkit.ConfigError` naming
the Keras layer (name and class) and the option. An option this module does
not know is refused unless its value is empty (None, False, 0).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable

from torch import nn

from .._errors import ConfigError
from ..layers import GRU, LSTM, Bidirectional, Conv1D, ConvLSTM1D, Dense, GlobalPooling, SimpleRNN
from ._keras_chain import MODEL_CLASSES, KerasLayer

__all__ = ["KERAS_ACTIVATIONS", "SUPPORTED_LAYERS", "Translation", "seqkit_activation", "translate_layer"]

#: Keras activation names and seqkit's names for them (same functions).
KERAS_ACTIVATIONS: dict[str, str] = {
    "elu": "elu", "gelu": "gelu", "hard_sigmoid": "hard_sigmoid", "linear": "identity", "relu": "relu",
    "selu": "selu", "sigmoid": "sigmoid", "silu": "swish", "softmax": "softmax", "softplus": "softplus",
    "softsign": "softsign", "swish": "swish", "tanh": "tanh",
}

#: The Keras layer classes seqkit.load_keras imports.
SUPPORTED_LAYERS: tuple[str, ...] = ("Activation", "Bidirectional", "Conv1D", "ConvLSTM1D", "Dense", "Dropout",
                                     "GRU", "GlobalAveragePooling1D", "GlobalMaxPooling1D", "InputLayer",
                                     "LSTM", "Masking", "SimpleRNN", "TimeDistributed")

_RECURRENT: dict[str, type] = {"GRU": GRU, "LSTM": LSTM, "SimpleRNN": SimpleRNN}
#: Options that cannot change the imported network: names, initializers (the weights are
#: loaded), how Keras runs the loop, and what Bidirectional forces on its layers.
_IGNORED = frozenset({"name", "dtype", "trainable", "batch_input_shape", "batch_shape", "input_dim",
                      "input_length", "kernel_initializer", "recurrent_initializer", "bias_initializer",
                      "seed", "unroll", "implementation", "use_cudnn", "zero_output_for_mask"})
#: Training-only options seqkit has no equivalent for: noted, not imported.
_NOTED = frozenset({"kernel_constraint", "recurrent_constraint", "bias_constraint", "bias_regularizer",
                    "activity_regularizer"})
_REGULARIZERS = ("kernel_regularizer", "recurrent_regularizer")


@dataclass
class Translation:
    """What one Keras layer becomes (see the module docstring).

    ``factory(**kwargs)`` builds the seqkit layer; the caller may change
    ``kwargs`` first (fold a following ``Activation`` into ``"activation"``,
    or swap ``factory`` for an output layer's class). ``foldable`` is True
    for a Dense or Conv1D (``takes_activation``) with a linear activation.
    """

    kind: str                                      # "layer", "mask", "dropout", "activation"
    source: KerasLayer
    factory: Callable[..., nn.Module] | None = None
    kwargs: dict = field(default_factory=dict)
    parts: tuple[str, ...] = ()                    # where the weights sit (see KerasFile.weights)
    options: dict = field(default_factory=dict)    # seqkit.options for the layer
    layout: str = "sequences"                      # what the layer outputs
    dense: bool = False                            # a Dense (or TimeDistributed(Dense)): may become the head
    value: Any = None                              # mask_value, drop rate or activation name
    takes_activation: bool = False                 # a Dense or Conv1D: its activation may absorb one after it

    @property
    def foldable(self) -> bool:
        """True when a following ``Activation`` can become this layer's activation."""
        return self.takes_activation and self.kwargs.get("activation") == "identity"

    def build(self) -> nn.Module:
        """The seqkit layer; a seqkit complaint is re-raised naming the Keras layer."""
        try:
            return self.factory(**self.kwargs)
        except (ConfigError, ValueError) as err:
            raise ConfigError(f"{self.source.where}: {err}") from None


def _empty(value) -> bool:
    return value is None or value is False or value == 0 or value in ("", [], {})


def _check_options(kl: KerasLayer, known: set[str], notes: list[str]) -> None:
    for key, value in kl.config.items():
        if key in known or key in _IGNORED:
            continue
        if key in _NOTED:
            if value is not None:
                notes.append(f"{kl.where}: {key} is not imported (seqkit has no equivalent; it only "
                             f"matters in training)")
            continue
        if not _empty(value):
            raise ConfigError(f"{kl.where}: option {key}={value!r} is not supported by seqkit.load_keras")
    if kl.config.get("trainable") is False:
        notes.append(f"{kl.where}: trainable=False is not imported; freeze the seqkit layer's "
                     f"parameters with requires_grad_(False) before fit")


def _policy(kl: KerasLayer, notes: list[str]) -> None:
    dtype = kl.config.get("dtype")
    cfg = dtype.get("config") if isinstance(dtype, dict) else None
    name = cfg.get("name") if isinstance(cfg, dict) else dtype
    if name not in (None, "float32"):
        notes.append(f"{kl.where}: dtype policy {name!r}; the imported layer computes in the network's "
                     f"dtype (float32 by default)")


def seqkit_activation(value, kl: KerasLayer, option: str, keras_major: int | None) -> str:
    """seqkit's name for a Keras activation (``None`` is linear).

    A Keras 2 file's ``hard_sigmoid`` is ``clip(0.2 x + 0.5, 0, 1)``, seqkit's
    ``"hard_sigmoid_keras2"``; Keras 3's is ``relu6(x + 3) / 6``, seqkit's ``"hard_sigmoid"``.

    Raises:
        ConfigError: an activation seqkit has no identical function for (a
            custom one, ``leaky_relu`` with Keras's slope 0.2, ``relu6``...).
    """
    name = value
    if isinstance(value, dict) and isinstance(value.get("config"), str) \
            and str(value.get("module", "keras")).startswith("keras"):
        name = value["config"]                                          # a serialized built-in function
    if name is None:
        return "identity"
    key = name.lower() if isinstance(name, str) else None
    if key not in KERAS_ACTIVATIONS:
        raise ConfigError(f"{kl.where}: {option}={value!r} has no identical seqkit activation; "
                          f"seqkit.load_keras maps {', '.join(sorted(KERAS_ACTIVATIONS))}")
    if key == "hard_sigmoid" and keras_major is not None and keras_major < 3:
        return "hard_sigmoid_keras2"
    return KERAS_ACTIVATIONS[key]


def _penalties(value, kl: KerasLayer, option: str) -> tuple[float, float]:
    """``(l1, l2)`` in seqkit's terms for a Keras regularizer (seqkit's L2 is ``0.5 * l2 * sum(w^2)``)."""
    if value is None:
        return 0.0, 0.0
    cfg = value.get("config") if isinstance(value, dict) else None
    cls = value.get("class_name") if isinstance(value, dict) else None
    ok = cls in ("L1", "L2", "L1L2") and isinstance(cfg, dict) and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v >= 0
        for v in (cfg.get("l1", 0.0), cfg.get("l2", 0.0)))
    if not ok:
        raise ConfigError(f"{kl.where}: {option}={value!r} cannot be imported; seqkit.load_keras maps "
                          f"L1, L2 and L1L2 regularizers with coefficients >= 0")
    return float(cfg.get("l1", 0.0)), 2.0 * float(cfg.get("l2", 0.0))


def _regularizer_options(kl: KerasLayer, recurrent: bool, notes: list[str]) -> dict:
    """``seqkit.options`` (l1, l2) from the kernel regularizer (and the recurrent one, which must match)."""
    kernel = _penalties(kl.config.get("kernel_regularizer"), kl, "kernel_regularizer")
    if recurrent:
        rec = _penalties(kl.config.get("recurrent_regularizer"), kl, "recurrent_regularizer")
        if rec != kernel:
            notes.append(f"{kl.where}: kernel_regularizer and recurrent_regularizer differ; seqkit's l1/l2 "
                         f"cover both kernels together, so neither is imported")
            return {}
    return {k: v for k, v in zip(("l1", "l2"), kernel) if v > 0.0}


def _positive_int(value, option: str, kl: KerasLayer) -> int:
    if isinstance(value, list) and len(value) == 1:
        value = value[0]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{kl.where}: {option}={value!r}; expected a positive int")
    return value


_SEQUENCE_FLAGS = ("dropout", "recurrent_dropout", "return_sequences", "return_state", "go_backwards",
                   "stateful")


def _sequence_flags(kl: KerasLayer) -> dict:
    """A recurrent layer's dropouts and flags as seqkit's keywords (the same names); ``return_state``
    is refused."""
    cfg = kl.config
    if cfg.get("return_state"):
        raise ConfigError(f"{kl.where}: return_state=True is not supported by seqkit.load_keras (a chain of "
                          f"layers passes on the output only)")
    return {"dropout": cfg.get("dropout", 0.0), "recurrent_dropout": cfg.get("recurrent_dropout", 0.0),
            "return_sequences": bool(cfg.get("return_sequences", False)),
            "go_backwards": bool(cfg.get("go_backwards", False)), "stateful": bool(cfg.get("stateful", False))}


def _channels_last(kl: KerasLayer, layout: str) -> None:
    """ConfigError unless the layer's ``data_format`` is channels_last (Keras's ``layout``)."""
    fmt = kl.config.get("data_format", "channels_last")
    if fmt not in (None, "channels_last"):
        raise ConfigError(f"{kl.where}: data_format={fmt!r}; seqkit.load_keras imports channels_last "
                          f"models {layout}")


def _recurrent_kwargs(kl: KerasLayer, keras_major: int | None, notes: list[str]) -> dict:
    cfg = kl.config
    known = {"units", "activation", "recurrent_activation", "use_bias", "unit_forget_bias", "reset_after",
             "time_major", *_SEQUENCE_FLAGS, *_REGULARIZERS}
    _check_options(kl, known, notes)
    flags = _sequence_flags(kl)
    if cfg.get("time_major"):
        raise ConfigError(f"{kl.where}: time_major=True is not supported by seqkit.load_keras (seqkit's "
                          f"sequences are [N, F, T])")
    kw = {"n_out": _positive_int(cfg.get("units"), "units", kl),
          "activation": seqkit_activation(cfg.get("activation", "tanh"), kl, "activation", keras_major),
          "use_bias": bool(cfg.get("use_bias", True)), **flags}
    if kl.class_name in ("LSTM", "GRU"):
        kw["gate_activation"] = seqkit_activation(cfg.get("recurrent_activation", "sigmoid"), kl,
                                                  "recurrent_activation", keras_major)
    if kl.class_name == "LSTM":
        kw["forget_gate_bias_init"] = 1.0 if cfg.get("unit_forget_bias", True) else 0.0
    if kl.class_name == "GRU":
        kw["reset_after"] = bool(cfg.get("reset_after", False))    # absent only before Keras 2.1.3: False
    return kw


def _recurrent(kl: KerasLayer, keras_major, notes) -> Translation:
    kw = _recurrent_kwargs(kl, keras_major, notes)
    return Translation("layer", kl, _RECURRENT[kl.class_name], kw, ("cell",),
                       _regularizer_options(kl, True, notes),
                       "sequences" if kw["return_sequences"] else "vectors")


def _inner(kl: KerasLayer, option: str, allowed: tuple[str, ...]) -> KerasLayer:
    spec = kl.config.get(option)
    if not isinstance(spec, dict) or not isinstance(spec.get("config"), dict):
        raise ConfigError(f"{kl.where}: its {option} config cannot be read")
    cls = spec.get("class_name")
    if cls not in allowed:
        raise ConfigError(f"{kl.where}: wraps a {cls}; seqkit.load_keras imports {kl.class_name} "
                          f"around {', '.join(allowed)}")
    name = spec["config"].get("name", cls)
    return KerasLayer(cls, f"{kl.name}/{name}", spec["config"], kl.group)


def _bidirectional(kl: KerasLayer, keras_major, notes) -> Translation:
    _check_options(kl, {"layer", "backward_layer", "merge_mode"}, notes)
    fwd = _inner(kl, "layer", tuple(_RECURRENT))
    kw = _recurrent_kwargs(fwd, keras_major, notes)
    if kw["go_backwards"]:
        raise ConfigError(f"{kl.where}: its forward layer has go_backwards=True; seqkit's Bidirectional "
                          f"runs the forward layer forwards")
    if kl.config.get("backward_layer") is not None:
        bwd = _inner(kl, "backward_layer", tuple(_RECURRENT))
        bkw = _recurrent_kwargs(bwd, keras_major, notes)
        same = bwd.class_name == fwd.class_name and {k: v for k, v in bkw.items() if k != "go_backwards"} == \
            {k: v for k, v in kw.items() if k != "go_backwards"}
        if not same or not bkw["go_backwards"]:
            raise ConfigError(f"{kl.where}: its backward_layer is configured differently from its forward "
                              f"layer; seqkit's Bidirectional runs two layers of one configuration")
    mode = kl.config.get("merge_mode", "concat")
    if mode not in ("concat", "sum", "mul", "ave"):
        raise ConfigError(f"{kl.where}: merge_mode={mode!r} is not supported (seqkit merges the two "
                          f"directions with 'concat', 'sum', 'mul' or 'ave'; for None use 'concat' and "
                          f"split the features into halves)")
    cls = _RECURRENT[fwd.class_name]

    def factory(mode: str, **inner):
        return Bidirectional(cls(**inner), mode=mode)
    return Translation("layer", kl, factory, {"mode": mode, **kw}, ("forward_layer/cell", "backward_layer/cell"),
                       _regularizer_options(fwd, True, notes),
                       "sequences" if kw["return_sequences"] else "vectors")


def _dense(kl: KerasLayer, keras_major, notes, layout: str, parts: tuple[str, ...] = ("",)) -> Translation:
    _check_options(kl, {"units", "activation", "use_bias", "kernel_regularizer"}, notes)
    kw = {"n_out": _positive_int(kl.config.get("units"), "units", kl),
          "activation": seqkit_activation(kl.config.get("activation"), kl, "activation", keras_major),
          "use_bias": bool(kl.config.get("use_bias", True))}
    return Translation("layer", kl, Dense, kw, parts, _regularizer_options(kl, False, notes), layout,
                       dense=True, takes_activation=True)


def _time_distributed(kl: KerasLayer, keras_major, notes) -> Translation:
    _check_options(kl, {"layer"}, notes)
    inner = _inner(kl, "layer", ("Dense",))
    out = _dense(inner, keras_major, notes, "sequences", ("layer",))
    out.source = kl
    return out


def _conv1d(kl: KerasLayer, keras_major, notes) -> Translation:
    cfg = kl.config
    _check_options(kl, {"filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
                        "groups", "activation", "use_bias", "kernel_regularizer"}, notes)
    if _positive_int(cfg.get("strides", 1), "strides", kl) != 1:
        raise ConfigError(f"{kl.where}: strides={cfg.get('strides')!r}; seqkit's Conv1D keeps every step "
                          f"(stride 1), so the [N, T] mask still applies")
    if _positive_int(cfg.get("groups", 1), "groups", kl) != 1:
        raise ConfigError(f"{kl.where}: groups={cfg.get('groups')!r}; seqkit's Conv1D has groups=1")
    _channels_last(kl, "(N, T, F)")
    padding = cfg.get("padding", "valid")
    if padding not in ("causal", "same"):
        raise ConfigError(f"{kl.where}: padding={padding!r}; seqkit's Conv1D keeps T ('causal' or 'same') "
                          f"so that the [N, T] mask and per-step labels still line up")
    kw = {"n_out": _positive_int(cfg.get("filters"), "filters", kl),
          "kernel_size": _positive_int(cfg.get("kernel_size"), "kernel_size", kl),
          "dilation": _positive_int(cfg.get("dilation_rate", 1), "dilation_rate", kl), "padding": padding,
          "activation": seqkit_activation(cfg.get("activation"), kl, "activation", keras_major),
          "use_bias": bool(cfg.get("use_bias", True))}
    return Translation("layer", kl, Conv1D, kw, ("",), _regularizer_options(kl, False, notes),
                       takes_activation=True)


def _convlstm1d(kl: KerasLayer, keras_major, notes) -> Translation:
    cfg = kl.config
    _check_options(kl, {"filters", "kernel_size", "strides", "padding", "data_format", "dilation_rate",
                        "activation", "recurrent_activation", "use_bias", "unit_forget_bias", *_SEQUENCE_FLAGS,
                        *_REGULARIZERS}, notes)
    flags = _sequence_flags(kl)
    _channels_last(kl, "(N, T, L, C)")
    padding = cfg.get("padding", "valid")
    if padding not in ("valid", "same"):
        raise ConfigError(f"{kl.where}: padding={padding!r}; expected 'valid' or 'same'")
    kw = {"filters": _positive_int(cfg.get("filters"), "filters", kl),
          "kernel_size": _positive_int(cfg.get("kernel_size"), "kernel_size", kl),
          "strides": _positive_int(cfg.get("strides", 1), "strides", kl),
          "dilation_rate": _positive_int(cfg.get("dilation_rate", 1), "dilation_rate", kl), "padding": padding,
          "activation": seqkit_activation(cfg.get("activation", "tanh"), kl, "activation", keras_major),
          "gate_activation": seqkit_activation(cfg.get("recurrent_activation", "sigmoid"), kl,
                                               "recurrent_activation", keras_major),
          "use_bias": bool(cfg.get("use_bias", True)), "unit_forget_bias": bool(cfg.get("unit_forget_bias", True)),
          **flags}
    # return_sequences=False leaves (N, L', F): a sequence over the signal's L' points
    return Translation("layer", kl, ConvLSTM1D, kw, ("cell",), _regularizer_options(kl, True, notes),
                       "signals" if kw["return_sequences"] else "sequences")


def _global_pooling(kl: KerasLayer, keras_major, notes) -> Translation:
    _check_options(kl, {"data_format", "keepdims"}, notes)
    _channels_last(kl, "(N, T, F)")
    if kl.config.get("keepdims"):
        raise ConfigError(f"{kl.where}: keepdims=True is not supported (seqkit's GlobalPooling gives [N, F])")
    mode = "avg" if kl.class_name == "GlobalAveragePooling1D" else "max"
    return Translation("layer", kl, GlobalPooling, {"mode": mode}, layout="vectors")


def _masking(kl: KerasLayer, keras_major, notes) -> Translation:
    _check_options(kl, {"mask_value"}, notes)
    value = kl.config.get("mask_value", 0.0)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{kl.where}: mask_value={value!r}; expected a number")
    return Translation("mask", kl, value=float(value))


def _dropout(kl: KerasLayer, keras_major, notes) -> Translation:
    _check_options(kl, {"rate", "noise_shape"}, notes)
    rate = kl.config.get("rate", 0.0)
    if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0.0 <= rate < 1.0:
        raise ConfigError(f"{kl.where}: rate={rate!r}; expected a drop rate in [0, 1)")
    if kl.config.get("noise_shape") is not None:
        notes.append(f"{kl.where}: noise_shape is not imported; seqkit drops each input element on its own")
    return Translation("dropout", kl, value=float(rate))


def _activation(kl: KerasLayer, keras_major, notes) -> Translation:
    _check_options(kl, {"activation"}, notes)
    return Translation("activation", kl, value=seqkit_activation(kl.config.get("activation"), kl,
                                                                 "activation", keras_major))


_SEQUENCE_ONLY = frozenset({"Bidirectional", "Conv1D", "GRU", "GlobalAveragePooling1D", "GlobalMaxPooling1D",
                            "LSTM", "Masking", "SimpleRNN", "TimeDistributed"})
#: What seqkit.load_keras imports on sequences of 1-D signals (T, L, C).
_ON_SIGNALS = frozenset({"ConvLSTM1D", "Dropout"})
_HANDLERS = {"Activation": _activation, "Bidirectional": _bidirectional, "Conv1D": _conv1d,
             "ConvLSTM1D": _convlstm1d, "Dropout": _dropout, "GRU": _recurrent,
             "GlobalAveragePooling1D": _global_pooling, "GlobalMaxPooling1D": _global_pooling,
             "LSTM": _recurrent, "Masking": _masking, "SimpleRNN": _recurrent, "TimeDistributed": _time_distributed}


def translate_layer(kl: KerasLayer, layout: str, keras_major: int | None, notes: list[str]) -> Translation:
    """What Keras layer ``kl`` becomes, given the layout it receives (``"sequences"`` or ``"vectors"``).

    Args:
        kl: the layer.
        layout: what the layer before it outputs (``"sequences"``, ``"vectors"`` or
            ``"signals"``).
        keras_major: the file's Keras major version (2 or 3; None if unknown).
        notes: receives a line for each option that is not imported but only
            matters in training.

    Raises:
        ConfigError: a class or an option seqkit cannot import, naming the
            Keras layer (name and class) and the option.
    """
    if kl.class_name in MODEL_CLASSES:
        raise ConfigError(f"{kl.where}: a model nested in the model; seqkit.load_keras imports one flat "
                          f"chain of layers")
    if kl.class_name == "InputLayer":
        raise ConfigError(f"{kl.where}: an input layer inside the chain")
    if kl.class_name not in _HANDLERS and kl.class_name != "Dense":
        raise ConfigError(f"{kl.where}: this layer class is not supported by seqkit.load_keras; it imports "
                          f"{', '.join(SUPPORTED_LAYERS)}")
    if layout == "signals" and kl.class_name not in _ON_SIGNALS:
        if kl.class_name == "Masking":
            raise ConfigError(f"{kl.where}: Masking on sequences of 1-D signals (T, L, C) is not imported: "
                              f"Keras derives an (N, T, L) mask from it, which its ConvLSTM1D cannot take; "
                              f"pass the [N, T] mask to output() instead")
        raise ConfigError(f"{kl.where} gets sequences of 1-D signals (T, L, C); seqkit.load_keras imports "
                          f"only ConvLSTM1D and Dropout there (a ConvLSTM1D with return_sequences=False "
                          f"gives (L', F), a sequence over the signal, for the layers after it)")
    if kl.class_name == "ConvLSTM1D" and layout != "signals":
        raise ConfigError(f"{kl.where} works on sequences of 1-D signals (T, L, C) but gets "
                          f"{'feature vectors' if layout == 'vectors' else 'sequences (T, F)'}")
    if kl.class_name in _SEQUENCE_ONLY and layout != "sequences":
        raise ConfigError(f"{kl.where} works on sequences but gets feature vectors (an earlier recurrent "
                          f"layer has return_sequences=False)")
    _policy(kl, notes)
    if kl.class_name == "Dense":
        return _dense(kl, keras_major, notes, layout)
    return _HANDLERS[kl.class_name](kl, keras_major, notes)
