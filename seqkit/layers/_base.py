"""The base every seqkit layer derives from: a torch Module with lazy ``n_in``.

A layer may be constructed without its input size. Its parameters are then
created by :meth:`Layer.build`, which a network calls with the inferred size,
or, for a layer used on its own in plain PyTorch, on the first ``forward``
from the input's feature dimension (dim 1). Create an optimizer only after
the parameters exist: pass ``n_in`` or call ``build`` first.

Every layer also remembers the arguments it was constructed with (see
:func:`record_init_args`); :mod:`seqkit.layers._config` turns them into a
JSON config from which the layer can be rebuilt.
"""

from __future__ import annotations

import functools
import inspect

import torch
from torch import nn

from .._errors import ConfigError

__all__ = ["Layer", "record_init_args"]

#: Attribute (in the instance ``__dict__``) holding the recorded constructor arguments.
INIT_ARGS_ATTR = "_init_args"


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

    Shape:
        Input and output layouts are the subclass's; dim 1 is always the
        feature (channel) dimension, so ``x.shape[1]`` is ``n_in``.
    """

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

    def extra_repr(self) -> str:
        try:
            n_out = self.n_out
        except (NotImplementedError, AttributeError):
            n_out = "?"
        return f"n_in={self.n_in}, n_out={n_out}"


Layer.__init__ = record_init_args(Layer.__init__)
