"""Checks of the network's settings, shared by ``Sequential`` and the places that take them.

Each check raises :class:`seqkit.ConfigError` naming the setting, what it
got and what is allowed.
"""

from __future__ import annotations

import math

import torch

from .._errors import ConfigError

__all__ = ["BACKPROP", "LOSS_REDUCTIONS", "PRECISIONS", "check_choice", "check_dtype", "check_grad_clip",
           "positive_int"]

#: Backpropagation modes.
BACKPROP: tuple[str, ...] = ("standard", "tbptt")
#: Precision settings.
PRECISIONS: tuple = (None, "32", "bf16-mixed")
#: The network's loss reductions (a subset of ``seqkit.layers.REDUCTIONS``).
LOSS_REDUCTIONS: tuple[str, ...] = ("per_sequence", "per_step")


def positive_int(value, what: str, *, allow_none: bool = False, error=ConfigError):
    """``value`` when it is an int >= 1 (not a bool), or None when ``allow_none``.

    Raises:
        ``error`` (ConfigError by default): naming ``what`` and the value.
    """
    if value is None and allow_none:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise error(f"{what} must be a positive int{' or None' if allow_none else ''}, got {value!r}")
    return value


def check_choice(value, allowed, what: str):
    """``value`` when it is one of ``allowed``; else a ConfigError listing them."""
    if value not in allowed:
        names = ", ".join(str(a) for a in allowed)
        raise ConfigError(f"unknown {what} {value!r}; allowed: {names}")
    return value


def check_dtype(dtype) -> torch.dtype:
    """float32 or float64, the parameter dtypes a network supports."""
    if dtype not in (torch.float32, torch.float64):
        raise ConfigError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
    return dtype


def check_grad_clip(value) -> tuple[str, float] | None:
    """None, a positive number (clip the global norm), ``("norm", v)`` or ``("value", v)``."""
    if value is None:
        return None
    if isinstance(value, (tuple, list)) and len(value) == 2 and value[0] in ("norm", "value"):
        kind, limit = value
    else:
        kind, limit = "norm", value
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not math.isfinite(limit) \
            or limit <= 0:
        raise ConfigError(f"grad_clip must be a positive number (clip the global norm), "
                          f"('norm', v) or ('value', v), got {value!r}")
    return (kind, float(limit))
