"""RegressionEvaluation: DL4J's known values, numpy/scikit-learn cross-checks, masks, merging, errors."""

import numpy as np
import pytest
import torch
from evaluation_data import same_dict
from sklearn import metrics as skm

from seqkit import RegressionEvaluation

LABELS = np.array([[1, 2, 3], [0.1, 0.2, 0.3], [6, 5, 4]])
PREDICTIONS = np.array([[2.5, 3.2, 3.8], [2.15, 1.3, -1.2], [7, 4.5, 3]])


def test_dl4j_known_values():
    ev = RegressionEvaluation().eval(LABELS, PREDICTIONS)
    expected = {
        "mean_squared_error": [2.484166667, 0.966666667, 1.296666667],
        "mean_absolute_error": [1.516666667, 0.933333333, 1.1],
        "relative_squared_error": [0.368813923, 0.246598639, 0.530937216],
        "pearson_correlation": [0.997013483, 0.968619605, 0.915603032],
        "r_squared": [0.63118608, 0.75340136, 0.46906278],
    }
    for name, values in expected.items():
        assert [getattr(ev, name)(i) for i in range(3)] == pytest.approx(values, abs=1e-8), name
    assert ev.root_mean_squared_error(0) == pytest.approx(np.sqrt(2.484166667))
    assert ev.average_mean_squared_error() == pytest.approx(np.mean(expected["mean_squared_error"]))
    assert ev.average_r_squared() == pytest.approx(np.mean(expected["r_squared"]))
    assert ev.mean_squared_error("col_1") == ev.mean_squared_error(1)


def _masked_series(seed=0, n=16, k=3, t=20, offset=0.0):
    rng = np.random.default_rng(seed)
    y = rng.normal(size=(n, k, t)) * np.array([1.0, 5.0, 0.1])[None, :, None] + offset
    p = y + rng.normal(scale=0.5, size=y.shape)
    lengths = rng.integers(1, t + 1, n)
    mask = (np.arange(t)[None, :] < lengths[:, None]).astype(np.float32)
    return y, p, mask


def _flat(a, mask):
    return a.transpose(0, 2, 1)[mask != 0]                                     # [M, K]


def test_masked_series_match_numpy_and_sklearn():
    y, p, mask = _masked_series()
    ev = RegressionEvaluation(columns=["a", "b", "c"]).eval(torch.from_numpy(y), torch.from_numpy(p), mask)
    fy, fp = _flat(y, mask), _flat(p, mask)
    for i in range(3):
        assert ev.count(i) == int(mask.sum())
        assert ev.mean_squared_error(i) == pytest.approx(skm.mean_squared_error(fy[:, i], fp[:, i]), rel=1e-12)
        assert ev.mean_absolute_error(i) == pytest.approx(skm.mean_absolute_error(fy[:, i], fp[:, i]), rel=1e-12)
        assert ev.r_squared(i) == pytest.approx(skm.r2_score(fy[:, i], fp[:, i]), rel=1e-12)
        assert ev.pearson_correlation(i) == pytest.approx(np.corrcoef(fy[:, i], fp[:, i])[0, 1], rel=1e-12)
        sse = ((fp[:, i] - fy[:, i]) ** 2).sum()
        assert ev.relative_squared_error(i) == pytest.approx(sse / ((fy[:, i] - fy[:, i].mean()) ** 2).sum(),
                                                             rel=1e-12)
    assert ev.per_column()["mean_label"] == pytest.approx(fy.mean(0), rel=1e-12)


def test_large_offsets_stay_accurate():
    """Labels around 1e8 varying by ~0.1: raw sums of squares would cancel to noise (Sigma y^2 ~ 1e16 n)."""
    y, p, mask = _masked_series(offset=1e8)
    fy, fp = _flat(y, mask) - 1e8, _flat(p, mask) - 1e8                       # exact shift: the reference
    one = RegressionEvaluation().eval(y, p, mask)
    merged = RegressionEvaluation()
    for i in range(0, 16, 3):                                                  # many small merges
        merged.merge(RegressionEvaluation().eval(y[i:i + 3], p[i:i + 3], mask[i:i + 3]))
    for i in range(3):
        r2, pc = skm.r2_score(fy[:, i], fp[:, i]), np.corrcoef(fy[:, i], fp[:, i])[0, 1]
        assert one.r_squared(i) == pytest.approx(r2, rel=1e-11)
        assert one.pearson_correlation(i) == pytest.approx(pc, rel=1e-11)
        # merging moves means that are only known to ~1 ulp of 1e8 (1.5e-8): still 7+ digits
        assert merged.r_squared(i) == pytest.approx(r2, rel=1e-7)
        assert merged.pearson_correlation(i) == pytest.approx(pc, rel=1e-7)


