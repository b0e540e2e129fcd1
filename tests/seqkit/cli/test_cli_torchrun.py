"""``torchrun -m seqkit train`` and ``evaluate`` end to end on 2 CPU processes (gloo), bounded in time:
one model file, one metrics line per epoch, a report, and the same evaluation as one process."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import write_tiny_config

TIMEOUT = 240


def _torchrun(*args, cwd):
    env = dict(os.environ, OMP_NUM_THREADS="1", SEQKIT_DIST_TIMEOUT="60")
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
               "-m", "seqkit", *map(str, args)]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=TIMEOUT)


def _accuracy(text: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith("Accuracy:"))


def test_torchrun_train_and_evaluate_on_two_processes(tmp_path, cli):
    config = write_tiny_config(tmp_path, **{"[train]\nepochs = 1": "[train]\nepochs = 2"})
    out = tmp_path / "run"
    result = _torchrun("train", config, "--out", out, "--no-progress", cwd=tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
    assert (out / "model.seqkit").is_file() and (out / "report.html").is_file()
    lines = (out / "metrics.jsonl").read_text().strip().splitlines()
    assert [json.loads(line)["epoch"] for line in lines] == [1, 2]          # written once, by rank 0
    assert result.stdout.count("epoch 2/2") == 1                              # printed once
    # 48 series, global batch 2 x 16: 2 iterations per epoch (one process with batch 16 needs 3)
    assert json.loads(lines[-1])["iteration"] == 4
    args = ["evaluate", out / "model.seqkit", "--config", config]
    both = _torchrun(*args, cwd=tmp_path)
    assert both.returncode == 0, both.stderr[-3000:]
    one = cli(*args)
    assert one.code == 0, one.err
    assert both.stdout.count("Accuracy:") == 1                                # rank 0 prints
    assert _accuracy(both.stdout) == _accuracy(one.out)                       # merged = one process
