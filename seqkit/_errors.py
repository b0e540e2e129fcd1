"""Errors raised by the model side."""

from __future__ import annotations

__all__ = ["ConfigError"]


class ConfigError(ValueError):
    """A layer or network that cannot be built as configured.

    Raised at build time. Messages name the layer index and class where a
    network is involved, e.g. ``layer 2 (LSTM): n_in=64 but layer 1 outputs 128``.
    """
