"""Which columns of an Arrow schema are the id, order and key columns, and which are read as data.

Shared by the Parquet reader and the in-memory Arrow reader, which lay out a
table the same way.
"""

from __future__ import annotations

import json

import pyarrow as pa

__all__ = ["DEFAULT_KEY", "special_and_data_columns"]

#: A nested table's text column of this name is its key by default.
DEFAULT_KEY = "key"


def special_and_data_columns(schema: pa.Schema, field, *, id_column, order_column, key_column, columns,
                             default_key: bool) -> tuple[dict, list]:
    """``({"id_column"|"order_column"|"key_column": name}, [data column names])`` for ``schema``.

    Args:
        field: ``field(spec, what) -> name``: the reader's own lookup (it raises
            its own error, naming its source, for a spec that is not a column).
        id_column, order_column, key_column, columns: the reader's arguments.
        default_key: whether a text column named :data:`DEFAULT_KEY` is the key
            when no id or key column is given.

    Without an id or key column, the key column recorded by ``write_parquet`` in
    the schema's ``seqkit`` metadata is used when present.

    Raises:
        ValueError: ``columns=`` naming a column twice or naming a special one, or no data column left.
    """
    special = {}
    for what, spec in (("id_column", id_column), ("order_column", order_column), ("key_column", key_column)):
        if spec is not None:
            special[what] = field(spec, what)
    if id_column is None and key_column is None:
        meta = json.loads((schema.metadata or {}).get(b"seqkit", b"{}"))
        if meta.get("key_column") in schema.names:
            special["key_column"] = meta["key_column"]
        elif default_key:
            special["key_column"] = DEFAULT_KEY
    if columns is None:
        names = [n for n in schema.names if n not in special.values()]
    else:
        names = [field(s, "column") for s in columns]
        if len(set(names)) != len(names):
            raise ValueError(f"columns= names a column twice: {columns!r}")
        if set(names) & set(special.values()):
            raise ValueError("columns= may not include the id, order or key column")
    if not names:
        raise ValueError("no columns left to read")
    return special, names
