"""Per-layer settings that override the network's: ``seqkit.options(layer, l2=1e-4)``.

A network takes its training settings (``l1``, ``l2``, ``dropout``,
``weight_init``, ``weight_init_recurrent``, ``learning_rate``) once, for every
layer. :func:`options` attaches overrides to one layer without touching its
class: they are kept in a plain dict on the layer object, and the network
resolves each setting per layer (the layer's value when set, else the
network's). A model file stores them next to the layer's config.

Example::

    net = seqkit.Sequential([
        seqkit.options(LSTM(64), l2=1e-4, dropout=0.2),   # this layer only
        RnnOutput(6),
    ], l2=1e-5)                                          # every other layer
"""

from __future__ import annotations

import math

from torch import nn

from .._errors import ConfigError

__all__ = ["OPTION_NAMES", "WEIGHT_INITS", "layer_options", "options", "resolve_option"]

_ATTR = "_seqkit_options"

#: The accepted weight initialisations (see ``seqkit.Sequential``).
WEIGHT_INITS: tuple[str, ...] = ("xavier", "xavier_normal", "he", "kaiming", "orthogonal", "zeros",
                                 "keras")

#: The settings a layer may override.
OPTION_NAMES: tuple[str, ...] = ("l1", "l2", "dropout", "weight_init", "weight_init_recurrent",
                                 "learning_rate")


def check_option(name: str, value, owner: str):
    """``value`` checked for setting ``name``; a :class:`ConfigError` naming ``owner`` otherwise."""
    if name in ("l1", "l2", "learning_rate"):
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or value < 0 or (name == "learning_rate" and value == 0):
            what = "a positive number" if name == "learning_rate" else "a number >= 0"
            raise ConfigError(f"{owner}: {name} must be {what}, got {value!r}")
        return float(value)
    if name == "dropout":
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
            raise ConfigError(f"{owner}: dropout must be a drop rate in [0, 1), got {value!r}")
        return float(value)
    if name in ("weight_init", "weight_init_recurrent"):
        key = value.strip().lower() if isinstance(value, str) else value
        if key not in WEIGHT_INITS:
            raise ConfigError(f"{owner}: unknown {name} {value!r}; allowed: {', '.join(WEIGHT_INITS)}")
        return key
    raise ConfigError(f"{owner}: unknown option {name!r}; allowed: {', '.join(OPTION_NAMES)}")


def options(layer: nn.Module, **overrides) -> nn.Module:
    """Attach settings to ``layer`` that override the network's; returns ``layer``.

    Args:
        layer: any seqkit layer (or torch module placed in a ``Sequential``).
        l1, l2: penalty coefficients for this layer's weights (not biases).
        dropout: drop rate applied to this layer's input in training.
        weight_init, weight_init_recurrent: initialisation names
            (:data:`WEIGHT_INITS`) for this layer's kernels and recurrent kernels.
        learning_rate: this layer's learning rate (its own optimizer param group).

    Calling it again updates the settings given and keeps the others; a value
    of None removes an override.

    Raises:
        ConfigError: an unknown setting or a bad value.
    """
    if not isinstance(layer, nn.Module):
        raise ConfigError(f"options: expected a layer (torch.nn.Module), got {type(layer).__name__}")
    current = dict(getattr(layer, _ATTR, {}))
    owner = f"options({type(layer).__name__})"
    for name, value in overrides.items():
        if value is None:
            current.pop(name, None)
            continue
        current[name] = check_option(name, value, owner)
    object.__setattr__(layer, _ATTR, current)
    return layer


def layer_options(layer: nn.Module) -> dict:
    """The overrides attached to ``layer`` by :func:`options` (a copy; empty when none)."""
    return dict(getattr(layer, _ATTR, {}))


def resolve_option(layer: nn.Module, name: str, network_value):
    """The layer's override of ``name`` when it has one, else ``network_value``."""
    return getattr(layer, _ATTR, {}).get(name, network_value)
