"""Distributed training on this machine: 1 process against 2 (torch.distributed, gloo), same global batch.

Both train the same masked LSTM classifier (LSTM(64) -> LastTimeStep(LSTM(32)) -> Output(4), 8 features,
lengths 25..50 of T=50) on the same 2,048 array sequences for 2 epochs: one process with batch 64, or
two processes with batch 32 each (each rank trains on its round-robin half; the global batch, and so
the training, is the same). Each process uses one torch thread. The figure is sequences per second
over the whole fit; the ratio is 2 processes / 1 process. On a 2-core machine expect well under 2x:
the two ranks share the cores with each other and with gloo.

The readers side (rows read per rank, bounded-memory shuffle) is measured by
``benchmarks/distributed_memory.py`` when present.

    .venv/bin/python benchmarks/distributed.py            # prints the table, updates RESULTS.md
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _results import write_section  # noqa: E402

WORKER = HERE / "_dist_worker.py"


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(world: int, options: dict) -> dict:
    """Run the worker on ``world`` processes; rank 0's figures."""
    port, procs = _port(), []
    for rank in range(world):
        env = dict(os.environ, OMP_NUM_THREADS="1")
        if world > 1:
            env.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                       MASTER_PORT=str(port))
        procs.append(subprocess.Popen([sys.executable, str(WORKER), json.dumps(options)], env=env,
                                      stdout=subprocess.PIPE, text=True))
    outs = [p.communicate(timeout=1800)[0] for p in procs]
    if any(p.returncode for p in procs):
        raise SystemExit(f"a worker failed: {[p.returncode for p in procs]}")
    return json.loads(outs[0].strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run; prints only")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()
    n = 256 if args.quick else 2048
    base = {"n": n, "t": 50, "f": 8, "epochs": 1 if args.quick else 2}
    one = run(1, dict(base, batch=64))
    two = run(2, dict(base, batch=32))
    rate1 = one["sequences"] / one["seconds"]
    rate2 = two["sequences"] / two["seconds"]
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    lines = [
        "## Distributed", "",
        f"`.venv/bin/python benchmarks/distributed.py` on {platform.machine()}, {os.cpu_count()} cores, "
        f"1 torch thread per process, load average {load:.1f} at the end.", "",
        "| setting | sequences/s | ratio |", "|---|---|---|",
        f"| 1 process, batch 64 | {rate1:,.0f} | 1.00x |",
        f"| 2 processes (gloo), batch 32 each | {rate2:,.0f} | {rate2 / rate1:.2f}x |", "",
        f"{n:,} sequences x {base['epochs']} epochs, T=50, masked LSTM(64) -> LastTimeStep(LSTM(32)) -> "
        f"Output(4). The same global batch, so both runs train the same model (tests/seqkit/network/"
        f"test_distributed.py checks the parameters agree).",
    ]
    memory = HERE / "distributed_memory.py"
    if memory.exists():
        lines += ["", f"Readers: see `{memory.name}` (below, when it has been run)."]
    text = "\n".join(lines)
    print(text)
    if not (args.quick or args.no_write):
        write_section("Distributed", text)


if __name__ == "__main__":
    main()
