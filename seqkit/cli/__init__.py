"""seqkit.cli: the ``seqkit`` console command.

Subcommands: ``inspect``, ``convert``, ``train``, ``evaluate``, ``predict``,
``demo``; ``seqkit COMMAND --help`` describes each and docs/cli.md has the
TOML schema of ``train``. Run it as ``seqkit ...`` (the console script) or
``python -m seqkit.cli ...``; in Python, ``main(["inspect", "data.csv"])``
returns the exit code.

Importing ``seqkit.cli`` imports neither torch nor pyarrow: :func:`main` loads
the command's modules itself, so a Ctrl-C at any moment, start-up included,
ends with ``seqkit: interrupted`` and exit code 130 rather than a traceback.
"""

import sys

__all__ = ["main"]


def main(argv=None) -> int:
    """Run ``seqkit`` with ``argv`` (default: the process's arguments); returns the exit code."""
    try:
        # deferred: readers (pyarrow) loads here, where a Ctrl-C during start-up is caught
        from ._main import main as run_command
    except KeyboardInterrupt:
        print("seqkit: interrupted", file=sys.stderr)
        return 130
    return run_command(argv)
