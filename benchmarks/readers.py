"""Benchmark: the `readers` package against the peers a user would otherwise write.

What it measures (issue 2, "Benchmark"):

1. numbered CSV files: 10,000 files of 100 steps x 8 columns to batches of 64
   (`align_start`), against a loop of `pandas.read_csv` over the files plus
   numpy padding into `[N, F, T]` batches with masks. Target: seqkit >= 3x faster.
2. long table: 1M rows (10,000 sequences of 50-150 steps; id, order column t,
   8 float features; rows grouped by id, ids in random order) as CSV and as
   Parquet, to batches of 64 (`align_start`, id + order column), against
   idiomatic pandas as the issue defines it (`read_*`, `groupby`, pad): the
   per-group loop a user writes, `for key, g in df.groupby("id", sort=False)`,
   `g.sort_values("t")`, pad into batches. Target: seqkit >= 5x faster, both
   formats. A stricter reference, hand-vectorised pandas/numpy (ids
   factorized in order of first appearance, one sort by (id, t), `groupby`
   sizes, `np.split`, pad), is reported alongside with its ratio and no target.
   For CSV the parse alone (`pyarrow.csv.read_csv` and `pandas.read_csv`) is
   timed too, to show how much of either side it is.
3. nested Parquet: 10,000 sequences of 50-150 steps, 8 `list<float32>`
   channels, to batches of 64, against a bare `pyarrow.parquet.read_table` of
   the same file. Target: peer time / seqkit time >= 0.6.
4. peak memory while streaming Parquet, nested (row groups of 1,000
   sequences) and long (the same sequences one row per step, grouped by id,
   row groups of 100,000 rows), to batches of 256, each at two data set sizes
   (20x and 200x a batch). Each measurement runs in a fresh subprocess that
   reports its peak RSS increase (VmHWM, reset just before reading; not
   `ru_maxrss`, which a child inherits from this big parent), the peaks of
   `RssAnon` / `RssFile` (sampled from /proc/self/status after every batch)
   and pyarrow's memory pool peak. Bounded: the peak follows the batch and row
   group, not the data set. A whole-file `read_table` is measured alongside.

How: data is generated once into benchmarks/_data/ (git-ignored) and reused
while its spec matches. Each comparison runs in this one process: one
warm-up of each side (so the page cache is warm for both), then the two
sides alternate for `--repeats` rounds; the table gives medians. Every
timed seqkit run iterates all batches and touches each batch's features; an
untimed pass first checks that seqkit and each peer produce identical
batches (features and masks, exactly equal).

Run from the repository root:

    .venv/bin/python benchmarks/readers.py            # full run (~3-6 min), writes RESULTS.md
    .venv/bin/python benchmarks/readers.py --quick    # smoke check (< 1 min), prints only
    .venv/bin/python benchmarks/readers.py --profile  # also cProfile each seqkit side

The full run replaces the "## Readers" section of benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import os
import platform
import pstats
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import readers  # noqa: E402  (after the path set-up, so the checkout is benchmarked)

DATA = ROOT / "benchmarks" / "_data"
RESULTS = ROOT / "benchmarks" / "RESULTS.md"
SECTION = "## Readers"
FEATURES = [f"f{i}" for i in range(8)]
BATCH = 64


# ---- sizes ------------------------------------------------------------------------------

@dataclass(frozen=True)
class Sizes:
    files: int                  # case 1: numbered CSV files
    file_steps: int             # case 1: steps per file
    long_sequences: int         # case 2: sequences in the long table (~100 rows each)
    nested_sequences: int       # case 3
    memory_batch: int           # case 4: batch size
    memory_multiples: tuple     # case 4: data set sizes, in batches
    memory_steps: int           # case 4: steps per sequence
    memory_row_group: int       # case 4: rows (sequences) per Parquet row group


FULL = Sizes(files=10_000, file_steps=100, long_sequences=10_000, nested_sequences=10_000,
             memory_batch=256, memory_multiples=(20, 200), memory_steps=100, memory_row_group=1000)
QUICK = Sizes(files=1_000, file_steps=100, long_sequences=1_000, nested_sequences=1_000,
              memory_batch=256, memory_multiples=(20, 80), memory_steps=100, memory_row_group=1000)


# ---- data -------------------------------------------------------------------------------

def _dataset(name: str, spec: dict, make) -> Path:
    """benchmarks/_data/<name>, made by `make(folder)` unless it already holds `spec`."""
    folder = DATA / name
    stamp = folder / "spec.json"
    if stamp.exists() and json.loads(stamp.read_text()) == spec:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    print(f"  generating {folder.relative_to(ROOT)} ...", flush=True)
    make(folder)
    stamp.write_text(json.dumps(spec))            # written last: a half-made set is remade
    return folder


def _csv_lines(table: pa.Table, header: bool) -> bytes:
    sink = io.BytesIO()
    pacsv.write_csv(table, sink, pacsv.WriteOptions(include_header=header, quoting_style="none"))
    return sink.getvalue()


def _lengths(rng, n: int) -> np.ndarray:
    return rng.integers(50, 151, size=n)              # 50..150 steps


def numbered_csv(sizes: Sizes) -> Path:
    """Case 1: `<n>.csv`, one sequence per file, `file_steps` rows x 8 values, 4 decimals."""
    spec = {"files": sizes.files, "steps": sizes.file_steps, "columns": 8, "seed": 1}

    def make(folder):
        rng = np.random.default_rng(1)
        values = rng.uniform(-100, 100, size=(sizes.files * sizes.file_steps, 8)).round(4)
        text = _csv_lines(pa.table({f: values[:, i] for i, f in enumerate(FEATURES)}), header=False)
        lines = text.split(b"\n")
        for n in range(sizes.files):
            rows = lines[n * sizes.file_steps:(n + 1) * sizes.file_steps]
            (folder / f"{n}.csv").write_bytes(b"\n".join(rows) + b"\n")
    return _dataset(f"numbered_csv_{sizes.files}", spec, make)


def long_table(sizes: Sizes) -> Path:
    """Case 2: long.csv and long.parquet: id, t, f0..f7; grouped by id, ids shuffled, t ascending."""
    spec = {"sequences": sizes.long_sequences, "lengths": [50, 150], "seed": 2}

    def make(folder):
        rng = np.random.default_rng(2)
        lengths = _lengths(rng, sizes.long_sequences)
        ids = rng.permutation(sizes.long_sequences) + 100_000          # random id order
        rows = int(lengths.sum())
        starts = np.repeat(np.cumsum(lengths) - lengths, lengths)
        columns = {"id": np.repeat(ids, lengths), "t": np.arange(rows) - starts}
        values = rng.uniform(-100, 100, size=(rows, 8)).round(4)
        columns.update({f: values[:, i] for i, f in enumerate(FEATURES)})
        table = pa.table(columns)
        (folder / "long.csv").write_bytes(_csv_lines(table, header=True))
        as_float32 = table.cast(pa.schema([("id", pa.int64()), ("t", pa.int64())]
                                          + [(f, pa.float32()) for f in FEATURES]))
        pq.write_table(as_float32, folder / "long.parquet")
    return _dataset(f"long_{sizes.long_sequences}", spec, make)


def _write_nested(path: Path, lengths: np.ndarray, rng, row_group: int | None) -> None:
    """One row per sequence, 8 `list<float32>` columns of `lengths[i]` steps."""
    offsets = np.zeros(len(lengths) + 1, dtype=np.int32)
    np.cumsum(lengths, out=offsets[1:])
    steps = int(offsets[-1])
    columns = {f: pa.ListArray.from_arrays(pa.array(offsets),
                                           pa.array(rng.standard_normal(steps, dtype=np.float32)))
               for f in FEATURES}
    pq.write_table(pa.table(columns), path, row_group_size=row_group)


def nested_parquet(sizes: Sizes) -> Path:
    """Case 3: nested.parquet, `nested_sequences` rows of 50-150 steps, default row groups."""
    spec = {"sequences": sizes.nested_sequences, "lengths": [50, 150], "seed": 3}

    def make(folder):
        rng = np.random.default_rng(3)
        _write_nested(folder / "nested.parquet", _lengths(rng, sizes.nested_sequences), rng, None)
    return _dataset(f"nested_{sizes.nested_sequences}", spec, make)


def memory_parquet(sizes: Sizes, multiple: int) -> Path:
    """Case 4: `multiple` batches' worth of fixed-length sequences, small row groups."""
    n = multiple * sizes.memory_batch
    spec = {"sequences": n, "steps": sizes.memory_steps, "row_group": sizes.memory_row_group, "seed": 4}

    def make(folder):
        rng = np.random.default_rng(4)
        _write_nested(folder / "nested.parquet", np.full(n, sizes.memory_steps), rng,
                      sizes.memory_row_group)
    return _dataset(f"memory_{n}", spec, make)


