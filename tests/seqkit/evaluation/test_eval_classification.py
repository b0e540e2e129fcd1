"""Evaluation: every metric against scikit-learn on the masked, flattened steps, plus DL4J's cases."""

import numpy as np
import pytest
import torch
from evaluation_data import make_batch, same_dict
from sklearn import metrics as skm

import seqkit
from seqkit import Evaluation


def evaluated(batch, **kwargs) -> Evaluation:
    return Evaluation(**kwargs).eval(batch.labels, batch.predictions, batch.mask, keys=batch.keys)


# ---------------------------------------------------------------------------- against scikit-learn

def test_confusion_matrix_and_accuracy_match_sklearn(batch):
    ev = evaluated(batch)
    c = batch.labels.shape[1]
    expected = skm.confusion_matrix(batch.y_true, batch.y_pred, labels=np.arange(c))
    cm = ev.confusion_matrix()
    assert cm.dtype == np.int64 and np.array_equal(cm, expected)
    assert ev.num_steps == int(batch.mask.sum())
    assert ev.accuracy() == pytest.approx(skm.accuracy_score(batch.y_true, batch.y_pred), abs=1e-15)


def test_per_class_and_averaged_scores_match_sklearn(batch):
    ev = evaluated(batch)
    y, p = batch.y_true, batch.y_pred
    labels = np.arange(4)
    kwargs = dict(labels=labels, zero_division=np.nan)
    for name, fn in (("precision", skm.precision_score), ("recall", skm.recall_score), ("f1", skm.f1_score)):
        per_class = fn(y, p, average=None, **kwargs)
        for c in labels:
            assert getattr(ev, name)(c) == pytest.approx(per_class[c], abs=1e-12)
        assert getattr(ev, name)(averaging="macro") == pytest.approx(np.nanmean(per_class), abs=1e-12)
        assert getattr(ev, name)() == getattr(ev, name)(averaging="macro")   # 4 classes: macro by default
        assert getattr(ev, name)(averaging="micro") == pytest.approx(fn(y, p, average="micro", **kwargs), abs=1e-12)
    for beta in (0.5, 2.0):
        per_class = skm.fbeta_score(y, p, beta=beta, average=None, **kwargs)
        assert ev.f_beta(beta, 2) == pytest.approx(per_class[2], abs=1e-12)
        assert ev.f_beta(beta) == pytest.approx(per_class.mean(), abs=1e-12)
        assert ev.f_beta(beta, averaging="micro") == pytest.approx(
            skm.fbeta_score(y, p, beta=beta, average="micro"), abs=1e-12)


def test_matthews_correlation_matches_sklearn(batch):
    ev = evaluated(batch)
    y, p = batch.y_true, batch.y_pred
    assert ev.matthews_correlation() == pytest.approx(skm.matthews_corrcoef(y, p), abs=1e-12)
    assert ev.matthews_correlation(averaging="multiclass") == ev.matthews_correlation()
    per_class = np.array([skm.matthews_corrcoef(y == c, p == c) for c in range(4)])
    for c in range(4):
        assert ev.matthews_correlation(c) == pytest.approx(per_class[c], abs=1e-12)
    assert ev.matthews_correlation(averaging="macro") == pytest.approx(per_class.mean(), abs=1e-12)
    # micro: one coefficient from the one-vs-all counts pooled over classes
    cm = skm.multilabel_confusion_matrix(y, p, labels=np.arange(4)).sum(0)      # [[tn, fp], [fn, tp]]
    (tn, fp), (fn, tp) = cm.astype(float)
    micro = (tp * tn - fp * fn) / np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    assert ev.matthews_correlation(averaging="micro") == pytest.approx(micro, abs=1e-12)


@pytest.mark.parametrize("k", [2, 3])
def test_top_n_accuracy_matches_sklearn(batch, k):
    ev = evaluated(batch, top_n=k)
    expected = skm.top_k_accuracy_score(batch.y_true, batch.scores, k=k, labels=np.arange(4))
    assert ev.top_n_accuracy() == pytest.approx(expected, abs=1e-15)
    assert evaluated(batch).top_n_accuracy() == evaluated(batch).accuracy()


