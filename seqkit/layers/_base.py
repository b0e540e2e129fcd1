"""The base every seqkit layer derives from: a torch Module with lazy ``n_in``.

A layer may be constructed without its input size. Its parameters are then
created by :meth:`Layer.build`, which a network calls with the inferred size,
or, for a layer used on its own in plain PyTorch, on the first ``forward``
from the input's feature dimension (dim 1). Create an optimizer only after
the parameters exist: pass ``n_in`` or call ``build`` first.

Every layer also remembers the arguments it was constructed with (see
:func:`record_init_args`); :mod:`seqkit.layers._config` turns them into a
JSON config from which the layer can be rebuilt.

Every layer also describes itself (see "Self-description" on :class:`Layer`):
what layouts it takes, whether it needs, reduces or reverses the time axis,
the mask its steps follow, its output shape, the layer it wraps. A network
asks these questions instead of testing class names; :func:`layer_trait`
asks them of any module, giving a plain torch module the defaults.
"""

from __future__ import annotations

import functools
import inspect
from typing import Sequence

import torch
from torch import nn

from .._errors import ConfigError

__all__ = ["LAYOUTS", "Layer", "layer_trait", "record_init_args"]

#: Attribute (in the instance ``__dict__``) holding the recorded constructor arguments.
INIT_ARGS_ATTR = "_init_args"

#: The input layouts a layer may name in :attr:`Layer.input_layouts`, by rank without the
#: batch dim: vectors ``(F,)``, sequences ``(F, T)``, images ``(C, H, W)`` (also ConvLSTM1D's
#: ``(C, T, W)``), video ``(C, T, H, W)``.
LAYOUTS: tuple[str, ...] = ("vectors", "sequences", "images", "video")


def _snapshot(value):
    """Copy lists, tuples and dicts (recursively) so later mutation by the caller is not seen."""
    if isinstance(value, list):
        return [_snapshot(v) for v in value]
    if isinstance(value, tuple) and type(value) is tuple:
        return tuple(_snapshot(v) for v in value)
    if isinstance(value, dict) and type(value) is dict:
        return {k: _snapshot(v) for k, v in value.items()}
    return value


def record_init_args(init):
    """Wrap an ``__init__`` so that the outermost call on an instance records its arguments.

    The arguments, bound to ``init``'s signature with defaults applied, are
    stored as a plain dict in ``self._init_args`` (not a parameter, buffer or
    submodule, so never in ``state_dict``) before ``init`` runs. Calls made
    from inside it (``super().__init__(...)``) see the record and leave it
    alone, so the record is that of the most derived constructor. Wrapping an
    already wrapped function returns it unchanged.
    """
    if getattr(init, "_seqkit_records_args", False):
        return init
    signature = inspect.signature(init)
    self_name = next(iter(signature.parameters))

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        if INIT_ARGS_ATTR not in self.__dict__:
            try:
                bound = signature.bind(self, *args, **kwargs)
            except TypeError:
                pass                                  # the call below raises the real error
            else:
                bound.apply_defaults()
                self.__dict__[INIT_ARGS_ATTR] = {name: _snapshot(value)
                                                 for name, value in bound.arguments.items()
                                                 if name != self_name}
        init(self, *args, **kwargs)

    __init__._seqkit_records_args = True
    return __init__