def memory_long_parquet(sizes: Sizes, multiple: int) -> Path:
    """Case 4, long layout: id, t, f0..f7 (float32), one row per step, grouped by id (ids shuffled)."""
    n = multiple * sizes.memory_batch
    rows_per_group = sizes.memory_row_group * sizes.memory_steps
    spec = {"sequences": n, "steps": sizes.memory_steps, "row_group": rows_per_group, "seed": 5,
            "layout": "long"}

    def make(folder):
        rng = np.random.default_rng(5)
        rows = n * sizes.memory_steps
        columns = {"id": np.repeat(rng.permutation(n), sizes.memory_steps),
                   "t": np.tile(np.arange(sizes.memory_steps), n)}
        columns.update({f: rng.standard_normal(rows, dtype=np.float32) for f in FEATURES})
        pq.write_table(pa.table(columns), folder / "long.parquet", row_group_size=rows_per_group)
    return _dataset(f"memory_long_{n}", spec, make)


# ---- the peers ----------------------------------------------------------------------------

def pad_batches(sequences: list, batch_size: int):
    """Yield `(features [N, F, T] float32, mask [N, T] float32)` from `[T, F]` arrays, padding at the end."""
    for lo in range(0, len(sequences), batch_size):
        group = sequences[lo:lo + batch_size]
        steps = max(len(s) for s in group)
        features = np.zeros((len(group), group[0].shape[1], steps), dtype=np.float32)
        mask = np.zeros((len(group), steps), dtype=np.float32)
        for i, seq in enumerate(group):
            features[i, :, :len(seq)] = seq.T
            mask[i, :len(seq)] = 1.0
        yield features, mask


