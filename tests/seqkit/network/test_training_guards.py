"""Training guards: TBPTT state carry, seeded per-epoch shuffling, the labels mask under ALIGN_END.

Public API only (``seqkit.Sequential``, ``seqkit.layers``, ``readers``, ``fit``,
``score``, ``output`` and a ``seqkit.Listener``), so these tests outlive
refactors of the private modules. Every network here is trained by
``torch.optim.SGD`` with ``lr=0`` (``learning_rate=`` must be positive, so it
goes in as an updater callable) and no dropout or penalties: its
parameters never change, so the loss ``fit`` reports for a minibatch can be
compared with ``score`` and ``output`` of the same network.
"""

import functools

import numpy as np
import pytest
import torch

import readers
import seqkit
from seqkit import InputType, Sequential
from seqkit.layers import GRU, LSTM, GravesLSTM, RnnOutput, SimpleRNN

RECURRENT = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN, "GravesLSTM": GravesLSTM}

#: ``fit`` and ``score`` report losses as float32 values even for a float64 network,
#: so float64 equalities hold to float32 rounding (about 6e-8 relative per value).
REL = 1e-6
#: Plain SGD with a zero learning rate: every optimizer step leaves the parameters as they are.
FROZEN = functools.partial(torch.optim.SGD, lr=0.0)


class Scores(seqkit.Listener):
    """Records the loss ``fit`` reports after every iteration (``state.score()``)."""

    def __init__(self):
        self.values: list[float] = []

    def on_iteration_end(self, state) -> None:
        self.values.append(state.score())


def frozen(layers, n_features, *, seed=0, **kwargs):
    """A float64 network whose parameters ``fit`` cannot change (learning rate 0, no penalties)."""
    return Sequential(layers, input_type=InputType.recurrent(n_features), seed=seed, updater=FROZEN,
                      l1=0.0, l2=0.0, dropout=0.0, dtype=torch.float64, **kwargs)


def one_hot(classes, n_classes):
    """``[N, T]`` class indices -> ``[N, C, T]`` float64 one-hot."""
    return np.moveaxis(np.eye(n_classes)[classes], -1, 1)


def right_padded(lengths, n_features, n_classes, seed):
    """Random features ``[N, F, T]`` and one-hot labels ``[N, C, T]``, zero past each length; the mask."""
    rng = np.random.default_rng(seed)
    n, t = len(lengths), max(lengths)
    mask = (np.arange(t)[None, :] < np.asarray(lengths)[:, None]).astype(np.float64)
    x = rng.standard_normal((n, n_features, t)) * mask[:, None, :]
    y = one_hot(rng.integers(0, n_classes, (n, t)), n_classes) * mask[:, None, :]
    return x, y, mask


# -- 1. truncated BPTT carries the state across segments ------------------------------------------
@pytest.mark.parametrize("labels_mask", [True, False], ids=["labels-mask", "features-mask-only"])
@pytest.mark.parametrize("reduction", ["per_sequence", "per_step"])
@pytest.mark.parametrize("kind", sorted(RECURRENT))
def test_tbptt_minibatch_loss_equals_full_sequence_score(kind, reduction, labels_mask):
    """Rule: under TBPTT every recurrent layer carries its final state from one segment into the next,
    so with frozen parameters the minibatch loss ``fit`` reports is the full-sequence ``score``.

    T = 11 with tbptt_length = 4 gives three segments (4, 4, 3 steps); right-padded lengths 11, 9, 6, 2
    end in different segments (example 3 is all padding in segments 2 and 3). Two stacked recurrent
    layers, so both carry state. With ``s_k`` the masked loss sum of segment k and ``n_k`` its real
    (loss-mask) steps, the minibatch loss combines the segment losses as:

    - ``per_sequence``: segment k reports ``s_k / N``; their sum is ``(sum_k s_k) / N``, the full score.
    - ``per_step``: segment k reports ``s_k / n_k`` (0 when ``n_k = 0``) and is weighted by ``n_k``;
      ``sum_k n_k (s_k / n_k) / sum_k n_k = (sum_k s_k) / (sum_k n_k)``, the full per-step score.

    So the equality is exact up to the float32 rounding of the reported values. A segment started
    from a zero state instead of the carried one scores differently and breaks it.
    """
    x, y, mask = right_padded([11, 9, 6, 2], n_features=3, n_classes=3, seed=1)
    data = (x, y, mask, mask) if labels_mask else (x, y, mask)
    layer = RECURRENT[kind]
    net = frozen([layer(5), layer(4), RnnOutput(3)], 3, seed=3, backprop="tbptt", tbptt_length=4,
                 loss_reduction=reduction)
    full = net.score(data, regularization=False)
    scores = Scores()
    net.fit(data, batch_size=4, listeners=[scores], progress=False)
    assert net.updates == 3                                           # three segments, one step each
    assert scores.values == [pytest.approx(full, rel=REL)]
    assert net.score(data, regularization=False) == full              # learning rate 0: nothing moved


