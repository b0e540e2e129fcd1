"""LastTimeStep: a sequence layer reduced to each example's last real step.

Also home of :class:`InnerWrapper`, the small base that LastTimeStep and
MaskZero share: it holds the wrapped layer as ``inner`` and forwards the
size, building, state, self-description and Keras-weight API to it, and of
the helpers every wrapper uses to call and describe the layer it wraps.
"""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .._errors import ConfigError
from ._base import Layer, layer_trait
from ._mask import check_mask
from ._recurrent import StepMask

__all__ = ["InnerWrapper", "LastTimeStep", "call_inner", "inner_output_shape", "split_output",
           "wrapper_input_layouts"]


def call_inner(layer: nn.Module, x: torch.Tensor, mask, initial_state):
    """``layer(x, mask[, initial_state])``; ``initial_state`` only when given."""
    if initial_state is None:
        return layer(x, mask)
    return layer(x, mask, initial_state)


def wrapper_input_layouts(inner: nn.Module) -> frozenset[str]:
    """The layouts a wrapper that needs a time axis takes around ``inner``: the inner layer's
    images or video as they are (ConvLSTM, Conv2D), else sequences (video is flattened into one)."""
    layouts = layer_trait(inner, "input_layouts")
    if layouts is not None:
        kept = frozenset(layouts) - {"vectors"}
        if kept:
            return kept
    return frozenset({"sequences"})


def inner_output_shape(wrapper: nn.Module, inner: nn.Module, shape: tuple) -> tuple:
    """``inner``'s output shape for input ``shape``.

    Raises:
        ConfigError: ``inner`` is a plain torch module without ``output_shape``.
    """
    fn = layer_trait(inner, "output_shape")
    if not callable(fn):
        raise ConfigError(f"{type(wrapper).__name__}: cannot infer the output shape of the wrapped "
                          f"{type(inner).__name__}; give it an output_shape(input_shape) method")
    return tuple(fn(tuple(shape)))


def split_output(out) -> tuple[torch.Tensor, tuple]:
    """A layer's result as ``(y, states)``: ``(y, ())`` for a bare tensor, else ``(out[0], out[1:])``."""
    if isinstance(out, torch.Tensor):
        return out, ()
    if isinstance(out, (tuple, list)) and out and isinstance(out[0], torch.Tensor):
        return out[0], tuple(out[1:])
    raise ValueError(f"expected a tensor or a tuple (y, *states) from the wrapped layer, "
                     f"got {type(out).__name__}")


