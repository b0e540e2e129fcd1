"""Shape inference through a layer stack, and automatic preprocessor insertion.

Shapes here leave out the batch dim; ``None`` is an unknown length T:
``(F,)`` vectors, ``(F, T)`` sequences, ``(C, H, W)`` images,
``(C, T, H, W)`` video. :func:`plan_stack` walks the layers from an input
shape, checks that each layer can take what the previous one gives, inserts
a preprocessor where the layout changes, builds each layer for its ``n_in``
and records every output shape.

The network never tests class names: each layer describes itself
(``seqkit.layers.Layer``'s self-description, asked through
``seqkit.layers.layer_trait`` so plain torch modules get the defaults). Its
``input_layouts`` drive the layout rules below, and ``needs_time``,
``reduces_time``, ``reverses_time``, ``mixes_steps``, ``carries_state``,
``stepwise_obstacle``, ``wrapped`` and ``output_shape`` answer the functions
here.

Layout rules (seqkit's NCL conventions):

- video ``(C, T, H, W)`` into a layer that works on sequences (recurrent
  layers, ``RnnOutput``, ``RnnLoss``, ``Dense``) inserts ``CnnToRnn``:
  ``[N, C, T, H, W] -> [N, C*H*W, T]``;
- images ``(C, H, W)`` into ``Dense`` or ``Output`` inserts
  ``CnnToFeedForward`` (``[N, C, H, W] -> [N, C*H*W]``);
- sequences into ``Dense`` need nothing: ``Dense`` applies at every step;
- sequences into ``Output`` (a per-example head) are an error: put a
  ``LastTimeStep`` before it, or use ``RnnOutput`` for per-step outputs;
- vectors into anything that needs sequences are an error.

``Conv1D`` works on sequences like a recurrent layer (time at dim 2, T kept);
``Conv2D``, ``Subsampling2D`` and the ConvLSTM layers work on images or video.

A plain torch module (not a seqkit layer) in the layer list is a
:class:`ConfigError` unless it has ``output_shape(input_shape)`` (and takes
``forward(x, mask=None)``): the network cannot infer its output, nor pass it
the mask. Wrapped in ``TimeDistributed`` a plain per-step module is fine.

The plan also records the batch dimension of every output: ``"N"`` (examples)
or ``"N*T"`` (rows, between ``RnnToFeedForward`` and ``FeedForwardToRnn``), so
``describe_shape`` and ``summary`` show ``[N*T, F]`` for rows.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

from torch import nn

from .._errors import ConfigError
from ..layers import (CnnToFeedForward, CnnToRnn, FeedForwardToRnn, Layer, LossHead, Preprocessor,
                      RnnToFeedForward, layer_trait)

__all__ = ["ROWS", "StackPlan", "carries_state", "check_stack", "check_supported",
           "check_tbptt", "core_layer", "describe_shape",
           "guess_input_type", "inner_layer", "input_type_from_features", "layer_name",
           "mixes_steps", "needs_sequence", "plan_stack", "reduces_time", "reverses_time",
           "stepwise_obstacle"]

#: The batch label of rows ``[N*T, ...]`` (``"N"`` is one entry per example).
ROWS = "N*T"

#: Layouts of images and video frames, taken as they are by spatial layers.
_FRAMES = frozenset({"images", "video"})


# -- what layers say about themselves (seqkit.layers.Layer's self-description) ---------------
def layer_name(layer) -> str:
    return type(layer).__name__


def inner_layer(layer) -> nn.Module | None:
    """The layer a wrapper holds (its ``wrapped``: LastTimeStep's and MaskZero's ``inner``,
    Bidirectional's ``forward_layer``, TimeDistributed's ``layer``); None for other layers."""
    return layer_trait(layer, "wrapped")


def core_layer(layer) -> nn.Module:
    """The innermost layer of a chain of wrappers (the layer itself when it wraps nothing)."""
    seen = 0
    while seen < 16:
        inner = inner_layer(layer)
        if inner is None:
            return layer
        layer, seen = inner, seen + 1
    return layer


def _takes_frames(layer) -> bool:
    """True for layers on images/video frames as they are (Conv2D, Subsampling2D, ConvLSTM,
    and wrappers around them); not Conv1D, which convolves over time, nor plain torch modules."""
    layouts = layer_trait(layer, "input_layouts")
    return bool(layouts) and frozenset(layouts) <= _FRAMES


def mixes_steps(layer) -> bool:
    """True for a layer whose output at a step depends on other steps without a carried
    state (a ``Conv1D`` with ``kernel_size > 1``, also inside a wrapper), so truncated BPTT
    and ``rnn_time_step``, which see one segment or chunk at a time, cannot run it."""
    return bool(layer_trait(layer, "mixes_steps"))


def stepwise_obstacle(layer) -> str | None:
    """Why ``layer`` cannot run one segment or chunk at a time from carried state, or None.

    Truncated BPTT and ``rnn_time_step`` share this check and word it each
    their own way. Returns ``"bidirectional"`` (the backward direction needs the
    whole sequence), ``"go_backwards"`` (its state runs the other way), or
    ``"mixes_steps"`` (see :func:`mixes_steps`).
    """
    return layer_trait(layer, "stepwise_obstacle")


def carries_state(layer) -> bool:
    """True for layers whose state the network carries (TBPTT, streaming): recurrent layers
    and wrappers with ``run`` around one (LastTimeStep, MaskZero); not Bidirectional."""
    return bool(layer_trait(layer, "carries_state"))


def reduces_time(layer) -> bool:
    """True for layers whose output has no time axis although their input has one."""
    return bool(layer_trait(layer, "reduces_time"))


def reverses_time(layer) -> bool:
    """True for layers whose sequence output runs backwards in time (``go_backwards=True``
    with ``return_sequences=True``): the next layer needs the reversed mask."""
    return bool(layer_trait(layer, "reverses_time"))


def needs_sequence(layer) -> bool:
    """True for layers that only take input with a time axis."""
    return bool(layer_trait(layer, "needs_time"))


_PLAIN_HELP = ("a Sequential takes seqkit layers (seqkit.layers: recurrent, Conv1D for a 1-D "
               "convolution over time, Conv2D, Dense...), modules with output_shape(input_shape) "
               "and forward(x, mask=None) (register them with @seqkit.layers.register_layer to "
               "save them), or a plain per-step module wrapped in seqkit.layers.TimeDistributed(...)")


def check_supported(i: int, layer) -> None:
    """ConfigError for a plain torch module the network cannot place (see the module docstring).

    Raises:
        ConfigError: naming the layer index and class and what is supported.
    """
    if isinstance(layer, Layer) or callable(getattr(layer, "output_shape", None)):
        return
    cls = type(layer)
    hint = (" (for a convolution over time use seqkit.layers.Conv1D(n_out, kernel_size))"
            if isinstance(layer, nn.Conv1d) else "")
    raise ConfigError(f"layer {i} ({cls.__name__}): {cls.__module__}.{cls.__qualname__} is a plain "
                      f"torch module, so the network cannot infer its output shape or pass it the "
                      f"mask{hint}; {_PLAIN_HELP}")


def check_stack(layers) -> None:
    """ConfigError unless ``layers`` can make a network: modules it can place, the output layer last.

    Raises:
        ConfigError: naming the layer index and class.
    """
    if not layers:
        raise ConfigError("Sequential needs at least one layer")
    for i, layer in enumerate(layers):
        if not isinstance(layer, nn.Module):
            raise ConfigError(f"layer {i}: expected a seqkit layer (torch.nn.Module), got "
                              f"{type(layer).__name__}")
        check_supported(i, layer)
        if isinstance(layer, LossHead) and i != len(layers) - 1:
            raise ConfigError(f"layer {i} ({layer_name(layer)}) is an output layer but is not last; "
                              f"output layers end the network")


#: How truncated BPTT words each obstacle of :func:`stepwise_obstacle`.
_TBPTT_REFUSALS = {
    "bidirectional": "TBPTT cannot train a Bidirectional layer (its backward direction needs the "
                     "whole sequence)",
    "go_backwards": "TBPTT cannot carry the state of a go_backwards layer from one segment to the next",
    "mixes_steps": "TBPTT cannot train a Conv1D with kernel_size > 1: each segment would be "
                   "convolved on its own, without the steps just before it",
}


def check_tbptt(layers) -> None:
    """ConfigError for a stack truncated BPTT cannot train, naming the layer and the fix."""
    for i, layer in enumerate(layers):
        name = f"layer {i} ({layer_name(layer)})"
        obstacle = stepwise_obstacle(layer)
        if obstacle == "bidirectional":
            raise ConfigError(f"{name}: {_TBPTT_REFUSALS[obstacle]}; use backprop='standard'")
        if reduces_time(layer):
            raise ConfigError(f"{name} removes the time axis (LastTimeStep or return_sequences="
                              f"False), which TBPTT cannot train: every segment needs per-step "
                              f"outputs and labels; use backprop='standard'")
        if obstacle is not None:
            raise ConfigError(f"{name}: {_TBPTT_REFUSALS[obstacle]}; use backprop='standard'")
        if carries_state(core_layer(layer)) and not carries_state(layer):
            raise ConfigError(f"{name}: TBPTT cannot carry state through this wrapper "
                              f"(it has no run(x, mask, state)); use backprop='standard'")
    last = layers[-1]
    if isinstance(last, LossHead) and not needs_sequence(last):
        raise ConfigError(f"layer {len(layers) - 1} ({layer_name(last)}): TBPTT needs a "
                          f"per-step output layer (RnnOutput or RnnLoss)")


# -- shapes -----------------------------------------------------------------------------------
def describe_shape(shape: Sequence[int | None], batch: str = "N") -> str:
    """``(64, None)`` -> ``"[N, 64, T]"``; video ``(3, None, 8, 8)`` -> ``"[N, 3, T, 8, 8]"``;
    rows ``(64,)`` with ``batch=ROWS`` -> ``"[N*T, 64]"``."""
    parts = [batch] + ["T" if d is None else str(d) for d in shape]
    return "[" + ", ".join(parts) + "]"


def _batch_after(pre: Preprocessor, batch: str) -> str:
    """The batch label after preprocessor ``pre``: rows after RnnToFeedForward, examples after
    FeedForwardToRnn and CnnToRnn (which restore time with the batch size N)."""
    if isinstance(pre, RnnToFeedForward):
        return ROWS
    if isinstance(pre, (FeedForwardToRnn, CnnToRnn)):
        return "N"
    return batch


def _layout(shape) -> str:
    return {1: "vectors", 2: "sequences", 3: "images", 4: "video"}.get(len(shape), "tensors")


def _strip_owner(message: str, layer) -> str:
    prefix = layer_name(layer) + ": "
    return message[len(prefix):] if message.startswith(prefix) else message


def _output_shape(layer, shape: tuple) -> tuple:
    """The layer's output shape for input ``shape``: its own ``output_shape`` answer."""
    fn = layer_trait(layer, "output_shape")
    if callable(fn):
        return tuple(fn(shape))
    raise ConfigError(f"cannot infer the output shape of {layer_name(layer)}; give it an "
                      f"output_shape(input_shape) method")


