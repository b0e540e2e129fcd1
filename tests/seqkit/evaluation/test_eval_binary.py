"""EvaluationBinary: per-output thresholds and masks against scikit-learn, merging, errors."""

import numpy as np
import pytest
import torch
from evaluation_data import same_dict
from sklearn import metrics as skm

from seqkit import EvaluationBinary


def _multilabel(seed=0, n=20, k=3, t=10):
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, k, t)) < 0.4).astype(np.float32)
    scores = np.clip(rng.normal(0.35 + 0.3 * labels, 0.25), 0, 1).astype(np.float32)
    mask = (rng.random((n, k, t)) < 0.8).astype(np.float32)
    return labels, scores, mask


def test_per_output_masks_and_thresholds_match_sklearn():
    labels, scores, mask = _multilabel()
    thresholds = [0.5, 0.3, 0.6]
    ev = EvaluationBinary(decision_threshold=thresholds, labels=["x", "y", "z"]).eval(labels, scores, mask)
    per_output = ev.per_output()
    for i, thr in enumerate(thresholds):
        keep = mask[:, i, :] != 0
        y, p = labels[:, i, :][keep] > 0.5, scores[:, i, :][keep] > thr
        assert ev.counts()["tp"][i] == (y & p).sum() and ev.counts()["tn"][i] == (~y & ~p).sum()
        assert ev.accuracy(i) == pytest.approx(skm.accuracy_score(y, p))
        assert ev.precision(i) == pytest.approx(skm.precision_score(y, p))
        assert ev.recall(i) == pytest.approx(skm.recall_score(y, p))
        assert ev.f1(i) == pytest.approx(skm.f1_score(y, p))
        assert ev.matthews_correlation(i) == pytest.approx(skm.matthews_corrcoef(y, p))
        assert per_output["f1"][i] == ev.f1(i)
    assert ev.f1("y") == ev.f1(1)
    assert ev.average_f1() == pytest.approx(per_output["f1"].mean())
    assert ev.average_accuracy() == pytest.approx(per_output["accuracy"].mean())
    assert ev.thresholds().tolist() == thresholds


def test_step_masks_two_d_input_and_torch():
    labels, scores, _ = _multilabel()
    step_mask = np.ones((20, 10), np.float32)
    step_mask[:, 7:] = 0
    ev = EvaluationBinary().eval(torch.from_numpy(labels), torch.from_numpy(scores), torch.from_numpy(step_mask))
    flat = EvaluationBinary().eval(labels[:, :, :7].transpose(0, 2, 1).reshape(-1, 3),
                                   scores[:, :, :7].transpose(0, 2, 1).reshape(-1, 3))
    assert same_dict(ev.to_dict(), flat.to_dict())
    rows = EvaluationBinary().eval(labels[:, :, 0], scores[:, :, 0], np.arange(20) % 2)
    assert rows.counts()["tp"].sum() + rows.counts()["fn"].sum() + rows.counts()["tn"].sum() + \
        rows.counts()["fp"].sum() == 10 * 3
    per_output_2d = EvaluationBinary().eval(labels[:, :, 0], scores[:, :, 0], np.eye(3)[np.arange(20) % 3])
    assert per_output_2d.counts()["tp"].sum() + per_output_2d.counts()["fn"].sum() + \
        per_output_2d.counts()["tn"].sum() + per_output_2d.counts()["fp"].sum() == 20


def test_merge_padding_and_all_masked():
    labels, scores, mask = _multilabel()
    whole = EvaluationBinary(0.4).eval(labels, scores, mask)
    merged = EvaluationBinary(0.4)
    for n0 in range(0, 20, 6):
        merged.merge(EvaluationBinary(0.4).eval(labels[n0:n0 + 6], scores[n0:n0 + 6], mask[n0:n0 + 6]))
    merged.eval(labels, scores, np.zeros_like(mask))
    pad = lambda a, v: np.pad(a, [(0, 0), (0, 0), (1, 1)], constant_values=v)  # noqa: E731
    padded = EvaluationBinary(0.4).eval(pad(labels, 1), pad(scores, np.nan), pad(mask, 0))
    assert same_dict(merged.to_dict(), whole.to_dict()) and same_dict(padded.to_dict(), whole.to_dict())
    assert same_dict(EvaluationBinary(0.4).merge(whole).to_dict(), whole.to_dict())


def test_errors():
    labels, scores, mask = _multilabel()
    bad = scores.copy()
    bad[4, 1, 2] = np.nan
    mask[4, 1, 2] = 1
    ev = EvaluationBinary().eval(labels, scores, mask)
    for call, message in [
        (lambda: EvaluationBinary().eval(labels, bad, mask), "NaN at 1 real step; the first is at example 4, step 2"),
        (lambda: ev.eval(labels[:, :2], scores[:, :2]), "got 2 outputs but this evaluation has 3"),
        (lambda: EvaluationBinary([0.5, 0.5]).eval(labels, scores), "2 thresholds for 3 outputs"),
        (lambda: EvaluationBinary([0.5, 0.5], labels=["a", "b", "c"]), "2 thresholds for 3 outputs"),
        (lambda: EvaluationBinary([[0.5]]), "decision_threshold must be a number or a 1-D sequence"),
        (lambda: EvaluationBinary().eval(labels, scores, mask[:, :2]), r"mask must be \[N, T\]"),
        (lambda: ev.precision(3), r"output must be an index in \[0, 3\)"),
        (lambda: ev.recall("w"), "unknown output 'w'"),
        (lambda: ev.merge(EvaluationBinary().eval(labels[:, :1], scores[:, :1])), "output counts differ"),
        (lambda: ev.merge(None), "expected an EvaluationBinary"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()
