"""How a report names classes and sequences: unambiguous class labels and short sequence keys.

Class labels. A report shows class indices (the confusion matrix's columns, the
``Class`` column) next to class names, so a name that reads as a number could be
taken for an index: classes named ``"1"`` .. ``"6"`` put the name ``"1"`` on
class 0. The rule:

* names that are the indices themselves (``"0"``, ``"1"``, ...: the default) are
  shown as they are;
* otherwise, when some name reads as a number, every name is shown in double
  quotes (``"1"``), so an unquoted number is always an index;
* a name given to more than one class gets `` #i`` (its index) appended.

Sequence keys. Keys are often long file paths that differ only at the end.
A report shows them without the directories they all share (with a single key,
its file name) and cuts what is left in the middle beyond 48 characters; the
full key stays in the JSON report and in the HTML cell's tooltip.
"""

from __future__ import annotations

import re

__all__ = ["class_labels", "short_keys"]

_NUMBER = re.compile(r"[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?")
_KEY_CHARS = 48


def class_labels(names: list[str]) -> tuple[list[str], str]:
    """The labels a report shows for ``names`` (one per class, in class order), and a note explaining
    them (empty when the names are shown as given)."""
    names = [str(n) for n in names]
    labels, notes = list(names), []
    default = names == [str(i) for i in range(len(names))]
    if not default and any(_NUMBER.fullmatch(n.strip()) for n in names):
        labels = [f'"{n}"' for n in names]
        notes.append("Class names are numbers, so they are shown in quotes; an unquoted number is a class index.")
    repeated = {n for n in labels if labels.count(n) > 1}
    if repeated:
        labels = [f"{n} #{i}" if n in repeated else n for i, n in enumerate(labels)]
        notes.append("Some classes share a name; #i after a name is the class index.")
    return labels, " ".join(notes)


def _cut(text: str, limit: int) -> str:
    """``text`` cut in the middle to ``limit`` characters (keeping more of the end, where file names are)."""
    if len(text) <= limit:
        return text
    head = (limit - 1) * 2 // 5
    return text[:head] + "\u2026" + text[len(text) - (limit - 1 - head):]


def short_keys(keys: list[str], limit: int = _KEY_CHARS) -> tuple[str, list[str]]:
    """The directory prefix every key shares (``""`` if none) and the keys without it, cut to ``limit``.

    Only whole directories are removed (up to a ``/`` or ``\\``), never part of a name,
    and never the whole of a key.
    """
    keys = [str(k) for k in keys]
    if not keys:
        return "", []
    shared = keys[0]
    for key in keys[1:]:
        end = 0
        while end < min(len(shared), len(key)) and shared[end] == key[end]:
            end += 1
        shared = shared[:end]
    cut = max(shared.rfind("/"), shared.rfind("\\")) + 1                       # after the last shared separator
    while cut and any(len(k) <= cut for k in keys):                             # a key would be left empty
        cut = max(shared.rfind("/", 0, cut - 1), shared.rfind("\\", 0, cut - 1)) + 1
    prefix = shared[:cut]
    return prefix, [_cut(k[cut:], limit) for k in keys]
