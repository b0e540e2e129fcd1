"""The report for sequence classification: sequences vs steps, the worst sequences, class labels, names on one line."""

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest

from seqkit import Evaluation
from seqkit.reports import Figure
from seqkit.reports._plots import render_png, tick_labels, tick_rotation

ROOT = Path(__file__).resolve().parents[3]
NAMES = ["Normal", "Cyclic", "Increasing trend", "Decreasing trend", "Upward shift", "Downward shift"]
FOLDER = "/home/alice/projects/seqkit-experiments/datasets/synthetic_control/test/features/"


def many_to_one(names=NAMES, n=60, seed=0):
    """[N, C] predictions of sequences 29..361 steps long, keyed by long file paths."""
    rng = np.random.default_rng(seed)
    c = len(names)
    y = rng.integers(0, c, n)
    logits = rng.normal(size=(n, c)) + 2.0 * np.eye(c)[y]
    lengths = np.linspace(29, 361, n).round().astype(int)
    fm = (np.arange(361)[None] < lengths[:, None]).astype(np.float32)
    keys = [f"{FOLDER}{i}.csv" for i in range(n)]
    return Evaluation(labels=names).eval(np.eye(c, dtype=np.float32)[y], logits.astype(np.float32), keys=keys,
                                         features_mask=fm), y, logits.argmax(1), keys


def per_step(seed=0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, (8, 12))
    p = rng.random((8, 3, 12)).astype(np.float32)
    mask = (np.arange(12)[None] < rng.integers(3, 13, 8)[:, None]).astype(np.float32)
    return Evaluation(labels=["a", "b", "c"]).eval(y, p, mask, keys=[f"k{i}" for i in range(8)])


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def cards(html: str) -> list[str]:
    return re.findall(r'<div class="label">([^<]*)</div>', html)


def section(html: str, title: str) -> str:
    start = html.index(f"<h2>{title}</h2>")
    return html[start:html.index("</section>", start)]


# ---------------------------------------------------------------------------- sequences, not steps

def test_many_to_one_report_counts_sequences(tmp_path):
    ev = many_to_one()[0]
    html = ev.report(tmp_path / "r.html").read_text()
    assert "Sequences" in cards(html) and "Real steps" not in cards(html)
    text = text_of(html)
    assert "Sequences evaluated 60" in text and "Real steps evaluated" not in text
    assert "Each sequence counts once, by its one labelled step (many-to-one data)" in text
    assert "Every real step of every sequence counts once" not in text
    assert "Support: sequences of the class; Predicted: sequences predicted as it." in text
    assert "Confusion matrix of sequences" in text
    assert "<h2>Accuracy by time step</h2>" not in html                       # it would only repeat the lengths
    lengths = text_of(section(html, "Accuracy by sequence length"))
    assert "Length (real steps) Sequences Accuracy" in lengths and "Evaluated steps" not in lengths
    md = ev.report(tmp_path / "r.md").read_text()
    assert "| Sequences | 60 |" in md and "| Sequences evaluated | 60 |" in md and "Real steps" not in md
    data = json.loads(ev.report(tmp_path / "r.json").read_text())
    assert data["many_to_one"] is True and data["num_sequences"] == 60 == data["num_steps"]


def test_per_step_report_keeps_steps(tmp_path):
    ev = per_step()
    html = ev.report(tmp_path / "r.html").read_text()
    assert "Real steps" in cards(html) and "Sequences" not in cards(html)
    text = text_of(html)
    assert f"Real steps evaluated {ev.num_steps}" in text and "Every real step of every sequence counts once" in text
    assert "Support: steps of the class" in text and "<h2>Accuracy by time step</h2>" in html
    assert "Length (real steps) Sequences Evaluated steps Accuracy" in text
    assert json.loads(ev.report(tmp_path / "r.json").read_text())["many_to_one"] is False


def test_many_to_one_without_lengths_says_so(tmp_path):
    ev = Evaluation().eval(np.eye(3, dtype=np.float32)[[0, 1, 2]], np.eye(3, dtype=np.float32)[[0, 2, 2]])
    text = text_of(section(ev.report(tmp_path / "r.html").read_text(), "Accuracy by sequence length"))
    assert "Every sequence has length 1 here: eval was given neither features_mask nor lengths" in text


# ---------------------------------------------------------------------------- worst sequences

