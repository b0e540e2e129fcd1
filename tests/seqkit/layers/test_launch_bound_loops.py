"""The launch-bound loops: LSTM on masks with gaps takes GravesLSTM's hand-written loop (zero
peepholes), and the opt-in compiled loop steps (seqkit.layers._compiled_steps).

The compiled steps only run on CUDA; here their code path is forced on the CPU: with the step
left eager it must give the inline loop's numbers exactly (so the buffers the backward reads
are right), and compiled by inductor on the CPU within 1e-6. The CUDA speed is measured by
``make gpu-check`` (benchmarks/gpu_check.py).
"""

import os
import subprocess
import sys
import warnings

import pytest
import torch

from seqkit.layers import GRU, LSTM, GravesLSTM, compiled_steps_enabled, set_compiled_steps
from seqkit.layers import _compiled_steps, _lstm

from recurrent_cases import get_mask, inputs, random_state, randomize

LAYERS = {"graves": lambda: GravesLSTM(4, 3), "gru_reset_before": lambda: GRU(4, 3, reset_after=False),
          "lstm_gaps": lambda: LSTM(4, 3)}


@pytest.fixture
def fresh_steps(monkeypatch):
    """Enabled compiled steps with an empty cache; restored afterwards."""
    monkeypatch.setattr(_compiled_steps, "_enabled", True)
    monkeypatch.setattr(_compiled_steps, "_compiled", {})
    monkeypatch.setattr(_compiled_steps, "_failed", set())
    monkeypatch.setattr(_compiled_steps, "_succeeded", set())
    monkeypatch.setattr(_compiled_steps, "_applies", lambda like: True)      # the CPU counts as CUDA


def _run_with_grads(layer, x, mask, state):
    x = x.clone().requires_grad_()
    state = {k: v.clone().requires_grad_() for k, v in state.items()}
    y, final = layer.run(x, mask, state)
    loss = (y * torch.linspace(-1, 1, y.numel(), dtype=y.dtype, device=y.device).view_as(y)).sum()
    loss = loss + sum((v * (i + 2)).sum() for i, v in enumerate(final.values()))
    grads = torch.autograd.grad(loss, [x, *state.values(), *layer.parameters()])
    return [y.detach(), *(v.detach() for v in final.values()), *grads]


def _layer(name, dtype=torch.float64):
    torch.manual_seed(0)
    return randomize(LAYERS[name]()).to(dtype)


# -- LSTM on masks with gaps ------------------------------------------------------------------------
def test_lstm_with_gaps_runs_the_hand_written_loop(monkeypatch):
    calls = []
    real = _lstm.graves_sequence
    monkeypatch.setattr(_lstm, "graves_sequence", lambda *a: calls.append(a[5] is not None) or real(*a))
    layer = _layer("lstm_gaps")
    layer.run(inputs(), get_mask("gaps"))
    assert calls == [True]                                               # masked (gaps) loop, once
    layer.run(inputs(), get_mask("right"))                               # one run each: the fused kernel
    layer.run(inputs())
    assert calls == [True]


def test_lstm_with_gaps_keeps_the_step_loop_for_other_activations_and_recurrent_dropout(monkeypatch):
    calls = []
    monkeypatch.setattr(_lstm, "graves_sequence", lambda *a: calls.append(1))
    LSTM(4, 3, activation="relu").run(inputs().float(), get_mask("gaps").float())
    LSTM(4, 3, recurrent_dropout=0.3).train().run(inputs().float(), get_mask("gaps").float())
    assert calls == []


# -- the compiled-step code path, step left eager -------------------------------------------------
def test_off_by_default_and_never_on_the_cpu(monkeypatch):
    if not os.environ.get(_compiled_steps.ENV_VAR):
        assert compiled_steps_enabled() is False
    monkeypatch.setattr(_compiled_steps, "_enabled", True)
    assert compiled_steps_enabled() is True
    assert _compiled_steps.step_function("graves", torch.zeros(1)) is None      # a CPU tensor


