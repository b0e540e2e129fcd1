"""Residual: a block of sequence-preserving layers whose input is added to its output."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .._errors import ConfigError
from ._base import Layer, layer_trait
from ._checks import check_feature_count
from ._dense import Dense
from ._last_time_step import split_output
from ._output import LossHead
from ._preprocessors import Preprocessor
from ._step_mask import StepMask
from ._zeroing import check_any_mask, zero_masked

__all__ = ["PROJECTIONS", "Residual"]

#: When Residual projects its input (a 1x1 convolution) before adding it.
PROJECTIONS: tuple[str, ...] = ("always", "auto", "never")

_ALL_LAYOUTS = frozenset({"vectors", "sequences"})


def _projection(value, owner: str) -> str:
    key = value.lower() if isinstance(value, str) else value
    if key not in PROJECTIONS:
        raise ConfigError(f"{owner}: projection must be one of {', '.join(PROJECTIONS)}, got {value!r}")
    return key


def _strip(message: str, layer) -> str:
    prefix = type(layer).__name__ + ": "
    return message[len(prefix):] if message.startswith(prefix) else message


def _inner_layers(layers, owner: str) -> list[Layer]:
    """The block's layers checked: seqkit layers that keep ``[N, H, T]`` in time order."""
    if isinstance(layers, nn.Module):
        layers = [layers]
    if not isinstance(layers, (list, tuple)) or not layers:
        raise ConfigError(f"{owner}: layers must be a non-empty list of seqkit layers, got {layers!r}")
    for j, layer in enumerate(layers):
        where = f"{owner}: layer {j}"
        if not isinstance(layer, Layer):
            raise ConfigError(f"{where} is a {type(layer).__name__}, not a seqkit layer (wrap a plain "
                              f"per-step torch module in seqkit.layers.TimeDistributed)")
        name = f"{where} ({type(layer).__name__})"
        if isinstance(layer, (LossHead, Preprocessor)):
            raise ConfigError(f"{name}: output layers and preprocessors cannot be inside a Residual "
                              f"block; put them after it")
        if layer_trait(layer, "reduces_time"):
            raise ConfigError(f"{name} removes the time axis (return_sequences=False, LastTimeStep, "
                              f"pooling), but a Residual block adds its input step by step: every "
                              f"inner layer must keep [N, H, T]")
        if layer_trait(layer, "reverses_time"):
            raise ConfigError(f"{name} outputs its sequence reversed (go_backwards), so its steps "
                              f"would not line up with the input added to them; use Bidirectional, "
                              f"or go_backwards outside the block")
    return list(layers)


