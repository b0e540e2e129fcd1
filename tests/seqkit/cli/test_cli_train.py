"""``seqkit train``, ``evaluate`` and ``predict`` end to end on a tiny config; resume and Ctrl-C."""

from __future__ import annotations

import json
import signal

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

import seqkit
from conftest import TEST_FEATURES, TEST_LABELS, write_tiny_config
from seqkit.network import Listener


def _metrics(folder):
    return [json.loads(line) for line in (folder / "metrics.jsonl").read_text().splitlines()]


def test_train_writes_model_metrics_and_report(trained_run):
    names = {p.name for p in trained_run.iterdir()}
    assert {"model.seqkit", "metrics.jsonl", "report.html", "config.toml", "checkpoints"} <= names
    assert "data.json" not in names                               # the model file carries it
    records = _metrics(trained_run)
    assert [r["epoch"] for r in records] == [1]
    assert records[0]["iteration"] == 3                       # 48 series / batch 16
    assert records[0]["train_loss"] > 0
    net = seqkit.load(trained_run / "model.seqkit")
    assert net.iteration == 3 and net.epoch == 1
    info = net.data_description
    assert info.feature_columns == ["0"] and info.num_outputs == 6
    assert len(info.standardizer.mean) == 1
    checkpoint = sorted((trained_run / "checkpoints").glob("*.seqkit"))[-1]
    assert seqkit.load(checkpoint).data_description.to_dict() == info.to_dict()   # checkpoints carry it too


def test_evaluate_from_options_writes_report(cli, trained_run, tmp_path):
    report = tmp_path / "eval" / "report.json"
    result = cli("evaluate", trained_run / "model.seqkit", TEST_FEATURES, "--labels", TEST_LABELS,
                 "--start", "0", "--end", "29", "--report", report)
    assert result.code == 0, result.err
    assert "Accuracy:" in result.out and "shift down" in result.out     # class names from the model
    data = json.loads(report.read_text())
    assert sum(map(sum, data["confusion_matrix"])) == 30


def test_evaluate_from_config_html(cli, trained_run, tmp_path):
    report = tmp_path / "report.html"
    result = cli("evaluate", trained_run / "model.seqkit", "--config", trained_run / "config.toml",
                 "--report", report)
    assert result.code == 0, result.err
    assert report.read_text().lstrip().lower().startswith("<!doctype html")
    bad = cli("evaluate", trained_run / "model.seqkit", "--config", trained_run / "config.toml",
              "--split", "validation")
    assert bad.code == 1 and "no [data.validation] table" in bad.err


def test_predict_writes_keyed_parquet(cli, trained_run, tmp_path):
    out = tmp_path / "predictions.parquet"
    result = cli("predict", trained_run / "model.seqkit", TEST_FEATURES, "--start", "0", "--end", "9",
                 "--out", out)
    assert result.code == 0, result.err
    table = pq.read_table(out)
    assert table.column_names == ["key", "steps", "prediction", "label", "probabilities"]
    assert table.schema.field("probabilities").type == pa.list_(pa.float32())
    rows = table.to_pylist()
    assert len(rows) == 10 and rows[4]["key"].endswith("test/features/4.csv")
    assert all(r["steps"] == 60 for r in rows)
    for row in rows:
        probs = np.array(row["probabilities"])
        assert probs.shape == (6,) and abs(probs.sum() - 1) < 1e-4
        assert row["prediction"] == int(probs.argmax())
    names = seqkit.load(trained_run / "model.seqkit").data_description.class_names
    assert rows[0]["label"] == names[rows[0]["prediction"]]


NO_REPORT = {"[train]\nepochs = 1": '[train]\nepochs = 1\n\n[output]\nreport = "none"'}


def test_resume_continues_the_iteration_counter(cli, tmp_path):
    config = write_tiny_config(tmp_path, **NO_REPORT)
    out = tmp_path / "out"
    first = cli("train", config, "--out", out, "--no-progress")
    assert first.code == 0, first.err
    resumed = cli("train", config, "--out", out, "--resume", "--epochs", "2", "--no-progress")
    assert resumed.code == 0, resumed.err
    assert "resuming from" in resumed.out
    assert [(r["epoch"], r["iteration"]) for r in _metrics(out)] == [(1, 3), (2, 6)]
    assert seqkit.load(out / "model.seqkit").iteration == 6
    assert not (out / "report.html").exists()


def test_resume_without_checkpoint_is_an_error(cli, tmp_path):
    result = cli("train", write_tiny_config(tmp_path), "--out", tmp_path / "empty", "--resume")
    assert result.code == 1 and "--resume: no checkpoint" in result.err


class _CtrlC(Listener):
    """Sends SIGINT to this process after the first minibatch, as a user pressing Ctrl-C."""

    def on_iteration_end(self, state) -> None:
        if state.iteration == 1:
            signal.raise_signal(signal.SIGINT)


def test_ctrl_c_saves_a_checkpoint_and_resume_finishes(cli, tmp_path, monkeypatch):
    from seqkit.cli import _run

    config = write_tiny_config(tmp_path, **{"[train]\nepochs = 1": '[train]\nepochs = 2\n\n[output]\n'
                                                                   'report = "none"'})
    out = tmp_path / "out"
    original = _run._listeners
    monkeypatch.setattr(_run, "_listeners", lambda *a: [*original(*a), _CtrlC()])
    result = cli("train", config, "--out", out, "--no-progress")
    assert result.code == 130
    checkpoints = sorted((out / "checkpoints").glob("checkpoint-*.seqkit"))
    assert [p.name for p in checkpoints] == ["checkpoint-e0000-i000000001.seqkit"]
    assert str(checkpoints[0]) in result.err and "--resume" in result.err
    assert not (out / "model.seqkit").exists()
    monkeypatch.setattr(_run, "_listeners", original)
    resumed = cli("train", config, "--out", out, "--resume", "--no-progress")
    assert resumed.code == 0, resumed.err
    assert [(r["epoch"], r["iteration"]) for r in _metrics(out)] == [(1, 3), (2, 6)]