def test_environment_variable_turns_them_on():
    out = subprocess.run([sys.executable, "-c", "import seqkit.layers as L; print(L.compiled_steps_enabled())"],
                         env={**os.environ, "SEQKIT_COMPILE_STEPS": "1"}, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "True"


def test_set_compiled_steps_takes_a_bool(monkeypatch):
    monkeypatch.setattr(_compiled_steps, "_enabled", False)
    set_compiled_steps(True)
    assert compiled_steps_enabled() is True
    set_compiled_steps(False)
    with pytest.raises(ValueError, match="set_compiled_steps: enabled must be True or False, got 1"):
        set_compiled_steps(1)


@pytest.mark.parametrize("mask_kind", [None, "right", "gaps"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_eager_step_path_equals_the_inline_loop_exactly(fresh_steps, monkeypatch, name, mask_kind):
    if name == "lstm_gaps" and mask_kind != "gaps":
        pytest.skip("LSTM takes the hand-written loop for gaps only")
    layer = _layer(name)
    x, mask, state = inputs(), get_mask(mask_kind), random_state(layer)
    monkeypatch.setattr(_compiled_steps, "_enabled", False)
    inline = _run_with_grads(layer, x, mask, state)
    monkeypatch.setattr(_compiled_steps, "_enabled", True)
    monkeypatch.setattr(_compiled_steps, "_compile", lambda fn: fn)      # the step path, eager
    stepped = _run_with_grads(layer, x, mask, state)
    assert _compiled_steps._succeeded                                    # the step path did run
    for a, b in zip(inline, stepped):
        torch.testing.assert_close(a, b, atol=1e-12, rtol=0)


def test_a_failing_compilation_warns_once_and_falls_back(fresh_steps, monkeypatch):
    def broken(fn):
        def run(*args):
            raise RuntimeError("no triton here")
        return run
    monkeypatch.setattr(_compiled_steps, "_compile", broken)
    layer = _layer("graves")
    x, mask = inputs(), get_mask("gaps")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        y1, _ = layer.run(x, mask)
        y2, _ = layer.run(x, mask)
    msgs = [str(w.message) for w in caught if "compiling the graves step failed" in str(w.message)]
    assert len(msgs) == 1 and "no triton here" in msgs[0]
    assert _compiled_steps.step_function("graves", x) is None
    monkeypatch.setattr(_compiled_steps, "_enabled", False)
    torch.testing.assert_close(y1, layer.run(x, mask)[0], atol=0, rtol=0)
    torch.testing.assert_close(y2, y1, atol=0, rtol=0)


def test_an_error_after_a_successful_compiled_step_is_raised(fresh_steps, monkeypatch):
    state = {"n": 0}

    def flaky(fn):
        def run(*args):
            state["n"] += 1
            if state["n"] > 1:
                raise RuntimeError("a real error")
            return fn(*args)
        return run
    monkeypatch.setattr(_compiled_steps, "_compile", flaky)
    with pytest.raises(RuntimeError, match="a real error"):
        _layer("graves").run(inputs(), get_mask("gaps"))


# -- compiled by inductor, on the CPU -------------------------------------------------------------
@pytest.mark.slow
def test_compiled_steps_equal_eager_steps_on_the_cpu(fresh_steps):
    """Inductor (CPU) compiles each step; within 1e-6 of the eager step in float32, and the
    whole layer (forward through compiled steps, hand-written backward) within 1e-6 (relative
    for the larger gradients) too."""
    torch.manual_seed(0)
    n, hu = 5, 4
    h, c = torch.randn(n, hu), torch.randn(n, 1, hu)
    r3 = torch.tensor([True, False, True, True, False]).view(n, 1, 1)
    graves_args = (torch.randn(n, 4 * hu), h, c, torch.randn(hu, 4 * hu), torch.randn(1, 2, hu), torch.randn(hu))
    gru_args = (torch.randn(n, 3 * hu), h, torch.randn(hu, 2 * hu), torch.randn(hu, hu))
    for name, args, r in (("graves", graves_args, r3), ("gru_reset_before", gru_args, r3.view(n, 1))):
        step = _compiled_steps.step_function(name, h)
        eager = _compiled_steps._STEPS[name]
        for mask in (None, r):
            for a, b in zip(step(*args, mask), eager(*args, mask)):
                torch.testing.assert_close(a, b, atol=1e-6, rtol=0)
        assert name in _compiled_steps._succeeded and name not in _compiled_steps._failed
    for name, mask_kind in (("graves", "gaps"), ("gru_reset_before", None), ("lstm_gaps", "gaps")):
        layer = _layer(name, torch.float32)
        x, mask, state = inputs().float(), get_mask(mask_kind), random_state(layer)
        mask = None if mask is None else mask.float()
        state = {k: v.float() for k, v in state.items()}
        compiled = _run_with_grads(layer, x, mask, state)
        _compiled_steps._enabled = False
        eager = _run_with_grads(layer, x, mask, state)
        _compiled_steps._enabled = True
        for a, b in zip(compiled, eager):                                 # gradients reach ~10: rtol too
            torch.testing.assert_close(a, b, atol=1e-6, rtol=1e-6)


@pytest.mark.cuda
@pytest.mark.parametrize("mask_kind", [None, "gaps"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_cuda_compiled_steps_equal_the_eager_loop(monkeypatch, name, mask_kind):
    """On CUDA (Triton): the compiled-step forward and the hand-written backward within 1e-5 of
    the eager loop; no fallback warning (the compilation worked)."""
    if name == "lstm_gaps" and mask_kind != "gaps":
        pytest.skip("LSTM takes the hand-written loop for gaps only")
    monkeypatch.setattr(_compiled_steps, "_failed", set())              # compiled functions are kept:
    monkeypatch.setattr(_compiled_steps, "_succeeded", set())           # each compiles once per run
    layer = _layer(name, torch.float32).cuda()
    x, mask, state = inputs(device="cuda").float(), get_mask(mask_kind, device="cuda"), random_state(layer)
    mask = None if mask is None else mask.float()
    state = {k: v.float().cuda() for k, v in state.items()}
    monkeypatch.setattr(_compiled_steps, "_enabled", False)
    eager = _run_with_grads(layer, x, mask, state)
    monkeypatch.setattr(_compiled_steps, "_enabled", True)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        compiled = _run_with_grads(layer, x, mask, state)
    assert not [w for w in caught if "step failed" in str(w.message)], [str(w.message) for w in caught]
    assert _compiled_steps._succeeded and not _compiled_steps._failed
    for a, b in zip(compiled, eager):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-5)
