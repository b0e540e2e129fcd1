"""The ``seqkit`` command's catalogue of mistakes and mishaps: one row each, one clear line each.

A row is a :class:`CliCase`: a name, a factory that writes what the command
needs into a fresh folder and returns its arguments, the exit code, and a
regex that must match the command's stderr. Every row's stderr must be that
one line (``seqkit: error: ...`` or ``seqkit: interrupted...``), without a
traceback. ``setup`` mocks what the row needs (a full disk, a Ctrl-C);
``interrupt_at`` runs the installed ``seqkit`` script as a process instead,
and sends it Ctrl-C (SIGINT) as soon as a module whose name starts with that
text has been imported (``-X importtime`` tells).

Add a case by adding a row; a factory of more than a line or two goes in the
helpers above the table.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from seqkit.cli import main as cli_main

REPO = Path(__file__).resolve().parents[2]
_SC = REPO / "datasets" / "synthetic_control"
_VARLEN_TEST = REPO / "datasets" / "varlen" / "test.csv"

_CLI_TOML = """\
[data]
batch_size = 16
num_classes = 6
align = "align_end"
sequence_labels = true

[data.train]
path = "{sc}/train/features/%d.csv"
labels = "{sc}/train/labels/%d.csv"
start = 0
end = 47

[data.test]
path = "{sc}/test/features/%d.csv"
labels = "{sc}/test/labels/%d.csv"
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

[output]
report = "none"
"""

_LONG_TOML = """\
[data]
batch_size = 16
num_classes = 4
align = "align_end"
sequence_labels = true
label_column = "label"
id_column = "series_id"
order_column = "t"

[data.train]
path = "train.csv"

[[layers]]
type = "LSTM"
n_out = 4

[[layers]]
type = "LastTimeStep"
layer = { type = "SimpleRNN", n_out = 4 }

[[layers]]
type = "Output"

[network]
seed = 1
device = "cpu"

[train]
epochs = 1

[output]
report = "none"
"""


@dataclass
class CliCase:
    name: str
    argv: Callable[[Path], list]            # writes what the command needs into a folder, returns its arguments
    code: int                               # the exit code
    stderr: str                             # regex searched in stderr (import-time lines left out)
    setup: Callable[[pytest.MonkeyPatch, Path], None] | None = None   # mocks, before the command runs
    interrupt_at: str | None = None         # run as a process; Ctrl-C once this module has been imported


# ---- factories ------------------------------------------------------------------------------
def _cli_config(folder: Path, **replace) -> Path:
    """The small config (48 train series, 3 batches per epoch) in ``folder/run.toml``, edited."""
    text = _CLI_TOML.format(sc=_SC.as_posix())
    for old, new in replace.items():
        assert old in text, old
        text = text.replace(old, new)
    path = folder / "run.toml"
    path.write_text(text)
    return path


def _cli_train(folder: Path, config: Path) -> Path:
    """Train ``config`` into ``folder/out`` (one epoch) and return the run folder."""
    out = folder / "out"
    assert cli_main(["train", str(config), "--out", str(out), "--no-progress"]) == 0
    return out


def _cli_resume_changed(folder: Path, old: str, new: str) -> list:
    """A finished run, then its config edited (``old`` -> ``new``) and resumed."""
    config = _cli_config(folder)
    out = _cli_train(folder, config)
    _cli_config(folder, **{old: new})
    return ["train", config, "--out", out, "--resume", "--epochs", "2", "--no-progress"]


def _cli_resume_renamed_column(folder: Path) -> list:
    """A finished run on a long table, then the table's column ``x`` renamed ``w`` under the same config."""
    data = folder / "train.csv"
    data.write_text(_VARLEN_TEST.read_text())
    config = folder / "long.toml"
    config.write_text(_LONG_TOML)
    out = _cli_train(folder, config)
    lines = data.read_text().splitlines(keepends=True)
    data.write_text(lines[0].replace(",x,", ",w,") + "".join(lines[1:]))
    return ["train", config, "--out", out, "--resume", "--epochs", "2", "--no-progress"]


