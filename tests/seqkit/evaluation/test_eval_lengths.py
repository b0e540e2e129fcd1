"""Accuracy by sequence length and by step with the sequences' own extent (features mask or lengths).

The many-to-one ALIGN_END case: the labels mask has a single 1 per series, at its
last real feature step, so the evaluated steps say nothing about the series'
lengths; ``eval(features_mask=...)`` (what ``Sequential.evaluate`` passes) does.
"""

import json
import re

import numpy as np
import pytest
import torch
from evaluation_data import make_batch, same_dict

import readers
from seqkit import Evaluation, InputType, Sequential
from seqkit.evaluation._by_time import data_length_edges
from seqkit.evaluation._inputs import eval_features_mask
from seqkit.layers import LSTM, LastTimeStep, Output, RnnOutput

LENGTHS = np.array([3, 5, 8])
T = 8


def many_to_one(right_to_left=False, classes=(0, 1, 2), predicted=(0, 2, 2), c=3):
    """Hand-made batch: lengths 3, 5, 8, one label per series at its last real feature step.

    Features are real at t < length (padding after; this repo's ALIGN_END), or at
    t >= T - length with ``right_to_left`` (DL4J's end-aligned features). Series 1 is wrong.
    """
    n = len(LENGTHS)
    steps = np.arange(T)[None, :]
    if right_to_left:
        features_mask = (steps >= T - LENGTHS[:, None]).astype(np.float32)
        last = np.full(n, T - 1)
    else:
        features_mask = (steps < LENGTHS[:, None]).astype(np.float32)
        last = LENGTHS - 1
    labels_mask = np.zeros((n, T), np.float32)
    labels_mask[np.arange(n), last] = 1
    labels = np.zeros((n, c, T), np.float32)
    labels[np.arange(n), list(classes), last] = 1
    predictions = np.full((n, c, T), 1.0 / c, np.float32)
    predictions[np.arange(n), :, last] = 0.1
    predictions[np.arange(n), list(predicted), last] = 0.8
    return labels, predictions, labels_mask, features_mask


def buckets_of(ev, edges):
    b = ev.accuracy_by_length(edges)
    return b.labels(), b.sequences.tolist(), b.correct.tolist(), b.total.tolist()


# ---------------------------------------------------------------------------- many-to-one

@pytest.mark.parametrize("right_to_left", [False, True])
def test_many_to_one_lengths_come_from_the_features_mask(right_to_left):
    y, p, lm, fm = many_to_one(right_to_left)
    ev = Evaluation().eval(y, p, lm, keys=["a", "b", "c"], features_mask=fm)
    assert ev.num_steps == 3 and ev.accuracy() == pytest.approx(2 / 3)
    assert buckets_of(ev, [1, 4, 6]) == (["1-3", "4-5", "6-8"], [1, 1, 1], [1, 0, 1], [1, 1, 1])
    # default buckets follow the data: one per length from the shortest (3) to the longest (8)
    assert buckets_of(ev, None) == (["3", "4", "5", "6", "7", "8"], [1, 0, 1, 0, 0, 1], [1, 0, 0, 0, 0, 1],
                                    [1, 0, 1, 0, 0, 1])
    # the edges: every series lands in the first bucket, none is lost
    assert buckets_of(ev, [1, 20, 50])[1] == [3, 0, 0]
    # by step: the label is the last real feature step (index 0 from the end) and
    # index length - 1 from the first real feature step
    end, start = ev.accuracy_by_step("end"), ev.accuracy_by_step("start")
    assert end.total.tolist() == [3] and end.correct.tolist() == [2]
    assert start.total.tolist() == [0, 0, 1, 0, 1, 0, 0, 1]
    assert start.correct.tolist() == [0, 0, 1, 0, 0, 0, 0, 1]
    worst = ev.worst_sequences()
    assert worst[0]["key"] == "b" and worst[0]["length"] == 5 and worst[0]["steps"] == 1
    assert worst[0]["first_error_step"] == 4


def test_without_lengths_the_evaluated_steps_are_the_sequence():
    """Documented fallback: with only the labels mask every series has length 1."""
    y, p, lm, fm = many_to_one()
    ev = Evaluation().eval(y, p, lm)
    assert buckets_of(ev, [1, 4, 6])[1:] == ([3, 0, 0], [2, 0, 0], [3, 0, 0])
    assert ev.accuracy_by_length().labels() == ["1"]
    assert ev.accuracy_by_step("start").total.tolist() == [3]


