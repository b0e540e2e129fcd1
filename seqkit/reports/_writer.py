"""Choose the format from the file extension and write the report."""

from __future__ import annotations

from pathlib import Path

from .._version import seqkit_version
from ._html import render_html
from ._json import render_json
from ._markdown import render_markdown

__all__ = ["FORMATS", "write_report"]

FORMATS = {".html": "html", ".htm": "html", ".md": "markdown", ".json": "json"}


def write_report(evaluation, path, *, provenance=None) -> Path:
    """Write ``evaluation``'s report to ``path``, in the format its extension names.

    Args:
        evaluation: an ``Evaluation``, ``RegressionEvaluation``, ``ROC``,
            ``ROCMultiClass`` or ``EvaluationBinary`` (anything with ``report_document(provenance)``).
        path: file path ending in ``.html``/``.htm``, ``.md`` or ``.json`` (any case).
        provenance: optional JSON-safe dict (model file, data source, epochs, training time,
            config, ...) shown in this report on top of ``evaluation.provenance``; see
            ``docs/reports.md``.

    Returns:
        the path written, as a ``Path``.

    Raises:
        ValueError: an unknown extension (the message lists the known ones), an object
            that cannot report, or provenance that JSON cannot hold.
    """
    path = Path(path)
    fmt = FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ValueError(f"report: cannot tell the format of {str(path)!r} from its extension "
                         f"{path.suffix!r}; use one of {sorted(FORMATS)}")
    build = getattr(evaluation, "report_document", None)
    if build is None:
        raise ValueError(f"report: {type(evaluation).__name__} cannot write a report")
    doc = build(provenance)
    version = seqkit_version()
    if fmt == "html":
        text = render_html(doc, version=version)
    elif fmt == "markdown":
        text = render_markdown(doc, version=version)
    else:
        text = render_json(doc, version=version)
    path.write_text(text, encoding="utf-8")
    return path