def pandas_files(paths: list):
    """Case 1 peer: read every file with pandas, pad batches with numpy."""
    sequences = [pd.read_csv(p, header=None).to_numpy(dtype=np.float32) for p in paths]
    yield from pad_batches(sequences, BATCH)


def pandas_long_vectorised(frame: pd.DataFrame):
    """Case 2, stricter reference (no target): hand-vectorised, one sort for all groups."""
    frame = frame.assign(seq=pd.factorize(frame["id"])[0])       # codes in order of first appearance
    frame = frame.sort_values(["seq", "t"], kind="stable")
    sizes = frame.groupby("seq", sort=True).size().to_numpy()
    values = frame[FEATURES].to_numpy(dtype=np.float32)
    sequences = np.split(values, np.cumsum(sizes)[:-1])
    yield from pad_batches(sequences, BATCH)


def pandas_long_loop(frame: pd.DataFrame):
    """Case 2 peer (the target): idiomatic pandas, each id's group sorted by t, then padded."""
    sequences = []
    for _, group in frame.groupby("id", sort=False):          # groups in order of first appearance
        sequences.append(group.sort_values("t")[FEATURES].to_numpy(dtype=np.float32))
    yield from pad_batches(sequences, BATCH)


# ---- the seqkit side ----------------------------------------------------------------------

