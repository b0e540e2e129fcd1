"""Checking TOML values: small validators and the table check that names unknown keys.

A validator is a function ``(value, key) -> value`` that returns the value
(possibly normalised) or raises :class:`ConfigFileError` naming ``key``, the
full dotted path of the value (``data.train.start``, ``layers[2].activation``).
"""

from __future__ import annotations

import math
from typing import Any, Callable

from ._errors import ConfigFileError

__all__ = ["Validator", "boolean", "check_table", "choice", "column", "columns", "describe",
           "integer", "number", "optional", "string", "strings", "table"]

Validator = Callable[[Any, str], Any]


def describe(value) -> str:
    """A TOML value with its TOML type, for messages: ``'ten' (a string)``."""
    kinds = {bool: "a boolean", int: "an integer", float: "a float", str: "a string",
             list: "an array", dict: "a table"}
    kind = next((text for t, text in kinds.items() if type(value) is t), type(value).__name__)
    text = repr(value)
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{text} ({kind})"


def _type_error(what: str, value, key: str) -> ConfigFileError:
    return ConfigFileError(f"expected {what}, got {describe(value)}", key=key)


def boolean(value, key: str) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        raise _type_error("true or false", value, key)
    return value


def integer(minimum: int | None = None) -> Validator:
    """An integer, at least ``minimum`` when given."""
    what = "an integer" if minimum is None else \
        "a positive integer" if minimum == 1 else f"an integer >= {minimum}"

    def check(value, key):
        if isinstance(value, bool) or not isinstance(value, int) or (
                minimum is not None and value < minimum):
            raise _type_error(what, value, key)
        return value
    return check


def number(minimum: float | None = None, *, above: bool = False, below: float | None = None) -> Validator:
    """A finite number (integers accepted), ``> minimum`` with ``above`` else ``>= minimum``,
    and ``< below`` when given. Returned as a float."""
    parts = []
    if minimum is not None:
        parts.append(f"{'>' if above else '>='} {minimum:g}")
    if below is not None:
        parts.append(f"< {below:g}")
    what = "a number" + (" " + " and ".join(parts) if parts else "")

    def check(value, key):
        ok = not isinstance(value, bool) and isinstance(value, (int, float)) and math.isfinite(value)
        if ok and minimum is not None:
            ok = value > minimum if above else value >= minimum
        if ok and below is not None:
            ok = value < below
        if not ok:
            raise _type_error(what, value, key)
        return float(value)
    return check


def string(value, key: str) -> str:
    """A non-empty string."""
    if not isinstance(value, str) or not value:
        raise _type_error("a non-empty string", value, key)
    return value


def choice(*allowed: str) -> Validator:
    """One of ``allowed`` (strings, compared case-insensitively; returned as listed)."""
    lookup = {a.lower(): a for a in allowed}

    def check(value, key):
        if not isinstance(value, str):
            raise _type_error(f"one of {', '.join(allowed)}", value, key)
        found = lookup.get(value.strip().lower())
        if found is None:
            raise ConfigFileError(f"unknown value {value!r}; allowed: {', '.join(allowed)}", key=key)
        return found
    return check


def column(value, key: str):
    """A column: its name (a string) or its 0-based position (an integer, negative from the end)."""
    if isinstance(value, bool) or not isinstance(value, (str, int)) or value == "":
        raise _type_error("a column name (string) or position (integer)", value, key)
    return value


def columns(value, key: str) -> list:
    """A non-empty array of columns."""
    if not isinstance(value, list) or not value:
        raise _type_error("a non-empty array of column names or positions", value, key)
    return [column(v, f"{key}[{i}]") for i, v in enumerate(value)]


def strings(value, key: str) -> list:
    """A non-empty array of strings (integers are taken as their text)."""
    if not isinstance(value, list) or not value:
        raise _type_error("a non-empty array of strings", value, key)
    out = []
    for i, v in enumerate(value):
        if isinstance(v, bool) or not isinstance(v, (str, int)):
            raise _type_error("a string", v, f"{key}[{i}]")
        out.append(str(v))
    return out


def optional(validator: Validator) -> Validator:
    """``validator``, or the string "none" meaning None (TOML has no null)."""
    def check(value, key):
        if isinstance(value, str) and value.strip().lower() == "none":
            return None
        return validator(value, key)
    return check


def table(value, key: str) -> dict:
    """A TOML table."""
    if not isinstance(value, dict):
        raise _type_error("a table", value, key)
    return value


def check_table(value, key: str, fields: dict[str, Validator], *, required=()) -> dict:
    """Check a table against ``fields`` (name -> validator); returns the checked values.

    Raises:
        ConfigFileError: a key that is not in ``fields`` (listing the allowed
            keys), a missing required key, or a value its validator refuses.
    """
    table(value, key)
    out = {}
    for name, item in value.items():
        sub = f"{key}.{name}" if key else name
        if name not in fields:
            where = f"[{key}]" if key else "the top level"
            raise ConfigFileError(f"unknown key; allowed keys in {where}: {', '.join(sorted(fields))}",
                                  key=sub)
        out[name] = fields[name](item, sub)
    for name in required:
        if name not in value:
            raise ConfigFileError("missing; this key is required" + _misplaced(value, name, key),
                                  key=f"{key}.{name}" if key else name)
    return out


def _misplaced(value: dict, name: str, key: str) -> str:
    """A hint when ``name`` sits in a table inside ``value`` instead (a key written after a ``[table]``
    header belongs to that table), else ``""``."""
    def find(table, where):
        for sub, item in table.items():
            if isinstance(item, dict):
                path = f"{where}.{sub}" if where else sub
                if name in item:
                    return path
                found = find(item, path)
                if found:
                    return found
        return None
    found = find(value, key)
    if found is None:
        return ""
    return (f"; there is a '{name}' in [{found}]: a key written after a [table] header belongs to that "
            f"table, so move it above the first [table]" + (" (or write [[layers]] tables)"
                                                             if name == "layers" else ""))