class InnerWrapper(Layer):
    """Base of the single-layer wrappers: ``inner`` plus delegation of its API.

    ``n_in``, ``n_out``, ``build``, the state API (``state_keys``,
    ``initial_state``, ``reset_state``, ``stateful``, ``return_state``,
    ``go_backwards``) and ``set_keras_weights`` / ``get_keras_weights`` are the
    inner layer's. A state attribute the inner layer lacks raises
    ``AttributeError`` naming both classes.

    The self-description (see :class:`Layer`) is the inner layer's too:
    ``wrapped`` is ``inner``; it needs a time axis; ``reduces_time``,
    ``reverses_time``, ``mixes_steps``, ``carries_state``,
    ``stepwise_obstacle``, :meth:`compute_mask` and :meth:`output_shape` are
    the inner layer's answers (a subclass overrides what it changes).

    Shape:
        x ``[N, F, T]`` (or ``[N, C, T, *spatial]``); mask ``[N, T]``; output: the subclass's.
    """

    def __init__(self, layer: nn.Module):
        name = type(self).__name__
        if not isinstance(layer, nn.Module):
            raise ConfigError(f"{name}: layer must be a torch.nn.Module (a seqkit layer), "
                              f"got {type(layer).__name__}")
        n_in = getattr(layer, "n_in", None) if isinstance(layer, Layer) else None
        super().__init__(n_in)
        self.inner = layer

    # -- sizes and building -----------------------------------------------------------
    @property
    def n_out(self) -> int:
        return self.inner.n_out

    def _build(self, n_in: int) -> None:
        if isinstance(self.inner, Layer):
            self.inner.build(n_in)

    # -- self-description (see Layer) -------------------------------------------------
    needs_time = True

    @property
    def wrapped(self) -> nn.Module:
        return self.inner

    @property
    def input_layouts(self) -> frozenset[str]:
        return wrapper_input_layouts(self.inner)

    @property
    def reduces_time(self) -> bool:
        return bool(layer_trait(self.inner, "reduces_time"))

    @property
    def reverses_time(self) -> bool:
        return bool(layer_trait(self.inner, "reverses_time"))

    @property
    def mixes_steps(self) -> bool:
        return bool(layer_trait(self.inner, "mixes_steps"))

    @property
    def carries_state(self) -> bool:
        """The inner layer's, when this wrapper can run it from a state (has ``run``)."""
        return bool(layer_trait(self.inner, "carries_state")) and callable(getattr(self, "run", None))

    @property
    def stepwise_obstacle(self) -> str | None:
        return layer_trait(self.inner, "stepwise_obstacle")

    def compute_mask(self, x: torch.Tensor, mask=None):
        """The inner layer's :meth:`~seqkit.layers.Layer.compute_mask`."""
        return layer_trait(self.inner, "compute_mask")(x, mask)

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """The inner layer's output shape."""
        return inner_output_shape(self, self.inner, tuple(input_shape))

    def _delegate(self, attr: str):
        try:
            return getattr(self.inner, attr)
        except AttributeError:
            raise AttributeError(f"{type(self).__name__}: the wrapped {type(self.inner).__name__} "
                                 f"has no {attr!r} (it is not a recurrent layer)") from None

    # -- state API ----------------------------------------------------------------------
    @property
    def state_keys(self) -> tuple[str, ...]:
        return self._delegate("state_keys")

    @property
    def stateful(self) -> bool:
        return bool(getattr(self.inner, "stateful", False))

    @property
    def return_state(self) -> bool:
        return bool(getattr(self.inner, "return_state", False))

    @property
    def go_backwards(self) -> bool:
        return bool(getattr(self.inner, "go_backwards", False))

    def initial_state(self, n: int, **kwargs):
        """The inner layer's zero states for a batch of ``n``."""
        return self._delegate("initial_state")(n, **kwargs)

    def reset_state(self, states=None) -> None:
        """The inner layer's :meth:`~seqkit.layers.Recurrent.reset_state`."""
        self._delegate("reset_state")(states)

    reset_states = reset_state

    # -- Keras weights ------------------------------------------------------------------
    def set_keras_weights(self, arrays) -> "InnerWrapper":
        """Load the inner layer's Keras weights (its own ``set_keras_weights``); returns ``self``."""
        self._delegate("set_keras_weights")(arrays)
        n_in = getattr(self.inner, "n_in", None)
        if not self.built and n_in is not None:
            self.build(n_in)
        return self

    def get_keras_weights(self) -> list:
        """The inner layer's Keras weight list."""
        return self._delegate("get_keras_weights")()

    def _check_x(self, x, build: bool = True) -> torch.Tensor:
        """``x`` checked to be ``[N, F, T, ...]``; builds the layer from it when ``build``."""
        if not isinstance(x, torch.Tensor) or x.dim() < 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"{type(self).__name__}: input must be [N, F, T] (or [N, C, T, *spatial]), "
                             f"got {shape}")
        if build:
            self._build_like(x)
        return x


