"""Many-to-one data (one evaluated step per sequence) is recognised from the counts; the worst sequences
carry their true and predicted class."""

import numpy as np
import pytest
import torch
from evaluation_data import make_batch

from seqkit import Evaluation

C = 3


def _per_sequence(n=5, seed=0):
    """[N, C] labels and scores: one prediction per sequence."""
    rng = np.random.default_rng(seed)
    y = np.eye(C, dtype=np.float32)[rng.integers(0, C, n)]
    p = rng.random((n, C)).astype(np.float32)
    return y, p


def _one_label_per_row(n=4, t=6):
    """[N, C, T] with a labels mask holding one 1 per row (many-to-one ALIGN_END)."""
    rng = np.random.default_rng(1)
    y = np.eye(C, dtype=np.float32)[rng.integers(0, C, (n, t))].transpose(0, 2, 1).copy()
    p = rng.random((n, C, t)).astype(np.float32)
    mask = np.zeros((n, t), np.float32)
    mask[np.arange(n), rng.integers(0, t, n)] = 1
    return y, p, mask


def test_many_to_one_is_read_from_the_counts():
    y, p = _per_sequence()
    ev = Evaluation().eval(y, p)
    assert ev.many_to_one and ev.num_sequences == 5 == ev.num_steps
    y3, p3, mask = _one_label_per_row()
    assert Evaluation().eval(y3, p3, mask).many_to_one
    per_step = Evaluation().eval(y3, p3)
    assert not per_step.many_to_one and per_step.num_sequences == 4 and per_step.num_steps == 24
    assert not Evaluation().many_to_one and Evaluation().num_sequences == 0
    # a row without evaluated steps is no sequence; one with two makes the data per-step
    mask2 = mask.copy()
    mask2[0] = 0
    assert Evaluation().eval(y3, p3, mask2).num_sequences == 3
    mask2[1, :2] = 1
    assert not Evaluation().eval(y3, p3, mask2).many_to_one
    # merge and to_dict keep it
    merged = Evaluation().eval(y, p).merge(Evaluation().eval(y3, p3, mask))
    assert merged.many_to_one and merged.num_sequences == 9
    data = merged.to_dict()
    assert data["many_to_one"] is True and data["num_sequences"] == 9
    assert not merged.merge(per_step).many_to_one


def test_worst_sequences_hold_the_true_and_predicted_class():
    y, p = _per_sequence(n=8, seed=3)
    ev = Evaluation().eval(y, p, keys=[f"s{i}" for i in range(8)])
    for w in ev.worst_sequences():
        i = int(w["key"][1:])
        assert (w["true_class"], w["predicted_class"]) == (int(y[i].argmax()), int(p[i].argmax()))
    # per step: the class at most evaluated steps, the lowest on ties
    labels = torch.tensor([[0, 2, 2, 1, 1]])
    scores = torch.nn.functional.one_hot(torch.tensor([[1, 1, 0, 0, 2]]), C).permute(0, 2, 1).float()
    worst = Evaluation(num_classes=C).eval(labels, scores, keys=["k"]).worst_sequences()
    assert (worst[0]["true_class"], worst[0]["predicted_class"]) == (1, 0)
    masked = Evaluation(num_classes=C).eval(labels, scores, torch.tensor([[0, 1, 1, 1, 0]]), keys=["k"])
    assert (masked.worst_sequences()[0]["true_class"], masked.worst_sequences()[0]["predicted_class"]) == (2, 0)


def test_worst_classes_with_one_output_column_and_thresholds():
    y = np.array([[1.0], [0.0], [1.0]], np.float32)
    p = np.array([[0.3], [0.6], [0.9]], np.float32)
    worst = Evaluation().eval(y, p, keys=["a", "b", "c"]).worst_sequences()
    assert [(w["key"], w["true_class"], w["predicted_class"]) for w in worst] == [
        ("a", 1, 0), ("b", 0, 1), ("c", 1, 1)]


def test_worst_classes_survive_merge():
    b = make_batch(seed=4)
    whole = Evaluation(worst_k=6).eval(b.labels, b.predictions, b.mask, keys=b.keys)
    parts = Evaluation(worst_k=6)
    for lo in range(0, 24, 8):
        parts.merge(Evaluation(worst_k=6).eval(b.labels[lo:lo + 8], b.predictions[lo:lo + 8], b.mask[lo:lo + 8],
                                               keys=b.keys[lo:lo + 8]))
    assert parts.worst_sequences() == whole.worst_sequences()
    real = b.mask != 0
    for w in whole.worst_sequences():
        i = b.keys.index(w["key"])
        true_counts = np.bincount(b.labels.argmax(1)[i][real[i]], minlength=4)
        predicted_counts = np.bincount(b.predictions.argmax(1)[i][real[i]], minlength=4)
        assert w["true_class"] == true_counts.argmax() and w["predicted_class"] == predicted_counts.argmax()


@pytest.mark.cuda
def test_cuda_worst_classes_match_cpu():
    b = make_batch(seed=6)
    cpu = Evaluation().eval(b.labels, b.predictions, b.mask, keys=b.keys)
    dev = Evaluation().eval(torch.tensor(b.labels).cuda(), torch.tensor(b.predictions).cuda(),
                            torch.tensor(b.mask).cuda(), keys=b.keys)
    assert [(w["key"], w["true_class"], w["predicted_class"]) for w in dev.worst_sequences()] == \
        [(w["key"], w["true_class"], w["predicted_class"]) for w in cpu.worst_sequences()]
