"""fit and evaluate under torch.distributed: 2 gloo processes started by the test, each bounded in time.

w ranks with batch b train exactly like one process with batch w*b (the shares are round-robin and
the loss is normalised by the global count), every rank runs the same number of steps when the
data does not divide evenly, a rank that dies makes the other stop with an error, a checkpoint
written by rank 0 resumes on 2 ranks, and evaluation merges to the single-process figures.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

import seqkit  # noqa: F401  (the workers import it the same way)

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import dist_worker  # noqa: E402

TIMEOUT = 120


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _launch(mode: str, out: Path, options: dict, world: int = 2, dist_timeout: int = 60):
    """Start ``world`` ranks of dist_worker.py; returns the processes (not yet waited for)."""
    port = _port()
    procs = []
    for rank in range(world):
        env = dict(os.environ, RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                   MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), OMP_NUM_THREADS="1",
                   SEQKIT_DIST_TIMEOUT=str(dist_timeout), PYTHONPATH=os.pathsep.join(sys.path))
        procs.append(subprocess.Popen([sys.executable, str(HERE / "dist_worker.py"), mode, str(out),
                                       json.dumps(options)], env=env, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True))
    return procs


def _run(mode: str, out: Path, options: dict) -> list[dict]:
    procs = _launch(mode, out, options)
    for p in procs:
        try:
            _, err = p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            raise
        assert p.returncode == 0, err[-3000:]
    return [torch.load(out / f"rank{r}.pt") for r in range(2)]


def _single(options: dict, batch_size: int):
    x, y, fm, lm = dist_worker.data(options["n"], options["t"], options["per_step"])
    net = dist_worker.network(options)
    losses = dist_worker.Losses()
    arrays = (x, y, fm, lm) if lm is not None else (x, y, fm)
    net.fit(arrays, epochs=options["epochs"], batch_size=batch_size, shuffle=True, progress=False,
            listeners=[losses])
    return net, losses.values, arrays


CASES = [
    {"per_step": False, "reduction": "per_sequence"},
    {"per_step": True, "reduction": "per_step"},
    {"per_step": True, "reduction": "per_sequence", "tbptt": True, "grad_clip": 0.5, "l2": 1e-3},
    {"per_step": True, "reduction": "per_step", "tbptt": True},
]


@pytest.mark.parametrize("case", CASES, ids=lambda c: "-".join(f"{k}={v}" for k, v in c.items()))
def test_two_ranks_with_batch_b_equal_one_process_with_batch_2b(tmp_path, case):
    # 13 sequences, batch 3 per rank: shares of 7 and 6, so rank 1 runs a filler step each epoch
    options = dict(case, n=13, t=9, epochs=2, batch_size=3)
    ranks = _run("fit", tmp_path, options)
    net, losses, _ = _single(options, batch_size=6)
    assert ranks[0]["iteration"] == ranks[1]["iteration"] == net.iteration == 6
    for name, value in net.state_dict().items():
        torch.testing.assert_close(ranks[0]["params"][name], value, rtol=1e-5, atol=1e-7, msg=name)
        torch.testing.assert_close(ranks[1]["params"][name], value, rtol=1e-5, atol=1e-7, msg=name)
    np.testing.assert_allclose(ranks[0]["losses"], losses, rtol=1e-5)
    np.testing.assert_allclose(ranks[1]["losses"], losses, rtol=1e-5)       # the global loss on each rank


def test_a_rank_that_dies_makes_the_other_stop_with_an_error(tmp_path):
    options = dict(per_step=False, reduction="per_sequence", n=40, t=6, epochs=50, batch_size=2,
                   die_rank=1, die_at=3)
    start = time.monotonic()
    procs = _launch("fit", tmp_path, options, dist_timeout=20)
    codes = []
    for p in procs:
        try:
            p.communicate(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            for q in procs:
                q.kill()
            pytest.fail("a rank hung after the other died")
        codes.append(p.returncode)
    assert codes[1] == 3 and codes[0] != 0
    assert time.monotonic() - start < 60


def test_a_checkpoint_from_rank_0_resumes_on_two_ranks_to_the_same_losses(tmp_path):
    options = dict(per_step=False, reduction="per_sequence", n=12, t=6, epochs=3, batch_size=2,
                   checkpoint_dir=str(tmp_path / "ck"), checkpoint_every=4)
    full = _run("fit", tmp_path / "full", options) if (tmp_path / "full").mkdir() is None else None
    checkpoints = sorted((tmp_path / "ck").glob("*.seqkit"))
    assert checkpoints, "rank 0 wrote no checkpoint"
    middle = [p for p in checkpoints if "-i000000004" in p.name][0]
    (tmp_path / "resumed").mkdir()
    resumed = _run("resume", tmp_path / "resumed", dict(options, checkpoint_dir=None, resume_from=str(middle)))
    np.testing.assert_allclose(resumed[0]["losses"], full[0]["losses"][4:], rtol=1e-6)
    for name, value in full[0]["params"].items():
        torch.testing.assert_close(resumed[0]["params"][name], value, rtol=1e-6, atol=1e-8, msg=name)


def test_distributed_evaluation_equals_one_process(tmp_path):
    options = dict(per_step=False, reduction="per_sequence", n=15, t=7, epochs=1, batch_size=2, evaluate=True)
    ranks = _run("fit", tmp_path, options)
    net, _, arrays = _single(options, batch_size=4)
    want = np.asarray(net.evaluate(arrays).confusion_matrix())
    for rank in ranks:
        np.testing.assert_array_equal(rank["confusion"].numpy(), want)
        assert rank["score"] == pytest.approx(net.score(arrays), rel=1e-6)
    assert want.sum() == 15
