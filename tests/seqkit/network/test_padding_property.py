"""Padding changes nothing, for every stack: a property test over random layer stacks.

DESIGN, "Masking semantic": at a masked step a recurrent layer carries its
state and outputs zero, so padding at either end gives each example exactly
what it gets alone on its real steps, for every layer and every stack. A layer
that reverses time (``go_backwards`` with sequence output) hands the next layer
the reversed mask; wrappers follow.

Each drawn network (float64) runs on a batch whose examples have different
lengths, each padded on the right or on the left, and on every example alone
without padding. A per-example output must equal the example's own run; a
per-step output must equal it at the steps where the example's real steps
land (``output_mask``: after an odd number of reversing layers they are
reversed) and be exactly zero elsewhere. Padded steps hold junk, and every
parameter (biases included) gets noise, so a layer that runs over padding as
if it were real cannot hide behind zero states.

Pooling, normalisation, activation and residual blocks are drawn too:
``GlobalPooling`` ends a per-example stack, ``BatchNorm`` runs in eval mode
(``net.output``) on perturbed running statistics (in training its batch
statistics legitimately depend on the other examples of the batch, never on
the padding: tests/seqkit/layers/test_batch_norm.py), and ``Residual`` wraps
a drawn list of sequence-preserving layers.

A second property drops the features mask: a stack that starts with
``MaskZero`` finds zero padding itself, and the network hands the derived
mask to every layer after it.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import seqkit
from seqkit import InputType, Sequential
from seqkit import layers as L
from seqkit.layers import StepMask
from seqkit.network._forward import loss_mask, network_output, output_mask

F_IN, CLASSES = 2, 3
TOL = 1e-8

# -- layer specs: plain tuples (hypothesis shows them on failure), built into fresh layers --------
RECURRENT = ["LSTM", "GravesLSTM", "GRU", "GRU_reset_before", "SimpleRNN",
             "RNN(LSTMCell)", "RNN(GRUCell)", "RNN(SimpleRNNCell)", "RNN(Stacked)"]
MODES = ["concat", "add", "mul", "average"]


def recurrent(kind: str, units: int, *, go_backwards=False, return_sequences=True):
    flags = dict(go_backwards=go_backwards, return_sequences=return_sequences)
    if kind == "LSTM":
        return L.LSTM(units, **flags)
    if kind == "GravesLSTM":
        return L.GravesLSTM(units, **flags)
    if kind == "GRU":
        return L.GRU(units, reset_after=True, **flags)
    if kind == "GRU_reset_before":
        return L.GRU(units, reset_after=False, **flags)
    if kind == "SimpleRNN":
        return L.SimpleRNN(units, **flags)
    if kind == "RNN(LSTMCell)":
        return L.RNN(L.LSTMCell(units), **flags)
    if kind == "RNN(GRUCell)":
        return L.RNN(L.GRUCell(units, reset_after=False), **flags)
    if kind == "RNN(SimpleRNNCell)":
        return L.RNN(L.SimpleRNNCell(units), **flags)
    if kind == "RNN(Stacked)":
        return L.RNN(L.StackedRNNCells([L.GRUCell(units), L.SimpleRNNCell(units)]), **flags)
    raise AssertionError(kind)


def build(spec, units: int = 3):
    """A fresh layer from a spec tuple (see the strategies below)."""
    what = spec[0]
    if what == "rec":                                   # ("rec", kind, go_backwards, return_sequences)
        return recurrent(spec[1], units, go_backwards=spec[2], return_sequences=spec[3])
    if what == "bi":                                    # ("bi", inner spec, mode)
        return L.Bidirectional(build(spec[1], units), mode=spec[2])
    if what == "maskzero":                              # ("maskzero", inner spec)
        return L.MaskZero(build(spec[1], units))
    if what == "last":                                  # ("last", inner spec)
        return L.LastTimeStep(build(spec[1], units))
    if what == "td":
        return L.TimeDistributed(L.Dense(units, activation="tanh"))
    if what == "dense":
        return L.Dense(units, activation="tanh")
    if what == "conv":                                  # ("conv", kernel, padding)
        return L.Conv1D(units, spec[1], padding=spec[2], activation="tanh")
    if what == "bn":
        return L.BatchNorm()
    if what == "ln":
        return L.LayerNorm()
    if what == "act":                                   # ("act", name)
        return L.Activation(spec[1])
    if what == "res":                                   # ("res", (inner specs...), projection)
        return L.Residual([build(s, units) for s in spec[1]], projection=spec[2])
    if what == "pool":                                  # ("pool", mode)
        return L.GlobalPooling(spec[1])
    raise AssertionError(spec)


rec_kind = st.sampled_from(RECURRENT)


def rec(go_backwards=None, return_sequences=None):
    """A recurrent layer spec; ``go_backwards`` drawn unless given, sequence output unless given."""
    return st.tuples(st.just("rec"), rec_kind,
                     st.booleans() if go_backwards is None else go_backwards,
                     st.just(True) if return_sequences is None else return_sequences)


# a sequence layer in the middle of a stack: its output keeps the time axis
plain_rec = rec(go_backwards=st.just(False))
# relu is left out of the draws: it outputs exact zero vectors at real steps, which a MaskZero
# later in a drawn stack takes for padding (a property of MaskZero, not of padding); the explicit
# cases below run relu stacks
ACTIVATION_NAMES = ["elu", "gelu", "sigmoid", "softmax", "tanh"]
per_step_extra = st.one_of(st.just(("bn",)), st.just(("ln",)),
                           st.tuples(st.just("act"), st.sampled_from(ACTIVATION_NAMES)))
# what a Residual block holds: layers that keep [N, H, T] in time order
block_inner = st.one_of(
    plain_rec,
    per_step_extra,
    st.just(("dense",)),
    st.just(("td",)),
    st.tuples(st.just("conv"), st.integers(1, 3), st.sampled_from(["causal", "same"])),
    st.tuples(st.just("bi"), plain_rec, st.sampled_from(MODES)),
    st.tuples(st.just("maskzero"), plain_rec),
)
residual = st.tuples(st.just("res"), st.lists(block_inner, min_size=1, max_size=3).map(tuple),
                     st.sampled_from(["auto", "always"]))
middle = st.one_of(
    rec(),
    rec(),
    st.tuples(st.just("bi"), st.one_of(plain_rec, st.tuples(st.just("maskzero"), plain_rec)),
              st.sampled_from(MODES)),
    st.tuples(st.just("maskzero"), rec()),
    st.just(("td",)),
    st.just(("dense",)),
    st.tuples(st.just("conv"), st.integers(1, 3), st.sampled_from(["causal", "same"])),
    per_step_extra,
    residual,
)

# what ends the stack before the output layer: per-step (RnnOutput) or per-example (Output)
per_example_end = st.one_of(
    st.tuples(st.just("last"), st.one_of(rec(), st.tuples(st.just("maskzero"), rec()),
                                         st.tuples(st.just("bi"), plain_rec, st.sampled_from(MODES)),
                                         st.just(("td",)),
                                         st.tuples(st.just("conv"), st.integers(1, 3),
                                                   st.just("causal")))),
    rec(return_sequences=st.just(False)),
    st.tuples(st.just("maskzero"), rec(return_sequences=st.just(False))),
    st.tuples(st.just("bi"), rec(go_backwards=st.just(False), return_sequences=st.just(False)),
              st.sampled_from(MODES)),
    st.tuples(st.just("pool"), st.sampled_from(["avg", "max", "sum", "pnorm"])),
)
ending = st.one_of(st.tuples(st.just("per_step")),
                   st.tuples(st.just("per_example"), per_example_end))


def network(middle_specs, end_spec, seed: int) -> Sequential:
    layers = [build(s) for s in middle_specs]
    if end_spec[0] == "per_step":
        layers.append(L.RnnOutput(CLASSES, activation="softmax", loss="mcxent"))
    else:
        layers += [build(end_spec[1]), L.Output(CLASSES, activation="softmax", loss="mcxent")]
    return perturbed(Sequential(layers, input_type=InputType.recurrent(F_IN), seed=seed,
                                dtype=torch.float64), seed)


def perturbed(net: Sequential, seed: int) -> Sequential:
    """``net`` with noise on every parameter, biases included: zero biases would keep a state
    at exactly zero over zero input, and hide a layer that runs over padding as if real."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.3 * torch.randn(p.shape, dtype=p.dtype, generator=gen))
        for name, b in net.named_buffers():             # BatchNorm's running statistics
            if name.endswith("running_mean"):
                b.add_(0.3 * torch.randn(b.shape, dtype=b.dtype, generator=gen))
            elif name.endswith("running_var"):
                b.mul_(torch.exp(0.3 * torch.randn(b.shape, dtype=b.dtype, generator=gen)))
    return net


