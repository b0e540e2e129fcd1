"""Command-line options that name a data source and its batching, shared by the subcommands.

Every option defaults to None ("not given"), so a subcommand can tell what the
user set and fill the rest from elsewhere (a trained model's ``data.json``, a
config's ``[data]`` table).
"""

from __future__ import annotations

import argparse
import contextlib
from dataclasses import replace

from ._data import ALIGNS, FORMATS, BatchSpec, SourceSpec, parse_column

__all__ = ["add_batch_arguments", "add_source_arguments", "add_threads_argument",
           "batch_from_args", "source_from_args", "torch_threads"]

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
    group.add_argument("--format", choices=FORMATS, help="csv or parquet (default: from the name)")
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
        group.add_argument("--classes", type=lambda t: [c.strip() for c in t.split(",")],
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


def add_threads_argument(parser: argparse.ArgumentParser, default: int | None = None) -> None:
    """``--threads N``: torch's CPU threads."""
    text = "torch's choice, one per core" if default is None else str(default)
    parser.add_argument("--threads", type=positive, default=default,
                        help=f"CPU threads for torch (default: {text}); small networks run as fast "
                             f"on one, and do not slow down when other processes share the cores")


@contextlib.contextmanager
def torch_threads(threads: int | None):
    """Run with torch's intra-op CPU threads set to ``threads`` (when given), then restore them."""
    if not threads:
        yield
        return
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
