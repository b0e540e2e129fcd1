"""ROC and ROCMultiClass: exact areas and curves against scikit-learn, masks, merging, errors."""

import numpy as np
import pytest
import torch
from evaluation_data import make_batch, same_dict
from sklearn import metrics as skm

from seqkit import ROC, ROCMultiClass


def _binary(seed=0, n=30, t=12, ties=False):
    rng = np.random.default_rng(seed)
    actual = rng.integers(0, 2, size=(n, t))
    p1 = np.clip(rng.normal(0.35 + 0.3 * actual, 0.2), 0, 1)
    if ties:
        p1 = np.round(p1, 1)                                                   # many tied scores
    mask = (np.arange(t)[None, :] < rng.integers(1, t + 1, n)[:, None]).astype(np.float32)
    return actual, p1, mask


@pytest.mark.parametrize("ties", [False, True])
def test_binary_areas_and_curves_match_sklearn(ties):
    actual, p1, mask = _binary(ties=ties)
    roc = ROC().eval(actual[:, None, :].astype(np.float32), p1[:, None, :], mask)
    y, s = actual[mask != 0], p1[mask != 0]
    assert roc.num_steps == y.size and roc.num_positives == y.sum() and roc.num_negatives == (1 - y).sum()
    assert roc.auc() == pytest.approx(skm.roc_auc_score(y, s), abs=1e-12)
    assert roc.auprc() == pytest.approx(skm.average_precision_score(y, s), abs=1e-12)
    precision, recall, thresholds = skm.precision_recall_curve(y, s)
    assert roc.auprc("trapezoid") == pytest.approx(skm.auc(recall, precision), abs=1e-12)
    fpr, tpr, thr = roc.roc_curve()
    sk_fpr, sk_tpr, sk_thr = skm.roc_curve(y, s, drop_intermediate=False)
    assert np.allclose(fpr, sk_fpr) and np.allclose(tpr, sk_tpr) and np.allclose(thr[1:], sk_thr[1:])
    assert thr[0] == np.inf
    p, r, t = roc.pr_curve()
    assert np.allclose(p, precision[::-1]) and np.allclose(r, recall[::-1]) and np.allclose(t[1:], thresholds[::-1])


def test_label_and_prediction_layouts_agree():
    actual, p1, mask = _binary()
    reference = ROC().eval(actual[:, None, :], p1[:, None, :], mask).to_dict()
    two_columns = ROC().eval(np.stack([1 - actual, actual], 1), np.stack([1 - p1, p1], 1), mask)
    indices = ROC().eval(torch.from_numpy(actual), torch.from_numpy(p1[:, None, :]), torch.from_numpy(mask))
    rows = ROC().eval(actual[mask != 0][:, None], p1[mask != 0][:, None])
    for other in (two_columns, indices, rows):
        assert same_dict(other.to_dict(), reference, rel=1e-6)


def test_masked_padding_segments_and_merge():
    actual, p1, mask = _binary()
    whole = ROC().eval(actual, p1[:, None, :], mask)
    padded = ROC().eval(np.pad(actual, [(0, 0), (1, 1)], constant_values=1),
                        np.pad(p1, [(0, 0), (1, 1)], constant_values=0.99)[:, None, :],
                        np.pad(mask, [(0, 0), (1, 1)]))
    merged = ROC()
    for t0 in range(0, 12, 5):
        merged.merge(ROC().eval(actual[:, t0:t0 + 5], p1[:, None, t0:t0 + 5], mask[:, t0:t0 + 5]))
    empty_call = ROC().eval(actual, p1[:, None, :], np.zeros_like(mask))
    merged.merge(empty_call)
    for other in (padded, merged):
        assert same_dict(other.to_dict(), whole.to_dict(), rel=1e-6)
    assert empty_call.num_steps == 0 and np.isnan(empty_call.auc()) and np.isnan(empty_call.auprc())


def test_one_class_only_gives_nan_auc():
    roc = ROC().eval(np.ones((5, 1)), np.linspace(0, 1, 5)[:, None])
    assert np.isnan(roc.auc()) and roc.auprc() == pytest.approx(1.0) and roc.num_negatives == 0
    fpr, tpr, _ = roc.roc_curve()
    assert np.isnan(fpr).all() and tpr[-1] == 1.0