def padded_batch(rng: np.random.Generator, lengths, lefts):
    """``[N, F, T]`` features and the ``[N, T]`` mask; each example's own steps ``[F, n]``.

    The padded steps hold junk (finite, as the masking semantic asks), so a layer
    that reads them instead of skipping them is seen.
    """
    t = max(lengths)
    x = rng.uniform(-3.0, 3.0, (len(lengths), F_IN, t))
    mask = np.zeros((len(lengths), t))
    alone = []
    for i, (n, left) in enumerate(zip(lengths, lefts)):
        steps = rng.standard_normal((F_IN, n))
        start = t - n if left else 0
        x[i, :, start:start + n] = steps
        mask[i, start:start + n] = 1.0
        alone.append(steps)
    return torch.from_numpy(x), torch.from_numpy(mask), [torch.from_numpy(s) for s in alone]


def check_padding_invariance(net: Sequential, x, mask, alone) -> None:
    out = net.output(x, mask)
    om = output_mask(net, mask)
    per_step = out.dim() == 3
    assert per_step == (om is not None)
    for i, steps in enumerate(alone):
        own = net.output(steps[None])[0]                                # [C] or [C, n]
        if not per_step:
            torch.testing.assert_close(out[i], own, rtol=0, atol=TOL, msg=f"example {i}")
            continue
        real = om[i] != 0
        assert int(real.sum()) == steps.shape[1]
        torch.testing.assert_close(out[i][:, real], own, rtol=0, atol=TOL, msg=f"example {i}")
        assert (out[i][:, ~real] == 0).all(), f"example {i}: nonzero output at a padded step"


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(middle_specs=st.lists(middle, min_size=0, max_size=3), end_spec=ending,
       lengths=st.lists(st.integers(1, 5), min_size=2, max_size=4),
       sides=st.lists(st.booleans(), min_size=4, max_size=4),
       seed=st.integers(0, 2 ** 16))