def seqkit_batches(reader, batch_size: int = BATCH):
    return readers.SequenceBatches(reader, batch_size=batch_size, align="align_start")


def consume(batches) -> int:
    """Iterate all batches, touching each one's features (and the peer's tuples alike)."""
    count = 0
    for batch in batches:
        features = batch[0] if isinstance(batch, tuple) else batch.features
        count += features.shape[0]
        features[-1, -1, -1]                              # touch
    return count


def same_batches(ours, theirs, label: str) -> None:
    """Check seqkit's batches are identical to the peer's (features, masks); raise if not."""
    n = 0
    for batch, (features, mask) in zip(ours, theirs, strict=True):
        ok = batch.features.shape == features.shape and np.array_equal(batch.features, features)
        ours_mask = batch.features_mask if batch.features_mask is not None else np.ones_like(mask)
        if not ok or not np.array_equal(ours_mask, mask):
            raise RuntimeError(f"{label}: batch {n} differs between seqkit and the peer")
        n += 1
    print(f"  {label}: seqkit and peer agree on {n} batches")


# ---- timing -------------------------------------------------------------------------------

@dataclass
class Result:
    case: str
    seqkit: list = field(default_factory=list)      # seconds per run
    peer: list = field(default_factory=list)
    target: float | None = None                     # minimum ratio peer/seqkit; None: for information

    @property
    def ratio(self) -> float:
        return statistics.median(self.peer) / statistics.median(self.seqkit)

    @property
    def passed(self) -> bool:
        return self.target is None or self.ratio >= self.target

    @property
    def verdict(self) -> str:
        return "info" if self.target is None else ("pass" if self.passed else "MISS")


def _timed(run) -> float:
    gc.collect()
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def compare(case: str, ours, peer, *, target: float | None, repeats: int, profile: bool,
            warm_up: bool = True) -> Result:
    """Warm up each side once (skipped when the same files were just read), then alternate
    the two `repeats` times."""
    result = Result(case, target=target)
    if warm_up:
        _timed(ours)
        _timed(peer)
    for _ in range(repeats):
        result.seqkit.append(_timed(ours))
        result.peer.append(_timed(peer))
    print(f"  {case}: seqkit {statistics.median(result.seqkit):.3f} s, "
          f"peer {statistics.median(result.peer):.3f} s, ratio {result.ratio:.2f} "
          f"({_target(target)})", flush=True)
    if profile:
        _profile(case, ours)
    return result


def _profile(case: str, run) -> None:
    profiler = cProfile.Profile()
    profiler.runcall(run)
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(12)
    print(f"\n  --- cProfile, seqkit side of {case} (by own time) ---")
    print("\n".join("    " + line for line in text.getvalue().splitlines()
                    if line.strip() and not line.startswith(("   Ordered", "   List"))))


# ---- cases --------------------------------------------------------------------------------

def case_numbered(sizes: Sizes, repeats: int, profile: bool) -> Result:
    folder = numbered_csv(sizes)
    files = readers.NumberedFiles(str(folder / "%d.csv"), 0, sizes.files - 1)
    paths = list(files)

    def ours():
        return consume(seqkit_batches(readers.CSVSequenceReader(files)))

    same_batches(seqkit_batches(readers.CSVSequenceReader(files)), pandas_files(paths), "numbered CSV")
    return compare(f"{sizes.files:,} numbered CSV files -> batches", ours,
                   lambda: consume(pandas_files(paths)), target=3, repeats=repeats, profile=profile)