def test_undefined_classes_are_left_out_of_macro_averages_and_named():
    labels = np.eye(3)[[0, 0, 1, 1, 2, 2]]
    preds = np.eye(3)[[0, 1, 1, 0, 0, 1]] * 0.8 + 0.1                            # class 2 never predicted
    ev = Evaluation().eval(labels, preds)
    assert np.isnan(ev.precision(2)) and ev.excluded_classes("precision") == [2]
    assert ev.precision() == pytest.approx(np.mean([ev.precision(0), ev.precision(1)]))
    assert ev.excluded_classes("recall") == [] and ev.excluded_classes("f1") == [2]
    expected = skm.precision_score(labels.argmax(1), preds.argmax(1), labels=[0, 1], average="macro")
    assert ev.precision() == pytest.approx(expected)


def test_numpy_torch_class_index_and_two_d_inputs_agree(batch):
    reference = evaluated(batch).to_dict()
    as_torch = Evaluation().eval(torch.from_numpy(batch.labels), torch.from_numpy(batch.predictions),
                                 torch.from_numpy(batch.mask), keys=batch.keys)
    indices = Evaluation().eval(batch.labels.argmax(1), batch.predictions, batch.mask, keys=batch.keys)
    alias = Evaluation().eval_time_series(batch.labels, batch.predictions.astype(np.float64), batch.mask,
                                          keys=batch.keys)
    for other in (as_torch, indices, alias):
        assert same_dict(other.to_dict(), reference, rel=1e-9)
    # the real steps as a 2-D [M, C] batch give the same counts
    flat = Evaluation().eval(batch.labels.transpose(0, 2, 1)[batch.real], batch.scores)
    assert np.array_equal(flat.confusion_matrix(), evaluated(batch).confusion_matrix())
    masked_rows = Evaluation().eval(batch.labels[:, :, 0], batch.predictions[:, :, 0], batch.mask[:, 0])
    expected = skm.confusion_matrix(batch.labels[:, :, 0].argmax(1)[batch.real[:, 0]],
                                    batch.predictions[:, :, 0].argmax(1)[batch.real[:, 0]], labels=range(4))
    assert np.array_equal(masked_rows.confusion_matrix(), expected)


def test_index_labels_at_masked_steps_may_hold_padding_values(batch):
    idx = batch.labels.argmax(1)
    idx[~batch.real] = -100
    ev = Evaluation().eval(idx, batch.predictions, batch.mask)
    assert np.array_equal(ev.confusion_matrix(), evaluated(batch).confusion_matrix())


# ---------------------------------------------------------------------------- DL4J's binary rules

def _binary_case():
    """TP=3, FP=1, FN=2, TN=4 for class 1 (DL4J testEvalStatsBinaryCase)."""
    actual = np.array([1, 1, 1, 1, 1, 0, 0, 0, 0, 0])
    p1 = np.array([.9, .8, .7, .2, .1, .6, .3, .2, .1, .4])
    return actual, p1


def test_binary_case_reports_the_positive_class():
    actual, p1 = _binary_case()
    for labels, preds in ((actual[:, None], p1[:, None]),                    # single column P(class 1)
                          (np.eye(2)[actual], np.stack([1 - p1, p1], 1))):     # two columns
        ev = Evaluation().eval(labels, preds)
        assert ev.num_classes == 2
        assert ev.precision() == pytest.approx(0.75) and ev.recall() == pytest.approx(0.6)
        assert ev.f1() == pytest.approx(2 * 0.75 * 0.6 / 1.35)
        assert np.array_equal(ev.confusion_matrix(), [[4, 1], [2, 3]])
        assert "reported for positive class (class 1 - \"1\") only" in ev.stats()
    ev0 = Evaluation(binary_positive_class=0).eval(actual[:, None], p1[:, None])
    assert ev0.precision() == pytest.approx(4 / 6) and ev0.recall() == pytest.approx(4 / 5)
    macro = Evaluation(binary_positive_class=None).eval(actual[:, None], p1[:, None])
    assert macro.precision() == pytest.approx((0.75 + 4 / 6) / 2)
    assert "macro-averaged (equally weighted avg. of 2 classes)" in macro.stats()
    assert macro.matthews_correlation() == pytest.approx(skm.matthews_corrcoef(actual, p1 > 0.5))


