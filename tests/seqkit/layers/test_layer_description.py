"""Layers describe themselves (seqkit.layers.Layer's self-description); wrappers answer from inside.

A network asks these questions instead of testing class names, so each
answer here is what a network does with the layer: insert a preprocessor,
refuse truncated BPTT, reverse the mask after it, carry its state...
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from seqkit import ConfigError
from seqkit import layers as L
from seqkit.layers import layer_trait

QUESTIONS = ("needs_time", "reduces_time", "reverses_time", "mixes_steps", "carries_state",
             "stepwise_obstacle", "takes_step_mask")


def answers(layer) -> dict:
    return {q: layer_trait(layer, q) for q in QUESTIONS}


def said(*, needs_time=False, reduces_time=False, reverses_time=False, mixes_steps=False,
         carries_state=False, stepwise_obstacle=None, takes_step_mask=False) -> dict:
    return dict(needs_time=needs_time, reduces_time=reduces_time, reverses_time=reverses_time,
                mixes_steps=mixes_steps, carries_state=carries_state,
                stepwise_obstacle=stepwise_obstacle, takes_step_mask=takes_step_mask)


RECURRENT = said(needs_time=True, carries_state=True, takes_step_mask=True)

CASES = {
    "Dense": (lambda: L.Dense(3), said()),
    "Output": (lambda: L.Output(3), said()),
    "RnnOutput": (lambda: L.RnnOutput(3), said(needs_time=True)),
    "RnnLoss": (lambda: L.RnnLoss(), said(needs_time=True)),
    "Conv1D k=1": (lambda: L.Conv1D(3, 1), said(needs_time=True)),
    "Conv1D k=2": (lambda: L.Conv1D(3, 2), said(needs_time=True, mixes_steps=True,
                                               stepwise_obstacle="mixes_steps")),
    "Conv2D": (lambda: L.Conv2D(3, 2), said()),
    "LSTM": (lambda: L.LSTM(3), RECURRENT),
    "LSTM last": (lambda: L.LSTM(3, return_sequences=False), {**RECURRENT, "reduces_time": True}),
    "GRU backwards": (lambda: L.GRU(3, go_backwards=True),
                      {**RECURRENT, "reverses_time": True, "stepwise_obstacle": "go_backwards"}),
    "GRU backwards last": (lambda: L.GRU(3, go_backwards=True, return_sequences=False),
                           {**RECURRENT, "reduces_time": True, "stepwise_obstacle": "go_backwards"}),
    "RNN(cell)": (lambda: L.RNN(L.SimpleRNNCell(3)), RECURRENT),
    "ConvLSTM2D": (lambda: L.ConvLSTM2D(3, 2), RECURRENT),
    "LastTimeStep": (lambda: L.LastTimeStep(L.LSTM(3)), {**RECURRENT, "reduces_time": True}),
    "LastTimeStep backwards": (lambda: L.LastTimeStep(L.LSTM(3, go_backwards=True)),
                               {**RECURRENT, "reduces_time": True, "stepwise_obstacle": "go_backwards"}),
    "LastTimeStep(Conv1D)": (lambda: L.LastTimeStep(L.Conv1D(3, 3)),
                             said(needs_time=True, reduces_time=True, mixes_steps=True,
                                  stepwise_obstacle="mixes_steps")),
    # MaskZero and Bidirectional take a StepMask when their inner layer does (no mask read-back)
    "MaskZero": (lambda: L.MaskZero(L.LSTM(3)), RECURRENT),
    "MaskZero backwards": (lambda: L.MaskZero(L.LSTM(3, go_backwards=True)),
                           {**RECURRENT, "reverses_time": True,
                            "stepwise_obstacle": "go_backwards"}),
    "MaskZero last": (lambda: L.MaskZero(L.LSTM(3, return_sequences=False)),
                      {**RECURRENT, "reduces_time": True}),
    "MaskZero(LastTimeStep)": (lambda: L.MaskZero(L.LastTimeStep(L.LSTM(3))),
                               {**RECURRENT, "reduces_time": True}),
    "Bidirectional": (lambda: L.Bidirectional(L.LSTM(3)),
                      said(needs_time=True, stepwise_obstacle="bidirectional", takes_step_mask=True)),
    "Bidirectional last": (lambda: L.Bidirectional(L.LSTM(3, return_sequences=False)),
                           said(needs_time=True, reduces_time=True, stepwise_obstacle="bidirectional",
                                takes_step_mask=True)),
    "LastTimeStep(Bidirectional)": (lambda: L.LastTimeStep(L.Bidirectional(L.GRU(3))),
                                    said(needs_time=True, reduces_time=True,
                                         stepwise_obstacle="bidirectional", takes_step_mask=True)),
    "TimeDistributed": (lambda: L.TimeDistributed(L.Dense(3)), said(needs_time=True)),
    "RnnToFeedForward": (lambda: L.RnnToFeedForward(), said()),
    "plain module": (lambda: nn.Identity(), said()),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_layer_answers_for_itself(name):
    make, want = CASES[name]
    assert answers(make()) == want


def test_wrappers_name_what_they_wrap():
    lstm, dense, gru = L.LSTM(3), L.Dense(2), L.GRU(2)
    assert L.LastTimeStep(lstm).wrapped is lstm and L.MaskZero(lstm).wrapped is lstm
    assert L.TimeDistributed(dense).wrapped is dense
    bi = L.Bidirectional(gru)
    assert bi.wrapped is bi.forward_layer is gru
    assert L.LSTM(3).wrapped is None and layer_trait(nn.Identity(), "wrapped") is None


@pytest.mark.parametrize("make, layouts", [
    (lambda: L.Dense(3), {"vectors", "sequences"}),
    (lambda: L.Output(3), {"vectors"}),
    (lambda: L.RnnOutput(3), {"sequences"}),
    (lambda: L.LSTM(3), {"sequences"}),
    (lambda: L.Conv1D(3, 2), {"sequences"}),
    (lambda: L.Conv2D(3, 2), {"images", "video"}),
    (lambda: L.ConvLSTM1D(3, 2), {"images", "video"}),
    (lambda: L.TimeDistributed(L.Dense(3)), {"sequences", "video"}),
    (lambda: L.LastTimeStep(L.LSTM(3)), {"sequences"}),
    (lambda: L.LastTimeStep(L.Dense(3)), {"sequences"}),
    (lambda: L.LastTimeStep(L.ConvLSTM2D(3, 2)), {"images", "video"}),
    (lambda: L.MaskZero(L.TimeDistributed(L.Conv2D(3, 2))), {"sequences", "video"}),
    (lambda: L.Bidirectional(L.ConvLSTM2D(3, 2)), {"images", "video"}),
    (lambda: L.LastTimeStep(nn.Identity()), {"sequences"}),
])
def test_input_layouts(make, layouts):
    assert set(layer_trait(make(), "input_layouts")) == layouts
    assert set(layouts) <= set(L.LAYOUTS)


def test_preprocessors_and_plain_modules_take_anything_as_it_is():
    assert L.CnnToRnn().input_layouts is None and L.Layer().input_layouts is None
    assert layer_trait(nn.Identity(), "input_layouts") is None


@pytest.mark.parametrize("make, shape, out", [
    (lambda: L.LSTM(4), (3, None), (4, None)),
    (lambda: L.LSTM(4, return_sequences=False), (3, 7), (4,)),
    (lambda: L.LastTimeStep(L.LSTM(4)), (3, None), (4,)),
    (lambda: L.LastTimeStep(L.LSTM(4, return_sequences=False)), (3, None), (4,)),
    (lambda: L.MaskZero(L.GRU(4)), (3, None), (4, None)),
    (lambda: L.Bidirectional(L.GRU(4)), (3, None), (8, None)),
    (lambda: L.Bidirectional(L.GRU(4), mode="add"), (3, None), (4, None)),
    (lambda: L.Bidirectional(L.LastTimeStep(L.GRU(4))), (3, None), (8,)),
    (lambda: L.ConvLSTM2D(5, 3), (2, None, 8, 8), (5, None, 6, 6)),
    (lambda: L.LastTimeStep(L.ConvLSTM2D(5, 3)), (2, None, 8, 8), (5, 6, 6)),
    (lambda: L.CnnToFeedForward(), (2, 3, 4), (24,)),
])
def test_output_shape(make, shape, out):
    assert make().output_shape(shape) == out


def test_output_shape_errors_name_the_layer():
    with pytest.raises(ConfigError, match=r"LSTM: expected sequences \(N, F, T\), got \(N, 3\)"):
        L.LSTM(4).output_shape((3,))
    with pytest.raises(ConfigError, match=r"cannot infer the output shape of the wrapped Identity"):
        L.LastTimeStep(nn.Identity()).output_shape((3, None))
    with pytest.raises(ConfigError, match=r"cannot infer the output shape of Layer"):
        L.Layer().output_shape((3, None))
    with pytest.raises(ConfigError, match=r"CnnToFeedForward: expected images \(N, C, H, W\), got \[N, 3, T\]"):
        L.CnnToFeedForward().output_shape((3, None))


def test_compute_mask_is_the_mask_the_steps_follow():
    x = torch.randn(2, 3, 4)
    x[0, :, 3] = 0.0
    mask = torch.tensor([[1.0, 1, 1, 1], [0, 1, 1, 1]])
    assert L.LSTM(2).compute_mask(x, mask) is mask                    # the input mask itself
    assert L.Dense(2).compute_mask(x, None) is None
    want = torch.tensor([[1.0, 1, 1, 0], [0, 1, 1, 1]])
    for layer in (L.MaskZero(L.LSTM(2)), L.LastTimeStep(L.MaskZero(L.LSTM(2))),
                  L.Bidirectional(L.MaskZero(L.LSTM(2))), L.MaskZero(L.MaskZero(L.LSTM(2), 5.0))):
        torch.testing.assert_close(layer.compute_mask(x, mask), want)
    assert layer_trait(nn.Identity(), "compute_mask")(x, mask) is mask


def test_layer_trait_refuses_an_unknown_question():
    with pytest.raises(KeyError, match="not a layer self-description question"):
        layer_trait(L.LSTM(2), "go_backwards")


def test_a_plain_module_may_answer_for_itself():
    class Reverser(nn.Module):
        reverses_time = True

    assert layer_trait(Reverser(), "reverses_time") is True
    assert layer_trait(Reverser(), "reduces_time") is False