@dataclass
class StackPlan:
    """The result of :func:`plan_stack`.

    ``preprocessors[i]`` runs before layer i; ``shapes[i]`` is layer i's
    output shape (without batch) and ``batches[i]`` its batch dim (``"N"``,
    or ``ROWS`` for ``[N*T, ...]`` rows); ``input_shape`` the network's input.
    """

    input_shape: tuple
    preprocessors: dict[int, Preprocessor] = field(default_factory=dict)
    shapes: list[tuple] = field(default_factory=list)
    batches: list[str] = field(default_factory=list)      # "N" or ROWS, per output


def _source(i: int, layers) -> str:
    return "the input" if i == 0 else f"layer {i - 1} ({layer_name(layers[i - 1])})"


def _adapt(i: int, layer, shape: tuple, layers, batch: str = "N") -> Preprocessor | None:
    """The preprocessor layer ``i`` needs for input ``shape`` (None), or a ConfigError.

    The layer's ``input_layouts`` say what it takes; video into a layer on
    sequences gets ``CnnToRnn``, images into one on vectors ``CnnToFeedForward``.
    """
    layouts = layer_trait(layer, "input_layouts")
    layout = _layout(shape)
    if layouts is None or layout in layouts:
        return None
    if layout == "video" and "sequences" in layouts:
        return CnnToRnn(shape[2], shape[3], shape[0])
    if layout == "images" and "vectors" in layouts:
        return CnnToFeedForward()
    name, src = f"layer {i} ({layer_name(layer)})", _source(i, layers)
    rank = len(shape)
    given = f"{'rows' if batch == ROWS else layout} {describe_shape(shape, batch)}"
    if frozenset(layouts) <= _FRAMES:
        raise ConfigError(f"{name} works on images [N, C, H, W] or video [N, C, T, H, W] but {src} "
                          f"gives {given}")
    if "sequences" not in layouts:
        what = "is a per-example output [N, C]" if isinstance(layer, LossHead) else "works on vectors [N, F]"
        raise ConfigError(
            f"{name} {what} but {src} gives {given}; put a LastTimeStep "
            f"(or a recurrent layer with return_sequences=False) before it, or use RnnOutput for "
            f"one output per step")
    if batch == ROWS:
        hint = " (put a FeedForwardToRnn before it to restore the time axis)"
    elif rank == 1:
        hint = " (a LastTimeStep or return_sequences=False earlier removed the time axis)"
    else:
        hint = "; for video use InputType.convolutional(..., sequence=True)"
    raise ConfigError(f"{name} works on sequences [N, F, T] but {src} gives {given}{hint}")


