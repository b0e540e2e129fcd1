"""report(path): HTML, Markdown and JSON files for every evaluation class; self-containment; errors."""

import base64
import json
import re

import pytest

from seqkit import Evaluation
from seqkit.reports import write_report

KINDS = ["Evaluation", "RegressionEvaluation", "ROC", "ROCMultiClass", "EvaluationBinary"]


@pytest.mark.parametrize("kind", KINDS)
def test_html_is_self_contained_escaped_and_has_its_plots(tmp_path, evaluations, expected_images, kind):
    path = evaluations[kind].report(tmp_path / "report.html")
    assert path == tmp_path / "report.html"
    html = path.read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>") and html.rstrip().endswith("</html>")
    images = re.findall(r'<img src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == html.count("<img") == expected_images[kind]
    for data in images:
        assert base64.b64decode(data).startswith(b"\x89PNG\r\n\x1a\n")
    assert "<script" not in html and "http://" not in html and "https://" not in html
    assert re.findall(r'(?:src|href)="([^"]*)"', html) == ["data:,"] + ["data:image/png;base64," + d for d in images]
    if kind != "ROC":                                          # class or column names are shown: escaped
        assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt;" in html
    assert "matplotlib is not installed" not in html


def test_classification_html_sections(tmp_path, evaluations):
    html = evaluations["Evaluation"].report(tmp_path / "r.HTM").read_text(encoding="utf-8")
    for title in ("Metrics", "Per-class metrics", "Confusion matrix", "Accuracy by time step",
                  "Accuracy by sequence length", "Worst-classified sequences", "Text summary (DL4J layout)"):
        assert f"<h2>{title}</h2>" in html
    assert "recordings/&lt;b&gt;session&lt;/b&gt;_" in html and "<b>session" not in html
    assert "Top-2 accuracy" in html


@pytest.mark.parametrize("kind", KINDS)
def test_json_is_strict_and_complete(tmp_path, evaluations, kind):
    text = evaluations[kind].report(tmp_path / "report.json").read_text(encoding="utf-8")
    data = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert data["type"] == kind and data["seqkit_version"]
    expected = evaluations[kind].to_dict()
    assert set(data) == set(expected) | {"title", "seqkit_version"}


def test_json_writes_undefined_values_as_null(tmp_path):
    import numpy as np
    ev = Evaluation().eval(np.eye(3)[[0, 1, 2]], np.eye(3)[[0, 0, 0]])
    data = json.loads(ev.report(tmp_path / "r.json").read_text())
    assert data["per_class"]["precision"] == [pytest.approx(1 / 3), None, None]
    assert data["excluded_classes"]["precision"] == [1, 2]


@pytest.mark.parametrize("kind", KINDS)
def test_markdown_tables(tmp_path, evaluations, kind):
    text = evaluations[kind].report(tmp_path / "report.md").read_text(encoding="utf-8")
    assert text.startswith("# ") and "\n## " in text and "| Metric | Value |" in text
    if kind != "ROC":
        assert "run\\|fast" in text                               # a '|' in a name cannot break the table
    for line in (ln for ln in text.splitlines() if ln.startswith("|")):
        assert len(re.findall(r"(?<!\\)\|", line)) >= 3


def test_empty_and_many_class_reports(tmp_path):
    import numpy as np
    empty = Evaluation().report(tmp_path / "empty.html").read_text(encoding="utf-8")
    assert "Classification evaluation" in empty
    wide = Evaluation(num_classes=25).eval(np.eye(25)[np.arange(25)], np.eye(25)[np.arange(25)])
    html = wide.report(tmp_path / "wide.html").read_text(encoding="utf-8")
    assert "The table is left out for 25 classes" in html
    assert "No sequence keys were passed" in html


def test_report_errors(tmp_path, evaluations):
    with pytest.raises(ValueError, match=r"extension '\.txt'; use one of \['\.htm', '\.html', '\.json', '\.md'\]"):
        evaluations["Evaluation"].report(tmp_path / "report.txt")
    with pytest.raises(ValueError, match="extension ''"):
        evaluations["ROC"].report(tmp_path / "report")
    with pytest.raises(ValueError, match="object cannot write a report"):
        write_report(object(), tmp_path / "x.html")
    from seqkit.reports._document import Figure
    from seqkit.reports._plots import render_png
    with pytest.raises(ValueError, match="unknown figure kind 'pie'"):
        render_png(Figure("pie", "Pie", {}))
    assert not (tmp_path / "report.txt").exists()
