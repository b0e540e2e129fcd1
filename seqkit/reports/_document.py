"""A format-neutral report: title, headline figures, sections of tables, plots and text.

Evaluations describe themselves as a :class:`Document`; the HTML, Markdown
and JSON writers render it. Keeping the content in one place means the three
formats always carry the same figures.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["Cell", "Document", "Figure", "Section", "Table", "Text", "format_cell", "plain", "text_columns"]


@dataclass
class Cell:
    """A table cell shown as ``value`` with a longer ``title`` (the HTML tooltip; e.g. a full file path)."""

    value: object
    title: str = ""


@dataclass
class Table:
    """Rows of cells (str, int, float, None or :class:`Cell`); floats print with 4 decimals, NaN/None as an em dash."""

    headers: list[str]
    rows: list[list]
    note: str = ""


@dataclass
class Figure:
    """A plot described by data; ``kind`` selects the drawing in ``seqkit.reports._plots``."""

    kind: str
    title: str
    data: dict
    alt: str = ""


@dataclass
class Text:
    """A paragraph (``style="p"``), a muted note, a warning, or preformatted text (``"pre"``)."""

    text: str
    style: str = "p"


@dataclass
class Section:
    title: str
    blocks: list = field(default_factory=list)


@dataclass
class Document:
    """What a report shows.

    Attributes:
        title: page title, e.g. ``"Classification evaluation"``.
        summary: headline (label, value) pairs shown as cards.
        sections: the body.
        data: the evaluation's ``to_dict()``; the JSON report is exactly this.
        subtitle: one line under the title (e.g. the model file and the data), or empty.
    """

    title: str
    summary: list[tuple[str, object]]
    sections: list[Section]
    data: dict
    subtitle: str = ""


def text_columns(table: Table) -> list[bool]:
    """Per column: True for the first column and columns holding text (left-aligned), else False."""
    def is_text(value) -> bool:
        return isinstance(value.value if isinstance(value, Cell) else value, str)

    return [j == 0 or any(is_text(row[j]) for row in table.rows if j < len(row))
            for j in range(len(table.headers))]


def format_cell(value) -> str:
    """A cell as text: 4-decimal floats, thousands-free integers, em dash for NaN/None."""
    if isinstance(value, Cell):
        return format_cell(value.value)
    if value is None:
        return "\u2014"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        value = float(value)
        if math.isnan(value):
            return "\u2014"
        if math.isinf(value):
            return "\u221e" if value > 0 else "-\u221e"
        return f"{value:.4f}"
    return str(value)


def plain(value):
    """``value`` as JSON-ready Python: numpy to lists and scalars, NaN and infinities to None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    return value