def test_padding_gives_each_example_its_unpadded_result(middle_specs, end_spec, lengths, sides, seed):
    if end_spec[0] == "per_step" and not middle_specs:
        middle_specs = [("rec", "LSTM", True, True)]
    net = network(middle_specs, end_spec, seed)
    rng = np.random.default_rng(seed)
    x, mask, alone = padded_batch(rng, lengths, sides[:len(lengths)])
    check_padding_invariance(net, x, mask, alone)


# stacks built mostly from normalisation, activation, residual blocks and pooling
conv = st.tuples(st.just("conv"), st.integers(1, 3), st.sampled_from(["causal", "same"]))
blocks_middle = st.one_of(per_step_extra, residual, residual, conv, rec())
blocks_ending = st.one_of(st.tuples(st.just("per_step")),
                          st.tuples(st.just("per_example"),
                                    st.tuples(st.just("pool"), st.sampled_from(["avg", "max", "sum", "pnorm"]))),
                          st.tuples(st.just("per_example"), st.tuples(st.just("last"), plain_rec)))


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(middle_specs=st.lists(blocks_middle, min_size=1, max_size=4), end_spec=blocks_ending,
       lengths=st.lists(st.integers(1, 5), min_size=2, max_size=4),
       sides=st.lists(st.booleans(), min_size=4, max_size=4),
       seed=st.integers(0, 2 ** 16))
def test_padding_changes_nothing_in_normalisation_and_residual_stacks(middle_specs, end_spec, lengths, sides,
                                                                     seed):
    net = network(middle_specs, end_spec, seed)
    rng = np.random.default_rng(seed)
    x, mask, alone = padded_batch(rng, lengths, sides[:len(lengths)])
    check_padding_invariance(net, x, mask, alone)


def zero_padded(rng: np.random.Generator, lengths, lefts):
    """As :func:`padded_batch` but with exact zeros at the padded steps (what MaskZero finds)."""
    x, mask, alone = padded_batch(rng, lengths, lefts)
    return x * mask[:, None, :], mask, alone


