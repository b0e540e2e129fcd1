"""Naming the file being written when the disk refuses it (full, over quota, read-only).

A write error from deep inside a writer names a temporary file (``x.parquet.partial``,
``.model.seqkit.1a2b.tmp``), the source of a rename, or nothing at all.
:func:`writing_to` turns such an error into one line that names the file the
user asked for: ``cannot write to runs/sc/model.seqkit: No space left on device``.
"""

from __future__ import annotations

import contextlib
import errno
import os

from ._errors import CliError

__all__ = ["WRITE_ERRNOS", "writing_to"]

#: errno values that mean the destination cannot take the data.
WRITE_ERRNOS = frozenset(code for code in (errno.ENOSPC, getattr(errno, "EDQUOT", None), errno.EFBIG,
                                           errno.EROFS) if code is not None)


@contextlib.contextmanager
def writing_to(path):
    """Raise a disk-full (quota, too large, read-only) ``OSError`` inside as a ``CliError``
    naming ``path`` (a file, or the folder a step writes into); every other error passes unchanged."""
    try:
        yield
    except OSError as err:
        if err.errno not in WRITE_ERRNOS:
            raise
        raise CliError(f"cannot write to {os.fspath(path)}: {os.strerror(err.errno)}") from err
