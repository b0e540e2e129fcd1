"""``seqkit inspect``: a data set summary (``readers.inspect``) as a table or JSON."""

from __future__ import annotations

import argparse
import json

import readers

from ._args import add_source_arguments, class_list, source_from_args
from ._data import parse_column

__all__ = ["add_parser", "class_order", "render", "run"]

HELP = "summarise a data set: sequences, lengths, columns, NaN count, classes"
EXAMPLE = """\
examples:
  seqkit inspect 'datasets/synthetic_control/train/features/%d.csv' --start 0 --end 449 \\
      --labels 'datasets/synthetic_control/train/labels/%d.csv'
  seqkit inspect datasets/varlen/train.csv --id-column series_id --order-column t --label-column label
  seqkit inspect datasets/synthetic_control/train.parquet --key-column key --label-column label --json
"""


def add_parser(sub, common):
    parser = sub.add_parser("inspect", help=HELP, description=HELP[:1].upper() + HELP[1:] + ".", epilog=EXAMPLE,
                            parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
    add_source_arguments(parser)
    parser.add_argument("--label-column", type=parse_column,
                        help="count this column as the class label (left out of the features)")
    parser.add_argument("--classes", type=class_list,
                        help="comma-separated text labels, in class-index order (the class table "
                             "follows it)")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.set_defaults(run=run)
    return parser


def _table(rows: list[tuple], header: tuple | None = None) -> list[str]:
    """Columns padded to one width; with a header, numbers below it right-aligned."""
    cells = ([header] if header else []) + [tuple(str(c) for c in row) for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))]
    lines = []
    for k, row in enumerate(cells):
        parts = []
        for i, cell in enumerate(row):
            numeric = header is not None and k > 0 and i > 0 and \
                cell.replace(".", "", 1).replace(",", "").isdigit()
            parts.append(cell.rjust(widths[i]) if numeric else cell.ljust(widths[i]))
        lines.append("  ".join(parts).rstrip())
        if header and k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return lines


def _natural(label):
    """Sort key: numbers by value (2 before 10), before text in alphabetical order."""
    if isinstance(label, (int, float)) and not isinstance(label, bool):
        return (0, float(label), "")
    try:
        return (0, float(label), str(label))
    except (TypeError, ValueError):
        return (1, 0.0, str(label))


def class_order(summary: readers.Summary, classes=None) -> list:
    """The classes to list: ``classes`` in their given order (index order), else those found,
    in natural order (numeric where numeric)."""
    if classes:
        return list(classes)
    return sorted(set(summary.class_counts) | set(summary.sequence_class_counts), key=_natural)


def render(summary: readers.Summary, classes=None) -> str:
    """The summary as a two-column table, plus a class table when there are labels
    (rows in :func:`class_order`)."""
    rows = [
        ("source", summary.source),
        ("sequences", f"{summary.sequences:,}"),
        ("steps", f"{summary.steps:,}"),
        ("length", f"min {summary.length_min}, median {summary.length_median:g}, max {summary.length_max}"),
        ("columns", f"{len(summary.columns)}: {', '.join(map(str, summary.columns))}"),
        ("NaN/inf values", f"{summary.nan_count:,}"),
    ]
    if summary.label_column is not None:
        rows.append(("label column", summary.label_column))
        rows.append(("classes", str(len(classes) if classes else len(summary.sequence_class_counts))))
    lines = _table(rows)
    if summary.label_column is not None:
        classes = class_order(summary, classes)
        lines.append("")
        lines.extend(_table([(c, summary.sequence_class_counts.get(c, 0), summary.class_counts.get(c, 0))
                             for c in classes], header=("class", "sequences", "label steps")))
    return "\n".join(lines)


def run(args) -> int:
    source = source_from_args(args)
    reader = source.reader()
    labels = source.labels_reader()
    summary = readers.inspect(reader, label_column=args.label_column, labels=labels, classes=args.classes)
    if args.json:
        print(json.dumps(summary.to_dict(), indent=2, default=str))
    else:
        print(render(summary, args.classes))
    return 0