def test_worst_table_shows_classes_and_short_keys(tmp_path):
    ev, y, predicted, keys = many_to_one()
    html = ev.report(tmp_path / "r.html").read_text()
    worst = section(html, "Worst-classified sequences")
    head = re.findall(r"<th[^>]*>([^<]*)</th>", worst)
    assert head == ["Rank", "Key", "True class", "Predicted", "True-class score", "Length"]
    first = ev.worst_sequences()[0]
    i = keys.index(first["key"])
    row = re.search(r'<tr><td class="text">1</td>(.*?)</tr>', worst).group(1)
    cells = re.findall(r"<td[^>]*>([^<]*)</td>", row)
    assert cells[:3] == [f"{i}.csv", NAMES[y[i]], NAMES[predicted[i]]] and NAMES[y[i]] != NAMES[predicted[i]]
    assert f'<td class="text" title="{FOLDER}{i}.csv">{i}.csv</td>' in row         # full key on hover
    assert f"Keys are shown without the folder they share: {FOLDER}" in text_of(worst)
    assert FOLDER not in re.sub(r'title="[^"]*"', "", worst.split('<p class="note">')[0])
    md = ev.report(tmp_path / "r.md").read_text()
    assert f"| 1 | {i}.csv | {NAMES[y[i]]} | {NAMES[predicted[i]]} |" in md


def test_per_step_worst_table_columns(tmp_path):
    ev = per_step()
    worst = section(ev.report(tmp_path / "r.html").read_text(), "Worst-classified sequences")
    assert re.findall(r"<th[^>]*>([^<]*)</th>", worst) == [
        "Rank", "Key", "True class", "Predicted", "Length", "Evaluated steps", "Wrong", "Error rate",
        "Mean true-class score", "First error at"]
    assert "title=" not in worst and "the class at most of the sequence&#x27;s evaluated steps" in worst


# ---------------------------------------------------------------------------- class labels

def test_numeric_class_names_are_not_taken_for_indices(tmp_path):
    names = ["1", "2", "3", "4", "5", "6"]
    ev, y, predicted, keys = many_to_one(names)
    html = ev.report(tmp_path / "r.html").read_text()
    per_class = section(html, "Per-class metrics")
    assert "<td class=\"text\">0</td><td class=\"text\">&quot;1&quot;</td>" in per_class
    assert "Class names are numbers, so they are shown in quotes; an unquoted number is a class index." in per_class
    confusion = section(html, "Confusion matrix")
    assert "0 = &quot;1&quot;" in confusion and "5 = &quot;6&quot;" in confusion and "0 = 1<" not in confusion
    first = ev.worst_sequences()[0]
    i = keys.index(first["key"])
    md = ev.report(tmp_path / "r.md").read_text()
    assert f'| 1 | {i}.csv | "{names[y[i]]}" | "{names[predicted[i]]}" |' in md
    data = json.loads(ev.report(tmp_path / "r.json").read_text())
    assert data["class_names"] == names                                          # the data keep the names as given
    binary = Evaluation(labels=["1", "0"]).eval(np.eye(2)[[0, 1]], np.eye(2)[[0, 1]])
    assert binary.to_dict()["averaging"] == 'positive class 1 ("0")'


def test_default_names_stay_indices(tmp_path):
    ev = Evaluation().eval(np.eye(3)[[0, 1, 2]], np.eye(3)[[0, 2, 2]])
    html = ev.report(tmp_path / "r.html").read_text()
    assert "&quot;" not in section(html, "Per-class metrics") and "0 = 0" in section(html, "Confusion matrix")


# ---------------------------------------------------------------------------- names on one line

def test_tables_never_wrap_inside_a_word(tmp_path):
    """The static half of the check; test_report_browser renders a narrow page and counts wrapped cells."""
    html = per_step().report(tmp_path / "r.html").read_text()
    css = html[html.index("<style>"):html.index("</style>")]
    assert "overflow-wrap: anywhere" not in css and "word-break" not in css
    assert re.search(r"th, td \{[^}]*white-space: nowrap", css)
    assert not re.search(r"td(\.text)? \{[^}]*white-space: normal", css)


def test_plot_labels_are_one_line_and_short():
    long = ["Increasing trend with a long tail A", "Increasing trend with a long tail B", "two\nlines", "ok"]
    labels = tick_labels(long)
    assert labels[2] == "two lines" and labels[3] == "ok"
    assert len(set(labels)) == 4 and all(len(s) <= 18 for s in labels) and labels[0].endswith("A")
    assert tick_rotation(["1", "2", "3"]) == 0 and tick_rotation(["29-49", "50-99"] * 4) == 0
    assert tick_rotation(labels * 2) == 30 and tick_rotation(["Decreasing trend"] * 12) == 60
    png = render_png(Figure("class_bars", "t", {"names": long * 4, "precision": [0.5] * 16, "recall": [0.4] * 16}))
    assert png.startswith(b"\x89PNG")


# ---------------------------------------------------------------------------- plots in every report

def test_matplotlib_is_a_regular_dependency():
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert any(re.match(r"matplotlib\b", d) for d in project["dependencies"])
    assert project["optional-dependencies"].get("report") == []                 # kept as an empty alias
