"""Provenance: what a report's figures come from (model file, data, seqkit version, training, config).

Provenance is a plain dict that JSON can hold: string keys; values that are
None, bool, int, finite float, str, or lists and dicts of those (tuples become
lists, ``os.PathLike`` becomes str, numpy scalars become Python numbers).
These keys have a meaning and a place in the report; any other key is shown
as given, after them:

========================  =====================================================
``model_file``            path of the model file evaluated
``data_source``           what was evaluated: a path, or a list or dict of paths
``epochs``                epochs trained
``training_time_s``       training time in seconds (shown as e.g. ``1 h 02 min``)
``config``                the training or run configuration (a dict; shown as JSON)
``seqkit_version``        filled in by seqkit: the version that wrote the report
========================  =====================================================

A ``seqkit_version`` given by the caller is replaced; record the version a
model was trained with under another key (e.g. ``model_seqkit_version``).
"""

from __future__ import annotations

import json
import math
import os

import numpy as np

from .._version import seqkit_version
from ..reports import Section, Table, Text

__all__ = ["KNOWN_KEYS", "check_provenance", "provenance_section", "provenance_subtitle", "stamped"]

KNOWN_KEYS = {"model_file": "Model file", "data_source": "Data source", "epochs": "Epochs",
              "training_time_s": "Training time", "config": "Config", "seqkit_version": "seqkit version"}
_MAX_DEPTH = 32
_INLINE_CHARS = 100


def _clean(value, path: str, where: str, depth: int):
    """``value`` as JSON-ready Python, or a ValueError naming ``path``."""
    if depth > _MAX_DEPTH:
        raise ValueError(f"{where}: {path} is nested more than {_MAX_DEPTH} levels deep")
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (np.bool_, np.integer, np.floating)):
        value = value.item()
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{where}: {path} is {value}, which strict JSON cannot hold; use None or a string")
        return value
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ValueError(f"{where}: {path} has the key {key!r} of type {type(key).__name__}; "
                                 "keys must be strings")
            out[key] = _clean(item, f"{path}[{key!r}]", where, depth + 1)
        return out
    if isinstance(value, (list, tuple)):
        return [_clean(item, f"{path}[{i}]", where, depth + 1) for i, item in enumerate(value)]
    raise ValueError(f"{where}: {path} is a {type(value).__name__}, which JSON cannot hold; use None, bool, int, "
                     "float, str, or lists and dicts of them")


def check_provenance(value, where: str) -> dict:
    """A JSON-safe copy of ``value`` (None: ``{}``).

    Raises:
        ValueError: ``value`` is not a dict, or holds something JSON cannot (the message names where).
    """
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ValueError(f"{where}: provenance must be a dict, got {type(value).__name__}")
    return _clean(value, "provenance", where, 0)


def stamped(provenance: dict) -> dict:
    """``provenance`` with ``seqkit_version`` set to this seqkit's version; known keys first, in their order."""
    full = {**provenance, "seqkit_version": seqkit_version()}
    return {**{k: full[k] for k in KNOWN_KEYS if k in full}, **{k: v for k, v in full.items() if k not in KNOWN_KEYS}}


def _duration(seconds) -> str:
    """``3723.4`` -> ``"1 h 02 min 03 s"``; under a minute with one decimal: ``"12.5 s"``."""
    if isinstance(seconds, bool) or not isinstance(seconds, (int, float)) or seconds < 0:
        return json.dumps(seconds)
    if seconds < 60:
        return f"{seconds:.1f} s"
    whole = int(round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours} h {minutes:02d} min {secs:02d} s" if hours else f"{minutes} min {secs:02d} s"


def _inline(value) -> str | None:
    """A value as one table cell, or None when it is too long for one (shown as a JSON block instead)."""
    if isinstance(value, str):
        return value
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _INLINE_CHARS else None


def provenance_section(provenance: dict) -> Section:
    """The report section: a table of the short items, then each long one (the config) as a JSON block."""
    rows, blocks = [], []
    for key, value in provenance.items():
        label = KNOWN_KEYS.get(key, key)
        if key == "training_time_s":
            rows.append([label, _duration(value)])
            continue
        cell = None if key == "config" else _inline(value)
        if cell is None:
            blocks += [Text(f"{label}:", "p"), Text(json.dumps(value, indent=2, ensure_ascii=False), "pre")]
        else:
            rows.append([label, cell])
    if set(provenance) <= {"seqkit_version"}:
        blocks.append(Text("Record the model file, data source, epochs, training time and config with "
                           "report(path, provenance={...}) or evaluation.provenance; Sequential.evaluate and "
                           "the seqkit command fill them in.", "note"))
    return Section("Provenance", [Table(["Item", "Value"], rows), *blocks])


def provenance_subtitle(provenance: dict) -> str:
    """One line for the report's header: the model file's name and the data source, when known."""
    parts = []
    if isinstance(provenance.get("model_file"), str):
        model = provenance["model_file"]
        parts.append(f"Model: {os.path.basename(model.rstrip('/')) or model}")
    source = provenance.get("data_source")
    if source is not None:
        parts.append(f"Data: {source if isinstance(source, str) else json.dumps(source, ensure_ascii=False)}")
    return " \u00b7 ".join(parts)