def case_long(sizes: Sizes, repeats: int, profile: bool) -> tuple:
    """`(results, notes)`: per format the targeted row (vs the per-group loop) and the stricter
    row (vs vectorised pandas); `notes` holds the stricter ratios by format ("strict") and the
    CSV parse-alone medians in seconds ("csv_parse")."""
    folder = long_table(sizes)
    csv_path, parquet_path = folder / "long.csv", folder / "long.parquet"
    rows = pq.ParquetFile(parquet_path).metadata.num_rows
    results = []
    for fmt, make_reader, read_frame in (
            ("CSV", lambda: readers.CSVSequenceReader(str(csv_path), skip_lines=1, id_column="id",
                                                      order_column="t"),
             lambda: pd.read_csv(csv_path)),
            ("Parquet", lambda: readers.ParquetSequenceReader(str(parquet_path), id_column="id",
                                                              order_column="t"),
             lambda: pd.read_parquet(parquet_path))):
        same_batches(seqkit_batches(make_reader()), pandas_long_loop(read_frame()), f"long {fmt}, loop")
        same_batches(seqkit_batches(make_reader()), pandas_long_vectorised(read_frame()),
                     f"long {fmt}, vectorised")
        ours = lambda make_reader=make_reader: consume(seqkit_batches(make_reader()))  # noqa: E731
        results.append(compare(f"long table {rows / 1e6:.2g}M rows, {fmt} -> batches, "
                               "vs pandas per-group loop", ours,
                               lambda read_frame=read_frame: consume(pandas_long_loop(read_frame())),
                               target=5, repeats=repeats, profile=profile))
        results.append(compare(f"long table {rows / 1e6:.2g}M rows, {fmt} -> batches, "
                               "vs vectorised pandas (stricter)", ours,
                               lambda read_frame=read_frame: consume(pandas_long_vectorised(read_frame())),
                               target=None, repeats=repeats, profile=False, warm_up=False))
    parse = {name: statistics.median(_timed(run) for _ in range(repeats)) for name, run in (
        ("pyarrow", lambda: pacsv.read_csv(csv_path)), ("pandas", lambda: pd.read_csv(csv_path)))}
    print(f"  long CSV parse alone: pyarrow.csv.read_csv {parse['pyarrow']:.3f} s, "
          f"pandas.read_csv {parse['pandas']:.3f} s", flush=True)
    strict = {fmt: r.ratio for fmt, r in zip(("CSV", "Parquet"), results[1::2])}
    return results, {"strict": strict, "csv_parse": parse}


def case_nested(sizes: Sizes, repeats: int, profile: bool) -> Result:
    path = nested_parquet(sizes) / "nested.parquet"

    def peer_batches():                                  # for the equality check only
        table = pq.read_table(path)
        sequences = [np.stack([np.asarray(table.column(f)[i].values) for f in FEATURES], axis=1)
                     for i in range(table.num_rows)]
        return pad_batches(sequences, BATCH)

    same_batches(seqkit_batches(readers.ParquetSequenceReader(str(path))), peer_batches(), "nested")
    return compare(f"nested Parquet, {sizes.nested_sequences:,} sequences -> batches",
                   lambda: consume(seqkit_batches(readers.ParquetSequenceReader(str(path)))),
                   lambda: pq.read_table(path).num_rows, target=0.6, repeats=repeats, profile=profile)


# ---- case 4: memory, measured in fresh subprocesses ------------------------------------------

def _status_kb() -> dict:
    """VmRSS, VmHWM, RssAnon and RssFile of this process, in KiB."""
    out = {}
    with open("/proc/self/status") as handle:
        for line in handle:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                out[key] = int(value.split()[0])
    return out


