"""Provenance: the JSON-safe record of what an evaluation's figures come from, kept by merge and to_dict."""

import json
import math
import pathlib

import numpy as np
import pytest

from seqkit import ROC, Evaluation, EvaluationBinary, RegressionEvaluation, ROCMultiClass
from seqkit._version import seqkit_version
from seqkit.evaluation._provenance import provenance_section, stamped
from seqkit.reports import Table, Text

CONFIG = {"model": {"layers": ["LSTM(64)", "LastTimeStep(SimpleRNN(32))"]}, "fit": {"epochs": 30, "lr": 0.005}}
FULL = {"model_file": "/runs/2024-05-01/model.seqkit", "data_source": "datasets/synthetic_control/test.parquet",
        "epochs": 30, "training_time_s": 754.2, "config": CONFIG}


def _filled(kind):
    """One evaluation of each kind, with a little data."""
    y = np.eye(3, dtype=np.float32)[[0, 1, 2, 1]]
    p = np.array([[.8, .1, .1], [.2, .7, .1], [.3, .3, .4], [.6, .3, .1]], np.float32)
    if kind is Evaluation:
        return Evaluation().eval(y, p)
    if kind is RegressionEvaluation:
        return RegressionEvaluation().eval(y, p)
    if kind is ROC:
        return ROC().eval(y[:, 1:2], p[:, 1:2])
    if kind is ROCMultiClass:
        return ROCMultiClass().eval(y, p)
    return EvaluationBinary().eval(y, p)


KINDS = [Evaluation, RegressionEvaluation, ROC, ROCMultiClass, EvaluationBinary]


@pytest.mark.parametrize("kind", KINDS)
def test_every_evaluation_keeps_provenance_in_to_dict_and_merge(kind):
    ev = _filled(kind)
    assert ev.provenance == {}
    assert ev.to_dict()["provenance"] == {"seqkit_version": seqkit_version()}        # always filled in
    ev.provenance = {"epochs": 3, "note": "mine"}
    other = _filled(kind)
    other.provenance["model_file"] = "m.seqkit"                                       # changed in place
    other.provenance["epochs"] = 5
    ev.merge(other)
    assert ev.provenance == {"epochs": 3, "note": "mine", "model_file": "m.seqkit"}   # this side wins
    assert ev.to_dict()["provenance"] == {"model_file": "m.seqkit", "epochs": 3, "seqkit_version": seqkit_version(),
                                          "note": "mine"}
    assert list(ev.to_dict()["provenance"]) == ["model_file", "epochs", "seqkit_version", "note"]   # known first
    empty = kind() if kind is not EvaluationBinary else EvaluationBinary()
    empty.merge(ev)                                                                   # merging into an empty one
    assert empty.provenance["model_file"] == "m.seqkit"


@pytest.mark.parametrize("kind", KINDS)
def test_report_provenance_is_for_that_report_only(tmp_path, kind):
    ev = _filled(kind)
    ev.provenance = {"model_file": "a.seqkit", "epochs": 2}
    data = json.loads(ev.report(tmp_path / "r.json", provenance={"epochs": 7, "run": "x"}).read_text())
    assert data["provenance"] == {"model_file": "a.seqkit", "epochs": 7, "seqkit_version": seqkit_version(),
                                  "run": "x"}
    assert ev.provenance == {"model_file": "a.seqkit", "epochs": 2}                   # unchanged
    html = ev.report(tmp_path / "r.html", provenance={"data_source": "test.parquet"}).read_text()
    assert "<h2>Provenance</h2>" in html and "Model: a.seqkit \u00b7 Data: test.parquet" in html


