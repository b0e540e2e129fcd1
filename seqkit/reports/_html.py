"""Self-contained HTML rendering: inline CSS, plots as base64 PNG data URIs, no scripts or external files."""

from __future__ import annotations

import base64
import datetime as _dt
from html import escape

from ._document import Cell, Document, Figure, Section, Table, Text, format_cell, text_columns
from ._plots import render_png

__all__ = ["render_html"]

_CSS = """
:root { --ink:#1f2937; --muted:#6b7280; --line:#e5e7eb; --soft:#f8fafc; --accent:#2563eb; --warn:#b45309; }
* { box-sizing: border-box; }
body { margin: 0; background: #f3f4f6; color: var(--ink);
  font: 14px/1.5 -apple-system, BlinkMacSystemFont, "Segoe UI", Roboto, "Helvetica Neue", Arial, sans-serif; }
header { background: #111827; color: #f9fafb; padding: 28px 40px 24px; }
header h1 { margin: 0; font-size: 22px; font-weight: 600; letter-spacing: .2px; }
header p { margin: 6px 0 0; color: #9ca3af; font-size: 13px; }
header p.subtitle { color: #d1d5db; white-space: nowrap; overflow: hidden; text-overflow: ellipsis; }
main { max-width: 1180px; margin: 0 auto; padding: 24px 40px 48px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(118px, 1fr)); gap: 12px;
  margin: -44px 0 24px; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 14px 16px;
  box-shadow: 0 1px 2px rgba(0,0,0,.04); }
.card .label { color: var(--muted); font-size: 11px; text-transform: uppercase; letter-spacing: .6px; }
.card .value { font-size: 22px; font-weight: 600; margin-top: 2px; font-variant-numeric: tabular-nums; }
section { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 20px 24px;
  margin-bottom: 20px; box-shadow: 0 1px 2px rgba(0,0,0,.04); }
section h2 { margin: 0 0 14px; font-size: 16px; font-weight: 600; }
.grid { display: grid; grid-template-columns: repeat(auto-fit, minmax(420px, 1fr)); gap: 20px;
  align-items: start; margin-bottom: 4px; }
.grid > * { min-width: 0; }
.grid + .table-wrap { margin-top: 16px; }
/* a plot beside its table while the table fits at its natural width, else above it */
.pair { display: flex; flex-wrap: wrap; gap: 20px; align-items: flex-start; margin-bottom: 4px; }
.pair > .fig { flex: 1 1 400px; max-width: 640px; min-width: 0; }
.pair > .tab { flex: 1 1 auto; max-width: 100%; min-width: 0; }
.pair > .tab > .note { width: 0; min-width: 100%; }  /* a long note wraps; it never widens the table's column */
figure { margin: 0; }
figure img { width: 100%; height: auto; display: block; border: 1px solid var(--line); border-radius: 8px; }
figcaption { color: var(--muted); font-size: 12px; margin-top: 6px; }
.table-wrap { overflow-x: auto; }
table { border-collapse: collapse; width: 100%; font-size: 13px; font-variant-numeric: tabular-nums; }
/* no cell wraps: a class name or key never breaks inside a word; a wide table scrolls sideways */
th, td { padding: 6px 10px; border-bottom: 1px solid var(--line); text-align: right; white-space: nowrap; }
th { background: var(--soft); color: var(--muted); font-weight: 600; font-size: 12px; position: sticky; top: 0; }
th.text, td.text { text-align: left; }
td[title] { cursor: help; text-decoration: underline dotted #cbd5e1; text-underline-offset: 3px; }
table.narrow { max-width: 560px; }
tbody tr:hover { background: #f9fafb; }
.note { color: var(--muted); font-size: 12px; margin: 8px 0 0; overflow-wrap: break-word; }
.aside p { margin: 0 0 10px; }
.aside p.note { font-size: 13px; line-height: 1.55; }
.warning { color: var(--warn); background: #fffbeb; border: 1px solid #fde68a; border-radius: 8px;
  padding: 8px 12px; margin: 10px 0 0; font-size: 13px; }
pre { background: var(--soft); border: 1px solid var(--line); border-radius: 8px; padding: 12px 14px;
  overflow-x: auto; font: 12px/1.45 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; margin: 0; }
footer { color: var(--muted); font-size: 12px; text-align: center; padding: 8px 0 32px; }
"""