def _reset_peak() -> bool:
    """Reset this process's peak RSS (VmHWM) to its current RSS; False where Linux refuses."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def memory_child(path: str, batch_size: int, mode: str, layout: str) -> None:
    """Child process: stream (or read whole) `path`, print its peak memory increase as JSON.

    `layout` is "nested" or "long" (id column `id`, order column `t`).

    The peak RSS is VmHWM, reset just before reading. `ru_maxrss` would do in
    a process of its own, but Linux carries the parent's high-water mark into
    a forked-and-exec'd child, so the benchmark's own size would hide it.
    """
    pool = pa.default_memory_pool()
    if mode == "stream":
        long = {"id_column": "id", "order_column": "t"} if layout == "long" else {}
        batches = readers.SequenceBatches(readers.ParquetSequenceReader(path, **long),
                                          batch_size=batch_size, align="align_start")
    gc.collect()
    reset = _reset_peak()
    base = _status_kb()
    peak = dict(base)
    batch_bytes, count = 0, 0

    def sample():
        for key, value in _status_kb().items():
            peak[key] = max(peak[key], value)

    if mode == "stream":
        for batch in batches:
            batch.features[-1, -1, -1]
            batch_bytes = max(batch_bytes, batch.features.nbytes
                              + (batch.features_mask.nbytes if batch.features_mask is not None else 0))
            count += len(batch)
            sample()
    else:
        table = pq.read_table(path)
        count = table.num_rows
        sample()
        del table
    sample()
    print(json.dumps({
        "sequences": count, "batch_bytes": batch_bytes,
        "peak_delta": ((peak["VmHWM"] if reset else peak["VmRSS"]) - base["VmRSS"]) * 1024,
        "anon_delta": (peak["RssAnon"] - base["RssAnon"]) * 1024,
        "file_delta": (peak["RssFile"] - base["RssFile"]) * 1024,
        "pool_peak": pool.max_memory(), "pool_end": pa.total_allocated_bytes(),
        "pool_backend": pool.backend_name}))


def _measure_memory(path: Path, batch_size: int, mode: str, layout: str) -> dict:
    command = [sys.executable, str(Path(__file__).resolve()), "--memory-child", str(path),
               str(batch_size), mode, layout]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    return json.loads(done.stdout.strip().splitlines()[-1])


def case_memory(sizes: Sizes) -> list:
    """One row per layout and data set size: streaming and whole-file peaks."""
    rows = []
    for layout, make in (("nested", lambda m: memory_parquet(sizes, m) / "nested.parquet"),
                         ("long", lambda m: memory_long_parquet(sizes, m) / "long.parquet")):
        for multiple in sizes.memory_multiples:
            path = make(multiple)
            data_bytes = multiple * sizes.memory_batch * sizes.memory_steps * 8 * 4   # float32 values
            stream = _measure_memory(path, sizes.memory_batch, "stream", layout)
            whole = _measure_memory(path, sizes.memory_batch, "whole", layout)
            rows.append({"layout": layout, "multiple": multiple, "data_bytes": data_bytes,
                         "file_bytes": path.stat().st_size, "stream": stream, "whole": whole})
            print(f"  memory, {layout}, {multiple}x a batch ({_mb(data_bytes)} of values): streaming "
                  f"peak RSS +{_mb(stream['peak_delta'])} (anon +{_mb(stream['anon_delta'])}, "
                  f"file-backed +{_mb(stream['file_delta'])}), arrow pool peak "
                  f"{_mb(stream['pool_peak'])}; read_table peak RSS +{_mb(whole['peak_delta'])}",
                  flush=True)
    return rows


def memory_verdict(rows: list) -> tuple:
    """(bounded?, text) over all layouts. Bounded: for each layout, the anonymous
    (non-reclaimable) peak of the largest data set is within 1.5x + 16 MB of the smallest's,
    and so is the arrow pool's peak."""
    verdicts, texts = [], []
    for layout in dict.fromkeys(r["layout"] for r in rows):
        mine = [r for r in rows if r["layout"] == layout]
        small, large = mine[0]["stream"], mine[-1]["stream"]
        verdicts.append(all(large[k] <= 1.5 * small[k] + (16 << 20) for k in ("anon_delta", "pool_peak")))
        times = mine[-1]["multiple"] // mine[0]["multiple"]
        texts.append(
            f"{layout}: from {mine[0]['multiple']}x to {mine[-1]['multiple']}x a batch ({times}x the "
            f"data, +{_mb(mine[-1]['data_bytes'] - mine[0]['data_bytes'])} of values) the anonymous "
            f"peak goes {_mb(small['anon_delta'])} -> {_mb(large['anon_delta'])}, the arrow pool "
            f"peak {_mb(small['pool_peak'])} -> {_mb(large['pool_peak'])} and the file-backed part "
            f"of RSS {_mb(small['file_delta'])} -> {_mb(large['file_delta'])}")
    return all(verdicts), "; ".join(texts)


