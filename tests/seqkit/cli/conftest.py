"""Fixtures for the ``seqkit`` command tests: in-process runs and a tiny training config."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
SYNTHETIC = REPO / "datasets" / "synthetic_control"
VARLEN = REPO / "datasets" / "varlen"
TRAIN_FEATURES = str(SYNTHETIC / "train" / "features" / "%d.csv")
TRAIN_LABELS = str(SYNTHETIC / "train" / "labels" / "%d.csv")
TEST_FEATURES = str(SYNTHETIC / "test" / "features" / "%d.csv")
TEST_LABELS = str(SYNTHETIC / "test" / "labels" / "%d.csv")

TINY_TOML = """\
[data]
batch_size = 16
num_classes = 6
class_names = ["normal", "cyclic", "up", "down", "shift up", "shift down"]
align = "align_end"
sequence_labels = true

[data.train]
path = "{train_features}"
labels = "{train_labels}"
start = 0
end = 47

[data.test]
path = "{test_features}"
labels = "{test_labels}"
start = 0
end = 23

[[layers]]
type = "LSTM"
n_out = 6

[[layers]]
type = "LastTimeStep"
layer = {{ type = "SimpleRNN", n_out = 6 }}

[[layers]]
type = "Output"
activation = "softmax"
loss = "mcxent"

[network]
seed = 7
learning_rate = 0.01
device = "cpu"

[train]
epochs = 1
"""


@dataclass
class Result:
    """An in-process run: exit code and captured output."""

    code: int
    out: str
    err: str


@pytest.fixture
def cli(capsys):
    """``cli(*argv)`` runs ``seqkit.cli.main`` in this process and returns a :class:`Result`."""
    from seqkit.cli import main

    def run(*argv) -> Result:
        capsys.readouterr()
        code = main([os.fspath(a) for a in argv])
        captured = capsys.readouterr()
        return Result(code, captured.out, captured.err)
    return run


def write_tiny_config(folder: Path, **replace) -> Path:
    """The tiny config (48 train, 24 test series; 3 batches per epoch) written to ``folder/tiny.toml``."""
    text = TINY_TOML.format(train_features=TRAIN_FEATURES, train_labels=TRAIN_LABELS,
                            test_features=TEST_FEATURES, test_labels=TEST_LABELS)
    for old, new in replace.items():
        if old not in text:
            raise KeyError(old)
        text = text.replace(old, new)
    path = folder / "tiny.toml"
    path.write_text(text)
    return path


@pytest.fixture
def tiny_config(tmp_path) -> Path:
    return write_tiny_config(tmp_path)


@pytest.fixture(scope="module")
def trained_run(tmp_path_factory):
    """A finished tiny run folder (trained once per module)."""
    from seqkit.cli import main

    folder = tmp_path_factory.mktemp("run")
    config = write_tiny_config(folder)
    code = main(["train", str(config), "--out", str(folder / "out"), "--no-progress"])
    assert code == 0
    return folder / "out"