# -- 2. fit(arrays, shuffle=True): a seeded order per epoch -----------------------------------------
N_SHUFFLE = 8


def shuffle_data():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((N_SHUFFLE, 2, 3))
    y = one_hot(rng.integers(0, 3, (N_SHUFFLE, 3)), 3)
    return x, y


def visiting_order(seed, *, shuffle=True, epochs=(2,)):
    """The example indices ``fit`` trains on, one list per epoch, seen through the reported losses.

    With batch_size 1 and frozen parameters, iteration k reports the loss of the one example it
    trained on; every example's own loss (``score`` of that example alone) is distinct, so the
    reported loss names the example. ``epochs``: the ``epochs=`` of successive ``fit`` calls.
    """
    x, y = shuffle_data()
    net = frozen([LSTM(4), RnnOutput(3)], 2, seed=seed)
    own = np.array([net.score((x[i:i + 1], y[i:i + 1]), regularization=False) for i in range(N_SHUFFLE)])
    gaps = np.abs(own[:, None] - own[None, :]) + np.eye(N_SHUFFLE)
    assert gaps.min() > 1e-4, "the examples' losses must tell them apart"
    scores = Scores()
    for count in epochs:
        net.fit((x, y), epochs=count, batch_size=1, shuffle=shuffle, listeners=[scores], progress=False)
    reported = np.array(scores.values)
    distance = np.abs(reported[:, None] - own[None, :])
    order = distance.argmin(axis=1)
    assert np.all(distance.min(axis=1) <= 1e-6 * own.max()), "every iteration trained on one example"
    orders = [order[k:k + N_SHUFFLE].tolist() for k in range(0, len(order), N_SHUFFLE)]
    for epoch in orders:
        assert sorted(epoch) == list(range(N_SHUFFLE)), f"an epoch visits every example once: {epoch}"
    return orders


def test_shuffle_order_is_seeded_and_new_each_epoch():
    """Rule: ``fit(arrays, shuffle=True)`` trains epoch e in an order that is a function of the
    network's seed and e: the same seed repeats it, the next epoch and another seed change it, and
    an epoch counts over ``fit`` calls (two calls of one epoch train as one call of two)."""
    first, second = visiting_order(seed=7), visiting_order(seed=7)
    assert first == second
    assert first[0] != first[1]
    assert visiting_order(seed=8)[0] != first[0]
    assert visiting_order(seed=7, epochs=(1, 1)) == first
    assert first[0] != list(range(N_SHUFFLE))


def test_without_shuffle_fit_keeps_the_natural_order():
    """Rule: ``fit(arrays)`` with ``shuffle=False`` (the default) trains in row order every epoch."""
    assert visiting_order(seed=7, shuffle=False) == [list(range(N_SHUFFLE))] * 2


# -- 3. the labels mask under ALIGN_END, many-to-one ----------------------------------------------
LENGTHS, CLASSES = [5, 3, 4, 2], [2, 0, 1, 2]


