"""Sequential.compile: compiled output and fit equal eager ones, on both recurrent paths.

The reference is the same network run eagerly (its fast paths are checked
against the plain step loop elsewhere). ``aot_eager`` checks the traced
graphs quickly; inductor, the default backend, is checked once per path.
"""

import copy

import numpy as np
import pytest
import torch

from seqkit import ConfigError, InputType, Sequential
from seqkit.layers import (GRU, LSTM, Bidirectional, Dense, GravesLSTM, LastTimeStep, Output, Recurrent, RnnOutput,
                           SimpleRNN, TimeDistributed)

F, C = 4, 3


def _data(seed=0, n=12, t=15):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, F, t, generator=g)
    mask = torch.ones(n, t)
    mask[:4, 10:] = 0                                   # right padding
    mask[4:7, :3] = 0                                   # left padding
    x = x * mask.unsqueeze(1)
    y = torch.nn.functional.one_hot(torch.randint(0, C, (n, t), generator=g), C).permute(0, 2, 1).float()
    return x, y, mask


def _net(reset_after=True):
    return Sequential([LSTM(8), Bidirectional(GRU(5, reset_after=reset_after), mode="concat"),
                       TimeDistributed(Dense(6)), RnnOutput(C)],
                      input_type=InputType.recurrent(F), seed=3, updater="sgd", learning_rate=0.1)


def _pair(recurrent, backend, reset_after=True):
    eager = _net(reset_after)
    compiled = copy.deepcopy(eager)
    compiled.compile(backend=backend, recurrent=recurrent)
    return eager, compiled


def _fit_both(eager, compiled):
    x, y, mask = _data()
    data = (x.numpy(), y.numpy(), mask.numpy(), mask.numpy())
    for net in (eager, compiled):
        net.fit(data, epochs=2, batch_size=6, progress=False)
    return x, mask


@pytest.mark.parametrize("recurrent", ["eager", "scan"])
def test_compiled_output_and_fit_equal_eager_aot_eager(recurrent):
    eager, compiled = _pair(recurrent, "aot_eager")
    x, _, mask = _data(1)
    assert compiled.compiled and not eager.compiled
    np.testing.assert_allclose(compiled.output(x, mask).numpy(), eager.output(x, mask).numpy(), atol=1e-5)
    _fit_both(eager, compiled)
    for (name, p), q in zip(eager.named_parameters(), compiled.parameters()):
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), atol=1e-5, err_msg=name)
    np.testing.assert_allclose(compiled.output(x, mask).numpy(), eager.output(x, mask).numpy(), atol=1e-5)


def test_compiled_fit_equals_eager_inductor_eager_recurrence():
    eager, compiled = _pair("eager", "inductor")
    x, mask = _fit_both(eager, compiled)
    for (name, p), q in zip(eager.named_parameters(), compiled.parameters()):
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), atol=1e-5, err_msg=name)
    np.testing.assert_allclose(compiled.output(x, mask).numpy(), eager.output(x, mask).numpy(), atol=1e-5)


def test_compiled_fit_equals_eager_inductor_scan():
    eager = Sequential([LSTM(8), Bidirectional(SimpleRNN(5), mode="concat"), GravesLSTM(5),
                        TimeDistributed(Dense(6)), RnnOutput(C)],
                       input_type=InputType.recurrent(F), seed=3, updater="sgd", learning_rate=0.1)
    compiled = copy.deepcopy(eager)
    compiled.compile(recurrent="scan")                  # inductor
    x, mask = _fit_both(eager, compiled)
    for (name, p), q in zip(eager.named_parameters(), compiled.parameters()):
        np.testing.assert_allclose(q.detach().numpy(), p.detach().numpy(), atol=1e-5, err_msg=name)
    np.testing.assert_allclose(compiled.output(x, mask).numpy(), eager.output(x, mask).numpy(), atol=1e-5)


def test_compiled_sequence_classifier_output(tmp_path):
    net = Sequential([LastTimeStep(LSTM(6)), Dense(5), Output(C)], input_type=InputType.recurrent(F), seed=1)
    compiled = copy.deepcopy(net)
    compiled.compile(backend="aot_eager", recurrent="scan")
    x, _, mask = _data(2)
    np.testing.assert_allclose(compiled.output(x, mask).numpy(), net.output(x, mask).numpy(), atol=1e-5)


@pytest.mark.parametrize("reset_after", [True, False])
def test_scan_with_inductor_refuses_gru(reset_after):
    with pytest.raises(ConfigError, match=r"layer 1 \(Bidirectional\) holds a GRU"):
        _net(reset_after).compile(recurrent="scan")
    with pytest.raises(ConfigError, match="recurrent must be 'eager' or 'scan'"):
        _net(False).compile(recurrent="fast")


@pytest.mark.skipif(not torch.__version__.startswith("2.13"), reason="the refusal is pinned to torch 2.13's inductor")
def test_inductor_scan_gru_gradients_are_still_wrong():
    """Why compile(recurrent="scan") refuses a GRU with inductor: in torch 2.13 the recurrent
    weights' gradients come out wrong (the traced graph is right: aot_eager matches, see
    above). Shown here for reset_after=True, where it happens every time; reset_after=False
    showed it in some runs and not others, so it is refused too. When this test fails, torch
    fixed it and the refusal can go."""
    x, y, mask = _data()
    net = _net(True)
    for module in net.modules():                        # what compile() refuses, set by hand
        if isinstance(module, Recurrent):
            module.compile_path = "scan"
    grads = []
    for fn in (net, torch.compile(net, backend="inductor")):
        net.zero_grad()
        with torch._dynamo.config.patch(capture_scalar_outputs=True):
            net.loss(fn(x, mask, logits=True), y, mask, logits=True).backward()
        grads.append(torch.cat([p.grad.flatten() for p in net.layers[1].parameters()]))
    assert (grads[0] - grads[1]).abs().max() > 1e-3
