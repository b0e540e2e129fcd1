"""Bidirectional: a recurrent layer run forward and backward in time, outputs merged."""

from __future__ import annotations

import copy
import warnings
from typing import Mapping, Sequence

import torch
from torch import nn

from .._errors import ConfigError
from ._base import Layer, layer_trait
from ._last_time_step import call_inner, inner_output_shape, split_output, wrapper_input_layouts
from ._mask import check_mask
from ._recurrent import StepMask, flat_tensors

__all__ = ["Bidirectional", "MERGE_MODES"]

#: Accepted merge modes; Keras's ``"sum"`` and ``"ave"`` are aliases of ``"add"`` and ``"average"``.
MERGE_MODES: dict[str, str] = {"concat": "concat", "add": "add", "mul": "mul", "average": "average",
                               "sum": "add", "ave": "average"}

_STEPWISE_ERROR = ("Bidirectional layers cannot be used step by step / with truncated BPTT: "
                   "the backward direction needs the whole sequence")


def fresh_copy(layer: nn.Module) -> nn.Module:
    """A deep copy of ``layer`` with its parameters drawn afresh and no stored state.

    Every built submodule with a ``reset_parameters`` method re-initialises
    itself (the built-in cells and ConvLSTM use the Keras initialisers); an
    unbuilt one draws its parameters when it is built. A submodule
    holding parameters without that method keeps a copy of the original values;
    this is warned about.
    """
    twin = copy.deepcopy(layer)
    stale = []
    for module in twin.modules():
        if isinstance(module, Layer) and not module.built:
            continue                                     # no parameters yet; built fresh later
        if hasattr(module, "reset_parameters"):
            module.reset_parameters()
        elif any(True for _ in module.parameters(recurse=False)):
            stale.append(type(module).__name__)
    if stale:
        warnings.warn(f"Bidirectional: {', '.join(sorted(set(stale)))} has no reset_parameters(), "
                      f"so the backward layer starts with a copy of the forward weights", stacklevel=3)
    if getattr(twin, "stateful", False) and hasattr(twin, "reset_state"):
        twin.reset_state()
    return twin


