"""``make gpu-check``: everything seqkit checks only on a CUDA machine, in one command.

Run from the repository root on a machine with an NVIDIA GPU (about 5-8 minutes on one H200):

    make gpu-check                         # or: python benchmarks/gpu_check.py [--budget SECONDS]

Without a GPU it stops at once with a message saying so (exit status 2). Otherwise it runs
the steps below one after the other, each in its own process under a time limit; a step that
fails or runs out of time does not stop the others (no ``set -e``); one table at the end sums
up (exit status 1 when any step failed or timed out):

1. environment: torch, CUDA, cuDNN, the device(s), seqkit's float32 mode, torch's float32
   precision settings (read through the ``fp32_precision`` API only: reading the legacy
   ``allow_tf32`` flags after the new API was used is an error in torch);
2. the network, evaluation and model-file CUDA tests (``-m cuda``);
3. the layer CUDA tests (``-m cuda``; the sync audit is step 6);
4. the tests that failed in 2 and 3, again with TF32 off everywhere (seqkit "ieee" and torch's
   matmul, cuDNN conv and cuDNN RNN settings "ieee"): passing now means a precision problem
   (a tolerance), failing again a logic problem;
5. seqkit's "tf32" opt-in (``SEQKIT_FLOAT32=tf32``): the float32-policy, Keras-parity and
   network CUDA tests with the tolerances the policy sets;
6. the sync audit: the training-step cases on the CPU audit and under
   ``torch.cuda.set_sync_debug_mode("error")``;
7. the CPU-marked Keras tests on the GPU host (Keras pinned to the CPU by tests/conftest.py);
8. ``benchmarks/layers.py --device cuda --quick`` (masked LSTM/GRU vs bare cuDNN nn.LSTM/nn.GRU
   in "ieee", "tf32" and bf16; compiled loop steps vs eager);
9. with two or more GPUs: 2 NCCL ranks with batch b equal one process with batch 2b.

The time limits add up to ``--budget`` (480 s by default); a step never gets more than what
is left of it.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PYTEST = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfE", "--no-header"]
NETWORK_TESTS = ["tests/seqkit/network", "tests/seqkit/evaluation", "tests/seqkit/test_modelfile.py"]
LAYER_TESTS = ["tests/seqkit/layers"]
SYNC_TESTS = ["tests/seqkit/layers/test_host_sync.py", "tests/seqkit/layers/test_pooling_norm_host_sync.py"]
KERAS_TESTS = ["tests/seqkit/layers/test_keras_parity.py", "tests/seqkit/layers/test_keras_oracles.py"]
TF32_TESTS = ["tests/seqkit/layers/test_float32_policy.py", "tests/seqkit/layers/test_keras_parity.py",
              "tests/seqkit/network/test_cuda.py"]
#: step -> share of the budget (the shares add up to 1).
SHARES = {"environment": 0.04, "network CUDA tests": 0.14, "layer CUDA tests": 0.30,
          "failures, TF32 off": 0.08, "tf32 opt-in": 0.08, "sync audit": 0.07,
          "Keras tests on the GPU host": 0.07, "benchmark --device cuda": 0.16, "NCCL, 2 ranks": 0.06}
IEEE_EVERYWHERE = ("import torch; b = torch.backends; b.cuda.matmul.fp32_precision = 'ieee'; "
                   "b.cudnn.conv.fp32_precision = 'ieee'; b.cudnn.rnn.fp32_precision = 'ieee'; "
                   "import pytest, sys; sys.exit(pytest.main(sys.argv[1:]))")


# -- the environment -----------------------------------------------------------------------------
def environment() -> dict:
    """What the steps run on; ``gpu`` False when torch sees no CUDA device."""
    info: dict = {"python": sys.version.split()[0]}
    try:
        import torch
    except ImportError as err:
        return {**info, "gpu": False, "why": f"torch cannot be imported ({err})"}
    info["torch"] = torch.__version__
    info["cuda build"] = torch.version.cuda or "none (a CPU build of torch)"
    if not torch.cuda.is_available():
        why = ("this torch is a CPU build" if torch.version.cuda is None
               else "torch sees no CUDA device (no NVIDIA driver, or CUDA_VISIBLE_DEVICES hides it)")
        return {**info, "gpu": False, "why": why}
    info["gpu"] = True
    info["cuDNN"] = str(torch.backends.cudnn.version())
    info["devices"] = [f"{torch.cuda.get_device_name(i)} (sm_{''.join(map(str, torch.cuda.get_device_capability(i)))}, "
                       f"{torch.cuda.get_device_properties(i).total_memory / 2**30:.0f} GiB)"
                       for i in range(torch.cuda.device_count())]
    b = torch.backends
    info["torch fp32_precision (new API)"] = {
        "generic": b.fp32_precision, "cuda.matmul": b.cuda.matmul.fp32_precision,
        "cudnn": b.cudnn.fp32_precision, "cudnn.conv": b.cudnn.conv.fp32_precision,
        "cudnn.rnn": b.cudnn.rnn.fp32_precision}
    sys.path.insert(0, str(ROOT))
    from seqkit.layers import compiled_steps_enabled, get_float32_precision
    info["seqkit float32 mode"] = get_float32_precision()
    info["seqkit compiled steps"] = compiled_steps_enabled()
    try:
        import keras
        info["keras"] = keras.__version__
    except Exception as err:                                   # keras is a test extra
        info["keras"] = f"not importable ({type(err).__name__})"
    try:
        import triton
        info["triton"] = triton.__version__
    except ImportError:
        info["triton"] = "not installed (compiled steps fall back to eager)"
    return info


# -- running one step ----------------------------------------------------------------------------
def _env(**extra) -> dict:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep))
    env.setdefault("KERAS_BACKEND", "torch")
    env.update(extra)
    return env


def _run(cmd: list[str], limit: float, env: dict) -> tuple[str, int | None, str, float]:
    """Run ``cmd`` in its own process group for at most ``limit`` seconds, echoing its output.

    A watchdog kills the whole group at the limit (SIGTERM, SIGKILL 10 s later), so a step that
    hangs without printing is stopped too. Returns ``(status, return code, output, seconds)``;
    status PASS, FAIL or TIMEOUT.
    """
    start = time.monotonic()
    print(f"\n$ {' '.join(cmd)}   (limit {limit:.0f} s)", flush=True)
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    expired = threading.Event()

    def kill() -> None:
        expired.set()
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
    watchdog = threading.Timer(limit, kill)
    watchdog.start()
    lines: list[str] = []
    try:
        for line in iter(proc.stdout.readline, ""):
            print(line, end="", flush=True)
            lines.append(line)
        proc.wait()
    finally:
        watchdog.cancel()
    took = time.monotonic() - start
    if expired.is_set():
        return "TIMEOUT", None, "".join(lines), took
    return ("PASS" if proc.returncode == 0 else "FAIL"), proc.returncode, "".join(lines), took


def _pytest_counts(output: str) -> str:
    """pytest's final counts line ("12 passed, 3 skipped in 4.5s"), or ""."""
    found = re.findall(r"^=*\s*(\d+ (?:passed|failed|error|errors|skipped|deselected).*?)\s*=*$", output, re.M)
    return found[-1] if found else ""


