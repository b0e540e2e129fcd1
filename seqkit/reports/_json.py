"""JSON rendering: the evaluation's ``to_dict()``, with NaN and infinities written as null."""

from __future__ import annotations

import json

from ._document import Document, plain

__all__ = ["render_json"]


def render_json(doc: Document, *, version: str) -> str:
    """``{"title", "seqkit_version", ...to_dict()}`` as indented, strict JSON."""
    payload = {"title": doc.title, "seqkit_version": version, **plain(doc.data)}
    return json.dumps(payload, indent=2, allow_nan=False) + "\n"
