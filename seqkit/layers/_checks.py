"""Argument checks shared by the feed-forward, convolutional and output layers."""

from __future__ import annotations

import numpy as np

from .._errors import ConfigError
from ._activations import get_activation
from ._losses import get_loss

__all__ = ["check_feature_count", "check_positive_int", "describe_activation", "layer_activation",
           "layer_loss"]


def check_positive_int(value, what: str, owner: str) -> int:
    """``value`` as an int, or a :class:`ConfigError` naming ``owner`` and ``what``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value <= 0:
        raise ConfigError(f"{owner}: {what} must be a positive int, got {value!r}")
    return int(value)


def check_feature_count(layer, n_features) -> None:
    """ConfigError when the input's feature count is unknown or differs from a known ``n_in``."""
    if n_features is None:
        raise ConfigError(f"{type(layer).__name__}: the input's feature (channel) count must be known")
    if layer.n_in is not None and n_features != layer.n_in:
        raise ConfigError(f"{type(layer).__name__}: n_in={layer.n_in} but the input has "
                          f"{n_features} features")


def describe_activation(fn) -> str:
    """The activation's registry name in quotes, or the callable's repr."""
    name = getattr(fn, "name", None)
    return repr(name) if isinstance(name, str) else repr(fn)


def layer_activation(spec, owner: str):
    """``get_activation(spec)``, re-raised as a :class:`ConfigError` naming ``owner``."""
    try:
        return get_activation(spec)
    except ValueError as err:
        raise ConfigError(f"{owner}: {err}") from None


def layer_loss(spec, owner: str):
    """``get_loss(spec)``, re-raised as a :class:`ConfigError` naming ``owner``."""
    try:
        return get_loss(spec)
    except ValueError as err:
        raise ConfigError(f"{owner}: {err}") from None