def test_given_lengths_set_the_buckets_and_leave_the_step_views_on_the_mask():
    y, p, lm, fm = many_to_one()
    for lengths in (LENGTHS, torch.tensor(LENGTHS), LENGTHS.astype(np.float32)):
        ev = Evaluation().eval(y, p, lm, keys=["a", "b", "c"], lengths=lengths)
        assert buckets_of(ev, [1, 4, 6]) == (["1-3", "4-5", "6-8"], [1, 1, 1], [1, 0, 1], [1, 1, 1])
        assert ev.accuracy_by_step("start").total.tolist() == [3]
        assert ev.accuracy_by_step("end").total.tolist() == [3]
        assert ev.worst_sequences()[0]["length"] == 5
    # lengths beyond T are fine (e.g. sequences cut before evaluation)
    ev = Evaluation().eval(y, p, lm, lengths=[3, 5, 300])
    assert buckets_of(ev, [1, 100])[1] == [2, 1]


def test_features_mask_alone_is_the_evaluation_mask_for_per_step_predictions():
    b = make_batch(seed=5)
    with_fm = Evaluation().eval(b.labels, b.predictions, features_mask=b.mask, keys=b.keys)
    plain = Evaluation().eval(b.labels, b.predictions, b.mask, keys=b.keys)
    assert same_dict(with_fm.to_dict(), plain.to_dict())


def test_per_step_labels_mask_inside_the_features_is_indexed_from_the_features():
    """Labels missing on the first and last real steps: indices still count from the sequence's ends."""
    b = make_batch(seed=2)
    fm = b.mask.copy()
    lm = fm.copy()
    first = fm.argmax(1)
    last = fm.shape[1] - 1 - fm[:, ::-1].argmax(1)
    rows = np.arange(len(fm))
    lm[rows, first] = 0
    lm[rows, last] = 0
    ev = Evaluation().eval(b.labels, b.predictions, lm, features_mask=fm)
    real = lm != 0
    n_idx, t_idx = np.nonzero(real)
    correct = (b.labels.argmax(1) == b.predictions.argmax(1)) & real
    for align, index in (("start", t_idx - first[n_idx]), ("end", last[n_idx] - t_idx)):
        table = ev.accuracy_by_step(align)
        total = np.bincount(index)
        assert np.array_equal(table.total, total)
        assert np.array_equal(table.correct, np.bincount(index, weights=correct[n_idx, t_idx]).astype(np.int64))
    lengths = fm.sum(1)
    buckets = ev.accuracy_by_length(list(range(1, 16)))
    for lo, seqs, total in zip(buckets.low, buckets.sequences, buckets.total):
        inside = (lengths == lo) & (real.sum(1) > 0)
        assert (seqs, total) == (inside.sum(), real.sum(1)[inside].sum())


def test_labels_before_the_features_start_extend_the_sequence():
    """DL4J's ALIGN_END with labels longer than the features: the sequence is the union."""
    y = np.eye(2, dtype=np.float32)[[[0, 1, 1, 0]]].transpose(0, 2, 1)           # [1, 2, 4]
    p = y * 0.8 + 0.1
    fm = np.array([[0, 0, 1, 1]], np.float32)
    lm = np.array([[0, 1, 1, 1]], np.float32)
    ev = Evaluation().eval(y, p, lm, features_mask=fm)
    assert buckets_of(ev, [1, 3, 4]) == (["1-2", "3", "4"], [0, 1, 0], [0, 3, 0], [0, 3, 0])
    assert ev.accuracy_by_step("start").total.tolist() == [1, 1, 1]
    assert ev.accuracy_by_step("end").total.tolist() == [1, 1, 1]


# ---------------------------------------------------------------------------- default buckets

def _with_lengths(lengths, seed=0):
    """Many-to-one [N, C] evaluation of sequences with the given lengths."""
    rng = np.random.default_rng(seed)
    n = len(lengths)
    y = np.eye(3, dtype=np.float32)[rng.integers(0, 3, n)]
    return Evaluation().eval(y, rng.random((n, 3)).astype(np.float32), lengths=np.asarray(lengths))


