"""The model file carries the data description: ``evaluate`` and ``predict`` match feature columns by
name and standardise with the model's own statistics, whatever lies beside the model."""

from __future__ import annotations

import csv

import pyarrow.parquet as pq
import pytest

from conftest import VARLEN

CONFIG = """\
[data]
batch_size = 32
num_classes = 4
align = "align_end"
sequence_labels = true
label_column = "label"
id_column = "series_id"
order_column = "t"

[data.train]
path = "{train}"

[data.test]
path = "{test}"

[[layers]]
type = "LSTM"
n_out = 12

[[layers]]
type = "LastTimeStep"
layer = {{ type = "GRU", n_out = 12 }}

[[layers]]
type = "Output"

[network]
seed = 1
learning_rate = 0.02
device = "cpu"

[train]
epochs = 4

[output]
report = "none"
"""


def _reordered(src, dest, order):
    with open(src, newline="") as handle:
        rows = list(csv.reader(handle))
    head = rows[0]
    index = [head.index(name) for name in order]
    with open(dest, "w", newline="") as handle:
        writer = csv.writer(handle)
        for row in rows:
            writer.writerow([row[i] for i in index])


@pytest.fixture(scope="module")
def varlen_run(tmp_path_factory):
    from seqkit.cli import main

    folder = tmp_path_factory.mktemp("varlen")
    config = folder / "run.toml"
    config.write_text(CONFIG.format(train=VARLEN / "train.csv", test=VARLEN / "test.csv"))
    assert main(["train", str(config), "--out", str(folder / "out"), "--no-progress"]) == 0
    return folder


def _accuracy(text: str) -> str:
    return next(line for line in text.splitlines() if line.strip().startswith("Accuracy:"))


def test_evaluate_matches_feature_columns_by_name(cli, varlen_run):
    model = varlen_run / "out" / "model.seqkit"
    reordered = varlen_run / "reordered.csv"
    _reordered(VARLEN / "test.csv", reordered, ["label", "z", "t", "y", "series_id", "x"])
    args = ["--id-column", "series_id", "--order-column", "t", "--label-column", "label"]
    straight = cli("evaluate", model, VARLEN / "test.csv", *args)
    shuffled = cli("evaluate", model, reordered, *args)
    assert straight.code == 0 and shuffled.code == 0, straight.err + shuffled.err
    assert _accuracy(straight.out) == _accuracy(shuffled.out)
    renamed = varlen_run / "renamed.csv"
    renamed.write_text(reordered.read_text().replace(",y,", ",speed,", 1))
    bad = cli("evaluate", model, renamed, *args)
    assert bad.code == 1 and "'y'" in bad.err and "'speed'" in bad.err and "Traceback" not in bad.err


def test_predict_matches_feature_columns_by_name(cli, varlen_run, tmp_path):
    model = varlen_run / "out" / "model.seqkit"
    reordered = tmp_path / "reordered.csv"
    _reordered(VARLEN / "test.csv", reordered, ["z", "t", "y", "series_id", "x"])
    args = ["--id-column", "series_id", "--order-column", "t"]
    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    assert cli("predict", model, VARLEN / "test.csv", *args, "--out", a).code == 0
    assert cli("predict", model, reordered, *args, "--out", b).code == 0
    assert pq.read_table(a).to_pylist() == pq.read_table(b).to_pylist()


def test_a_stale_side_file_cannot_change_what_the_model_uses(cli, varlen_run):
    """An older run layout kept statistics in data.json beside the model; a model that carries its own
    description ignores such a file (an interrupted re-run can no longer mix two runs)."""
    model = varlen_run / "out" / "model.seqkit"
    args = ["--id-column", "series_id", "--order-column", "t", "--label-column", "label"]
    before = cli("evaluate", model, VARLEN / "test.csv", *args)
    stale = varlen_run / "out" / "data.json"
    stale.write_text('{"format": "seqkit-run-data", "version": 1, "batch": {}, "read": {}, '
                     '"feature_columns": ["x", "y", "z"], "normalizer": {"mean": [100, 100, 100], '
                     '"std": [0.001, 0.001, 0.001], "columns": ["x", "y", "z"]}}')
    try:
        after = cli("evaluate", model, VARLEN / "test.csv", *args)
    finally:
        stale.unlink()
    assert before.code == after.code == 0
    assert _accuracy(before.out) == _accuracy(after.out)