@settings(max_examples=25, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(first=st.one_of(rec(), st.tuples(st.just("bi"), plain_rec, st.sampled_from(MODES))),
       middle_specs=st.lists(middle, min_size=0, max_size=2), end_spec=ending,
       lengths=st.lists(st.integers(1, 5), min_size=2, max_size=3),
       sides=st.lists(st.booleans(), min_size=3, max_size=3),
       seed=st.integers(0, 2 ** 16))
def test_mask_zero_first_masks_zero_padding_for_every_layer_after(first, middle_specs, end_spec,
                                                                  lengths, sides, seed):
    """No features mask: MaskZero derives it, and the network hands it to every later layer."""
    net = network([("maskzero", first)] + middle_specs, end_spec, seed)
    rng = np.random.default_rng(seed)
    x, mask, alone = zero_padded(rng, lengths, sides[:len(lengths)])
    out = net.output(x)
    om = output_mask(net, mask)                      # where the real steps land (not zeroed: no mask)
    for i, steps in enumerate(alone):
        own = net.output(steps[None])[0]
        got = out[i] if om is None else out[i][:, om[i] != 0]
        torch.testing.assert_close(got, own, rtol=0, atol=TOL, msg=f"example {i}")


# -- explicit regressions -------------------------------------------------------------------------
def _net(layers, seed=1):
    return perturbed(Sequential(layers, input_type=InputType.recurrent(F_IN), seed=seed,
                                dtype=torch.float64), seed)


def _check(layers, *, left: bool = False, lengths=(3, 5, 1)):
    rng = np.random.default_rng(7)
    x, mask, alone = padded_batch(rng, list(lengths), [left] * len(lengths))
    check_padding_invariance(_net(layers), x, mask, alone)


def test_issue_repro_go_backwards_then_lstm_gives_the_unpadded_values_at_the_end():
    net = seqkit.Sequential([L.LSTM(4, go_backwards=True), L.LSTM(3),
                             L.RnnOutput(2, activation="softmax", loss="mcxent")],
                            input_type=seqkit.InputType.recurrent(2), seed=1)
    x = torch.randn(1, 2, 5, generator=torch.Generator().manual_seed(0))
    alone = net.output(x[:, :, :3])
    padded = net.output(torch.cat([x[:, :, :3], torch.zeros(1, 2, 2)], 2), torch.tensor([[1., 1, 1, 0, 0]]))
    # the go_backwards layer's sequence output is reversed: the 3 real steps come out at the end
    torch.testing.assert_close(padded[:, :, 2:], alone, rtol=0, atol=1e-6)
    assert (padded[:, :, :2] == 0).all()


@pytest.mark.parametrize("left", [False, True])
def test_last_time_step_over_go_backwards_after_another_layer(left):
    _check([L.LSTM(3), L.LastTimeStep(L.GRU(3, go_backwards=True)), L.Output(CLASSES)], left=left)


@pytest.mark.parametrize("left", [False, True])
def test_last_time_step_after_a_go_backwards_layer(left):
    _check([L.GRU(3, go_backwards=True), L.LastTimeStep(L.LSTM(3)), L.Output(CLASSES)], left=left)


@pytest.mark.parametrize("left", [False, True])
def test_mask_zero_around_go_backwards_reverses_the_mask_for_the_next_layer(left):
    _check([L.MaskZero(L.LSTM(3, go_backwards=True)), L.SimpleRNN(3), L.RnnOutput(CLASSES)], left=left)
    _check([L.MaskZero(L.LSTM(3, go_backwards=True)), L.LastTimeStep(L.SimpleRNN(3)),
            L.Output(CLASSES)], left=left)


@pytest.mark.parametrize("left", [False, True])
def test_time_distributed_and_conv_after_go_backwards(left):
    _check([L.GRU(3, go_backwards=True), L.TimeDistributed(L.Dense(3, activation="tanh")),
            L.Conv1D(3, 2, activation="tanh"), L.LSTM(3), L.RnnOutput(CLASSES)], left=left)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("left", [False, True])
def test_bidirectional_after_go_backwards_in_every_mode(mode, left):
    _check([L.LSTM(3, go_backwards=True), L.Bidirectional(L.GRU(3), mode=mode), L.RnnOutput(CLASSES)],
           left=left)
    _check([L.LSTM(3, go_backwards=True), L.Bidirectional(L.GRU(3, return_sequences=False), mode=mode),
            L.Output(CLASSES)], left=left)


@pytest.mark.parametrize("left", [False, True])
def test_two_reversals_cancel(left):
    _check([L.LSTM(3, go_backwards=True), L.MaskZero(L.GRU(3, go_backwards=True)), L.RnnOutput(CLASSES)],
           left=left)


def _alone_and_padded(layers, *, left: bool, lengths=(3, 5, 2)):
    """Outputs of each example alone and of the zero-padded batch without a features mask."""
    net = _net(layers)
    x, mask, alone = zero_padded(np.random.default_rng(3), list(lengths), [left] * len(lengths))
    return net, [net.output(s[None])[0] for s in alone], net.output(x), mask


@pytest.mark.parametrize("go_backwards", [False, True])
@pytest.mark.parametrize("left", [False, True])
def test_last_time_step_over_mask_zero_takes_the_last_step_mask_zero_keeps(go_backwards, left):
    # it used to take step T-1 of the incoming mask (none here), a padded step the LSTM output 0 at
    _, alone, out, _ = _alone_and_padded(
        [L.LastTimeStep(L.MaskZero(L.LSTM(3, go_backwards=go_backwards))), L.Output(CLASSES)], left=left)
    for i, own in enumerate(alone):
        torch.testing.assert_close(out[i], own, rtol=0, atol=TOL)


@pytest.mark.parametrize("left", [False, True])
def test_the_mask_mask_zero_derives_reaches_the_layers_after_it(left):
    # it used to stop at MaskZero: the layers after ran over the padding as real steps
    _, alone, out, _ = _alone_and_padded(
        [L.MaskZero(L.GRU(3)), L.LSTM(3, go_backwards=True), L.LastTimeStep(L.SimpleRNN(3)),
         L.Output(CLASSES)], left=left)
    for i, own in enumerate(alone):
        torch.testing.assert_close(out[i], own, rtol=0, atol=TOL)


def test_the_loss_mask_stays_the_features_mask_so_score_and_fit_agree():
    net = _net([L.MaskZero(L.LSTM(3)), L.RnnOutput(CLASSES)])
    x, mask, _ = zero_padded(np.random.default_rng(5), [2, 4], [False, True])
    x[0, :, 1] = 0.0                                                     # a real step of all zeros
    h = torch.zeros(2, 3, x.shape[2], dtype=torch.float64)
    assert torch.equal(loss_mask(net, None, StepMask.wrap(mask), h), mask)
    _, lmask = network_output(net, x, StepMask.wrap(mask))
    assert torch.equal(lmask, mask)                                      # not MaskZero's derived mask


def test_streaming_through_mask_zero_around_a_time_reducing_layer():
    # it used to return the chunk's whole sequence: only a bare recurrent layer was reduced
    net = _net([L.MaskZero(L.LSTM(3, return_sequences=False)), L.Output(CLASSES)])
    x = torch.randn(2, F_IN, 5, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    whole = net.output(x)
    net.rnn_time_step(x[:, :, :3])
    torch.testing.assert_close(net.rnn_time_step(x[:, :, 3:]), whole, rtol=0, atol=TOL)


@pytest.mark.parametrize("mode", ["avg", "max", "sum", "pnorm"])
@pytest.mark.parametrize("left", [False, True])
def test_fcn_stack_with_relu_and_global_pooling(mode, left):
    _check([L.Conv1D(4, 3, padding="same"), L.BatchNorm(), L.Activation("relu"),
            L.Conv1D(3, 2, padding="same"), L.BatchNorm(), L.Activation("relu"),
            L.GlobalPooling(mode), L.Output(CLASSES)], left=left)


@pytest.mark.parametrize("left", [False, True])
def test_residual_blocks_with_relu_and_recurrent_layers(left):
    _check([L.Residual([L.Conv1D(3, 3, padding="same"), L.BatchNorm(), L.Activation("relu"), L.LSTM(3)]),
            L.Activation("relu"), L.Residual([L.LayerNorm(), L.GRU(3)], projection="always"),
            L.LastTimeStep(L.LSTM(3)), L.Output(CLASSES)], left=left)
    _check([L.GRU(3, go_backwards=True), L.Residual([L.SimpleRNN(3), L.Activation("relu")]),
            L.RnnOutput(CLASSES)], left=left)


class Flip(L.Layer):
    """A user layer that reverses time and says so: the network reverses the mask after it."""

    input_layouts = frozenset({"sequences"})

    @property
    def n_out(self):
        return self.n_in

    @property
    def needs_time(self):
        return True

    @property
    def reverses_time(self):
        return True

    def forward(self, x, mask=None):
        self._build_like(x)
        return x.flip(2)

    def output_shape(self, input_shape):
        return tuple(input_shape)


@pytest.mark.parametrize("left", [False, True])
def test_a_user_layer_that_says_it_reverses_time_gets_the_reversed_mask(left):
    _check([Flip(), L.LSTM(3), L.RnnOutput(CLASSES)], left=left)
    _check([L.LSTM(3), Flip(), L.LastTimeStep(L.GRU(3)), L.Output(CLASSES)], left=left)
