"""fit(validation_split=...): a seeded, stratified hold-out of the training sequences."""

import numpy as np
import pytest

import readers
from seqkit import EarlyStopping, Listener, models
from seqkit.network import stratified_split


def data(n_per_class=(30, 10, 20), t=12, seed=0):
    rng = np.random.default_rng(seed)
    y = np.concatenate([np.full(k, c) for c, k in enumerate(n_per_class)])
    x = rng.normal(size=(len(y), 2, t)).astype(np.float32) + y[:, None, None]
    return x, y


class Seen(Listener):
    """Records the validation data and score fit hands to listeners."""

    def __init__(self):
        self.validation, self.scores, self.keys = None, [], []

    def on_epoch_end(self, state):
        self.validation = state.validation
        self.scores.append(state.validation_score())


def test_stratified_split_keeps_each_class_share_and_is_seeded():
    groups = np.repeat([0, 1, 2], [30, 10, 20])
    train, held = stratified_split(groups, 0.1, seed=5)
    assert np.bincount(groups[held]).tolist() == [3, 1, 2]
    assert sorted(np.concatenate([train, held]).tolist()) == list(range(60))
    again, held_again = stratified_split(groups, 0.1, seed=5)
    np.testing.assert_array_equal(held, held_again)
    assert not np.array_equal(stratified_split(groups, 0.1, seed=6)[1], held)


def test_fit_holds_out_a_stratified_share_of_arrays_and_early_stopping_sees_it():
    x, y = data()
    seen = Seen()
    net = models.fcn(2, 3, filters=(8, 8, 8), epochs=3, seed=1)
    net.fit((x, y), epochs=3, batch_size=8, validation_split=0.2, listeners=[seen, EarlyStopping(5)],
            progress=False)
    vx, vy = seen.validation[0], seen.validation[1]
    assert vx.shape[0] == 12 and np.bincount(vy).tolist() == [6, 2, 4]
    assert len(seen.scores) == 3 and all(np.isfinite(s) for s in seen.scores)
    seen_again = Seen()
    models.fcn(2, 3, filters=(8, 8, 8), epochs=1, seed=1).fit(
        (x, y), epochs=1, batch_size=8, validation_split=0.2, listeners=[seen_again], progress=False)
    np.testing.assert_array_equal(seen_again.validation[0], vx)                 # same seed, same split


class Keys(readers.SequenceReader):
    """Variable-length sequences with a text class label column."""

    def __init__(self, n=40):
        self.n = n

    def records(self):
        rng = np.random.default_rng(3)
        for i in range(self.n):
            label = "ab"[int(i % 4 == 0)]                                      # 10 'b', 30 'a'
            steps = int(rng.integers(3, 9))
            values = np.column_stack([rng.normal(size=steps) + (label == "b"), np.full(steps, label)])
            yield values.astype(object), ["v", "label"], f"s{i}"


def test_fit_splits_sequence_batches_by_sequence_before_batching():
    batches = readers.SequenceBatches(Keys(), label_column="label", classes=["a", "b"], sequence_labels=True,
                                      batch_size=4, align="align_start", shuffle=True, seed=0)
    seen = Seen()
    net = models.lstm_classifier(1, 2, units=4, epochs=2, seed=2)
    net.fit(batches, epochs=2, validation_split=0.25, listeners=[seen], progress=False)
    vx, vy, vmask = seen.validation[0], seen.validation[1], seen.validation[2]
    assert vx.shape[0] == 11 and vy.argmax(1).tolist().count(1) == 3           # 8 of 30 'a', 3 of 10 'b'
    assert vmask is not None and vmask.shape == (11, vx.shape[2])
    assert np.all(vx[:, 0][vmask == 0] == 0)                                    # padding stays 0
    assert net.data_description.class_names == ["a", "b"]


@pytest.mark.parametrize("kwargs, match", [
    ({"validation_split": 0.0}, "between 0 and 1"),
    ({"validation_split": 1}, "between 0 and 1"),
    ({"validation_split": True}, "between 0 and 1"),
    ({"validation_split": 0.1, "validation": "something"}, "not both"),
    ({"validation_split": 0.01}, "leaves"),
])
def test_bad_validation_split(kwargs, match):
    x, y = data((3, 3, 3))
    net = models.fcn(2, 3, filters=(4, 4, 4), epochs=1, seed=0)
    with pytest.raises(ValueError, match=match):
        net.fit((x, y), epochs=1, progress=False, **kwargs)
