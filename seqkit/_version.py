"""The installed seqkit version, for model files, reports and ``seqkit --version``."""

from __future__ import annotations

__all__ = ["seqkit_version"]


def seqkit_version() -> str:
    """The installed distribution's version, or ``"unknown"`` in a source tree that is not installed."""
    from importlib.metadata import PackageNotFoundError, version   # deferred: only writers need it

    try:
        return version("seqkit")
    except PackageNotFoundError:
        return "unknown"
