"""CPU threads: one by default in every command that trains or predicts, OMP_NUM_THREADS and --threads win."""

from __future__ import annotations

import re

import pytest
import torch

from conftest import write_tiny_config
from seqkit.cli._args import DEFAULT_THREADS, threads_to_use
from seqkit.network import Listener


class _Threads(Listener):
    """Records torch's thread count while ``fit`` runs."""

    seen: list = []

    def on_fit_start(self, state) -> None:
        _Threads.seen.append(torch.get_num_threads())


@pytest.fixture
def two_threads():
    """torch at 2 threads (its default on a 2-core machine) around the test, restored after."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def test_threads_to_use(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert DEFAULT_THREADS == 1
    assert threads_to_use(None) == 1 and threads_to_use(3) == 3 and threads_to_use("auto") is None
    monkeypatch.setenv("OMP_NUM_THREADS", "2")
    assert threads_to_use(None) is None and threads_to_use(3) == 3


@pytest.mark.parametrize("argv, env, expected", [
    ([], None, 1),                          # the default: one thread
    (["--threads", "auto"], None, 2),       # torch's own choice (what it had)
    ([], "2", 2),                           # OMP_NUM_THREADS set: torch follows it, seqkit leaves it
    (["--threads", "1"], "2", 1),           # --threads wins
])
def test_train_threads(cli, tmp_path, monkeypatch, two_threads, argv, env, expected):
    from seqkit.cli import _run

    if env is None:
        monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    else:
        monkeypatch.setenv("OMP_NUM_THREADS", env)
    original = _run._listeners
    monkeypatch.setattr(_run, "_listeners", lambda *a: [*original(*a), _Threads()])
    monkeypatch.setattr(_Threads, "seen", [])
    config = write_tiny_config(tmp_path)
    result = cli("train", config, "--out", tmp_path / "out", "--no-progress", *argv)
    assert result.code == 0, result.err
    assert _Threads.seen == [expected]
    assert torch.get_num_threads() == 2                          # restored afterwards


@pytest.mark.parametrize("command", ["train", "evaluate", "predict", "demo"])
def test_every_torch_command_takes_threads(cli, command):
    result = cli(command, "--help")
    assert "--threads N|auto" in result.out and re.search(r"default\s+1,", result.out)
    bad = cli(command, *([] if command == "demo" else ["x"]), "--threads", "0")
    assert bad.code == 2 and "expected an integer >= 1" in bad.err
