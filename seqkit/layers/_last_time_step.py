"""LastTimeStep: a sequence layer reduced to each example's last real step.

Also home of :class:`InnerWrapper`, the small base that LastTimeStep and
MaskZero share: it holds the wrapped layer as ``inner`` and forwards the
size, building, state and Keras-weight API to it.
"""

from __future__ import annotations

import torch
from torch import nn

from .._errors import ConfigError
from ._base import Layer
from ._mask import check_mask
from ._recurrent import StepMask

__all__ = ["InnerWrapper", "LastTimeStep"]


def _call_inner(layer: nn.Module, x: torch.Tensor, mask, initial_state):
    """``layer(x, mask[, initial_state])``; ``initial_state`` only when given."""
    if initial_state is None:
        return layer(x, mask)
    return layer(x, mask, initial_state)


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
    - an inner layer with ``go_backwards=True`` returns its sequence in
      processing order, so the step taken is its last *processed* real step,
      i.e. the first real step of the original order (what the same layer
      gives with ``return_sequences=False``);
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

    reduces_time = True

    def __init__(self, layer: nn.Module):
        super().__init__(layer)
        self._maybe_build()

    def _last_index(self, mask, x: torch.Tensor, flip: bool) -> torch.Tensor | None:
        """Each example's last real step (None without mask), int64 ``[N]`` on ``x``'s device."""
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
        idx = self._last_index(mask, x, flip=self.go_backwards)          # raises on an empty row
        y, states = split_output(_call_inner(self.inner, x, mask, initial_state))
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