def _cli_predict_args(folder: Path) -> list:
    out = _cli_train(folder, _cli_config(folder))
    return ["predict", out / "model.seqkit", f"{_SC}/test/features/%d.csv", "--start", "0", "--end", "9",
            "--out", folder / "predictions.parquet"]


def _cli_no_space(monkeypatch, folder: Path, when: Callable[[str], bool] = lambda dst: True) -> None:
    """``os.replace`` fails as on a full disk (naming its source, as the OS does) when ``when(dst)``."""
    original = os.replace

    def replace(src, dst, *args, **kwargs):
        if when(os.fspath(dst)):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), os.fspath(src), None, os.fspath(dst))
        return original(src, dst, *args, **kwargs)
    monkeypatch.setattr(os, "replace", replace)


def _cli_no_space_in_parquet(monkeypatch, folder: Path) -> None:
    """pyarrow's own disk-full error: errno 28, no file name."""
    def write_table(self, *args, **kwargs):
        raise OSError(errno.ENOSPC, "Error writing bytes to file. Detail: [errno 28] No space left on device")
    monkeypatch.setattr(pq.ParquetWriter, "write_table", write_table)


def _cli_ctrl_c(times: int):
    """A setup: Ctrl-C ``times`` times after the first minibatch, and once more while the checkpoint
    is written."""
    def setup(monkeypatch, folder: Path) -> None:
        from seqkit.cli import _run
        from seqkit.network import Listener, Sequential

        class CtrlC(Listener):
            def on_iteration_end(self, state) -> None:
                if state.iteration == 1:
                    for _ in range(times):             # the first stops after this minibatch, a second at once
                        signal.raise_signal(signal.SIGINT)

        original_listeners, original_save = _run._listeners, Sequential.save

        def save(self, path):
            signal.raise_signal(signal.SIGINT)           # impatient: one more during the save
            original_save(self, path)
        monkeypatch.setattr(_run, "_listeners", lambda *a: [*original_listeners(*a), CtrlC()])
        monkeypatch.setattr(Sequential, "save", save)
    return setup