def test_multiclass_matches_sklearn_one_vs_all(batch):
    roc = ROCMultiClass(labels=["a", "b", "c", "d"]).eval(batch.labels, batch.predictions, batch.mask)
    y, scores = batch.y_true, batch.scores
    for c in range(4):
        assert roc.auc(c) == pytest.approx(skm.roc_auc_score(y == c, scores[:, c]), abs=1e-12)
        assert roc.auprc(c) == pytest.approx(skm.average_precision_score(y == c, scores[:, c]), abs=1e-12)
        fpr, tpr, _ = roc.roc_curve(c)
        sk_fpr, sk_tpr, _ = skm.roc_curve(y == c, scores[:, c], drop_intermediate=False)
        assert np.allclose(fpr, sk_fpr) and np.allclose(tpr, sk_tpr)
        precision, recall, _ = roc.pr_curve(c)
        assert precision[0] == 1.0 and recall[-1] == 1.0
    assert roc.auc("c") == roc.auc(2)
    assert roc.average_auc() == pytest.approx(skm.roc_auc_score(y, scores, multi_class="ovr", average="macro"))
    assert roc.average_auprc() == pytest.approx(np.mean([roc.auprc(c) for c in range(4)]))
    indices = ROCMultiClass().eval(batch.labels.argmax(1), batch.predictions, batch.mask)
    assert indices.to_dict()["auc"] == pytest.approx(roc.to_dict()["auc"])


def test_multiclass_merge_and_missing_class():
    a, b = make_batch(seed=1), make_batch(seed=2)
    merged = ROCMultiClass().eval(a.labels, a.predictions, a.mask).merge(
        ROCMultiClass().eval(b.labels, b.predictions, b.mask))
    y = np.concatenate([a.y_true, b.y_true])
    scores = np.concatenate([a.scores, b.scores])
    assert merged.auc(1) == pytest.approx(skm.roc_auc_score(y == 1, scores[:, 1]))
    absent = ROCMultiClass().eval(np.eye(3)[[0, 1, 0, 1]], np.full((4, 3), 1 / 3))
    assert np.isnan(absent.auc(2)) and np.isnan(absent.auprc(2)) and absent.auc(0) == pytest.approx(0.5)
    assert absent.average_auc() == pytest.approx(0.5)


def test_errors(batch):
    actual, p1, mask = _binary()
    nan = p1.copy()
    nan[3, 0] = np.nan
    for call, message in [
        (lambda: ROC().eval(batch.labels, batch.predictions, batch.mask), "must have 1 column .* or 2 columns, got 4"),
        (lambda: ROC().eval(actual, nan[:, None, :], mask), "NaN at 1 real step; the first is at example 3, step 0"),
        (lambda: ROC().eval(actual * 2, p1[:, None, :], mask), r"outside \[0, 2\)"),
        (lambda: ROC().auprc("interpolated"), "method must be 'average_precision' or 'trapezoid'"),
        (lambda: ROC().merge(ROCMultiClass()), "expected a ROC"),
        (lambda: ROCMultiClass().eval(actual[:, None, :], p1[:, None, :], mask), "must have >= 2 class columns"),
        (lambda: ROCMultiClass(labels="abc").eval(batch.labels, batch.predictions, batch.mask),
         "must have 3 class columns, got 4"),
        (lambda: ROCMultiClass().eval(batch.labels, batch.predictions, batch.mask).auc(4), r"index in \[0, 4\)"),
        (lambda: ROCMultiClass(labels="ab").auc("z"), "unknown class name 'z'"),
        (lambda: ROCMultiClass(labels="ab").merge(ROCMultiClass(labels="abc")), "class counts differ"),
        (lambda: ROCMultiClass().merge(ROC()), "expected a ROCMultiClass"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()


@pytest.mark.cuda
def test_cuda_matches_cpu(batch):
    dev = torch.device("cuda")
    on_gpu = ROCMultiClass().eval(torch.from_numpy(batch.labels).to(dev), torch.from_numpy(batch.predictions).to(dev),
                                  torch.from_numpy(batch.mask).to(dev))
    on_cpu = ROCMultiClass().eval(batch.labels, batch.predictions, batch.mask)
    assert on_gpu.to_dict() == pytest.approx(on_cpu.to_dict())