def _failed_ids(output: str) -> list[str]:
    return sorted(set(re.findall(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", output, re.M)))


# -- NCCL: 2 ranks equal 1 process ----------------------------------------------------------------
NCCL_OPTIONS = {"per_step": True, "reduction": "per_step", "n": 13, "t": 9, "epochs": 2, "batch_size": 3}


def nccl_rank(out: str) -> None:
    """One rank (RANK/WORLD_SIZE/LOCAL_RANK set): tests/seqkit/network/dist_worker.py's network on CUDA."""
    sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "seqkit" / "network")]
    import torch

    import dist_worker
    x, y, fm, lm = dist_worker.data(NCCL_OPTIONS["n"], NCCL_OPTIONS["t"], NCCL_OPTIONS["per_step"])
    net = dist_worker.network(NCCL_OPTIONS).to("cuda")          # fit moves it to cuda:LOCAL_RANK, NCCL
    net.fit((x, y, fm, lm), epochs=NCCL_OPTIONS["epochs"], batch_size=NCCL_OPTIONS["batch_size"], shuffle=True,
            progress=False)
    rank = int(os.environ["RANK"])
    torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, Path(out) / f"rank{rank}.pt")


def nccl_compare(out: str) -> None:
    """The single-process run (batch 2b, cuda:0) against both ranks' parameters."""
    sys.path[:0] = [str(ROOT), str(ROOT / "tests" / "seqkit" / "network")]
    import torch

    import dist_worker
    x, y, fm, lm = dist_worker.data(NCCL_OPTIONS["n"], NCCL_OPTIONS["t"], NCCL_OPTIONS["per_step"])
    net = dist_worker.network(NCCL_OPTIONS).to("cuda")
    net.fit((x, y, fm, lm), epochs=NCCL_OPTIONS["epochs"], batch_size=2 * NCCL_OPTIONS["batch_size"], shuffle=True,
            progress=False)
    for rank in (0, 1):
        got = torch.load(Path(out) / f"rank{rank}.pt")
        for name, value in net.state_dict().items():
            torch.testing.assert_close(got[name], value.detach().cpu(), rtol=1e-5, atol=1e-7, msg=name)
    print("2 NCCL ranks with batch b equal one process with batch 2b")


def _nccl_step(limit: float) -> tuple[str, str]:
    with tempfile.TemporaryDirectory() as out:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        start = time.monotonic()
        procs = [subprocess.Popen([sys.executable, __file__, "--nccl-rank", out], cwd=ROOT,
                                  env=_env(RANK=str(r), WORLD_SIZE="2", LOCAL_RANK=str(r), MASTER_ADDR="127.0.0.1",
                                           MASTER_PORT=str(port)), start_new_session=True)
                 for r in range(2)]
        try:
            for p in procs:
                p.wait(timeout=max(1.0, start + limit / 2 - time.monotonic()))
        except subprocess.TimeoutExpired:
            for p in procs:
                os.killpg(p.pid, signal.SIGKILL)
            return "TIMEOUT", "the 2 ranks did not finish"
        if any(p.returncode for p in procs):
            return "FAIL", f"rank exit codes {[p.returncode for p in procs]}"
        status, _, output, _ = _run([sys.executable, __file__, "--nccl-compare", out],
                                    max(1.0, start + limit - time.monotonic()), _env())
        return status, output.strip().splitlines()[-1] if output.strip() else ""


