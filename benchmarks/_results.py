"""Writing one section of benchmarks/RESULTS.md (shared by the benchmark scripts)."""

from __future__ import annotations

import re
from pathlib import Path

RESULTS = Path(__file__).with_name("RESULTS.md")


def write_section(title: str, text: str) -> None:
    """Replace (or append) the ``## {title}`` section of RESULTS.md, leaving the other sections alone."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(rf"^## {re.escape(title)}\n.*?(?=^## |\Z)", re.S | re.M)
    block = text.rstrip("\n") + "\n\n"
    new = pattern.sub(lambda _: block, old) if pattern.search(old) else old.rstrip("\n") + "\n\n" + block
    RESULTS.write_text(new.rstrip("\n") + "\n", encoding="utf-8")
