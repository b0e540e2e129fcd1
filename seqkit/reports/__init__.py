"""seqkit.reports: evaluation reports as one self-contained HTML file, Markdown or JSON.

Every evaluation class has ``report(path)``, which calls :func:`write_report`.
Plots need matplotlib (the ``report`` extra); without it the HTML report has
tables only and says so.
"""

from ._document import Document, Figure, Section, Table, Text
from ._plots import matplotlib_available
from ._writer import FORMATS, write_report

__all__ = [
    "Document",
    "FORMATS",
    "Figure",
    "Section",
    "Table",
    "Text",
    "matplotlib_available",
    "write_report",
]