def test_decision_threshold():
    actual, p1 = _binary_case()
    ev = Evaluation(decision_threshold=0.35).eval(actual[:, None], p1[:, None])
    assert np.array_equal(ev.confusion_matrix(), skm.confusion_matrix(actual, p1 > 0.35))
    two = Evaluation(decision_threshold=0.35).eval(np.eye(2)[actual], np.stack([1 - p1, p1], 1))
    assert np.array_equal(two.confusion_matrix(), ev.confusion_matrix())
    assert "Binary decision threshold: 0.35" in ev.stats()


# ---------------------------------------------------------------------------- masks, segments, NaN

def test_masked_padding_at_both_ends_changes_nothing(batch):
    pad = lambda a, value: np.pad(a, [(0, 0)] * (a.ndim - 1) + [(1, 1)], constant_values=value)  # noqa: E731
    noisy = pad(batch.predictions, 0.0)
    noisy[:, 0, 0] = noisy[:, 1, -1] = 5.0                          # garbage at the padded steps
    padded = Evaluation(top_n=2).eval(pad(batch.labels, 1.0), noisy, pad(batch.mask, 0.0), keys=batch.keys)
    plain = evaluated(batch, top_n=2)
    assert same_dict(padded.to_dict(), plain.to_dict())


def test_segments_along_batch_and_time_merge_to_one_evaluation(batch):
    whole = evaluated(batch, top_n=2)
    parts = [Evaluation(top_n=2).eval(batch.labels[i:i + 7], batch.predictions[i:i + 7], batch.mask[i:i + 7],
                                      keys=batch.keys[i:i + 7]) for i in range(0, 24, 7)]
    merged = parts[0]
    for part in parts[1:]:
        merged.merge(part)
    assert same_dict(merged.to_dict(), whole.to_dict())
    # along time (TBPTT-style): the counts and every metric agree (step index and length are per call)
    by_time = Evaluation(top_n=2)
    for t0 in range(0, 15, 4):
        by_time.merge(Evaluation(top_n=2).eval(batch.labels[..., t0:t0 + 4], batch.predictions[..., t0:t0 + 4],
                                               batch.mask[:, t0:t0 + 4]))
    for key in ("confusion_matrix", "accuracy", "top_n_accuracy", "precision", "recall", "f1",
                "matthews_correlation", "per_class", "macro", "micro"):
        assert same_dict(by_time.to_dict()[key], whole.to_dict()[key]), key


def test_all_masked_call_changes_nothing(batch):
    ev = evaluated(batch, top_n=2)
    before = ev.to_dict()
    ev.eval(batch.labels, np.full_like(batch.predictions, np.nan), np.zeros_like(batch.mask), keys=batch.keys)
    assert same_dict(ev.to_dict(), before)
    fresh = Evaluation().eval(batch.labels, batch.predictions, np.zeros_like(batch.mask))
    assert fresh.num_steps == 0 and fresh.num_classes is None and np.isnan(fresh.accuracy())


def test_nan_predictions_raise_naming_the_step(batch):
    preds = batch.predictions.copy()
    n, t = np.argwhere(batch.real)[5]
    preds[n, 2, t] = np.nan
    with pytest.raises(ValueError, match=rf"NaN at 1 real step; the first is at example {n}, step {t}"):
        Evaluation().eval(batch.labels, preds, batch.mask)
    padded = ~np.broadcast_to(batch.real[:, None, :], preds.shape)
    preds = np.where(padded, np.nan, batch.predictions)                # NaN only at padded steps: fine
    assert Evaluation().eval(batch.labels, preds, batch.mask).num_steps == int(batch.mask.sum())
    with pytest.raises(ValueError, match="example 1$"):
        Evaluation().eval(np.eye(2)[[0, 1]], np.array([[0.5, 0.5], [np.nan, 1.0]]))


def test_nonzero_mask_values_count_as_real(batch):
    weighted = batch.mask * 0.5
    ev = Evaluation().eval(batch.labels, batch.predictions, weighted)
    assert np.array_equal(ev.confusion_matrix(), evaluated(batch).confusion_matrix())


# ---------------------------------------------------------------------------- sequence views