def _cli_write_bytes(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


_CLI_MID = 'type = "LastTimeStep"\nlayer = { type = "SimpleRNN", n_out = 6 }'
_CLI_LAYERS = _CLI_TOML[_CLI_TOML.index("[[layers]]"):_CLI_TOML.index("[network]")].replace("{{", "{") \
    .replace("}}", "}")                     # every [[layers]] table, as _cli_config writes them

CLI_CASES = [
    # ---- devices -------------------------------------------------------------------------------
    CliCase("--device tpu (train)",
            lambda d: ["train", _cli_config(d), "--out", d / "out", "--device", "tpu"], 1,
            r"^seqkit: error: unknown device 'tpu'; allowed: auto, cpu, cuda, mps or cuda:N$"),
    CliCase("--device tpu (demo)",
            lambda d: ["demo", "--quick", "--out", d / "demo", "--device", "tpu"], 1,
            r"^seqkit: error: unknown device 'tpu'; allowed: auto, cpu, cuda, mps or cuda:N$"),
    CliCase("--device tpu (predict)",
            lambda d: [*_cli_predict_args(d), "--device", "tpu"], 1,
            r"^seqkit: error: unknown device 'tpu'; allowed: auto, cpu, cuda, mps or cuda:N$"),
    # ---- sizes ---------------------------------------------------------------------------------
    CliCase("an output of two billion classes (--check)",
            lambda d: ["train", _cli_config(d, **{'type = "Output"\n': 'type = "Output"\nn_out = 2000000000\n'}),
                       "--check"], 1,
            r"run\.toml: layers: the network has 14,000,000,\d+ parameters \(layers\[2\] \(Output\) has "
            r"14,000,000,000\); training needs about [\d,.]+ GiB \(parameters, gradients and optimizer "
            r"state\), more than .* [\d,.]+ GiB of memory; make the layers smaller \(n_out\)$"),
    CliCase("an output of two billion classes (train)",
            lambda d: ["train", _cli_config(d, **{'type = "Output"\n': 'type = "Output"\nn_out = 2000000000\n'}),
                       "--out", d / "out"], 1,
            r"run\.toml: layers: the network has 14,000,000,\d+ parameters .*more than .* of memory"),
    CliCase("an LSTM of two billion units (--check)",
            lambda d: ["train", _cli_config(d, **{"n_out = 6\n\n[[layers]]\ntype = \"LastTimeStep\"":
                                                  "n_out = 2000000000\n\n[[layers]]\ntype = \"LastTimeStep\""}),
                       "--check"], 1,
            r"run\.toml: layers: the network is too large to build: a parameter of shape "
            r"\[8000000000, 2000000000\] has more values than fit in memory anywhere"),
    # ---- layers --------------------------------------------------------------------------------
    CliCase("no [[layers]]",
            lambda d: ["train", _cli_config(d, **{_CLI_LAYERS: ""}), "--check"], 1,
            r"run\.toml: layers: missing; this key is required$"),
    CliCase("layers = [...] written under [data.test]",
            lambda d: ["train", _cli_config(d, **{_CLI_LAYERS: 'layers = [{ type = "LSTM", n_out = 6 }]\n\n'}),
                       "--check"], 1,
            r"run\.toml: layers: missing; this key is required; there is a 'layers' in \[data\.test\]: a key "
            r"written after a \[table\] header belongs to that table"),
    CliCase("a wrapper without its layer",
            lambda d: ["train", _cli_config(d, **{_CLI_MID: 'type = "Bidirectional"'}), "--check"], 1,
            r"run\.toml: layers\[1\]\.layer: missing; Bidirectional needs layer$"),
    # ---- the config file -----------------------------------------------------------------------
    CliCase("a config file that is not UTF-8",
            lambda d: ["train", _cli_write_bytes(d / "latin1.toml", b"[data]\nbatch_size = 16\n# caf\xe9\n"),
                       "--check"], 1,
            r"latin1\.toml: not UTF-8 text \(TOML files are UTF-8\): byte 0xe9 on line 3; save the file as "
            r"UTF-8$"),
    # ---- resuming ------------------------------------------------------------------------------
    CliCase("--resume with another learning rate",
            lambda d: _cli_resume_changed(d, "learning_rate = 0.01", "learning_rate = 0.02"), 1,
            r"--resume: .*run\.toml would not continue the run in .*out: network\.learning_rate: 0\.01 in the "
            r"run, 0\.02 now\. Put the run's values back to continue it, or start a new run"),
    CliCase("--resume with other training data (config)",
            lambda d: _cli_resume_changed(d, "end = 47", "end = 31"), 1,
            r"--resume: .*: data\.train\.end: 47 in the run, 31 now\."),
    CliCase("--resume with other training data (same config, a renamed column)",
            _cli_resume_renamed_column, 1,
            r"--resume: .*: the data's feature columns: \['x', 'y', 'z'\] in the run, \['w', 'y', 'z'\] now\."),
    # ---- Ctrl-C --------------------------------------------------------------------------------
    CliCase("Ctrl-C, and once more during the checkpoint",
            lambda d: ["train", _cli_config(d), "--out", d / "out", "--no-progress"], 130,
            r"^seqkit: interrupted; checkpoint saved to .*checkpoint-e0000-i000000001\.seqkit\. Continue with: "
            r"seqkit train .* --resume$",
            setup=_cli_ctrl_c(1)),
    CliCase("Ctrl-C twice, and once more during the checkpoint",
            lambda d: ["train", _cli_config(d), "--out", d / "out", "--no-progress"], 130,
            r"^seqkit: interrupted; checkpoint saved to .*checkpoint-e0000-i000000001\.seqkit\. Continue with: "
            r"seqkit train .* --resume$",
            setup=_cli_ctrl_c(2)),
    CliCase("Ctrl-C while pyarrow loads (the first second)",
            lambda d: ["train", _cli_config(d), "--out", d / "out", "--no-progress"], 130,
            r"^seqkit: interrupted$", interrupt_at="pyarrow"),
    CliCase("Ctrl-C while torch loads (the first seconds)",
            lambda d: ["train", _cli_config(d), "--out", d / "out", "--no-progress"], 130,
            r"^seqkit: interrupted$", interrupt_at="torch"),
    # ---- a full disk ---------------------------------------------------------------------------
    CliCase("disk full when convert renames its file into place",
            lambda d: ["convert", _VARLEN_TEST, d / "varlen.parquet", "--id-column", "series_id"], 1,
            r"^seqkit: error: cannot write to .*varlen\.parquet: No space left on device$",
            setup=_cli_no_space),
    CliCase("disk full while convert writes (pyarrow's error names no file)",
            lambda d: ["convert", _VARLEN_TEST, d / "varlen.parquet", "--id-column", "series_id"], 1,
            r"^seqkit: error: cannot write to .*varlen\.parquet: No space left on device$",
            setup=_cli_no_space_in_parquet),
    CliCase("disk full when train writes the model file",
            lambda d: ["train", _cli_config(d), "--out", d / "out", "--no-progress"], 1,
            r"^seqkit: error: cannot write to .*out/model\.seqkit: No space left on device$",
            setup=lambda mp, d: _cli_no_space(mp, d, lambda dst: dst.endswith("model.seqkit"))),
    CliCase("disk full when train writes a checkpoint",
            lambda d: ["train", _cli_config(d), "--out", d / "out", "--no-progress"], 1,
            r"^seqkit: error: cannot write to .*out: No space left on device$",
            setup=lambda mp, d: _cli_no_space(mp, d, lambda dst: "checkpoint-" in dst)),
    CliCase("disk full when predict writes",
            _cli_predict_args, 1,
            r"^seqkit: error: cannot write to .*predictions\.parquet: No space left on device$",
            setup=lambda mp, d: _cli_no_space(mp, d, lambda dst: dst.endswith("predictions.parquet"))),
]


def _cli_run_process(argv: list, module: str) -> tuple[int, str]:
    """The ``seqkit`` script as a process, sent SIGINT once ``module`` (a prefix) has been imported."""
    script = Path(sys.executable).with_name("seqkit")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "seqkit.cli"]
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    env["PYTHONPROFILEIMPORTTIME"] = "1"
    process = subprocess.Popen([*command, *map(os.fspath, argv)], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True, env=env)
    lines = []
    for line in process.stderr:
        lines.append(line)
        name = line.rsplit("|", 1)[-1].strip()
        if line.startswith("import time:") and name.startswith(module):
            process.send_signal(signal.SIGINT)
            break
    _, rest = process.communicate(timeout=300)
    return process.returncode, "".join(lines) + rest


@pytest.mark.parametrize("case", CLI_CASES, ids=lambda c: c.name)
def test_cli_mistake(case, tmp_path, monkeypatch, capsys):
    argv = [os.fspath(a) for a in case.argv(tmp_path)]
    if case.interrupt_at is not None:
        code, err = _cli_run_process(argv, case.interrupt_at)
    else:
        if case.setup is not None:
            case.setup(monkeypatch, tmp_path)
        capsys.readouterr()
        code = cli_main(argv)
        err = capsys.readouterr().err
    err = "".join(line for line in err.splitlines(keepends=True) if not line.startswith("import time:"))
    assert "Traceback" not in err and "Exception ignored" not in err, f"{case.name}:\n{err}"
    assert err.count("\n") == 1, f"{case.name}: not one line:\n{err}"
    assert code == case.code, f"{case.name}: exit {code}, expected {case.code}: {err}"
    assert re.search(case.stderr, err.strip()), f"{case.name}: {err.strip()!r} does not match {case.stderr!r}"


def test_every_cli_case_has_a_distinct_name():
    names = [case.name for case in CLI_CASES]
    assert len(names) == len(set(names))