class Residual(Layer):
    """``y = layers(x) + shortcut(x)``: a residual block (He et al. 2016; the ResNet of Wang et al. 2017).

    The inner layers run in order, each with the mask (recurrent layers get
    the network's ``StepMask``; a ``MaskZero`` inside steers the layers after
    it in the block); then the block's input is added. ``shortcut`` is the
    identity, or a 1x1 projection (a ``Dense`` applied at every step, which
    is a ``Conv1D`` with kernel 1) when the sizes differ:

    - ``projection="auto"`` (default): projection only when the inner layers
      output another number of features than the block's input;
    - ``"always"``: always a projection;
    - ``"never"``: never; differing sizes are a ``ConfigError``.

    Masking: the output is exact zeros at the masked steps of the block's
    input mask, and padded steps never reach a real one (every inner layer
    keeps the masking semantic), so padding changes nothing.

    The inner layers must keep the time axis in time order: a layer with
    ``return_sequences=False``, ``LastTimeStep``, ``GlobalPooling``, a
    ``go_backwards`` layer, an output layer or a preprocessor inside is a
    ``ConfigError``. ``Bidirectional``, ``Conv1D``, ``BatchNorm``,
    ``LayerNorm``, ``Activation``, ``Dense``, recurrent layers with sequence
    output and nested ``Residual`` blocks are fine.

    In a network the block describes itself from its layers: it needs a time
    axis when one of them does; truncated BPTT and ``rnn_time_step`` carry
    the states of its recurrent layers through :meth:`run` (state keys
    ``"<index>.<key>"``, e.g. ``"1.h"``), and are refused when an inner layer
    cannot run one segment at a time (``Conv1D`` with ``kernel_size > 1``,
    ``Bidirectional``). A saved network stores the block with its layers.

    Args:
        layers: the inner layers, in order (a list; a single layer is taken
            as a list of one). Their ``n_in`` may be left out.
        projection: ``"auto"``, ``"always"`` or ``"never"`` (see above).
        n_in: features F of the block's input; defaults to the first inner
            layer's ``n_in``, else inferred.

    Shape:
        - x: ``[N, F, T]`` (or ``[N, F]`` when no inner layer needs time)
        - mask: optional ``[N, T]`` or a ``StepMask`` (a row mask ``[N]`` for ``[N, F]``)
        - output: ``[N, H, T]`` (``[N, H]``), H the last inner layer's size,
          exact zeros at masked steps
    """

    def __init__(self, layers, projection: str = "auto", n_in: int | None = None):
        owner = type(self).__name__
        inner = _inner_layers(layers, owner)
        super().__init__(n_in if n_in is not None else getattr(inner[0], "n_in", None))
        self.layers = nn.ModuleList(inner)
        self.projection = _projection(projection, owner)
        self.register_module("shortcut", None)
        layouts = _ALL_LAYOUTS - ({"vectors"} if self.needs_time else set())
        for j, layer in enumerate(self.layers):
            takes = layer_trait(layer, "input_layouts")
            if takes is not None and not layouts & frozenset(takes):
                raise ConfigError(f"{owner}: layer {j} ({type(layer).__name__}) takes "
                                  f"{', '.join(sorted(takes))}, but a Residual block works on "
                                  f"{' or '.join(sorted(layouts))}")
        self._maybe_build()

    @property
    def n_out(self) -> int | None:
        """The last inner layer's output size."""
        return self.layers[-1].n_out

    # -- self-description (see Layer) ---------------------------------------------------------
    takes_step_mask = True

    @property
    def needs_time(self) -> bool:
        """True when an inner layer needs a time axis."""
        return any(layer_trait(layer, "needs_time") for layer in self.layers)

    @property
    def input_layouts(self) -> frozenset[str]:
        """Sequences, and vectors too when no inner layer needs time (and every one takes them)."""
        layouts = _ALL_LAYOUTS - ({"vectors"} if self.needs_time else set())
        for layer in self.layers:
            takes = layer_trait(layer, "input_layouts")
            if takes is not None:
                layouts = layouts & frozenset(takes)
        return layouts

    @property
    def mixes_steps(self) -> bool:
        return any(layer_trait(layer, "mixes_steps") for layer in self.layers)

    @property
    def stepwise_obstacle(self) -> str | None:
        """The first inner layer's obstacle, if any."""
        for layer in self.layers:
            obstacle = layer_trait(layer, "stepwise_obstacle")
            if obstacle is not None:
                return obstacle
        return None

    @property
    def carries_state(self) -> bool:
        """True when an inner layer carries state and every one can run a segment at a time."""
        return self.stepwise_obstacle is None and any(layer_trait(layer, "carries_state")
                                                      for layer in self.layers)

    @property
    def state_keys(self) -> tuple[str, ...]:
        """``"<index>.<key>"`` for every state of every inner layer that carries one."""
        return tuple(f"{j}.{key}" for j, layer in enumerate(self.layers)
                     if layer_trait(layer, "carries_state") for key in layer.state_keys)

    # -- building and shapes ------------------------------------------------------------------
    def _build(self, n_in: int) -> None:
        n = n_in
        for j, layer in enumerate(self.layers):
            try:
                layer.build(n)
            except ConfigError as err:
                raise ConfigError(f"Residual: layer {j} ({type(layer).__name__}): "
                                  f"{_strip(str(err), layer)}") from None
            n = layer.n_out
        if self.projection == "always" or (self.projection == "auto" and n != n_in):
            self.shortcut = Dense(n, n_in)                       # the 1x1 projection, per step
        elif n != n_in:
            raise ConfigError(self._sizes_differ(n_in, n))

    def _sizes_differ(self, n_in, n) -> str:
        return (f"Residual: the block's layers output {n} features but its input has {n_in}; with "
                f"projection='never' they must match (projection='auto' adds a 1x1 projection)")

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """The last inner layer's output shape: ``(F, T) -> (H, T)`` (``(F,) -> (H,)``). Does not build.

        Raises:
            ConfigError: other input, an inner layer that cannot take it or
                changes the layout, or sizes that differ with ``projection="never"``.
        """
        shape = tuple(input_shape)
        if len(shape) + 1 not in (2, 3):
            raise ConfigError(f"Residual: expected vectors (N, F) or sequences (N, F, T), got "
                              f"(N, {', '.join(map(str, shape))})")
        check_feature_count(self, shape[0])
        out = shape
        for j, layer in enumerate(self.layers):
            try:
                new = tuple(layer.output_shape(out))
            except ConfigError as err:
                raise ConfigError(f"Residual: layer {j} ({type(layer).__name__}): "
                                  f"{_strip(str(err), layer)}") from None
            if len(new) != len(out) or new[1:] != out[1:]:
                raise ConfigError(f"Residual: layer {j} ({type(layer).__name__}) turns {out} into "
                                  f"{new}; every inner layer must keep the layout and T")
            out = new
        if self.projection == "never" and out[0] != shape[0]:
            raise ConfigError(self._sizes_differ(shape[0], out[0]))
        return out

    # -- forward ------------------------------------------------------------------------------
    def _check_input(self, x, ranks=(2, 3)) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() not in ranks:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            want = "[N, F, T]" if ranks == (3,) else "[N, F, T] or [N, F]"
            raise ValueError(f"Residual: expected input {want}, got {shape}")
        if x.dim() == 2 and self.needs_time:
            raise ValueError(f"Residual: its layers need sequences [N, F, T], got {tuple(x.shape)}")
        self._build_like(x)
        return x

    @staticmethod
    def _mask(mask, x: torch.Tensor):
        """A ``StepMask`` for ``[N, F, T]`` input, the checked row mask ``[N]`` for ``[N, F]``."""
        if mask is None or isinstance(mask, StepMask):
            return mask
        if x.dim() == 3:
            return StepMask(mask, x, "Residual")
        return check_any_mask(mask, x, "Residual")

    @staticmethod
    def _values(mask) -> torch.Tensor | None:
        return mask.values if isinstance(mask, StepMask) else mask

    def _mask_for(self, layer, mask):
        """The ``StepMask`` for layers that take one, else its values."""
        return mask if layer_trait(layer, "takes_step_mask") else self._values(mask)

    def _next_mask(self, layer, h: torch.Tensor, mask):
        """The mask the layer after ``layer`` gets: the one ``layer``'s steps follow (MaskZero's)."""
        values = self._values(mask)
        own = layer_trait(layer, "compute_mask")(h, values)
        if own is values:
            return mask
        return None if own is None else (StepMask.wrap(own) if h.dim() == 3 else own)

    def _add(self, x: torch.Tensor, h: torch.Tensor, values: torch.Tensor | None) -> torch.Tensor:
        shortcut = x if self.shortcut is None else self.shortcut(x, values)
        return zero_masked(h + shortcut, values)

    def forward(self, x: torch.Tensor, mask=None) -> torch.Tensor:
        """The inner layers on ``x``, plus ``x`` (projected when needed); zero at masked steps.

        Shape:
            x ``[N, F, T]`` (or ``[N, F]``); mask ``[N, T]``, a ``StepMask`` or None;
            returns ``[N, H, T]`` (``[N, H]``).
        """
        x = self._check_input(x)
        mask = self._mask(mask, x)
        values = self._values(mask)
        x = zero_masked(x, values)                               # padding holds nothing, not even NaN
        h, m = x, mask
        for layer in self.layers:
            y, _ = split_output(layer(h, self._mask_for(layer, m)))
            m = self._next_mask(layer, h, m)
            h = y
        return self._add(x, h, values)

    def run(self, x: torch.Tensor, mask=None, state=None, **kwargs):
        """TBPTT and streaming: :meth:`forward` from ``state``, returning the final states.

        Args:
            x: ``[N, F, T]``, the segment or chunk.
            mask: ``[N, T]``, a ``StepMask`` or None.
            state: ``{"<index>.<key>": tensor}`` with exactly :attr:`state_keys`,
                or None (every inner layer starts from zeros).
            **kwargs: passed to each inner layer's ``run``.

        Returns:
            ``(y [N, H, T], final_state)`` with the same keys.

        Raises:
            ValueError: a state with other keys, or the block cannot run one
                segment at a time (:attr:`carries_state` is False).
        """
        if not self.carries_state:
            raise ValueError(f"Residual: run() needs an inner layer that carries state and none that "
                             f"cannot run one segment at a time (obstacle: {self.stepwise_obstacle})")
        x = self._check_input(x, ranks=(3,))
        keys = self.state_keys
        if state is not None and (not isinstance(state, dict) or set(state) != set(keys)):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"Residual: state must be a dict with keys {list(keys)}, got {got}")
        mask = self._mask(mask, x)
        values = self._values(mask)
        x = zero_masked(x, values)
        h, m, final = x, mask, {}
        for j, layer in enumerate(self.layers):
            if layer_trait(layer, "carries_state"):
                own = None if state is None else {k.split(".", 1)[1]: v for k, v in state.items()
                                                   if k.split(".", 1)[0] == str(j)}
                y, last = layer.run(h, self._mask_for(layer, m), own, **kwargs)
                final.update({f"{j}.{k}": v for k, v in (last or {}).items()})
            else:
                y, _ = split_output(layer(h, self._mask_for(layer, m)))
            m = self._next_mask(layer, h, m)
            h = y
        return self._add(x, h, values), final

    def extra_repr(self) -> str:
        return f"projection={self.projection!r}, n_in={self.n_in}, n_out={self.n_out}"