class Bidirectional(Layer):
    """Run ``layer`` forward in time and an independent copy backward; merge the outputs.

    The backward layer is a deep copy of ``layer`` whose parameters are then
    re-initialised (fresh weights, same configuration); ``layer`` itself is the
    forward layer and keeps its weights. The backward layer sees the input and
    the mask reversed along time (the whole padded tensor); its sequence output
    is reversed back to the original order. Because every seqkit recurrent
    layer carries its state over masked steps and outputs zero there, this is
    exact per example: an example padded at either end (or with gaps) gets what
    it gets alone on its real steps, in both directions. (DL4J's Bidirectional
    LSTM does not: its LSTM runs through the reversed padding first.)

    With ``return_sequences=False`` on the inner layer (or an inner
    :class:`LastTimeStep`) the forward half is the output at each example's
    last real step and the backward half the output after the backward pass
    has reached the example's *first* real step (Keras's semantics).

    Merge modes (:data:`MERGE_MODES`): ``"concat"`` (forward then backward on
    dim 1; ``n_out = 2H``), ``"add"``, ``"mul"``, ``"average"`` (``n_out = H``).

    Flags come from the inner layer: ``return_state`` gives
    ``(y, *forward_states, *backward_states)``; ``stateful`` keeps each
    direction's final state for the next call; ``initial_state`` is a flat
    list, its first half for the forward layer and its second half for the
    backward one (LSTM: ``[h_f, c_f, h_b, c_b]``), or a dict
    ``{"forward": ..., "backward": ...}``. The inner layer must not have
    ``go_backwards=True`` (the wrapper makes the backward direction).

    Bidirectional layers cannot run step by step or under truncated BPTT:
    :meth:`run` raises, and ``stepwise_obstacle`` is ``"bidirectional"`` for
    networks. The rest of its self-description (see :class:`Layer`) is the
    forward layer's: it wraps it, reduces time when it does, never reverses
    time, and its steps follow the forward layer's :meth:`compute_mask`.

    Args:
        layer: a recurrent layer (LSTM, GRU, SimpleRNN, GravesLSTM, RNN(cell),
            ConvLSTM1D/2D/3D) or LastTimeStep / MaskZero around one.
        mode: the merge mode.

    Shape:
        x ``[N, F, T]``; mask ``[N, T]``; output ``[N, 2H, T]`` (concat) or
        ``[N, H, T]``; ``[N, 2H]`` / ``[N, H]`` when the inner layer reduces time.
    """

    supports_stepwise = False

    def __init__(self, layer: nn.Module, mode: str = "concat"):
        if not isinstance(layer, nn.Module) or not hasattr(layer, "state_keys"):
            raise ConfigError(
                f"Bidirectional: layer must be a recurrent layer (LSTM, GRU, SimpleRNN, GravesLSTM, "
                f"RNN, ConvLSTM*) or LastTimeStep/MaskZero around one, got {type(layer).__name__}")
        if getattr(layer, "go_backwards", False):
            raise ConfigError(f"Bidirectional: the wrapped {type(layer).__name__} has "
                              f"go_backwards=True; pass it with go_backwards=False (the wrapper "
                              f"runs the backward direction itself)")
        if not isinstance(mode, str) or mode.lower() not in MERGE_MODES:
            raise ConfigError(f"Bidirectional: unknown mode {mode!r}; expected one of 'concat', "
                              f"'add', 'mul', 'average' (or Keras's aliases 'sum', 'ave')")
        super().__init__(getattr(layer, "n_in", None))
        self.mode = MERGE_MODES[mode.lower()]
        self.forward_layer = layer
        self.backward_layer = fresh_copy(layer)
        self._maybe_build()

    # -- sizes, flags -------------------------------------------------------------------
    @property
    def n_out(self) -> int:
        h = self.forward_layer.n_out
        return 2 * h if self.mode == "concat" else h

    @property
    def return_state(self) -> bool:
        return bool(getattr(self.forward_layer, "return_state", False))

    @property
    def stateful(self) -> bool:
        return bool(getattr(self.forward_layer, "stateful", False))

    def _build(self, n_in: int) -> None:
        for layer in (self.forward_layer, self.backward_layer):
            if isinstance(layer, Layer):
                layer.build(n_in)

    # -- self-description (see Layer) ----------------------------------------------------
    needs_time = True
    stepwise_obstacle = "bidirectional"

    @property
    def wrapped(self) -> nn.Module:
        return self.forward_layer

    @property
    def input_layouts(self) -> frozenset[str]:
        return wrapper_input_layouts(self.forward_layer)

    @property
    def reduces_time(self) -> bool:
        return bool(layer_trait(self.forward_layer, "reduces_time"))

    @property
    def mixes_steps(self) -> bool:
        return bool(layer_trait(self.forward_layer, "mixes_steps"))

    @property
    def takes_step_mask(self) -> bool:
        """The forward layer's: a ``StepMask`` (with its CPU copy) goes to both directions, the
        backward one reversed, so neither reads the mask back from the device."""
        return bool(layer_trait(self.forward_layer, "takes_step_mask"))

    def compute_mask(self, x: torch.Tensor, mask=None):
        """The forward layer's :meth:`~seqkit.layers.Layer.compute_mask` (the mask its steps follow)."""
        return layer_trait(self.forward_layer, "compute_mask")(x, mask)

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """The forward layer's output shape, dim 0 doubled in ``"concat"`` mode."""
        out = inner_output_shape(self, self.forward_layer, tuple(input_shape))
        return (2 * out[0],) + out[1:] if self.mode == "concat" else out

    # -- states -------------------------------------------------------------------------
    def _split_states(self, states, what: str) -> tuple:
        """``(forward part, backward part)`` of a flat list or a forward/backward dict."""
        if states is None:
            return None, None
        if isinstance(states, Mapping):
            if set(states) != {"forward", "backward"}:
                raise ValueError(f"Bidirectional: {what} as a dict needs exactly the keys "
                                 f"'forward' and 'backward', got {sorted(states)}")
            return states["forward"], states["backward"]
        flat = flat_tensors(states)
        k = len(self.forward_layer.state_keys)
        if len(flat) != 2 * k:
            raise ValueError(f"Bidirectional: {what} must hold {2 * k} tensors (forward "
                             f"{list(self.forward_layer.state_keys)} then backward), got {len(flat)}")
        return flat[:k], flat[k:]

    def reset_state(self, states=None) -> None:
        """Zero both directions' stored states, or set them (split in halves as ``initial_state``)."""
        fwd, bwd = self._split_states(states, "states")
        self.forward_layer.reset_state(fwd)
        self.backward_layer.reset_state(bwd)

    reset_states = reset_state

    def run(self, x, mask=None, state=None, **kwargs):
        """Not available: raises :class:`seqkit.ConfigError` (see the class docstring)."""
        raise ConfigError(_STEPWISE_ERROR)

    # -- forward ------------------------------------------------------------------------
    def _merge(self, y_f: torch.Tensor, y_b: torch.Tensor) -> torch.Tensor:
        if self.mode == "concat":
            return torch.cat([y_f, y_b], dim=1)                          # [N, 2H, ...]
        if self.mode == "add":
            return y_f + y_b
        if self.mode == "mul":
            return y_f * y_b
        return 0.5 * (y_f + y_b)

    def forward(self, x: torch.Tensor, mask=None, initial_state=None):
        """Both directions, merged; ``(y, *fwd_states, *bwd_states)`` with ``return_state``."""
        if not isinstance(x, torch.Tensor) or x.dim() < 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"Bidirectional: input must be [N, F, T] (or [N, C, T, *spatial]), "
                             f"got {shape}")
        self._build_like(x)
        if isinstance(mask, StepMask):
            check_mask(mask.values, x, "Bidirectional")                  # shape check only
            if not self.takes_step_mask:                                 # an inner layer taking [N, T]
                mask = mask.values
        elif mask is not None:
            mask = mask if isinstance(mask, torch.Tensor) else torch.as_tensor(mask)
            check_mask(mask, x, "Bidirectional")                         # shape check only
        init_f, init_b = self._split_states(initial_state, "initial_state")
        y_f, st_f = split_output(call_inner(self.forward_layer, x, mask, init_f))
        if mask is None:
            rev_mask = None
        else:                                                            # [N, T] reversed (and its CPU copy)
            rev_mask = mask.flip() if isinstance(mask, StepMask) else mask.flip(1)
        y_b, st_b = split_output(call_inner(self.backward_layer, x.flip(2), rev_mask, init_b))
        if y_b.dim() == x.dim():                                         # a sequence: back to input order
            y_b = y_b.flip(2)
        y = self._merge(y_f, y_b)
        if self.return_state:
            return (y, *st_f, *st_b)
        return y

    # -- Keras weights ------------------------------------------------------------------
    def set_keras_weights(self, arrays) -> "Bidirectional":
        """Load Keras's list ``[fwd kernel, fwd recurrent, fwd bias, bwd kernel, ...]``; returns ``self``.

        The first half goes to the forward layer's ``set_keras_weights``, the
        second to the backward layer's.

        Raises:
            ValueError: an odd count, or an inner layer without Keras weights
                (GravesLSTM, RNN over a user cell).
        """
        if not isinstance(arrays, (list, tuple)) or len(arrays) % 2:
            got = len(arrays) if isinstance(arrays, (list, tuple)) else type(arrays).__name__
            raise ValueError(f"Bidirectional: set_keras_weights takes a list with an even number of "
                             f"arrays (forward half, then backward half), got {got}")
        half = len(arrays) // 2
        for layer, part in ((self.forward_layer, arrays[:half]), (self.backward_layer, arrays[half:])):
            if not hasattr(layer, "set_keras_weights"):
                raise ValueError(f"Bidirectional: the wrapped {type(layer).__name__} has no Keras "
                                 f"weight layout (set_keras_weights)")
            layer.set_keras_weights(list(part))
        n_in = getattr(self.forward_layer, "n_in", None)
        if not self.built and n_in is not None:
            self.build(n_in)
        return self

    def get_keras_weights(self) -> list:
        """``forward.get_keras_weights() + backward.get_keras_weights()`` (Keras's order)."""
        for layer in (self.forward_layer, self.backward_layer):
            if not hasattr(layer, "get_keras_weights"):
                raise ValueError(f"Bidirectional: the wrapped {type(layer).__name__} has no Keras "
                                 f"weight layout (get_keras_weights)")
        return list(self.forward_layer.get_keras_weights()) + list(self.backward_layer.get_keras_weights())

    def extra_repr(self) -> str:
        return f"mode={self.mode!r}, n_in={self.n_in}, n_out={self.n_out}"
