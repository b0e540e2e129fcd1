"""Command-line options that name a data source and its batching, shared by the subcommands.

Every option defaults to None ("not given"), so a subcommand can tell what the
user set and fill the rest from elsewhere (the data description a trained
model carries, a config's ``[data]`` table).
"""

from __future__ import annotations

import argparse
import contextlib
import os
from dataclasses import replace

from ._data import ALIGNS, FORMATS, BatchSpec, SourceSpec, parse_column

__all__ = ["DEFAULT_THREADS", "add_batch_arguments", "add_source_arguments", "add_threads_argument",
           "batch_from_args", "class_list", "positive", "source_from_args", "threads_to_use",
           "torch_threads"]

SOURCE_HELP = ("a file, a directory, a glob (quote it) or a numbered pattern such as "
               "'train/features/%%d.csv' with --start/--end")


def _non_negative(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {value}")
    return value


def positive(text: str) -> int:
    """argparse type: an integer >= 1."""
    value = _non_negative(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected an integer >= 1, got {value}")
    return value


def class_list(text: str) -> list:
    """argparse type of ``--classes``: comma-separated names, in class-index order."""
    names = [c.strip() for c in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated class names, got {text!r}")
    if len(set(names)) != len(names):
        raise argparse.ArgumentTypeError(f"the class names must be distinct, got {text!r}")
    return names


def _column_list(text: str) -> list:
    return [parse_column(part.strip()) for part in text.split(",") if part.strip()]


def add_source_arguments(parser: argparse.ArgumentParser, *, labels: bool = True,
                         source: str = "source", required: bool = True) -> None:
    """The positional source and its reading options."""
    if required:
        parser.add_argument(source, metavar=source.upper(), help=SOURCE_HELP)
    else:
        parser.add_argument(source, metavar=source.upper(), nargs="?", default=None, help=SOURCE_HELP)
    group = parser.add_argument_group("reading the source")
    group.add_argument("--start", type=_non_negative, help="first number of a numbered pattern")
    group.add_argument("--end", type=_non_negative, help="last number of a numbered pattern (inclusive)")
    if labels:
        group.add_argument("--labels", metavar="LABELS",
                           help="a second source holding the labels, numbered like SOURCE (DL4J's "
                                "separate label files)")
    group.add_argument("--format", choices=FORMATS, help="csv, parquet or ts (default: from the name)")
    group.add_argument("--skip-lines", type=_non_negative,
                       help="CSV lines to skip at the top of each file (default: 1 when the first "
                            "line is a header, else 0)")
    group.add_argument("--delimiter", help="CSV field separator (default ',')")
    group.add_argument("--id-column", type=parse_column,
                       help="long table: the sequence id column (name or 0-based position)")
    group.add_argument("--order-column", type=parse_column, help="long table: the step order column")
    group.add_argument("--key-column", type=parse_column, help="nested Parquet: the key column")
    group.add_argument("--columns", type=_column_list,
                       help="comma-separated columns to read, in order (default: all)")


def add_batch_arguments(parser: argparse.ArgumentParser, *, labels: bool = True) -> None:
    """Batching options (labels, classes, alignment)."""
    group = parser.add_argument_group("labels and batches")
    if labels:
        group.add_argument("--label-column", type=parse_column,
                           help="the label column when features and labels share SOURCE")
        group.add_argument("--num-classes", type=positive, help="number of classes (labels 0..C-1)")
        group.add_argument("--classes", type=class_list,
                           help="comma-separated text labels; their order gives the class index")
        group.add_argument("--sequence-labels", action="store_true", default=None,
                           help="one label per sequence (its last step's)")
        group.add_argument("--regression", action="store_true", default=None,
                           help="numeric labels instead of classes")
    group.add_argument("--align", choices=ALIGNS, help="how features and labels line up "
                                                       "(default: equal_length)")
    group.add_argument("--batch-size", type=positive, help="sequences per batch")


_READ_KEYS = ("format", "skip_lines", "delimiter", "id_column", "order_column", "key_column", "columns")


def source_from_args(args, *, source: str = "source", defaults: dict | None = None) -> SourceSpec:
    """The source spec of the parsed options; ``defaults`` fills the reading options not given."""
    spec = dict(defaults or {})
    for key in _READ_KEYS:
        value = getattr(args, key, None)
        if value is not None:
            spec[key] = value
    spec.update(path=getattr(args, source), labels=getattr(args, "labels", None),
                start=args.start, end=args.end)
    return SourceSpec(**spec)


def batch_from_args(args, base: BatchSpec | None = None) -> BatchSpec:
    """The batch spec of the parsed options over ``base`` (the options given win)."""
    spec = base or BatchSpec()
    given = {}
    for key in ("label_column", "num_classes", "classes", "sequence_labels", "regression", "align",
                "batch_size"):
        value = getattr(args, key, None)
        if value is not None:
            given[key] = value
    if "classes" in given:
        given["class_names"] = None
    return replace(spec, **given)


#: torch's intra-op CPU threads when neither --threads nor OMP_NUM_THREADS says otherwise. Measured
#: in docs/cli.md: one thread is as fast for these small recurrent networks, and torch's default
#: (one per core) ran up to 10 times slower when another process kept a core busy.
DEFAULT_THREADS = 1


def _threads(text: str):
    if text.strip().lower() == "auto":
        return "auto"
    return positive(text)


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """``--threads N|auto``: torch's CPU threads (default: :data:`DEFAULT_THREADS`)."""
    parser.add_argument("--threads", type=_threads, metavar="N|auto",
                        help=f"CPU threads for torch (default {DEFAULT_THREADS}, or OMP_NUM_THREADS when "
                             f"set; auto: torch's choice, one per core). Small recurrent networks run as "
                             f"fast on one, and many threads slow down a lot when other processes share "
                             f"the cores")


def threads_to_use(threads) -> int | None:
    """The thread count to set for ``--threads`` (None: leave torch's as it is).

    ``auto`` leaves torch's choice; not given, ``OMP_NUM_THREADS`` (which torch
    follows) wins when set, else :data:`DEFAULT_THREADS`.
    """
    if threads == "auto":
        return None
    if threads is None:
        return None if os.environ.get("OMP_NUM_THREADS") else DEFAULT_THREADS
    return threads


@contextlib.contextmanager
def torch_threads(threads):
    """Run with torch's intra-op CPU threads as ``--threads`` says (:func:`threads_to_use`), then
    restore them."""
    count = threads_to_use(threads)
    if count is None:
        yield
        return
    import torch  # deferred: torch is heavy, and only the commands that train or predict need it

    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