def test_accuracy_by_step_from_start_and_end(batch):
    ev = evaluated(batch)
    correct = (batch.labels.argmax(1) == batch.predictions.argmax(1)) & batch.real
    first = batch.real.argmax(1)
    last = batch.real.shape[1] - 1 - batch.real[:, ::-1].argmax(1)
    n_idx, t_idx = np.nonzero(batch.real)
    for align, index in (("start", t_idx - first[n_idx]), ("end", last[n_idx] - t_idx)):
        table = ev.accuracy_by_step(align)
        total = np.bincount(index)
        hits = np.bincount(index, weights=correct[n_idx, t_idx]).astype(np.int64)
        assert np.array_equal(table.total, total) and np.array_equal(table.correct, hits)
        assert np.allclose(table.accuracy, hits / total)
        assert table.align == align and np.array_equal(table.step, np.arange(len(total)))


def test_accuracy_by_length_buckets(batch):
    ev = evaluated(batch)
    lengths = batch.real.sum(1)
    correct = ((batch.labels.argmax(1) == batch.predictions.argmax(1)) & batch.real).sum(1)
    buckets = ev.accuracy_by_length()
    assert (lengths.min(), lengths.max()) == (1, 15)                       # buckets follow the data's range
    assert buckets.low.tolist() == [1, 2, 4, 6, 8, 10, 12, 14] and buckets.high.tolist() == [1, 3, 5, 7, 9, 11, 13, 15]
    for lo, hi, seqs, hits, total in zip(buckets.low, buckets.high, buckets.sequences, buckets.correct,
                                         buckets.total):
        inside = (lengths >= lo) & (lengths <= hi)
        assert (seqs, hits, total) == (inside.sum(), correct[inside].sum(), lengths[inside].sum())
    custom = ev.accuracy_by_length([1, 10])
    assert custom.labels() == ["1-9", "10-15"] and custom.sequences.sum() == 24


def test_worst_sequences_are_ranked_and_bounded(batch):
    ev = evaluated(batch, worst_k=5)
    worst = ev.worst_sequences()
    correct = (batch.labels.argmax(1) == batch.predictions.argmax(1)) & batch.real
    rate = 1 - correct.sum(1) / batch.real.sum(1)
    true_score = (batch.predictions * batch.labels).sum(1)
    mean_true = (true_score * batch.real).sum(1) / batch.real.sum(1)
    order = np.lexsort((np.arange(24), mean_true, -rate))[:5]
    assert [w["key"] for w in worst] == [batch.keys[i] for i in order]
    assert [w["error_rate"] for w in worst] == pytest.approx(rate[order].tolist())
    assert [w["mean_true_score"] for w in worst] == pytest.approx(mean_true[order].tolist(), rel=1e-6)
    i = order[0]
    wrong_steps = np.flatnonzero(batch.real[i] & ~correct[i])
    expected_first = int(wrong_steps[0] - batch.real[i].argmax()) if wrong_steps.size else None
    assert worst[0]["first_error_step"] == expected_first
    assert Evaluation().eval(batch.labels, batch.predictions, batch.mask).worst_sequences() == []


# ---------------------------------------------------------------------------- empty state and names

def test_empty_evaluation_and_class_names():
    ev = Evaluation(labels=["walk", "run", "sit"])
    assert ev.num_classes == 3 and ev.num_steps == 0 and np.isnan(ev.accuracy()) and np.isnan(ev.f1())
    assert ev.confusion_matrix().shape == (3, 3)
    assert "# of classes:    3" in ev.stats() and ev.to_dict()["accuracy"] != ev.to_dict()["accuracy"]
    ev.eval(np.eye(3)[[0, 1, 2, 2]], np.eye(3)[[0, 2, 2, 2]])
    assert ev.precision("sit") == pytest.approx(2 / 3) and ev.recall("run") == 0.0
    assert repr(ev) == "Evaluation(num_classes=3, steps=4, accuracy=0.7500)"
    assert seqkit.Evaluation is Evaluation


# ---------------------------------------------------------------------------- errors

@pytest.mark.parametrize("kwargs, message", [
    (dict(num_classes=1), "num_classes must be an integer >= 2"),
    (dict(num_classes=3, labels=["a", "b"]), "num_classes=3 but 2 class names"),
    (dict(binary_positive_class=2), "binary_positive_class must be 0, 1 or None"),
    (dict(top_n=0), "top_n must be an integer >= 1"),
    (dict(decision_threshold=1.5), r"decision_threshold must be in \[0, 1\]"),
    (dict(worst_k=-1), "worst_k must be an integer >= 0"),
])
def test_constructor_errors(kwargs, message):
    with pytest.raises(ValueError, match=message):
        Evaluation(**kwargs)