def align_end_batches(tmp_path, source):
    """A many-to-one batch: features of lengths 5, 3, 4, 2 and one label per sequence.

    ``"reader"``: CSV files through ``readers.SequenceBatches(align="align_end")``, so each label sits
    at its sequence's last real step and the labels are zero at every other step.
    ``"arrays"``: the same layout by hand, but the labels hold the sequence's class at every real
    step; only the labels mask says that the last step alone is labelled.
    """
    rng = np.random.default_rng(5)
    features = [rng.standard_normal((n, 2)) for n in LENGTHS]
    if source == "reader":
        for folder in ("f", "l"):
            (tmp_path / folder).mkdir()
        for i, (seq, label) in enumerate(zip(features, CLASSES)):
            np.savetxt(tmp_path / "f" / f"{i}.csv", seq, delimiter=",", fmt="%.17g")
            np.savetxt(tmp_path / "l" / f"{i}.csv", [[label]], delimiter=",", fmt="%d")
        feats = readers.CSVSequenceReader(readers.NumberedFiles(str(tmp_path / "f" / "%d.csv"), 0, 3))
        labels = readers.CSVSequenceReader(readers.NumberedFiles(str(tmp_path / "l" / "%d.csv"), 0, 3))
        (batch,) = readers.SequenceBatches(feats, labels, batch_size=4, num_classes=3, align="align_end")
        return batch
    t = max(LENGTHS)
    fm = (np.arange(t)[None, :] < np.asarray(LENGTHS)[:, None]).astype(np.float64)
    lm = np.zeros_like(fm)
    lm[np.arange(4), np.asarray(LENGTHS) - 1] = 1.0
    x = np.zeros((4, 2, t))
    for i, seq in enumerate(features):
        x[i, :, :len(seq)] = seq.T
    y = one_hot(np.repeat(np.asarray(CLASSES)[:, None], t, axis=1), 3) * fm[:, None, :]
    return readers.Batch(*(a.astype(np.float32) for a in (x, y, fm, lm)), keys=list(range(4)))


def hand_loss(net, batch):
    """``-sum_i log p_i[class_i, last_i] / 4`` from ``net.output`` with numpy: one labelled step per
    sequence, so the per-sequence and per-step reductions (4 sequences, 4 labelled steps) agree."""
    p = np.asarray(net.output(np.asarray(batch.features), np.asarray(batch.features_mask)))
    picked = p[np.arange(4), CLASSES, np.asarray(LENGTHS) - 1]
    return float(-np.log(picked).sum() / 4)


def many_to_one_net(reduction, **kwargs):
    return frozen([LSTM(5), RnnOutput(3)], 2, seed=4, loss_reduction=reduction, **kwargs)


@pytest.mark.parametrize("reduction", ["per_sequence", "per_step"])
@pytest.mark.parametrize("source", ["reader", "arrays"])
def test_align_end_score_uses_the_labels_mask(tmp_path, source, reduction):
    """Rule: the loss is masked by the labels mask, not the features mask (DL4J's many-to-one with
    ALIGN_END): ``score`` counts only the one labelled step per sequence.

    Taking the features mask instead adds the other real steps' loss, which is nonzero where the
    labels are ("arrays"; the reader's labels are zero there, so its mcxent sum cannot show it).
    The "reader" cases guard the end-to-end many-to-one setup instead: a label placed at any other
    step than the sequence's last real one changes the score."""
    batch = align_end_batches(tmp_path, source)
    assert np.asarray(batch.labels_mask).sum() == 4 and np.asarray(batch.features_mask).sum() == sum(LENGTHS)
    net = many_to_one_net(reduction)
    assert net.score(batch, regularization=False) == pytest.approx(hand_loss(net, batch), rel=REL)


@pytest.mark.parametrize("backprop", ["standard", "tbptt"])
@pytest.mark.parametrize("reduction", ["per_sequence", "per_step"])
@pytest.mark.parametrize("source", ["reader", "arrays"])
def test_align_end_training_loss_uses_the_labels_mask(tmp_path, source, reduction, backprop):
    """Rule: ``fit`` masks its loss with the labels mask too: with frozen parameters the loss of the
    first iteration is the hand-computed many-to-one loss, whole-sequence or truncated (T = 5 in
    segments of 2, 2, 1 steps; the segment losses combine as in the TBPTT test above).

    The features mask in the labels mask's place shows as extra loss ("arrays") and, with
    ``per_step``, as a larger divisor (both sources); under TBPTT also in the per-segment weights."""
    batch = align_end_batches(tmp_path, source)
    net = many_to_one_net(reduction, backprop=backprop, tbptt_length=2)
    expected = hand_loss(net, batch)
    scores = Scores()
    net.fit(batch, listeners=[scores], progress=False)
    assert scores.values == [pytest.approx(expected, rel=REL)]
