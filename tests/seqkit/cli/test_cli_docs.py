"""docs/cli.md: its complete example is the shipped config, and its other config validates."""

from __future__ import annotations

import re
import sys

from conftest import REPO
from seqkit.cli._config import parse_config, read_toml

if sys.version_info >= (3, 11):
    import tomllib
else:                                                       # pragma: no cover
    import tomli as tomllib

DOC = (REPO / "docs" / "cli.md").read_text()
EXAMPLE = REPO / "examples" / "configs" / "synthetic_control.toml"


def _toml_blocks() -> list[str]:
    return re.findall(r"```toml\n(.*?)```", DOC, flags=re.S)


def test_the_complete_example_is_the_shipped_config():
    assert EXAMPLE.read_text() in _toml_blocks()


def test_every_full_config_in_the_doc_validates():
    full = [b for b in _toml_blocks() if "[data]" in b and "[[layers]]" in b]
    assert len(full) == 2
    for block in full:
        config = parse_config(tomllib.loads(block), base=str(EXAMPLE.parent))
        assert config.layers
    assert read_toml(EXAMPLE)["data"]["num_classes"] == 6


def test_every_subcommand_is_documented():
    for command in ("inspect", "convert", "train", "evaluate", "predict", "demo"):
        assert f"## `seqkit {command}`" in DOC