@pytest.mark.parametrize("lengths, labels", [
    (range(29, 362), ["29-49", "50-99", "100-149", "150-199", "200-249", "250-299", "300-349", "350-361"]),
    (range(3, 11), ["3", "4", "5", "6", "7", "8", "9", "10"]),
    ([3, 10, 10, 4], ["3", "4", "5", "6", "7", "8", "9", "10"]),
    ([7, 7], ["7"]),
    (range(1, 501), ["1-2", "3-9", "10-29", "30-99", "100-299", "300-500"]),     # 500 times the shortest
    ([1, 12, 10000], ["1-9", "10-99", "100-999", "1000-9999", "10000"]),
])
def test_default_buckets_follow_the_data(lengths, labels):
    b = _with_lengths(list(lengths))
    assert b.accuracy_by_length().labels() == labels
    assert int(b.accuracy_by_length().sequences.sum()) == len(list(lengths))


def test_data_length_edges():
    assert data_length_edges(29, 361) == [29, 50, 100, 150, 200, 250, 300, 350]
    assert data_length_edges(3, 10) == list(range(3, 11))
    assert data_length_edges(3, 11) == [3, 4, 6, 8, 10]                            # width 2 once 9 would be needed
    assert data_length_edges(100, 1000) == [100, 200, 400, 600, 800, 1000]
    assert data_length_edges(1, 10 ** 9) == [10 ** e for e in range(10)]          # decades, the coarsest
    assert data_length_edges(0, 0) == [1]
    assert Evaluation().accuracy_by_length().labels() == ["1"]                    # no data


def test_report_length_buckets_follow_the_data(tmp_path):
    for lengths, first, last in ((range(29, 362), "29-49", "350-361"), (range(3, 11), "3", "10")):
        ev = _with_lengths(list(lengths))
        data = json.loads(ev.report(tmp_path / "r.json").read_text())["accuracy_by_length"]
        assert data["low"][0] == min(lengths) and data["high"][-1] == max(lengths)
        md = ev.report(tmp_path / "r.md").read_text()
        rows = md[md.index("## Accuracy by sequence length"):].split("\n## ")[0]
        firsts = [line.split(" | ")[0][2:] for line in rows.splitlines() if line.startswith("| ")][1:]
        assert firsts[0] == first and firsts[-1] == last and "16-31" not in firsts and "1" not in firsts


# ---------------------------------------------------------------------------- sequence level

def test_sequence_level_predictions_get_lengths_from_the_features_mask():
    y, p, lm, fm = many_to_one()
    rows = np.arange(3)
    last = LENGTHS - 1
    y2, p2 = y[rows, :, last], p[rows, :, last]                                    # [N, C]
    ev = Evaluation().eval(y2, p2, keys=["a", "b", "c"], features_mask=fm)
    assert buckets_of(ev, [1, 4, 6]) == (["1-3", "4-5", "6-8"], [1, 1, 1], [1, 0, 1], [1, 1, 1])
    assert ev.accuracy_by_step("start").total.tolist() == [3]
    assert ev.worst_sequences()[0]["length"] == 5
    # an [N] mask still drops examples; a features mask of another T is fine for [N, C]
    ev = Evaluation().eval(y2, p2, np.array([1, 0, 1]), features_mask=np.pad(fm, ((0, 0), (0, 4))))
    assert buckets_of(ev, [1, 4, 6])[1] == [1, 0, 1]
    # class-index labels and torch inputs
    ev = Evaluation().eval(torch.tensor([0, 1, 2]), torch.tensor(p2), features_mask=torch.tensor(fm))
    assert buckets_of(ev, [1, 4, 6])[1:3] == ([1, 1, 1], [1, 0, 1])


# ---------------------------------------------------------------------------- merge

