"""``seqkit convert``: any supported layout to nested Parquet, with a progress bar.

``readers.write_parquet`` advances the tqdm bar through its ``progress``
callback (the sequences of each block written); the step count printed at the
end comes from the written file's Parquet metadata. ``--labels`` (a second
source) and ``--classes`` (text labels) go through
:class:`~seqkit.cli._labelled_reader.LabelledReader`, which writes the labels
as columns.
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import readers

from ._args import add_source_arguments, class_list, source_from_args
from ._data import parse_column
from ._errors import CliError
from ._labelled_reader import LabelledReader, label_names
from ._writing import writing_to

__all__ = ["add_parser", "run"]

HELP = "convert a data set to nested Parquet (one row per sequence)"
EXAMPLE = """\
examples:
  seqkit convert datasets/varlen/train.csv varlen_train.parquet --id-column series_id --order-column t
  seqkit convert 'datasets/synthetic_control/train/features/%d.csv' --start 0 --end 449 features.parquet
  seqkit convert 'datasets/synthetic_control/train/features/%d.csv' --start 0 --end 449 \
      --labels 'datasets/synthetic_control/train/labels/%d.csv' train.parquet

The output has one list<float64> column per record column (same names) and a
text key column, and reads back with readers.ParquetSequenceReader(DEST).
--labels adds the labels source as a column "label" (one label per sequence is
written at every step: read it back with sequence_labels); --classes writes
text labels as their index in the list.
"""


def add_parser(sub, common):
    parser = sub.add_parser("convert", help=HELP, description=HELP[:1].upper() + HELP[1:] + ".", epilog=EXAMPLE,
                            parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_arguments(parser, labels=False)
    parser.add_argument("dest", metavar="DEST.parquet", help="the Parquet file to write")
    labels = parser.add_argument_group("labels")
    labels.add_argument("--labels", metavar="LABELS",
                        help="a second source holding the labels, numbered like SOURCE (DL4J's separate "
                             "label files); written as the column 'label' ('label_<column>' for several)")
    labels.add_argument("--label-column", type=parse_column,
                        help="the label column of SOURCE (written like any column; checked to exist)")
    labels.add_argument("--classes", type=class_list,
                        help="comma-separated text labels, in class-index order: the label column (or "
                             "the labels' first column) is written as each label's index")
    parser.add_argument("--dtype", choices=("float64", "float32"), default="float64",
                        help="value type (float64 keeps values exactly; default float64)")
    parser.add_argument("--key-name", default="key", help="name of the key column (default 'key')")
    parser.add_argument("--force", action="store_true", help="replace DEST if it exists")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(run=run)
    return parser


def _check_column(spec, columns: tuple) -> int:
    """The position of ``spec`` (a name, or an index, negative from the end) in ``columns``;
    CliError when it is none of them."""
    n = len(columns)
    if isinstance(spec, int) and not isinstance(spec, bool):
        if not -n <= spec < n:
            raise CliError(f"--label-column {spec} out of range for {n} columns {list(columns)}")
        return spec % n
    names = [str(c) for c in columns]
    if str(spec) not in names:
        raise CliError(f"--label-column {spec!r} is not a column; columns are {list(columns)}")
    return names.index(str(spec))


def _steps(path: str) -> int:
    """The steps in a nested Parquet file ``write_parquet`` wrote: the values of its first list column."""
    import pyarrow.parquet as pq

    meta = pq.read_metadata(path)
    return sum(meta.row_group(g).column(0).num_values for g in range(meta.num_row_groups))


def _size(path: str) -> str:
    size = float(os.path.getsize(path))
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return ""


def run(args) -> int:
    from tqdm.auto import tqdm

    if not args.dest.lower().endswith((".parquet", ".pq", ".parq")):
        raise CliError(f"DEST must be a .parquet file, got {args.dest}")
    if os.path.exists(args.dest) and not args.force:
        raise CliError(f"{args.dest} exists; pass --force to replace it")
    source = source_from_args(args)
    reader = source.reader()
    label_index = None
    if args.label_column is not None:
        if args.labels is not None:
            raise CliError("give --labels (a second source) or --label-column (a column of SOURCE), not both")
        label_index = _check_column(args.label_column, tuple(reader.columns))
    elif args.classes is not None and args.labels is None:
        raise CliError("--classes names the classes of a label column: give --label-column or --labels")
    if args.labels is not None or args.classes is not None:
        reader = LabelledReader(reader, source.labels_reader(), classes=args.classes,
                                label_column=label_index)
    try:
        total = len(reader)
    except TypeError:
        total = None                                  # a long table: counted while reading
    start = time.perf_counter()
    disable = True if args.no_progress else None      # None: shown on a terminal only
    partial = f"{args.dest}.partial"                  # renamed over DEST once complete
    try:
        with writing_to(args.dest), \
                tqdm(total=total, unit="seq", desc="converting", disable=disable, file=sys.stderr) as bar:
            written = readers.write_parquet(reader, partial, dtype=args.dtype, key_column=args.key_name,
                                            progress=bar.update)
            steps = _steps(partial)
            os.replace(partial, args.dest)
    finally:
        if os.path.exists(partial):
            os.remove(partial)
    columns = ", ".join(str(c) for c in reader.columns)
    print(f"wrote {written:,} sequences ({steps:,} steps; columns {columns}; key "
          f"{args.key_name!r}) to {args.dest} ({_size(args.dest)}) in {time.perf_counter() - start:.1f} s")
    if args.classes is not None:
        column = label_names(reader.labels.columns)[0] if args.labels is not None else reader.columns[label_index]
        print(f"column {column!r} holds class indices: "
              + ", ".join(f"{i} = {name}" for i, name in enumerate(args.classes)))
    return 0
