"""Help, usage errors, exit codes and error printing of the ``seqkit`` command."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO, TRAIN_FEATURES

COMMANDS = ["inspect", "convert", "train", "evaluate", "predict", "demo"]
SCRIPT = Path(sys.executable).with_name("seqkit")


def test_top_level_help(cli):
    result = cli("--help")
    assert result.code == 0
    for command in COMMANDS:
        assert command in result.out


@pytest.mark.parametrize("command", COMMANDS)
def test_every_subcommand_has_help(cli, command):
    result = cli(command, "--help")
    assert result.code == 0
    assert f"usage: seqkit {command}" in result.out
    assert "examples:" in result.out


@pytest.mark.parametrize("argv", [
    [],                                         # no subcommand
    ["frobnicate"],                             # unknown subcommand
    ["inspect"],                                # missing SOURCE
    ["inspect", "x.csv", "--start", "minus"],   # bad integer
    ["train", "x.toml", "--epochs", "0"],       # out of range
    ["predict", "model.seqkit", "data.csv"],    # missing --out
    ["inspect", "x.csv", "--format", "xlsx"],   # bad choice
])
def test_usage_errors_exit_2(cli, argv):
    result = cli(*argv)
    assert result.code == 2
    assert "usage:" in result.err


def test_data_error_is_one_line_without_traceback(cli):
    result = cli("inspect", TRAIN_FEATURES, "--start", "0", "--end", "450")
    assert result.code == 1
    lines = result.err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("seqkit: error: ")
    assert "450.csv" in lines[0] and "missing file" in lines[0]
    assert "Traceback" not in result.err


def test_debug_shows_the_traceback(cli):
    for argv in (["--debug", "inspect"], ["inspect", "--debug"]):      # before or after the command
        result = cli(*argv, TRAIN_FEATURES, "--start", "0", "--end", "450")
        assert result.code == 1
        assert "Traceback (most recent call last)" in result.err
        assert "SequenceDataError" in result.err
        assert result.err.strip().splitlines()[-1].startswith("seqkit: error: ")


@pytest.mark.parametrize("argv, expected", [
    (["inspect", "no/such/file.csv"], "no such file or directory: no/such/file.csv"),
    (["inspect", TRAIN_FEATURES], "give start and end"),
    (["train", "no_such.toml"], "No such file or directory: no_such.toml"),
    (["evaluate", "no_such.seqkit", "data.csv"], "no such model file: no_such.seqkit"),
])
def test_user_mistakes_exit_1(cli, argv, expected):
    result = cli(*argv)
    assert result.code == 1
    assert expected in result.err
    assert "Traceback" not in result.err


def test_keyboard_interrupt_exits_130(cli, monkeypatch):
    from seqkit.cli import _inspect

    def interrupted(args):
        raise KeyboardInterrupt
    monkeypatch.setattr(_inspect, "run", interrupted)
    result = cli("inspect", "x.csv")
    assert result.code == 130
    assert result.err.strip() == "seqkit: interrupted"


def test_python_dash_m(monkeypatch, capsys):
    """`python -m seqkit.cli` runs the same main (checked in-process with runpy)."""
    import runpy

    monkeypatch.setattr(sys, "argv", ["seqkit", "inspect", TRAIN_FEATURES, "--start", "0", "--end", "9",
                                      "--json"])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("seqkit.cli", run_name="__main__")
    assert done.value.code == 0
    assert '"sequences": 10' in capsys.readouterr().out


def test_console_script_process(tmp_path):
    """The installed `seqkit` script as a real process: a data error is one line on stderr, exit 1."""
    script = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "seqkit.cli"]
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    done = subprocess.run([*script, "inspect", str(REPO / "README.md"), "--format", "csv"],
                          capture_output=True, text=True, cwd=tmp_path, env=env, timeout=120)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("seqkit: error: ")
    assert "README.md" in done.stderr and "Traceback" not in done.stderr