# -- the whole check ------------------------------------------------------------------------------
def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for all steps together (480)")
    parser.add_argument("--nccl-rank", metavar="DIR", help=argparse.SUPPRESS)
    parser.add_argument("--nccl-compare", metavar="DIR", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.nccl_rank:
        nccl_rank(args.nccl_rank)
        return 0
    if args.nccl_compare:
        nccl_compare(args.nccl_compare)
        return 0

    started = time.monotonic()
    info = environment()
    print(json.dumps(info, indent=2))
    if not info["gpu"]:
        print(f"\ngpu-check: no GPU here ({info['why']}; torch {info.get('torch', '?')}). Nothing was run: "
              f"run `make gpu-check` on a machine with an NVIDIA GPU and a CUDA build of torch.", file=sys.stderr)
        return 2
    results = [("environment", "PASS", time.monotonic() - started,
                f"{info['devices'][0]}; torch {info['torch']}, CUDA {info['cuda build']}, cuDNN {info['cuDNN']}; "
                f"seqkit float32 {info['seqkit float32 mode']}")]

    def limit(step: str) -> float:
        left = args.budget - (time.monotonic() - started)
        return max(0.0, min(SHARES[step] * args.budget, left))

    def pytest_step(step: str, targets: list[str], *extra: str, env: dict | None = None, cmd=None) -> list[str]:
        seconds = limit(step)
        if seconds < 5:
            results.append((step, "SKIP", 0.0, "no time left in the budget"))
            return []
        status, rc, output, took = _run((cmd or PYTEST) + list(extra) + targets, seconds, env or _env())
        failed = _failed_ids(output)
        if status == "FAIL" and rc == 5:                     # pytest: nothing collected
            status = "SKIP"
        note = _pytest_counts(output) or (f"exit {rc}" if rc is not None else "killed at the limit")
        results.append((step, status, took, note))
        return failed

    failed = pytest_step("network CUDA tests", NETWORK_TESTS, "-m", "cuda")
    failed += pytest_step("layer CUDA tests", LAYER_TESTS, "-m", "cuda", *[f"--ignore={t}" for t in SYNC_TESTS])
    if failed:
        seconds = limit("failures, TF32 off")
        status, rc, output, took = _run([sys.executable, "-c", IEEE_EVERYWHERE, *PYTEST[3:], *failed], seconds,
                                        _env(SEQKIT_FLOAT32="ieee"))
        still = set(_failed_ids(output))
        if status == "TIMEOUT":
            note = "killed at the limit"
        else:
            precision = [t for t in failed if t not in still]
            note = (f"precision (pass with TF32 off): {precision or 'none'}; "
                    f"logic (fail again): {sorted(still) or 'none'}")
        results.append(("failures, TF32 off", status, took, note))
    else:
        results.append(("failures, TF32 off", "SKIP", 0.0, "nothing failed"))
    pytest_step("tf32 opt-in", TF32_TESTS, "-m", "cuda", env=_env(SEQKIT_FLOAT32="tf32"))
    pytest_step("sync audit", SYNC_TESTS)
    pytest_step("Keras tests on the GPU host", KERAS_TESTS, "-m", "not cuda")
    seconds = limit("benchmark --device cuda")
    if seconds >= 5:
        status, rc, output, took = _run([sys.executable, "benchmarks/layers.py", "--device", "cuda", "--quick"],
                                        seconds, _env())
        misses = len(re.findall(r"\| MISS \|$", output, re.M))
        rows = len(re.findall(r"\| (?:pass|MISS|info) \|$", output, re.M))
        results.append(("benchmark --device cuda", status, took, f"{rows} rows, {misses} below target"))
    else:
        results.append(("benchmark --device cuda", "SKIP", 0.0, "no time left in the budget"))
    import torch
    if torch.cuda.device_count() < 2:
        results.append(("NCCL, 2 ranks", "SKIP", 0.0, f"{torch.cuda.device_count()} GPU (needs 2)"))
    else:
        begun = time.monotonic()
        status, note = _nccl_step(limit("NCCL, 2 ranks"))
        results.append(("NCCL, 2 ranks", status, time.monotonic() - begun, note))

    total = time.monotonic() - started
    print("\n## gpu-check summary\n")
    print("| step | result | seconds | notes |\n|---|---|---:|---|")
    for step, status, took, note in results:
        print(f"| {step} | {status} | {took:.0f} | {note} |")
    print(f"\nTotal {total:.0f} s (budget {args.budget:.0f} s).")
    return 1 if any(status in ("FAIL", "TIMEOUT") for _, status, _, _ in results) else 0


if __name__ == "__main__":
    sys.exit(main())