def test_merge_keeps_length_buckets_exact():
    y, p, lm, fm = many_to_one()
    whole = Evaluation().eval(y, p, lm, features_mask=fm)
    first = Evaluation().eval(y[:2, :, :5], p[:2, :, :5], lm[:2, :5], features_mask=fm[:2, :5])   # T = 5
    second = Evaluation().eval(y[2:], p[2:], lm[2:], features_mask=fm[2:])                        # T = 8
    merged = first.merge(second)
    assert same_dict(merged.to_dict(), whole.to_dict())
    for edges in (None, [1, 4, 6], [2, 3, 5, 8, 9]):
        assert buckets_of(merged, edges) == buckets_of(whole, edges)
    # and the other way round, longer table first
    reverse = Evaluation().eval(y[2:], p[2:], lm[2:], features_mask=fm[2:]).merge(
        Evaluation().eval(y[:2, :, :5], p[:2, :, :5], lm[:2, :5], features_mask=fm[:2, :5]))
    assert buckets_of(reverse, [1, 4, 6]) == buckets_of(whole, [1, 4, 6])


def test_merge_of_random_segments_by_rows_equals_one_evaluation():
    b = make_batch(seed=7, n=40, t=20)
    lm = b.mask * (np.random.default_rng(0).random(b.mask.shape) < 0.5)
    whole = Evaluation().eval(b.labels, b.predictions, lm, keys=b.keys, features_mask=b.mask)
    parts = Evaluation()
    for lo, hi in ((0, 7), (7, 25), (25, 40)):
        parts.merge(Evaluation().eval(b.labels[lo:hi], b.predictions[lo:hi], lm[lo:hi], keys=b.keys[lo:hi],
                                      features_mask=b.mask[lo:hi]))
    assert same_dict(parts.to_dict(), whole.to_dict())


# ---------------------------------------------------------------------------- Sequential.evaluate

def _many_to_one_batch(right_to_left=False):
    rng = np.random.default_rng(0)
    y, _, lm, fm = many_to_one(right_to_left)
    x = (rng.standard_normal((3, 2, T)) * fm[:, None, :]).astype(np.float32)
    return readers.Batch(x, y, fm, lm, ["a", "b", "c"])


@pytest.mark.parametrize("right_to_left", [False, True])
def test_network_evaluate_many_to_one_counts_series_by_length(right_to_left):
    batch = _many_to_one_batch(right_to_left)
    net = Sequential([LSTM(4), RnnOutput(3)], input_type=InputType.recurrent(2), seed=0)
    ev = net.evaluate(batch)
    out = net.output(batch.features, batch.features_mask)
    last = batch.labels_mask.argmax(1)
    correct = (out[np.arange(3), :, last].argmax(1) == batch.labels[np.arange(3), :, last].argmax(1)).astype(int)
    labels, seqs, hits, total = buckets_of(ev, [1, 4, 6])
    assert seqs == [1, 1, 1] and total == [1, 1, 1] and hits == correct.tolist()
    assert ev.accuracy_by_step("end").total.tolist() == [3]
    assert sorted(w["length"] for w in ev.worst_sequences()) == [3, 5, 8]


def test_network_evaluate_without_features_mask_uses_the_full_length():
    batch = _many_to_one_batch(True)
    batch = readers.Batch(batch.features, batch.labels, None, batch.labels_mask, batch.keys)   # all T real
    net = Sequential([LSTM(4), RnnOutput(3)], input_type=InputType.recurrent(2), seed=0)
    ev = net.evaluate(batch)
    assert buckets_of(ev, [1, 8])[1] == [0, 3]
    assert ev.accuracy_by_step("start").total.tolist() == [0] * 7 + [3]


def test_network_evaluate_sequence_level_counts_series_by_length():
    batch = _many_to_one_batch()
    rows = np.arange(3)
    y2 = batch.labels[rows, :, LENGTHS - 1]                                        # [N, C]
    net = Sequential([LastTimeStep(LSTM(4)), Output(3)], input_type=InputType.recurrent(2), seed=0)
    ev = net.evaluate(readers.Batch(batch.features, y2, batch.features_mask, None, batch.keys))
    out = net.output(batch.features, batch.features_mask)
    correct = (out.argmax(1) == y2.argmax(1)).astype(int)
    assert buckets_of(ev, [1, 4, 6])[1:3] == ([1, 1, 1], correct.tolist())
    # equal-length sequences without a features mask: every series has length T
    ev = net.evaluate((batch.features, y2))
    assert buckets_of(ev, [1, 8])[1] == [0, 3]


