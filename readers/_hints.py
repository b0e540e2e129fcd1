"""Hints that end error messages: what to pass to read the data as it was meant.

Each names the Python argument and, in brackets, the `seqkit` command-line
option that sets it, so one message serves both.
"""

from __future__ import annotations

__all__ = ["HEADER", "SEQUENCE_LABELS", "TEXT_IN_LONG_TABLE", "TEXT_LABELS", "one_based_classes"]

TEXT_LABELS = "text class labels need classes=[...] (--classes a,b,c)"

TEXT_IN_LONG_TABLE = ("a text column that is not a feature: choose the columns to read with columns=[...] "
                      "(--columns); text class labels need classes=[...] (--classes a,b,c)")

SEQUENCE_LABELS = ("one label per sequence: pass sequence_labels=True (--sequence-labels), or "
                   "align='align_end' (--align align_end) to put it at the last feature step")

HEADER = "the first line looks like a header: leave skip_lines out to detect it, or pass skip_lines=1"


def one_based_classes(num_classes: int) -> str:
    """The hint for a class index equal to `num_classes`: labels numbered from 1."""
    labels = [str(i) for i in range(1, num_classes + 1)]
    if num_classes <= 4:
        listed, option = repr(labels), ",".join(labels)
    else:
        listed, option = f"['1', '2', ..., '{num_classes}']", f"1,2,...,{num_classes}"
    return (f"class indices are 0-based; for labels numbered 1..{num_classes} pass "
            f"classes={listed} (--classes {option}), which maps them to 0..{num_classes - 1}")