def _check_n_in(i: int, layer, n_features, layers) -> None:
    known = getattr(layer, "n_in", None)
    if known is None or n_features is None or known == n_features:
        return
    src = "the input has" if i == 0 else f"layer {i - 1} ({layer_name(layers[i - 1])}) outputs"
    raise ConfigError(f"layer {i} ({layer_name(layer)}): n_in={known} but {src} {n_features}")


def _build(i: int, layer, n_in, dtype, device) -> None:
    if n_in is None:
        raise ConfigError(f"layer {i} ({layer_name(layer)}): its input size is unknown")
    if not hasattr(layer, "build"):
        return
    try:
        layer.build(int(n_in), dtype=dtype, device=device)
    except ConfigError as err:
        raise ConfigError(f"layer {i} ({layer_name(layer)}): {_strip_owner(str(err), layer)}") from None


def plan_stack(layers: Sequence[nn.Module], input_shape: tuple, *, dtype=None, device=None,
               build: bool = True) -> StackPlan:
    """Walk ``layers`` from ``input_shape``; insert preprocessors; build; record shapes.

    Raises:
        ConfigError: naming the layer index and class, and both sizes or
            layouts, when a layer cannot take the previous one's output.
    """
    plan = StackPlan(tuple(input_shape))
    shape, batch = tuple(input_shape), "N"
    for i, layer in enumerate(layers):
        check_supported(i, layer)
        pre = _adapt(i, layer, shape, layers, batch)
        if pre is not None:
            shape, batch = tuple(pre.output_shape(shape)), _batch_after(pre, batch)
            plan.preprocessors[i] = pre
        _check_n_in(i, layer, shape[0], layers)
        if build:
            _build(i, layer, shape[0], dtype, device)
        try:
            shape = _output_shape(layer, shape)
        except ConfigError as err:
            raise ConfigError(f"layer {i} ({layer_name(layer)}): {_strip_owner(str(err), layer)}") from None
        if isinstance(layer, Preprocessor):
            batch = _batch_after(layer, batch)
        plan.shapes.append(shape)
        plan.batches.append(batch)
    return plan