def test_eval_features_mask_helper():
    x3, fm = torch.zeros(3, 2, 8), torch.ones(3, 8)
    p3, p2, m = torch.zeros(3, 4, 8), torch.zeros(3, 4), torch.ones(3, 8)
    assert eval_features_mask(x3, fm, p3, m) is fm
    assert eval_features_mask(x3, None, p3, None) is None                        # nothing to add
    assert eval_features_mask(x3, None, p3, m).shape == (3, 8)
    assert eval_features_mask(x3, None, p2, None).shape == (3, 8)
    assert eval_features_mask(torch.zeros(3, 5), None, p2, None) is None         # feed-forward
    assert eval_features_mask(torch.zeros(3, 1, 4, 4), None, p2, None) is None   # images
    assert eval_features_mask(torch.zeros(3, 1, 6, 4, 4), None, p2, None).shape == (3, 6)   # video
    assert eval_features_mask(x3, fm, torch.zeros(3, 4, 5), m) is None           # another T: left out


# ---------------------------------------------------------------------------- report and errors

def test_html_report_shows_the_length_buckets(tmp_path):
    y, p, lm, fm = many_to_one()
    ev = Evaluation().eval(y, p, lm, keys=["a", "b", "c"], features_mask=fm)
    html = ev.report(tmp_path / "r.html").read_text()
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    section = text[text.rindex("Accuracy by sequence length"):]
    # many-to-one: bucket, sequences, accuracy (no separate step count); buckets from length 3 to 8
    assert re.search("Length \\(real steps\\) Sequences Accuracy 3 1 1\\.0000 4 0 \u2014 5 1 0\\.0000 6 0 \u2014 "
                     "7 0 \u2014 8 1 1\\.0000", section), section[:400]
    assert re.search(r"\b1 b 1 2 0\.1000 5\b", text)               # worst: rank, key, true, predicted, score, length
    md = ev.report(tmp_path / "r.md").read_text()
    assert "| 3 | 1 | 1.0000 |" in md and "| 8 | 1 | 1.0000 |" in md


def test_length_errors():
    y, p, lm, fm = many_to_one()
    cases = [
        (dict(features_mask=fm, lengths=LENGTHS), "give features_mask or lengths, not both"),
        (dict(features_mask=fm[:, :5]), r"features_mask must be \[N, T\] = \[3, 8\]"),
        (dict(lengths=LENGTHS[:2]), r"lengths must be \[N\] = \[3\]"),
        (dict(lengths=[3, 0, 8]), "1 lengths are not whole numbers .* the first is example 1"),
        (dict(lengths=[3, 5.5, 8]), "not whole numbers"),
        (dict(lengths=[3, -1, np.nan]), "2 lengths are not whole numbers"),
        (dict(lengths=np.array([True, True, True])), "lengths must be whole numbers, got dtype torch.bool"),
    ]
    for kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            Evaluation().eval(y, p, lm, **kwargs)
    with pytest.raises(ValueError, match=r"features_mask must be \[N, T\] with N = 3"):
        Evaluation().eval(y[:, :, 0], p[:, :, 0], features_mask=fm[:2])
    with pytest.raises(ValueError, match="lengths are not whole numbers"):       # no mask: T steps each
        Evaluation().eval(y, p, lengths=[8, 8, 7])


@pytest.mark.cuda
def test_cuda_lengths_match_cpu():
    b = make_batch(seed=11, n=64, t=30)
    lm = b.mask * (np.random.default_rng(1).random(b.mask.shape) < 0.3)
    cpu = Evaluation().eval(b.labels, b.predictions, lm, keys=b.keys, features_mask=b.mask)
    dev = Evaluation().eval(torch.tensor(b.labels).cuda(), torch.tensor(b.predictions).cuda(),
                            torch.tensor(lm).cuda(), keys=b.keys, features_mask=torch.tensor(b.mask).cuda())
    assert same_dict(dev.to_dict(), cpu.to_dict(), rel=1e-6)
    given = Evaluation().eval(torch.tensor(b.labels).cuda(), torch.tensor(b.predictions).cuda(),
                              torch.tensor(lm).cuda(), lengths=torch.tensor(b.mask.sum(1)).cuda())
    assert buckets_of(given, None) == buckets_of(cpu, None)
