"""Readers for several processes: peak memory of the bounded shuffle, and the share of rows each rank reads.

1. Peak memory. Nested Parquet data sets of 10x and 100x a shuffle buffer of B sequences (8 float32
   features, 20..100 steps, row groups of B sequences) are read for one epoch, each configuration
   in its own process: the bounded shuffle (`shuffle_buffer=B`, with and without
   `bucket_by_length`) and the full in-memory shuffle; also a long Parquet table of 100x B. The
   figure is the peak resident memory of the epoch above the memory before it (after imports and
   listing the units): `ru_maxrss` at the end minus the RSS before the first batch.
2. Shares. Sharded by unit over 2 and 4 ranks, the rows each rank reads (its row groups) and its
   batches; sharded by sequence every rank reads every row.

    .venv/bin/python benchmarks/distributed_memory.py             # prints the tables
    .venv/bin/python benchmarks/distributed_memory.py --write     # also updates RESULTS.md
    .venv/bin/python benchmarks/distributed_memory.py --quick     # a smoke run (small B)

`measure(buffer)` returns the figures as dicts, for `benchmarks/distributed.py`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

F = 8


def _rss_mb() -> float:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _write_nested(path: str, n: int, row_group: int, seed: int = 0) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    with pq.ParquetWriter(path, pa.schema([("key", pa.string()), ("label", pa.int64())] +
                                          [(f"f{c}", pa.list_(pa.float32())) for c in range(F)])) as out:
        for lo in range(0, n, row_group):
            m = min(row_group, n - lo)
            lengths = rng.integers(20, 101, m)
            offsets = pa.array(np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32))
            columns = {"key": pa.array([str(i) for i in range(lo, lo + m)]),
                       "label": pa.array(rng.integers(0, 4, m))}
            for c in range(F):
                values = pa.array(rng.standard_normal(int(lengths.sum())).astype(np.float32))
                columns[f"f{c}"] = pa.ListArray.from_arrays(offsets, values)
            out.write_table(pa.table(columns), row_group_size=row_group)


def _write_long(path: str, n: int, rows_per_group: int, seed: int = 0) -> None:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    rng = np.random.default_rng(seed)
    schema = pa.schema([("id", pa.int64()), ("t", pa.int32()), ("label", pa.int64())] +
                       [(f"f{c}", pa.float32()) for c in range(F)])
    with pq.ParquetWriter(path, schema) as out:
        block = 2000
        for lo in range(0, n, block):
            m = min(block, n - lo)
            lengths = rng.integers(20, 101, m)
            ids = np.repeat(np.arange(lo, lo + m), lengths)
            t = np.concatenate([np.arange(k) for k in lengths]).astype(np.int32)
            columns = {"id": ids, "t": t, "label": np.repeat(rng.integers(0, 4, m), lengths)}
            for c in range(F):
                columns[f"f{c}"] = rng.standard_normal(len(ids)).astype(np.float32)
            out.write_table(pa.table(columns, schema=schema), row_group_size=rows_per_group)


def _child(options: dict) -> dict:
    """One epoch of one configuration, in this process: its peak memory above the start."""
    import readers

    if options.get("full"):                      # the full shuffle in memory, whatever the size
        readers.SequenceBatches.small_data_bytes = 1 << 62
    reader = readers.ParquetSequenceReader(options["path"], **({"id_column": "id", "order_column": "t"}
                                                               if options["long"] else {}))
    batches = readers.SequenceBatches(
        reader, batch_size=32, label_column="label", num_classes=4, sequence_labels=True, align="align_start",
        shuffle=options["shuffle"], seed=1, shuffle_buffer=options["buffer"], bucket_by_length=options["bucket"],
        shard_by="unit")
    mode = batches.shuffle_mode
    reader.units()
    before = _rss_mb()
    start, n = time.perf_counter(), 0
    for batch in batches:
        n += len(batch)
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"mode": mode, "sequences": n, "seconds": seconds, "before_mb": before, "peak_mb": peak,
            "extra_mb": peak - before}


def _run_child(options: dict) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    out = subprocess.run([sys.executable, __file__, "--child", json.dumps(options)], env=env,
                         capture_output=True, text=True, timeout=1800)
    if out.returncode:
        raise SystemExit(f"child failed: {out.stderr[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _shares(path: str, world: int) -> list:
    import readers

    rows = []
    for rank in range(world):
        batches = readers.SequenceBatches(readers.ParquetSequenceReader(path), batch_size=32, label_column="label",
                                          num_classes=4, sequence_labels=True, align="align_start", shuffle=True,
                                          seed=1, shard=(rank, world), shard_by="unit")
        share = batches.share()
        rows.append({"rank": rank, "row_groups": len(share), "rows": sum(u.weight for u in share),
                     "batches": len(batches)})
    return rows


def measure(buffer: int = 1000, *, folder: str | None = None) -> dict:
    """Peak memory per configuration and rows per rank (see the module docstring)."""
    with tempfile.TemporaryDirectory(dir=folder) as tmp:
        memory = []
        for times in (10, 100):
            path = os.path.join(tmp, f"nested{times}.parquet")
            _write_nested(path, times * buffer, buffer)
            for label, options in (("no shuffle (streaming)", {"buffer": None, "shuffle": False}),
                                   ("bounded shuffle", {"buffer": buffer}),
                                   ("bounded shuffle, bucketed", {"buffer": buffer, "bucket": True}),
                                   ("full shuffle in memory", {"buffer": None, "full": True})):
                options = {"shuffle": True, "bucket": False, **options}
                got = _run_child(dict(options, path=path, long=False))
                memory.append(dict(got, data=f"nested, {times}x B", setting=label,
                                   data_mb=os.path.getsize(path) / 2**20))
        path = os.path.join(tmp, "long100.parquet")
        _write_long(path, 100 * buffer, 60 * buffer)
        for label, options in (("bounded shuffle", {"buffer": buffer}),
                               ("full shuffle in memory", {"buffer": None, "full": True})):
            options = {"shuffle": True, "bucket": False, **options}
            got = _run_child(dict(options, path=path, long=True))
            memory.append(dict(got, data="long, 100x B", setting=label, data_mb=os.path.getsize(path) / 2**20))
        shares = {world: _shares(os.path.join(tmp, "nested100.parquet"), world) for world in (2, 4)}
    return {"buffer": buffer, "memory": memory, "shares": shares}


def table(results: dict) -> str:
    b = results["buffer"]
    lines = [
        "## Distributed readers", "",
        f"`.venv/bin/python benchmarks/distributed_memory.py` on {platform.machine()}, {os.cpu_count()} cores. "
        f"Shuffle buffer B = {b:,} sequences (8 float32 features, 20..100 steps, batch 32); one epoch, "
        "each row in its own process; peak RSS above the RSS before the first batch.", "",
        "| data | file MB | setting | shuffle_mode | extra peak MB | sequences/s |", "|---|---|---|---|---|---|",
    ]
    for m in results["memory"]:
        lines.append(f"| {m['data']} | {m['data_mb']:,.0f} | {m['setting']} | {m['mode']} | "
                     f"{m['extra_mb']:,.0f} | {m['sequences'] / m['seconds']:,.0f} |")
    lines += ["", "Sharded by unit (row groups of B sequences), nested 100x B: what each rank reads.", "",
              "| ranks | rank | row groups | rows read | of all rows | batches |", "|---|---|---|---|---|---|"]
    for world, rows in results["shares"].items():
        total = sum(r["rows"] for r in rows)
        for r in rows:
            lines.append(f"| {world} | {r['rank']} | {r['row_groups']} | {r['rows']:,} | "
                         f"{r['rows'] / total:.0%} | {r['batches']} |")
    lines += ["", "Sharded by sequence, every rank reads all rows (100%)."]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--buffer", type=int, default=1000, help="the shuffle buffer B, in sequences")
    parser.add_argument("--quick", action="store_true", help="a smoke run (B = 100); prints only")
    parser.add_argument("--write", action="store_true", help="update the section of RESULTS.md")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(_child(json.loads(args.child))))
        return
    text = table(measure(100 if args.quick else args.buffer))
    print(text)
    if args.write and not args.quick:
        from _results import write_section
        write_section("Distributed readers", text)


if __name__ == "__main__":
    main()