class LastTimeStep(InnerWrapper):
    """Each example's output at its last real step: ``[N, H, T] -> [N, H]``.

    The wrapped layer runs on the whole sequence with the mask; the output is
    then taken per example at the last step whose mask is nonzero, so left
    padding, right padding and gaps all work. Without a mask it is step
    ``T - 1``. An example whose mask row is all zero is a ``ValueError``
    naming its index (DL4J's ``LastTimeStep`` semantics).

    The inner layer may be any seqkit sequence layer taking ``(x, mask)``:
    a recurrent layer, :class:`Bidirectional`, :class:`TimeDistributed`,
    :class:`MaskZero`, or a :class:`Conv1D` (as DL4J's ``LastTimeStep``, which
    wraps "any RNN or Conv1D"; streaming, :meth:`run`, needs a recurrent
    inner layer). Special cases:

    - an inner recurrent layer with ``return_sequences=False`` already returns
      its last real step and is used as is (the mask is still checked here);
    - an inner layer that reverses time (``go_backwards=True``) returns its
      sequence in processing order, so the step taken is its last *processed*
      real step, i.e. the first real step of the original order (what the
      same layer gives with ``return_sequences=False``);
    - an inner layer that derives its own mask (:class:`MaskZero`) is reduced
      at the last step of *that* mask (its :meth:`compute_mask`), as the same
      layer with ``return_sequences=False`` would be;
    - with ``return_state`` on the inner layer the result is ``(y, *states)``.

    ``reduces_time = True`` marks the layer for networks: it cannot run under
    truncated BPTT (each segment would be reduced on its own). For streaming
    inference :meth:`run` takes the last real step of each chunk.

    Args:
        layer: the sequence layer (its ``n_in`` may be left out).

    Shape:
        x ``[N, F, T]`` (or ``[N, C, T, *spatial]``); mask ``[N, T]``;
        output ``[N, H]`` (or ``[N, H, *spatial]``).
    """

    # -- self-description (see Layer): the inner layer's, but time is gone --------------
    reduces_time = True
    reverses_time = False

    def __init__(self, layer: nn.Module):
        super().__init__(layer)
        self._maybe_build()

    @property
    def takes_step_mask(self) -> bool:
        """The inner layer's: a recurrent layer's ``StepMask`` passes straight through."""
        return bool(layer_trait(self.inner, "takes_step_mask"))

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """The inner layer's output shape without T: ``(F, T) -> (H,)``, ``(H, *spatial)``."""
        out = inner_output_shape(self, self.inner, tuple(input_shape))
        return (out[0],) + tuple(out[2:]) if len(out) >= 2 else out

    def _last_index(self, mask, x: torch.Tensor, flip: bool) -> torch.Tensor | None:
        """Each example's last real step of the mask the inner layer follows (None without
        one), in its output's order (``flip``), int64 ``[N]`` on ``x``'s device."""
        mask = layer_trait(self.inner, "compute_mask")(x, mask)
        if mask is None:
            return None
        sm = mask if isinstance(mask, StepMask) else StepMask(mask, x, "LastTimeStep")
        return (sm.flip() if flip else sm).last_index("LastTimeStep")

    @staticmethod
    def _take(y: torch.Tensor, idx: torch.Tensor | None) -> torch.Tensor:
        """``y [N, H, T, ...]`` at ``idx [N]`` (T - 1 when None) -> ``[N, H, ...]``."""
        if idx is None:
            return y[:, :, -1]
        rows = torch.arange(y.shape[0], device=y.device)
        return y[rows, :, idx]                                           # [N, H, ...]

    def forward(self, x: torch.Tensor, mask=None, initial_state=None):
        """The inner layer's output at each example's last real step (see the class docstring)."""
        x = self._check_x(x)
        if mask is not None and not isinstance(mask, StepMask):
            mask = mask if isinstance(mask, torch.Tensor) else torch.as_tensor(mask)
            check_mask(mask, x, "LastTimeStep")                          # shape check only
        reverses = bool(layer_trait(self.inner, "reverses_time"))
        idx = self._last_index(mask, x, flip=reverses)                   # raises on an empty row
        y, states = split_output(call_inner(self.inner, x, mask, initial_state))
        if y.dim() == x.dim():                                           # a sequence [N, H, T, ...]
            y = self._take(y, idx)
        return (y, *states) if states else y

    def run(self, x: torch.Tensor, mask=None, state=None, **kwargs):
        """Streaming: the inner layer's :meth:`~seqkit.layers.Recurrent.run`, reduced.

        Returns:
            ``(y [N, H], final_state)``: each example's output at its last real
            step of this chunk, and the inner layer's final state.

        Raises:
            ValueError: an example with no real step in the chunk, or an inner
                layer without the recurrent state API.
        """
        x = self._check_x(x)
        if not hasattr(self.inner, "run"):
            raise ValueError(f"LastTimeStep: the wrapped {type(self.inner).__name__} has no run() "
                             f"(not a recurrent layer), so it cannot be run step by step")
        idx = self._last_index(mask, x, flip=False)
        y, final = self.inner.run(x, mask, state, **kwargs)
        return self._take(y, idx), final

    def extra_repr(self) -> str:
        return f"n_in={self.n_in}, n_out={self.n_out}"