def _cell(value, align: str) -> str:
    title = f' title="{escape(value.title)}"' if isinstance(value, Cell) and value.title else ""
    return f"<td{align}{title}>{escape(format_cell(value))}</td>"


def _table(table: Table) -> str:
    """Text columns never wrap (a name or key stays on one line; a wide table scrolls sideways)."""
    text = text_columns(table)
    align = [' class="text"' if t else "" for t in text]
    head = "".join(f"<th{align[j]}>{escape(h)}</th>" for j, h in enumerate(table.headers))
    rows = ["<tr>" + "".join(_cell(v, align[j]) for j, v in enumerate(row)) + "</tr>" for row in table.rows]
    note = f'<p class="note">{escape(table.note)}</p>' if table.note else ""
    narrow = ' class="narrow"' if len(table.headers) <= 2 else ""
    return (f'<div class="table-wrap"><table{narrow}><thead><tr>{head}</tr></thead>'
            f'<tbody>{"".join(rows)}</tbody></table></div>{note}')


def _figure(figure: Figure) -> str:
    png = render_png(figure)
    data = base64.b64encode(png).decode("ascii")
    alt = escape(figure.alt or figure.title)
    return (f'<figure><img src="data:image/png;base64,{data}" alt="{alt}">'
            f"<figcaption>{escape(figure.title)}</figcaption></figure>")


def _text(text: Text) -> str:
    if text.style == "pre":
        return f"<pre>{escape(text.text)}</pre>"
    cls = {"note": "note", "warning": "warning"}.get(text.style, "")
    return f'<p class="{cls}">{escape(text.text)}</p>' if cls else f"<p>{escape(text.text)}</p>"


def _section(section: Section) -> str:
    """One figure sits beside the section's tables (above them when they are too wide); several figures share
    a row, tables below."""
    drawn = [_figure(b) for b in section.blocks if isinstance(b, Figure)]
    tables = [_table(b) for b in section.blocks if isinstance(b, Table)]
    texts = [_text(b) for b in section.blocks if isinstance(b, Text)]
    if len(drawn) == 1 and tables:
        body = f'<div class="pair"><div class="fig">{drawn[0]}</div><div class="tab">{"".join(tables)}</div></div>'
    elif drawn:
        body = f'<div class="grid">{"".join(drawn)}</div>' + "".join(tables)
    elif len(tables) == 1 and texts and all(isinstance(b, Text) and b.style != "pre"
                                            for b in section.blocks if not isinstance(b, Table)):
        return (f'<section><h2>{escape(section.title)}</h2><div class="grid"><div>{tables[0]}</div>'
                f'<div class="aside">{"".join(texts)}</div></div></section>')          # notes beside the table
    else:
        body = "".join(tables)
    return f"<section><h2>{escape(section.title)}</h2>{body}{''.join(texts)}</section>"


def render_html(doc: Document, *, version: str) -> str:
    """The whole page, plots included."""
    cards = "".join(f'<div class="card"><div class="label">{escape(label)}</div>'
                    f'<div class="value">{escape(format_cell(value))}</div></div>' for label, value in doc.summary)
    subtitle = (f'<p class="subtitle" title="{escape(doc.subtitle)}">{escape(doc.subtitle)}</p>'
                if doc.subtitle else "")
    stamp = _dt.datetime.now().strftime("%Y-%m-%d %H:%M")
    sections = "".join(_section(s) for s in doc.sections)
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1"><link rel="icon" href="data:,">'
            f"<title>{escape(doc.title)}</title><style>{_CSS}</style></head><body>"
            f"<header><h1>{escape(doc.title)}</h1><p>seqkit {escape(version)} \u00b7 generated {stamp}</p>"
            f"{subtitle}</header>"
            f'<main><div class="cards">{cards}</div>{sections}</main>'
            f"<footer>Generated by seqkit {escape(version)}. Masked steps are excluded from every figure."
            f"</footer></body></html>\n")
