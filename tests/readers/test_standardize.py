"""readers.Standardizer: statistics from real steps only, padding kept at 0."""

import json

import numpy as np
import pytest

import readers
from readers import Batch, Standardizer


def _batches():
    rng = np.random.default_rng(0)
    out = []
    for n, t in ((3, 5), (2, 4)):
        x = rng.normal(3.0, 2.0, size=(n, 2, t)).astype(np.float32)
        mask = np.ones((n, t), np.float32)
        mask[0, -2:] = 0
        x[0, :, -2:] = 99.0                                  # junk at padded steps must not count
        out.append(Batch(x, None, mask, None, [f"k{i}" for i in range(n)]))
    return out


def _real_steps(batches):
    """Every real step as rows [steps, F], by a plain loop (independent of the vectorised code)."""
    rows = []
    for b in batches:
        for i in range(b.features.shape[0]):
            for t in range(b.features.shape[2]):
                if b.features_mask is None or b.features_mask[i, t] != 0:
                    rows.append(b.features[i, :, t].astype(np.float64))
    return np.array(rows)


def test_fit_matches_numpy_on_real_steps_only():
    batches = _batches()
    steps = _real_steps(batches)
    s = Standardizer.fit(batches)
    np.testing.assert_allclose(s.mean, steps.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(s.std, steps.std(axis=0), rtol=1e-9)


def test_transform_standardises_and_keeps_padding_zero():
    batches = _batches()
    s = Standardizer.fit(batches)
    out = list(s(batches))
    steps = _real_steps(out)
    np.testing.assert_allclose(steps.mean(axis=0), 0.0, atol=1e-6)
    np.testing.assert_allclose(steps.std(axis=0), 1.0, atol=1e-5)
    assert out[0].features.dtype == np.float32
    assert np.all(out[0].features[0, :, -2:] == 0.0)
    assert out[0].keys == batches[0].keys and out[0].features_mask is batches[0].features_mask


def test_constant_feature_is_only_centred_and_round_trip_json():
    x = np.full((2, 1, 3), 5.0, np.float32)
    s = Standardizer.fit([Batch(x, None, None, None, ["a", "b"])])
    assert s.std[0] == 0.0
    assert np.all(s.transform(Batch(x, None, None, None, ["a", "b"])).features == 0.0)
    again = Standardizer.from_dict(json.loads(json.dumps(s.to_dict())))
    np.testing.assert_array_equal(again.mean, s.mean)


def test_wrapper_passes_len_and_set_epoch_through(tmp_path):
    for i in range(4):
        (tmp_path / f"{i}.csv").write_text("\n".join(str(v) for v in range(i + 2)) + "\n")
    batches = readers.SequenceBatches(readers.CSVSequenceReader(readers.NumberedFiles(
        str(tmp_path / "%d.csv"), 0, 3)), batch_size=2, align="align_start", shuffle=True, seed=3)
    wrapped = Standardizer.fit(batches)(batches)
    assert len(wrapped) == len(batches) == 2
    wrapped.set_epoch(1)
    first = [b.keys for b in wrapped]
    batches.set_epoch(1)
    assert first == [b.keys for b in batches]
    assert wrapped.num_features == 1


def test_errors():
    with pytest.raises(ValueError, match="no real step"):
        Standardizer.fit([])
    s = Standardizer([0.0, 0.0], [1.0, 1.0])
    with pytest.raises(ValueError, match="fitted on 2 features"):
        s.transform(Batch(np.zeros((1, 3, 2), np.float32), None, None, None, ["a"]))
    with pytest.raises(ValueError, match="non-negative"):
        Standardizer([0.0], [-1.0])
    with pytest.raises(ValueError, match="then 3 features"):
        Standardizer.fit([Batch(np.zeros((1, 2, 2), np.float32), None, None, None, ["a"]),
                          Batch(np.zeros((1, 3, 2), np.float32), None, None, None, ["b"])])


def test_large_offset_keeps_precision():
    rng = np.random.default_rng(1)
    x = (1e6 + rng.normal(0.0, 1e-3, size=(4, 1, 50))).astype(np.float64)
    b = Batch(x.astype(np.float32), None, None, None, list("abcd"))
    s = Standardizer.fit([b])
    ref = b.features.astype(np.float64).reshape(-1)
    np.testing.assert_allclose(s.mean[0], ref.mean(), rtol=1e-12)
    np.testing.assert_allclose(s.std[0], ref.std(), rtol=1e-6)


def test_per_sequence_z_normalises_each_series_over_its_real_steps():
    """Against a plain per-series numpy reference on the unpadded values; padding stays 0."""
    import readers

    rng = np.random.default_rng(3)
    x = rng.normal(5.0, 3.0, size=(3, 2, 6)).astype(np.float32)
    mask = np.array([[1, 1, 1, 1, 1, 1], [1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 1]], np.float32)
    x = np.where(mask[:, None, :] != 0, x, 99.0).astype(np.float32)     # junk at padded steps
    x[0, 0] = 7.0                                                        # a constant channel
    batch = readers.Batch(x, None, mask, None, ["a", "b", "c"])
    out = readers.Standardizer(per_sequence=True).transform(batch).features
    for i in range(3):
        real = mask[i] != 0
        for f in range(2):
            values = x[i, f][real].astype(np.float64)
            sd = values.std()
            want = (values - values.mean()) / (sd if sd > 0 else 1.0)
            np.testing.assert_allclose(out[i, f][real], want, rtol=1e-5, atol=1e-6)
        assert np.all(out[i][:, ~real] == 0)
    back = readers.Standardizer.from_dict(readers.Standardizer(per_sequence=True).to_dict())
    assert back.per_sequence and repr(back) == "Standardizer(per_sequence=True)"
    with pytest.raises(ValueError, match="takes no mean or std"):
        readers.Standardizer([0.0], [1.0], per_sequence=True)
    with pytest.raises(ValueError, match="needs mean and std"):
        readers.Standardizer()