def guess_input_type(layers: Sequence[nn.Module]):
    """An ``InputType`` from the first layer's ``n_in``, or None when it cannot be known yet.

    A first recurrent-like layer gives ``recurrent(n_in)``; a first ``Dense``
    gives ``recurrent(n_in)`` when a later layer needs sequences, else
    ``feed_forward(n_in)``. Convolutional first layers need an input type
    (height and width), so they give None and the network builds from its
    first batch.
    """
    from ._input_type import InputType

    first = layers[0]
    n_in = getattr(first, "n_in", None)
    if n_in is None:
        inner = inner_layer(first)
        n_in = getattr(inner, "n_in", None) if inner is not None else None
    if n_in is None or _takes_frames(core_layer(first)):
        return None
    if needs_sequence(first) or any(needs_sequence(layer) for layer in layers[1:]):
        return InputType.recurrent(int(n_in))
    return InputType.feed_forward(int(n_in))


def input_type_from_features(shape: Sequence[int]):
    """The ``InputType`` of a features batch of shape ``[N, ...]``."""
    from ._input_type import InputType

    dims = tuple(int(d) for d in shape)
    if len(dims) == 3:
        return InputType.recurrent(dims[1])
    if len(dims) == 2:
        return InputType.feed_forward(dims[1])
    if len(dims) == 5:
        return InputType.convolutional(dims[3], dims[4], dims[1], sequence=True)
    if len(dims) == 4:
        return InputType.convolutional(dims[2], dims[3], dims[1], sequence=False)
    raise ValueError(f"features must be [N, F], [N, F, T], [N, C, H, W] or [N, C, T, H, W], "
                     f"got shape {list(dims)}")
