"""Integer class labels: [N] or [N, T] class indices become one-hot for a classification head."""

import numpy as np
import pytest
import torch

import readers
from seqkit import InputType, Sequential
from seqkit.layers import LastTimeStep, Output, RnnOutput

from netdata import LSTM, Recorder, one_hot, params_of

N, F, T, C = 6, 3, 5, 3


def per_step_net(**kwargs):
    return Sequential([LSTM(4), RnnOutput(C, **kwargs)], input_type=InputType.recurrent(F), seed=0)


def per_example_net():
    return Sequential([LastTimeStep(LSTM(4)), Output(C)], input_type=InputType.recurrent(F), seed=0)


def _data(seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((N, F, T)).astype(np.float32)
    return x, rng.integers(0, C, (N, T)), rng.integers(0, C, N)


def _train(net, data):
    rec = Recorder()
    net.fit(data, epochs=2, batch_size=4, listeners=[rec], progress=False)
    return rec.scores, params_of(net)


@pytest.mark.parametrize("kind", ["numpy_int64", "numpy_int32", "torch_int64", "numpy_uint8"])
def test_per_step_indices_train_exactly_as_one_hot(kind):
    x, steps, _ = _data()
    labels = {"numpy_int64": steps, "numpy_int32": steps.astype(np.int32),
              "torch_int64": torch.as_tensor(steps), "numpy_uint8": steps.astype(np.uint8)}[kind]
    want_scores, want_params = _train(per_step_net(), (x, one_hot(steps, C)))
    scores, params = _train(per_step_net(), (x, labels))
    assert scores == want_scores
    for k, v in want_params.items():
        assert torch.equal(params[k], v)


def test_per_example_indices_train_exactly_as_one_hot_and_nll_counts_as_classification():
    x, _, seqs = _data()
    want = _train(per_example_net(), (x, one_hot(seqs, C)))[0]
    assert _train(per_example_net(), (x, seqs))[0] == want
    nll = _train(per_step_net(loss="nll"), (x, _data()[1]))[0]
    assert nll == _train(per_step_net(loss="nll"), (x, one_hot(_data()[1], C)))[0]


def test_masked_steps_may_hold_any_value_and_score_and_evaluate_take_indices():
    x, steps, _ = _data()
    mask = np.ones((N, T), np.float32)
    mask[1, 3:] = 0
    mask[4, :2] = 0
    padded = steps.copy()
    padded[mask == 0] = -1                                      # a common padding value
    net = per_step_net()
    as_one_hot = (x, one_hot(steps, C) * mask[:, None, :], mask, mask)
    assert net.score((x, padded, mask, mask)) == net.score(as_one_hot)
    assert net.score((x, padded, mask, None)) == net.score(as_one_hot)      # features mask alone
    ev = net.evaluate((x, padded, mask, mask))
    assert ev.accuracy() == net.evaluate(as_one_hot).accuracy()
    # a readers.Batch with integer labels works the same way
    batch = readers.Batch(x, padded, mask, mask, list(range(N)))
    assert net.score(batch) == net.score(as_one_hot)
    # and as validation data
    rec = Recorder()
    net.fit((x, padded, mask, mask), epochs=1, validation=(x, padded, mask, mask), listeners=[rec],
            progress=False)


@pytest.mark.parametrize("value", [3, -1, 7])
def test_out_of_range_index_names_the_value_and_position(value):
    x, steps, seqs = _data()
    steps[1, 2] = value
    with pytest.raises(ValueError, match=rf"labels: class index {value} at example 1 \(key 1\), step 2 "
                                         rf"is out of "
                                         rf"range for layer 1 \(RnnOutput\) with 3 classes \(expected an "
                                         rf"integer in \[0, 3\)"):
        per_step_net().fit((x, steps), progress=False)
    seqs[4] = value
    with pytest.raises(ValueError, match=rf"labels: class index {value} at example 4 \(key 4\) is out of range "
                                         rf"for layer 1 \(Output\) with 3 classes"):
        per_example_net().score((x, seqs))


def test_position_names_the_example_in_its_batch_and_its_key():
    x, steps, _ = _data()
    steps[5, 0] = 9                                              # example 5 is row 1 of batch 2
    with pytest.raises(ValueError, match=r"class index 9 at example 1 \(key 5\), step 0 is out"):
        per_step_net().fit((x, steps), batch_size=4, progress=False)


def test_indices_need_a_classification_head():
    x, steps, _ = _data()
    net = per_step_net(activation="sigmoid", loss="xent")
    with pytest.raises(ValueError, match=r"labels are integer class indices of shape \(6, 5\), but layer 1 "
                                         r"\(RnnOutput\) is not a classification head \(activation "
                                         r"'sigmoid', loss 'xent'; needs softmax with mcxent or nll\)"):
        net.fit((x, steps), progress=False)
    # integer labels already shaped like the output are taken as they are (multi-label 0/1)
    multi = (np.random.default_rng(1).random((N, C, T)) > 0.5).astype(np.int64)
    assert np.isfinite(net.score((x, multi)))


def test_an_unbuilt_head_without_a_class_count_is_a_clear_error():
    from seqkit.network._labels import ClassIndexLabels
    from seqkit.layers import RnnLoss

    with pytest.raises(ValueError, match=r"layer 0 \(RnnLoss\) does not know its number of classes yet"):
        ClassIndexLabels(RnnLoss(), 0)(torch.zeros(2, 3, dtype=torch.int64), None)
