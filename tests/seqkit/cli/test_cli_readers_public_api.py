"""The command on readers' public API: convert's progress, the default key, and exiting on a closed pipe."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import readers
from conftest import REPO, SYNTHETIC, VARLEN


class _Bar:
    """Stands in for tqdm: records its total and every update."""

    made: list = []

    def __init__(self, *args, total=None, **kwargs):
        self.total, self.updates = total, []
        _Bar.made.append(self)

    def update(self, n=1):
        self.updates.append(n)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_convert_advances_the_progress_bar_through_write_parquet(cli, tmp_path, monkeypatch):
    import tqdm.auto
    monkeypatch.setattr(tqdm.auto, "tqdm", _Bar)
    monkeypatch.setattr(_Bar, "made", [])
    dest = tmp_path / "sc.parquet"
    result = cli("convert", SYNTHETIC / "train" / "features" / "%d.csv", dest, "--start", "0", "--end", "99")
    assert result.code == 0, result.err
    (bar,) = _Bar.made
    assert bar.total == 100 and bar.updates and all(n > 0 for n in bar.updates)
    assert sum(bar.updates) == 100
    assert "wrote 100 sequences (6,000 steps;" in result.out


def test_convert_reports_the_steps_of_a_long_table(cli, tmp_path):
    dest = tmp_path / "varlen.parquet"
    result = cli("convert", VARLEN / "test.csv", dest, "--id-column", "series_id", "--order-column", "t",
                 "--no-progress")
    assert result.code == 0, result.err
    steps = sum(len(r.values) for r in readers.ParquetSequenceReader(dest))
    assert f"wrote 160 sequences ({steps:,} steps;" in result.out


def test_convert_refuses_an_unknown_label_column(cli, tmp_path):
    for column, message in (("nope", "'nope' is not a column"), ("9", "9 out of range")):
        result = cli("convert", VARLEN / "test.csv", tmp_path / "o.parquet", "--id-column", "series_id",
                     "--label-column", column)
        assert result.code == 1 and message in result.err, result.err
        assert not list(tmp_path.iterdir())


def test_inspect_bundled_nested_parquet_needs_no_key_column(cli):
    result = cli("inspect", SYNTHETIC / "test.parquet", "--label-column", "label", "--json")
    assert result.code == 0, result.err
    summary = json.loads(result.out)
    assert summary["columns"] == ["values"] and summary["sequences"] == 150


def test_inspect_into_a_closed_pipe_exits_without_a_native_abort(tmp_path):
    n, steps = 4000, 100                                       # 400,000 rows: several read blocks
    values = np.random.default_rng(1).standard_normal(n * steps)
    path = tmp_path / "long.parquet"
    pq.write_table(pa.table({"id": np.repeat(np.arange(n), steps), "t": np.tile(np.arange(steps), n),
                             "x": values}), path, row_group_size=1 << 17)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    for _ in range(2):
        # like `seqkit inspect long.parquet ... | head -0`: the reader of stdout is gone before it writes
        run = subprocess.Popen([sys.executable, "-m", "seqkit.cli", "inspect", str(path), "--id-column", "id",
                                "--order-column", "t"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=env, cwd=REPO)
        run.stdout.close()
        err = run.stderr.read().decode()
        code = run.wait(timeout=120)
        assert "terminate called" not in err and "Traceback" not in err, err
        assert code >= 0, f"killed by signal {-code}: {err}"   # no SIGABRT
        assert code in (0, 1), err
