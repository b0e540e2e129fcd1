"""The ``seqkit`` command: argument parsing, dispatch, error printing and exit codes.

Exit codes: 0 success; 2 usage error (argparse); 1 a data or configuration
error, printed as one line ``seqkit: error: <message>`` without a traceback
(``--debug`` prints the traceback too); 130 interrupted (Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import sys
import traceback

from .._version import seqkit_version
from . import _convert, _demo, _evaluate, _export, _inspect, _predict, _train

__all__ = ["EXIT_DATA_ERROR", "EXIT_INTERRUPTED", "EXIT_OK", "EXIT_USAGE", "build_parser", "main"]

EXIT_OK, EXIT_DATA_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

#: Errors that are a user's mistake: bad data, config, model file, paths.
#: ValueError covers readers.SequenceDataError, seqkit.ConfigError,
#: seqkit.ModelFileError and the command's own CliError and ConfigFileError.
USER_ERRORS = (ValueError, OSError, ArithmeticError)

_COMMANDS = (_inspect, _convert, _train, _evaluate, _predict, _export, _demo)

_DESCRIPTION = """\
Sequence data and recurrent networks from the shell: inspect and convert
data sets, train from a TOML file, evaluate, predict, export, and run the demo.

Exit codes: 0 success, 1 data or configuration error, 2 usage error, 130 interrupted.
"""


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``seqkit`` and every subcommand."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                        help="on an error, print the full traceback")
    parser = argparse.ArgumentParser(
        prog="seqkit", description=_DESCRIPTION, parents=[common],
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"seqkit {seqkit_version()}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for module in _COMMANDS:
        module.add_parser(sub, common)
    return parser


def _message(err: BaseException) -> str:
    """The error as one line."""
    if isinstance(err, OSError) and err.strerror and err.filename is not None:
        text = f"{err.strerror}: {err.filename}"
        if err.filename2 is not None:                      # a rename or copy: name both ends
            text += f" -> {err.filename2}"
    else:
        text = str(err) or type(err).__name__
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines)


def main(argv=None) -> int:
    """Run ``seqkit`` with ``argv`` (default: the process's arguments); returns the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_:                            # --help, --version, usage errors
        return exit_.code if isinstance(exit_.code, int) else (0 if exit_.code is None else EXIT_USAGE)
    debug = getattr(args, "debug", False)
    try:
        return args.run(args) or EXIT_OK
    except BrokenPipeError:                                # e.g. `seqkit inspect ... | head`
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())              # no second error when Python flushes
        return EXIT_DATA_ERROR
    except KeyboardInterrupt:
        if debug:
            traceback.print_exc()
        print("seqkit: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except USER_ERRORS as err:
        if debug:
            traceback.print_exc()
        print(f"seqkit: error: {_message(err)}", file=sys.stderr)
        return EXIT_DATA_ERROR
