"""Small output helpers shared by the subcommands."""

from __future__ import annotations

__all__ = ["print_paths"]


def print_paths(result) -> None:
    """Where a training run wrote its files."""
    print(f"model:   {result.model}")
    print(f"metrics: {result.metrics}")
    if result.report is not None:
        print(f"report:  {result.report}")
    print(f"run folder: {result.out_dir} ({result.seconds:.1f} s)")