# ---- report -------------------------------------------------------------------------------

def _target(target: float | None) -> str:
    return "no target" if target is None else f">= {target:g}"


def _mb(n: float) -> str:
    return f"{n / (1 << 20):.1f} MB"


def machine() -> dict:
    memory = "?"
    with open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemTotal:"):
                memory = f"{int(line.split()[1]) / (1 << 20):.1f} GiB"
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo")
                  if line.startswith("model name")), platform.processor() or "?")
    return {"cores": os.cpu_count(), "cpu": model, "memory": memory,
            "python": platform.python_version(), "pyarrow": pa.__version__,
            "pandas": pd.__version__, "numpy": np.__version__,
            "load": _load()}


def command_line(argv: list) -> str:
    python = Path(sys.executable)
    try:
        python = python.relative_to(ROOT) if python.is_absolute() else python
    except ValueError:
        pass
    return " ".join([str(python), "benchmarks/readers.py", *argv])


def table(results: list) -> str:
    lines = ["| case | seqkit (s) | peer (s) | ratio peer/seqkit | target | result |",
             "|---|---:|---:|---:|---:|---|"]
    for r in results:
        lines.append(f"| {r.case} | {statistics.median(r.seqkit):.3f} | "
                     f"{statistics.median(r.peer):.3f} | {r.ratio:.2f} | {_target(r.target)} | {r.verdict} |")
    return "\n".join(lines)


def memory_table(rows: list, batch: int) -> str:
    lines = ["| layout | data set | values (file) | seqkit stream: peak RSS (anon / file-backed) "
             "| arrow pool peak | one batch | read_table peak RSS |",
             "|---|---|---:|---:|---:|---:|---:|"]
    for row in rows:
        s, w = row["stream"], row["whole"]
        lines.append(f"| {row['layout']} | {row['multiple']}x batch ({row['multiple'] * batch:,} seq) | "
                     f"{_mb(row['data_bytes'])} ({_mb(row['file_bytes'])}) | +{_mb(s['peak_delta'])} "
                     f"(+{_mb(s['anon_delta'])} / +{_mb(s['file_delta'])}) | {_mb(s['pool_peak'])} | "
                     f"{_mb(s['batch_bytes'])} | +{_mb(w['peak_delta'])} |")
    return "\n".join(lines)


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def section(results: list, notes: dict, memory_rows: list, sizes: Sizes, argv: list, info: dict,
            elapsed: float, load_end: str) -> str:
    bounded, growth = memory_verdict(memory_rows)
    runs = "\n".join(f"- {r.case}: seqkit {', '.join(f'{t:.3f}' for t in r.seqkit)}; "
                     f"peer {', '.join(f'{t:.3f}' for t in r.peer)}" for r in results)
    strict, parse = notes["strict"], notes["csv_parse"]
    return f"""{SECTION}

Command: `{command_line(argv)}` (from the repository root; {elapsed:.0f} s in all).
Machine: {info['cores']} cores ({info['cpu']}), {info['memory']} memory, Python {info['python']},
pyarrow {info['pyarrow']}, pandas {info['pandas']}, numpy {info['numpy']}.
Load average (`os.getloadavg()`, 1/5/15 min) {info['load']} at the start and {load_end} at the
end: the machine was shared with other work, so figures are noisy.

Times are medians of {len(results[0].seqkit)} runs per side after one warm-up each (the
"vectorised pandas" rows reuse the files the row above just read), the two sides alternating in
one process; ratio = peer time / seqkit time (> 1: seqkit faster). Batches of {BATCH},
`align_start`; each seqkit run iterates every batch and touches its features, and every peer was
checked to produce batches identical to seqkit's.

{table(results)}

Peers: (1) `pandas.read_csv(path, header=None)` per file + numpy padding with masks.
(2) The target's peer is idiomatic pandas as the issue defines it (`read_*`, `groupby`, pad):
`pd.read_csv` / `pd.read_parquet`, then `for key, g in df.groupby("id", sort=False)`,
`g.sort_values("t")[features].to_numpy()`, numpy padding with masks: the code a user writes.
The stricter reference, with no target, is hand-vectorised pandas/numpy: `pd.factorize(id)`
(first appearance), one `sort_values(["seq", "t"])`, `groupby` sizes, `np.split`, the same
padding. Against it seqkit is only {strict['CSV']:.2f}x on CSV: the case is parse-bound, and
pyarrow's CSV parse alone (`pyarrow.csv.read_csv`, {parse['pyarrow']:.3f} s) costs about as much
as pandas' C parser (`pandas.read_csv`, {parse['pandas']:.3f} s) on {info['cores']} cores, so
grouping and padding are all that is left to win. On Parquet it is {strict['Parquet']:.2f}x.
(3) `pyarrow.parquet.read_table` of the same file, nothing else.

Memory while streaming Parquet, batches of {sizes.memory_batch}, {sizes.memory_steps} steps x 8 float32
channels per sequence: nested (one row per sequence, row groups of {sizes.memory_row_group:,} rows) and
long (one row per step with `id` and `t`, grouped by id, row groups of
{sizes.memory_row_group * sizes.memory_steps:,} rows, read in two passes). Each figure is the peak increase
during iteration in a fresh process (VmHWM reset before reading; `RssAnon` and `RssFile` sampled
after every batch; `ru_maxrss` is not used because a child inherits the parent's high-water
mark). File-backed pages would be a memory-mapped file (page cache).

{memory_table(memory_rows, sizes.memory_batch)}

Memory bounded: {'yes' if bounded else 'NO'}: {growth}.

All runs (s):
{runs}
"""


