"""Exiting mid-read: no read-ahead thread may still be inside Arrow when the interpreter finalizes.

A daemon thread cut off inside Arrow's C++ code at interpreter exit can abort
the process with `terminate called without an active exception`. Each run
below reads one batch of a large Parquet file (so the read-ahead thread is
decoding the next block) and exits without closing anything. The crash is a
race, so every run also checks the cause directly: an `atexit` hook
registered before `readers` is imported runs after readers' own hook, and
must find no read-ahead thread left.
"""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

REPO = Path(__file__).resolve().parents[2]

SCRIPT = """
import atexit, sys, threading

def alive():
    return sum(t.name == "readers-prefetch" and t.is_alive() for t in threading.enumerate())

atexit.register(lambda: print(f"read-ahead threads after readers' exit hook: {alive()}", file=sys.stderr))

import readers

path, layout, how = sys.argv[1:4]
reader = readers.ParquetSequenceReader(path, id_column="id" if layout == "long" else None)
batches = iter(readers.SequenceBatches(reader, batch_size=2048, align="align_start"))
batch = next(batches)
print(f"read {len(batch)}; read-ahead threads running: {alive()}", file=sys.stderr)
if how == "sys.exit":
    sys.exit(0)
"""


@pytest.fixture(scope="module")
def big(tmp_path_factory):
    """A nested file (8192 sequences x 200 steps x 2 channels, 4 row groups) and a long one."""
    folder = tmp_path_factory.mktemp("big")
    n, steps = 8192, 200
    values = np.random.default_rng(0).standard_normal(n * steps)
    lists = pa.ListArray.from_arrays(pa.array(np.arange(0, n * steps + 1, steps, dtype=np.int32)),
                                     pa.array(values))
    pq.write_table(pa.table({"x": lists, "y": lists}), folder / "nested.parquet", row_group_size=2048)
    pq.write_table(pa.table({"id": np.repeat(np.arange(n), steps), "x": values}),
                   folder / "long.parquet", row_group_size=1 << 18)
    return folder


@pytest.mark.parametrize("layout", ["nested", "long"])
def test_exit_after_one_batch_leaves_no_thread_in_arrow(big, layout):
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    for i in range(5):                                              # the crash is a race: 5 runs
        how = ("sys.exit", "end of script")[i % 2]
        run = subprocess.run([sys.executable, "-c", SCRIPT, str(big / f"{layout}.parquet"), layout, how],
                             capture_output=True, text=True, timeout=120, env=env, cwd=REPO)
        assert "terminate called" not in run.stderr, run.stderr
        assert run.returncode == 0, run.stderr
        assert "read 2048; read-ahead threads running: 1" in run.stderr   # the case under test
        assert "read-ahead threads after readers' exit hook: 0" in run.stderr, run.stderr