def test_eval_errors(batch):
    y, p, m = batch.labels, batch.predictions, batch.mask
    cases = [
        ((y[:, :3], p, m), {}, "labels must have shape"),
        ((y, p[None], m), {}, r"predictions must be \[N, C\] or \[N, C, T\]"),
        ((y, (p * 10).astype(np.int64), m), {}, "predictions must be floating point"),
        ((y, p, m[:, :5]), {}, r"mask must be \[N, T\]"),
        ((y, p, np.ones_like(p)), {}, "per-output masks"),
        ((y.argmax(1).astype(np.float32), p, m), {}, "class-index labels of shape .* must be integers"),
        ((y, p, m), {"keys": ["a"]}, "got 1 keys for 24 examples"),
        ((np.full(y.argmax(1).shape, 7), p, m), {}, r"outside \[0, 4\); the first is at example 0"),
        ((["x"], p, m), {}, "labels must be numeric"),
    ]
    for args, kwargs, message in cases:
        with pytest.raises(ValueError, match=message):
            Evaluation().eval(*args, **kwargs)
    with pytest.raises(ValueError, match="predictions have 3 classes but this evaluation has 4"):
        Evaluation(num_classes=4).eval(y[:, :3], p[:, :3], m)
    with pytest.raises(ValueError, match="decision_threshold applies to 1 or 2 output columns, got 4"):
        Evaluation(decision_threshold=0.3).eval(y, p, m)


def test_metric_and_merge_errors(batch):
    ev = evaluated(batch)
    for call, message in [
        (lambda: ev.precision(averaging="weighted"), r"averaging must be one of \['macro', 'micro'\]"),
        (lambda: ev.matthews_correlation(averaging="binary"), "averaging must be one of"),
        (lambda: ev.recall(4), r"class must be an index in \[0, 4\)"),
        (lambda: ev.f1("cat"), "unknown class name 'cat'"),
        (lambda: ev.f_beta(0.0), "beta must be > 0"),
        (lambda: ev.excluded_classes("auc"), "metric must be one of"),
        (lambda: ev.accuracy_by_step("middle"), "align must be 'start' or 'end'"),
        (lambda: ev.accuracy_by_length([4, 2]), "strictly increasing"),
        (lambda: ev.merge(Evaluation(top_n=3)), "top_n differs"),
        (lambda: ev.merge(Evaluation(num_classes=3)), "3 classes but this evaluation has 4"),
        (lambda: ev.merge(seqkit.ROC()), "expected an Evaluation"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()


def test_merge_into_empty_and_from_empty(batch):
    full = evaluated(batch)
    assert same_dict(Evaluation().merge(full).to_dict(), full.to_dict())
    assert same_dict(evaluated(batch).merge(Evaluation()).to_dict(), full.to_dict())
    other = make_batch(seed=3)
    both = evaluated(batch).merge(evaluated(other))
    assert np.array_equal(both.confusion_matrix(), full.confusion_matrix() + evaluated(other).confusion_matrix())


@pytest.mark.cuda
def test_cuda_matches_cpu(batch):
    dev = torch.device("cuda")
    ev = Evaluation(top_n=2).eval(torch.from_numpy(batch.labels).to(dev), torch.from_numpy(batch.predictions).to(dev),
                                  torch.from_numpy(batch.mask).to(dev), keys=batch.keys)
    assert ev._cm.device.type == "cuda"
    assert same_dict(ev.to_dict(), evaluated(batch, top_n=2).to_dict(), rel=1e-6)


def test_sync_free_counting_path_matches(batch, monkeypatch):
    """The CUDA counting path (index_add_ into fixed buffers, no host read) gives the same figures, run on CPU."""
    from seqkit.evaluation import _by_time, _classification
    from seqkit.evaluation._inputs import bincount_sync_free
    reference = evaluated(batch, top_n=2).to_dict()
    sync_free = lambda index, size: bincount_sync_free(index.reshape(-1), size)  # noqa: E731
    monkeypatch.setattr(_classification, "bincount", sync_free)
    monkeypatch.setattr(_by_time, "bincount", sync_free)
    assert same_dict(evaluated(batch, top_n=2).to_dict(), reference)
