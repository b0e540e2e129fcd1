"""seqkit.cli: the ``seqkit`` console command.

Subcommands: ``inspect``, ``convert``, ``train``, ``evaluate``, ``predict``,
``demo``; ``seqkit COMMAND --help`` describes each and docs/cli.md has the
TOML schema of ``train``. Run it as ``seqkit ...`` (the console script) or
``python -m seqkit.cli ...``; in Python, ``main(["inspect", "data.csv"])``
returns the exit code.
"""

from ._main import main

__all__ = ["main"]
