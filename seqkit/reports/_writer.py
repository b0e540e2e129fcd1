"""Choose the format from the file extension and write the report."""

from __future__ import annotations

from pathlib import Path

from .._version import seqkit_version
from ._html import render_html
from ._json import render_json
from ._markdown import render_markdown
from ._plots import matplotlib_available

__all__ = ["FORMATS", "write_report"]

FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".json": "json"}


def write_report(evaluation, path) -> Path:
    """Write ``evaluation``'s report to ``path``, in the format its extension names.

    Args:
        evaluation: an ``Evaluation``, ``RegressionEvaluation``, ``ROC``,
            ``ROCMultiClass`` or ``EvaluationBinary`` (anything with ``_report_document()``).
        path: file path ending in ``.html``/``.htm``, ``.md`` or ``.json`` (any case).

    Returns:
        the path written, as a ``Path``.

    Raises:
        ValueError: an unknown extension (the message lists the known ones), or an
            object that cannot report.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"report: cannot tell the format of {str(path)!r} from its extension "
                         f"{path.suffix!r}; use one of {sorted(FORMATS)}")
    build = getattr(evaluation, "_report_document", None)
    if build is None:
        raise ValueError(f"report: {type(evaluation).__name__} cannot write a report")
    doc = build()
    version = seqkit_version()
    if fmt == "html":
        text = render_html(doc, plots=matplotlib_available(), version=version)
    elif fmt == "markdown":
        text = render_markdown(doc, version=version)
    else:
        text = render_json(doc, version=version)
    path.write_text(text, encoding="utf-8")
    return path