def test_full_provenance_in_every_format(tmp_path):
    ev = _filled(Evaluation)
    ev.provenance = FULL
    data = json.loads(ev.report(tmp_path / "r.json").read_text())
    assert data["provenance"] == {**FULL, "seqkit_version": seqkit_version()}
    assert data["seqkit_version"] == seqkit_version()
    html = ev.report(tmp_path / "r.html").read_text()
    section = html[html.index("<h2>Provenance</h2>"):]
    for cell in ("Model file", "/runs/2024-05-01/model.seqkit", "Data source",
                 "datasets/synthetic_control/test.parquet", "Epochs", '<td class="text">30</td>', "Training time",
                 "12 min 34 s", "seqkit version", "Config:"):
        assert cell in section, cell
    assert "&quot;LastTimeStep(SimpleRNN(32))&quot;" in section and '"lr": 0.005' not in section
    assert "<p>seqkit " in html and "Model: model.seqkit \u00b7 Data: datasets/synthetic_control/test.parquet" in html
    md = ev.report(tmp_path / "r.md").read_text()
    assert "Model: model.seqkit" in md and "## Provenance" in md and "| Training time | 12 min 34 s |" in md
    assert '```\n{\n  "model": {' in md


def test_seqkit_version_is_always_this_one_and_values_are_made_json_safe():
    ev = Evaluation()
    ev.provenance = {"seqkit_version": "0.0.1", "model_file": pathlib.Path("runs/m.seqkit"),
                     "epochs": np.int64(4), "loss": np.float32(0.5), "best": np.bool_(True), "shape": (2, 3),
                     "none": None}
    assert ev.provenance == {"seqkit_version": "0.0.1", "model_file": "runs/m.seqkit", "epochs": 4, "loss": 0.5,
                             "best": True, "shape": [2, 3], "none": None}
    assert type(ev.provenance["epochs"]) is int
    assert ev.to_dict()["provenance"]["seqkit_version"] == seqkit_version()
    json.dumps(ev.to_dict()["provenance"], allow_nan=False)


def test_provenance_section_layout():
    section = provenance_section(stamped({"training_time_s": 12.46, "list": list(range(40)), "short": [1, 2],
                                          "epochs": 1}))
    table, label, block = section.blocks
    assert isinstance(table, Table) and isinstance(block, Text) and block.style == "pre"
    assert table.rows == [["Epochs", "1"], ["Training time", "12.5 s"], ["seqkit version", seqkit_version()],
                          ["short", "[1, 2]"]]
    assert label.text == "list:" and json.loads(block.text) == list(range(40))   # too long for a cell
    times = [provenance_section({"training_time_s": t}).blocks[0].rows[0][1] for t in (3723.4, 60, -1, "1 h")]
    assert times == ["1 h 02 min 03 s", "1 min 00 s", "-1", '"1 h"']
    only_version = provenance_section(stamped({}))
    assert "report(path, provenance={...})" in only_version.blocks[-1].text


def test_provenance_errors(tmp_path):
    ev = Evaluation()
    nested: dict = {}
    deep = nested
    for _ in range(40):
        deep["x"] = {}
        deep = deep["x"]
    cases = [
        ("config", r"Evaluation.provenance: provenance must be a dict, got str"),
        ({1: "a"}, r"provenance has the key 1 of type int; keys must be strings"),
        ({"a": {"b": {2, 3}}}, r"provenance\['a'\]\['b'\] is a set, which JSON cannot hold"),
        ({"a": [1, math.nan]}, r"provenance\['a'\]\[1\] is nan, which strict JSON cannot hold"),
        ({"t": math.inf}, r"provenance\['t'\] is inf"),
        ({"deep": nested}, "is nested more than 32 levels deep"),
    ]
    for value, message in cases:
        with pytest.raises(ValueError, match=message):
            ev.provenance = value
    assert ev.provenance == {}
    ev.provenance["bad"] = object()                                                   # in place: checked on use
    with pytest.raises(ValueError, match=r"Evaluation.report: provenance\['bad'\] is a object"):
        ev.to_dict()
    with pytest.raises(ValueError, match=r"Evaluation.report: provenance\['bad'\] is a object"):
        ev.report(tmp_path / "r.json")
    ev.provenance = {}
    with pytest.raises(ValueError, match="provenance must be a dict, got list"):
        ev.report(tmp_path / "r.html", provenance=["model.seqkit"])
    assert not (tmp_path / "r.json").exists() and not (tmp_path / "r.html").exists()
