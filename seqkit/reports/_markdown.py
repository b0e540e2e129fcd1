"""Markdown rendering: the same tables and notes as the HTML report, without plots."""

from __future__ import annotations

from ._document import Document, Figure, Table, Text, format_cell, text_columns

__all__ = ["render_markdown"]


def _cell(value) -> str:
    text = format_cell(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")


def _table(table: Table) -> list[str]:
    lines = ["| " + " | ".join(_cell(h) for h in table.headers) + " |",
             "|" + "|".join(":---" if t else "---:" for t in text_columns(table)) + "|"]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in table.rows]
    if table.note:
        lines += ["", f"_{table.note}_"]
    return lines + [""]


def _text(text: Text) -> list[str]:
    if text.style == "pre":
        return ["```", text.text.strip("\n"), "```", ""]
    if text.style == "warning":
        return [f"> **Warning:** {text.text}", ""]
    if text.style == "note":
        return [f"_{text.text}_", ""]
    return [text.text, ""]


def render_markdown(doc: Document, *, version: str) -> str:
    """GitHub-flavoured Markdown; plots are listed by title and point to the HTML report."""
    lines = [f"# {doc.title}", "", f"_seqkit {version}; masked steps are excluded from every figure._", ""]
    if doc.subtitle:
        lines += [doc.subtitle.replace("\n", " "), ""]
    lines += ["| Metric | Value |", "|:---|---:|"]
    lines += [f"| {_cell(label)} | {_cell(value)} |" for label, value in doc.summary]
    lines.append("")
    for section in doc.sections:
        lines += [f"## {section.title}", ""]
        plots = [b.title for b in section.blocks if isinstance(b, Figure)]
        if plots:
            lines += [f"_Plot in the HTML report: {'; '.join(plots)}._", ""]
        for block in section.blocks:
            if isinstance(block, Table):
                lines += _table(block)
            elif isinstance(block, Text):
                lines += _text(block)
    return "\n".join(lines).rstrip("\n") + "\n"