def write_section(text: str) -> None:
    """Replace (or append) the "## Readers" section of RESULTS.md, leaving the others alone."""
    old = RESULTS.read_text() if RESULTS.exists() else "# Benchmark results\n"
    lines = old.splitlines(keepends=True)
    start = next((i for i, line in enumerate(lines) if line.rstrip() == SECTION), None)
    if start is None:
        new = old.rstrip("\n") + "\n\n" + text
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        rest = "".join(lines[end:])
        new = "".join(lines[:start]) + text + ("\n" + rest if rest else "")
    RESULTS.write_text(new)


# ---- main ---------------------------------------------------------------------------------

def main(argv: list) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes, prints only (< 1 min)")
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side (default 3)")
    parser.add_argument("--profile", action="store_true", help="cProfile the seqkit side of each case")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")
    sizes = QUICK if args.quick else FULL
    info = machine()
    print(f"readers benchmark ({'quick' if args.quick else 'full'}): {info['cores']} cores, "
          f"{info['memory']}, pyarrow {info['pyarrow']}, pandas {info['pandas']}, "
          f"numpy {info['numpy']}, load {info['load']}", flush=True)
    start = time.perf_counter()
    results = [case_numbered(sizes, args.repeats, args.profile)]
    long_results, notes = case_long(sizes, args.repeats, args.profile)
    results += long_results
    results.append(case_nested(sizes, args.repeats, args.profile))
    memory_rows = case_memory(sizes)
    elapsed = time.perf_counter() - start
    load_end = _load()
    bounded, growth = memory_verdict(memory_rows)
    print()
    print(table(results))
    print()
    print(memory_table(memory_rows, sizes.memory_batch))
    print(f"\nMemory bounded: {'yes' if bounded else 'NO'}: {growth}.  ({elapsed:.0f} s, "
          f"load {info['load']} -> {load_end})")
    if not args.quick and not args.no_write:
        write_section(section(results, notes, memory_rows, sizes, argv, info, elapsed, load_end))
        print(f"wrote the '{SECTION}' section of {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--memory-child"]:
        memory_child(sys.argv[2], int(sys.argv[3]), sys.argv[4], sys.argv[5])
    else:
        main(sys.argv[1:])