class Layer(nn.Module):
    """A torch Module whose input size may be left out until it is known.

    Subclasses implement :meth:`_build` (create parameters for ``n_in``) and
    :attr:`n_out`, and end their ``__init__`` with ``self._maybe_build()``.

    Self-description: what a network asks a layer (it never tests class
    names). Each answer has a default here, right for a layer that maps one
    input to one output step by step; a layer that differs overrides it, and
    a wrapper answers from the layer it wraps.

    - :attr:`wrapped`: the layer a wrapper holds (None for other layers).
    - :attr:`input_layouts`: the layouts (names from :data:`LAYOUTS`) it
      takes; None takes anything as it is. A network inserts a preprocessor
      where it can (video into sequences, images into vectors), else refuses.
    - :attr:`needs_time`: it only takes input with a time axis.
    - :attr:`reduces_time`: its output has no time axis although its input has.
    - :attr:`reverses_time`: its sequence output runs backwards in time
      (``go_backwards`` with sequence output), so the next layer needs the
      reversed mask.
    - :attr:`mixes_steps`: its output at a step depends on other steps
      without a carried state (a ``Conv1D`` with ``kernel_size > 1``).
    - :attr:`carries_state`: a network can carry its state from one segment
      or chunk to the next through ``run(x, mask, state)``.
    - :attr:`stepwise_obstacle`: why it cannot run one segment or chunk at a
      time from carried state, or None.
    - :attr:`takes_step_mask`: ``forward`` also takes a ``StepMask``.
    - :meth:`compute_mask`: the mask its steps follow, in input order.
    - :meth:`output_shape`: its output shape for an input shape.

    Shape:
        Input and output layouts are the subclass's; dim 1 is always the
        feature (channel) dimension, so ``x.shape[1]`` is ``n_in``.
    """

    #: The layouts this layer takes (names from :data:`LAYOUTS`); None: anything, as it is.
    input_layouts: frozenset[str] | None = None

    def __init_subclass__(cls, **kwargs):
        """Make every subclass record its constructor arguments (see :func:`record_init_args`)."""
        super().__init_subclass__(**kwargs)
        if "__init__" in cls.__dict__:
            cls.__init__ = record_init_args(cls.__dict__["__init__"])

    def __init__(self, n_in: int | None = None):
        super().__init__()
        if n_in is not None and (not isinstance(n_in, int) or isinstance(n_in, bool) or n_in <= 0):
            raise ConfigError(f"{type(self).__name__}: n_in must be a positive int, got {n_in!r}")
        self.n_in = n_in
        self._built = False

    # -- building -----------------------------------------------------------------
    @property
    def built(self) -> bool:
        """True once the parameters exist."""
        return self._built

    @property
    def n_out(self) -> int:
        """Size of the output's dim 1 (units, classes or channels)."""
        raise NotImplementedError

    def build(self, n_in: int, *, dtype: torch.dtype | None = None,
              device: torch.device | str | None = None) -> "Layer":
        """Create the parameters for input size ``n_in``; returns ``self``.

        Building twice with the same size does nothing; with another size it
        is a :class:`seqkit.ConfigError`.
        """
        if self._built:
            if n_in != self.n_in:
                raise ConfigError(
                    f"{type(self).__name__}: built for n_in={self.n_in} but got input with {n_in} features")
            return self
        if self.n_in is not None and n_in != self.n_in:
            raise ConfigError(
                f"{type(self).__name__}: n_in={self.n_in} but the input has {n_in} features")
        if not isinstance(n_in, int) or n_in <= 0:
            raise ConfigError(f"{type(self).__name__}: n_in must be a positive int, got {n_in!r}")
        self.n_in = n_in
        self._build(n_in)
        self._built = True
        if dtype is not None or device is not None:
            self.to(dtype=dtype, device=device)
        return self

    def _build(self, n_in: int) -> None:
        """Create parameters for ``n_in`` inputs. Parameter-free layers keep this no-op."""

    def _maybe_build(self) -> None:
        """Build now when ``n_in`` was given to the constructor."""
        if self.n_in is not None and not self._built:
            self.build(self.n_in)

    def _build_like(self, x: torch.Tensor) -> None:
        """Build from the first input (standalone use), matching its dtype and device."""
        if not self._built:
            dtype = x.dtype if x.is_floating_point() else None
            self.build(int(x.shape[1]), dtype=dtype, device=x.device)
        elif x.shape[1] != self.n_in:
            raise ValueError(
                f"{type(self).__name__}: expected {self.n_in} input features (dim 1), got "
                f"input of shape {tuple(x.shape)}")

    # -- self-description ---------------------------------------------------------
    @property
    def wrapped(self) -> nn.Module | None:
        """The layer this one wraps and answers from (None: it wraps nothing)."""
        return None

    @property
    def needs_time(self) -> bool:
        """True when the layer only takes input with a time axis."""
        return False

    @property
    def reduces_time(self) -> bool:
        """True when the output has no time axis although the input has one."""
        return False

    @property
    def reverses_time(self) -> bool:
        """True when the sequence output runs backwards in time (the next layer needs the
        reversed mask)."""
        return False

    @property
    def mixes_steps(self) -> bool:
        """True when the output at a step depends on other steps without a carried state."""
        return False

    @property
    def carries_state(self) -> bool:
        """True when a network can carry the state across calls through ``run(x, mask, state)``."""
        return False

    @property
    def stepwise_obstacle(self) -> str | None:
        """Why the layer cannot run one segment or chunk at a time from carried state: ``"bidirectional"``
        (the backward direction needs the whole sequence), ``"go_backwards"`` (its state runs
        the other way), ``"mixes_steps"`` (see :attr:`mixes_steps`); None when it can."""
        return "mixes_steps" if self.mixes_steps else None

    @property
    def takes_step_mask(self) -> bool:
        """True when ``forward`` takes a ``StepMask`` as its mask (not only ``[N, T]`` values)."""
        return False

    def compute_mask(self, x: torch.Tensor, mask=None):
        """The mask this layer's steps follow, in input order: ``mask`` itself unless the layer
        derives one from ``x`` (``MaskZero``); a wrapper gives its inner layer's.

        A network hands the next layer this mask (reversed after a layer that
        :attr:`reverses_time`; none after one that :attr:`reduces_time`).

        Shape:
            x ``[N, F, T, ...]``; mask ``[N, T]`` (or a ``StepMask``) or None;
            returns the same object when the layer derives nothing.
        """
        return mask

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """The output shape for ``input_shape`` (both without the batch dim; T may be None).

        Raises:
            ConfigError: always, here: a layer a network should place overrides it.
        """
        raise ConfigError(f"cannot infer the output shape of {type(self).__name__}; give it an "
                          f"output_shape(input_shape) method")

    def extra_repr(self) -> str:
        try:
            n_out = self.n_out
        except (NotImplementedError, AttributeError):
            n_out = "?"
        return f"n_in={self.n_in}, n_out={n_out}"


Layer.__init__ = record_init_args(Layer.__init__)


def _same_mask(x, mask=None):
    return mask


#: What a plain torch module (not a :class:`Layer`) answers when it lacks the attribute.
_PLAIN_ANSWERS = {"wrapped": None, "input_layouts": None, "needs_time": False, "reduces_time": False,
                  "reverses_time": False, "mixes_steps": False, "carries_state": False,
                  "stepwise_obstacle": None, "takes_step_mask": False, "compute_mask": _same_mask,
                  "output_shape": None}


def layer_trait(module, name: str):
    """``module``'s answer to the self-description question ``name`` (see :class:`Layer`).

    A :class:`Layer` answers itself; a plain torch module answers with its own
    attribute when it has one, else with a layer's default (``output_shape``:
    None when it has none).

    Raises:
        KeyError: ``name`` is not one of the questions.
    """
    if name not in _PLAIN_ANSWERS:
        raise KeyError(f"{name!r} is not a layer self-description question; one of "
                       f"{sorted(_PLAIN_ANSWERS)}")
    if isinstance(module, Layer):
        return getattr(module, name)
    return getattr(module, name, _PLAIN_ANSWERS[name])
