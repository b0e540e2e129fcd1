"""Evaluations with data, for the report tests."""

import numpy as np
import pytest

from seqkit import ROC, Evaluation, EvaluationBinary, RegressionEvaluation, ROCMultiClass

NAMES = ["walk", "run|fast", "<script>alert('x')</script>", "sit & rest"]


def _data(seed=0, n=30, c=4, t=25):
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, c, size=(n, t))
    labels = np.eye(c, dtype=np.float32)[classes].transpose(0, 2, 1).copy()
    logits = rng.normal(size=(n, c, t)) + 1.2 * labels
    preds = (np.exp(logits) / np.exp(logits).sum(1, keepdims=True)).astype(np.float32)
    mask = (np.arange(t)[None, :] < rng.integers(2, t + 1, n)[:, None]).astype(np.float32)
    keys = [f"recordings/<b>session</b>_{i:02d}.csv" for i in range(n)]
    return labels, preds, mask, keys


@pytest.fixture(scope="session")
def evaluations():
    labels, preds, mask, keys = _data()
    return {
        "Evaluation": Evaluation(labels=NAMES, top_n=2).eval(labels, preds, mask, keys=keys),
        "RegressionEvaluation": RegressionEvaluation(columns=NAMES).eval(labels, preds, mask),
        "ROC": ROC().eval(labels.argmax(1) == 1, preds[:, 1:2], mask),
        "ROCMultiClass": ROCMultiClass(labels=NAMES).eval(labels, preds, mask),
        "EvaluationBinary": EvaluationBinary([0.3, 0.4, 0.5, 0.2], labels=NAMES).eval(labels, preds, mask),
    }


@pytest.fixture(scope="session")
def expected_images():
    """How many plots each HTML report holds when matplotlib is present."""
    return {"Evaluation": 4, "RegressionEvaluation": 0, "ROC": 2, "ROCMultiClass": 2, "EvaluationBinary": 1}