def test_per_output_masks():
    y, p, mask = _masked_series()
    rng = np.random.default_rng(5)
    per_output = (rng.random(y.shape) < 0.7).astype(np.float32)
    ev = RegressionEvaluation().eval(y, p, per_output)
    for i in range(3):
        keep = per_output[:, i, :] != 0
        assert ev.count(i) == keep.sum()
        assert ev.mean_squared_error(i) == pytest.approx(((p[:, i][keep] - y[:, i][keep]) ** 2).mean(), rel=1e-12)
    two_d = RegressionEvaluation().eval(LABELS, PREDICTIONS, np.array([[1, 1, 0], [1, 1, 1], [1, 0, 1]]))
    assert two_d.count(1) == 2 and two_d.count(2) == 2
    assert two_d.mean_absolute_error(2) == pytest.approx((1.5 + 1.0) / 2)
    rows = RegressionEvaluation().eval(LABELS, PREDICTIONS, np.array([1, 0, 1]))
    assert rows.count(0) == 2


def test_padding_segments_and_merge_are_exact():
    y, p, mask = _masked_series()
    whole = RegressionEvaluation().eval(y, p, mask)
    pad = lambda a, v: np.pad(a, [(0, 0)] * (a.ndim - 1) + [(1, 1)], constant_values=v)  # noqa: E731
    padded = RegressionEvaluation().eval(pad(y, np.nan), pad(p, 1e30), pad(mask, 0))
    assert same_dict(padded.to_dict(), whole.to_dict(), rel=1e-12)
    parts = RegressionEvaluation()
    for t0 in range(0, 20, 6):
        for n0 in range(0, 16, 5):
            parts.merge(RegressionEvaluation().eval(y[n0:n0 + 5, :, t0:t0 + 6], p[n0:n0 + 5, :, t0:t0 + 6],
                                                    mask[n0:n0 + 5, t0:t0 + 6]))
    assert same_dict(parts.to_dict(), whole.to_dict(), rel=1e-12)
    assert same_dict(RegressionEvaluation().merge(whole).to_dict(), whole.to_dict())


def test_all_masked_call_and_nan_errors():
    y, p, mask = _masked_series()
    ev = RegressionEvaluation().eval(y, p, mask)
    before = ev.to_dict()
    ev.eval(y, p, np.zeros_like(mask))
    assert same_dict(ev.to_dict(), before)
    bad = p.copy()
    bad[2, 1, 0] = np.nan
    with pytest.raises(ValueError, match="predictions contain NaN at 1 real step; the first is at example 2, step 0"):
        RegressionEvaluation().eval(y, bad, mask)
    bad_y = y.copy()
    bad_y[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="labels contain NaN"):
        RegressionEvaluation().eval(bad_y, p, mask)


def test_undefined_values_and_empty_state():
    empty = RegressionEvaluation()
    assert empty.num_columns is None and empty.to_dict()["per_column"]["mse"] == []
    assert np.isnan(empty.average_mean_squared_error())
    constant = RegressionEvaluation().eval(np.ones((4, 1)), np.arange(4.0)[:, None])
    assert np.isnan(constant.r_squared(0)) and np.isnan(constant.pearson_correlation(0))
    assert constant.mean_squared_error(0) == pytest.approx(np.mean((np.arange(4.0) - 1) ** 2))


def test_errors():
    ev = RegressionEvaluation().eval(LABELS, PREDICTIONS)
    for call, message in [
        (lambda: ev.eval(LABELS[:, :2], PREDICTIONS[:, :2]), "got 2 columns but this evaluation has 3"),
        (lambda: ev.eval(LABELS, PREDICTIONS[:2]), "labels must have shape"),
        (lambda: ev.eval(LABELS, PREDICTIONS, np.ones((3, 3, 2))), r"mask must be \[N\]"),
        (lambda: ev.mean_squared_error(3), r"column must be an index in \[0, 3\)"),
        (lambda: ev.r_squared("height"), "unknown column 'height'"),
        (lambda: ev.merge(RegressionEvaluation().eval(LABELS[:, :1], PREDICTIONS[:, :1])), "column counts differ"),
        (lambda: ev.merge(object()), "expected a RegressionEvaluation"),
        (lambda: RegressionEvaluation(columns=[]), "at least one column"),
        (lambda: RegressionEvaluation(columns=["a"]).eval(LABELS, PREDICTIONS), "got 3 columns but"),
    ]:
        with pytest.raises(ValueError, match=message):
            call()
