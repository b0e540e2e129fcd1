"""GlobalPooling: DL4J's masked global pooling over the real steps, its errors, streaming, gradients."""

from __future__ import annotations

import numpy as np
import pytest
import torch

import seqkit
from seqkit import ConfigError, InputType, Sequential
from seqkit import layers as L
from seqkit.layers import GlobalPooling, StepMask, layer_trait

MASKS = {
    "none": None,
    "right": [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0], [1, 0, 0, 0, 0]],
    "left": [[1, 1, 1, 1, 1], [0, 0, 1, 1, 1], [0, 0, 0, 0, 1]],
    "gaps": [[1, 0, 1, 1, 0], [0, 1, 1, 0, 1], [0, 0, 1, 0, 0]],
}


def _batch(mask_kind, dtype=torch.float64, seed=0):
    """``[3, 4, 5]`` features with junk (large values) at the padded steps, and the mask."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(3, 4, 5, dtype=dtype, generator=gen)
    if MASKS[mask_kind] is None:
        return x, None
    mask = torch.tensor(MASKS[mask_kind], dtype=dtype)
    junk = 100.0 * torch.randn(3, 4, 5, dtype=dtype, generator=gen)
    return torch.where(mask[:, None, :] != 0, x, junk), mask


def _reference(x: np.ndarray, mask, mode: str, p: int = 2) -> np.ndarray:
    """Per example, the DL4J reduction over its real steps, in numpy."""
    out = []
    for n in range(x.shape[0]):
        steps = x[n] if mask is None else x[n][:, np.asarray(mask[n]) != 0]       # [F, real]
        if mode == "avg":
            out.append(steps.mean(axis=1))
        elif mode == "max":
            out.append(steps.max(axis=1))
        elif mode == "sum":
            out.append(steps.sum(axis=1))
        else:
            out.append((np.abs(steps) ** p).sum(axis=1) ** (1.0 / p))
    return np.stack(out)


@pytest.mark.parametrize("mask_kind", list(MASKS))
@pytest.mark.parametrize("mode, p", [("avg", 2), ("max", 2), ("sum", 2), ("pnorm", 1), ("pnorm", 2),
                                     ("pnorm", 3)])
def test_pools_over_the_real_steps_only(mode, p, mask_kind):
    x, mask = _batch(mask_kind)
    y = GlobalPooling(mode, p)(x, mask)
    assert y.shape == (3, 4)
    np.testing.assert_allclose(y.numpy(), _reference(x.numpy(), mask, mode, p), rtol=1e-12, atol=1e-12)


def test_pnorm_is_dl4j_formula_on_a_worked_example():
    x = torch.tensor([[[3.0, -4.0, 99.0]]])                 # one feature, 2 real steps, junk at t=2
    mask = torch.tensor([[1.0, 1.0, 0.0]])
    assert GlobalPooling("pnorm")(x, mask).item() == pytest.approx(5.0)
    assert GlobalPooling("pnorm", 1)(x, mask).item() == pytest.approx(7.0)
    assert GlobalPooling("avg")(x, mask).item() == pytest.approx(-0.5)
    assert GlobalPooling("max")(x, mask).item() == pytest.approx(3.0)
    assert GlobalPooling("sum")(x, mask).item() == pytest.approx(-1.0)


def test_mode_is_case_insensitive_and_the_default_is_avg():
    assert GlobalPooling("MAX").mode == "max"
    assert GlobalPooling().mode == "avg"
    assert GlobalPooling("pnorm", 3).pooling == "pnorm(3)" and GlobalPooling("sum").pooling == "sum"


@pytest.mark.parametrize("mode", ["avg", "max", "sum", "pnorm"])
def test_each_example_gets_what_it_gets_alone(mode):
    x, mask = _batch("gaps")
    layer = GlobalPooling(mode)
    y = layer(x, mask)
    for n in range(3):
        real = mask[n] != 0
        torch.testing.assert_close(y[n], layer(x[n:n + 1, :, real])[0], rtol=0, atol=1e-12)


@pytest.mark.parametrize("how", ["cpu tensor", "numpy", "step mask with host", "step mask without host"])
def test_an_all_masked_example_is_an_error_naming_it(how):
    x = torch.randn(3, 2, 4)
    mask = torch.tensor([[1.0, 1, 0, 0], [1, 1, 1, 1], [0, 0, 0, 0]])
    given = {"cpu tensor": mask, "numpy": mask.numpy(),
             "step mask with host": StepMask.wrap(mask.clone(), mask),
             "step mask without host": StepMask.wrap(mask)}[how]
    with pytest.raises(ValueError, match=r"GlobalPooling: example 2 of the batch is entirely masked out"):
        GlobalPooling("max")(x, given)


def test_the_check_reads_the_host_copy_of_a_step_mask():
    # the CPU copy decides (the device values are never read for the check)
    x = torch.randn(2, 2, 3)
    values = torch.tensor([[1.0, 1, 0], [1, 0, 0]])
    host = torch.tensor([[1.0, 1, 0], [0, 0, 0]])
    with pytest.raises(ValueError, match="example 1"):
        GlobalPooling()(x, StepMask.wrap(values, host))


def test_an_all_masked_example_in_a_network_is_an_error():
    net = Sequential([L.LSTM(3), GlobalPooling(), L.Output(2)], input_type=InputType.recurrent(2), seed=0)
    x = np.zeros((2, 2, 3), np.float32)
    with pytest.raises(ValueError, match="example 0 of the batch is entirely masked out"):
        net.output(x, np.array([[0, 0, 0], [1, 1, 0]], np.float32))


def test_images_are_pooled_over_every_position_and_a_row_mask_zeroes_rows():
    x = torch.randn(3, 2, 4, 5)
    for mode, ref in [("avg", x.mean((2, 3))), ("max", x.amax((2, 3))), ("sum", x.sum((2, 3))),
                      ("pnorm", x.square().sum((2, 3)).sqrt())]:
        torch.testing.assert_close(GlobalPooling(mode)(x), ref)
    rows = torch.tensor([1.0, 0.0, 1.0])
    y = GlobalPooling("avg")(x, rows)
    assert (y[1] == 0).all()
    torch.testing.assert_close(y[0], x[0].mean((1, 2)))
    torch.testing.assert_close(GlobalPooling()(x, StepMask.wrap(rows)), y)


def test_conv2d_then_global_pooling_in_a_network():
    net = Sequential([L.Conv2D(3, 2, activation="relu"), GlobalPooling("max"), L.Output(2)],
                     input_type=InputType.convolutional(5, 6, 2), seed=0)
    assert net.output_shapes[1] == (3,)
    assert net.output(np.random.default_rng(0).normal(size=(4, 2, 5, 6)).astype(np.float32)).shape == (4, 2)


def test_input_and_mask_errors():
    layer = GlobalPooling()
    with pytest.raises(ValueError, match=r"GlobalPooling: expected sequences \[N, F, T\] or images"):
        layer(torch.randn(2, 3))
    with pytest.raises(ValueError, match="GlobalPooling: expected sequences"):
        layer("not a tensor")
    with pytest.raises(ValueError, match=r"GlobalPooling: mask must be \[N, T\] = \[2, 4\]"):
        layer(torch.randn(2, 3, 4), torch.ones(2, 5))
    with pytest.raises(ValueError, match=r"GlobalPooling: mask must be \[N, T\] = \[2, 4\]"):
        GlobalPooling()(torch.randn(2, 3, 4), StepMask.wrap(torch.ones(3, 4)))
    with pytest.raises(ValueError, match="row mask"):
        GlobalPooling()(torch.randn(2, 3, 4, 4), torch.ones(2, 4))
    with pytest.raises(ValueError, match="expected 3 input features"):
        layer(torch.randn(2, 3, 4))
        layer(torch.randn(2, 5, 4))


@pytest.mark.parametrize("kwargs, match", [
    (dict(mode="mean"), "mode must be one of avg, max, pnorm, sum, got 'mean'"),
    (dict(mode=None), "mode must be one of"),
    (dict(pnorm=0), "pnorm must be a positive int, got 0"),
    (dict(pnorm=2.5), "pnorm must be a positive int"),
    (dict(pnorm=True), "pnorm must be a positive int"),
    (dict(n_in=0), "n_in must be a positive int"),
])
def test_config_errors(kwargs, match):
    with pytest.raises(ConfigError, match=match):
        GlobalPooling(**kwargs)


def test_output_shape_and_its_errors():
    assert GlobalPooling().output_shape((5, None)) == (5,)
    assert GlobalPooling().output_shape((3, 8, 8)) == (3,)
    with pytest.raises(ConfigError, match=r"GlobalPooling: expected sequences \(N, F, T\) or images"):
        GlobalPooling().output_shape((5,))
    with pytest.raises(ConfigError, match="n_in=4 but the input has 5 features"):
        GlobalPooling(n_in=4).output_shape((5, None))
    with pytest.raises(ConfigError, match="feature"):
        GlobalPooling().output_shape((None, None))


def test_vectors_into_global_pooling_in_a_network_is_a_config_error():
    with pytest.raises(ConfigError, match=r"layer 1 \(GlobalPooling\)"):
        Sequential([L.Dense(3), GlobalPooling(), L.Output(2)], input_type=InputType.feed_forward(4))


def test_describes_itself():
    layer = GlobalPooling()
    assert layer_trait(layer, "reduces_time") and layer_trait(layer, "carries_state")
    assert layer_trait(layer, "takes_step_mask") and not layer_trait(layer, "needs_time")
    assert layer_trait(layer, "stepwise_obstacle") is None
    assert layer.input_layouts == {"sequences", "images"}
    assert layer.state_keys == ("total", "count") and layer.n_out is None
    assert GlobalPooling(n_in=3).n_out == 3


def test_tbptt_refuses_it():
    with pytest.raises(ConfigError, match=r"layer 1 \(GlobalPooling\) removes the time axis"):
        Sequential([L.LSTM(3), GlobalPooling(), L.Output(2)], input_type=InputType.recurrent(2),
                   backprop="tbptt")


# -- streaming: run() carries the running total and count ------------------------------------------
@pytest.mark.parametrize("mode", ["avg", "max", "sum", "pnorm"])
def test_run_over_chunks_equals_forward_over_the_whole(mode):
    x, mask = _batch("gaps")
    mask[2, 0] = 1.0                                  # every example has a real step in the first chunk
    layer = GlobalPooling(mode, 3)
    whole = layer(x, mask)
    _, state = layer.run(x[:, :, :2], StepMask.wrap(mask[:, :2], mask[:, :2]))
    assert set(state) == {"total", "count"} and state["count"].shape == (3, 4)
    y, state = layer.run(x[:, :, 2:], mask[:, 2:], state)
    torch.testing.assert_close(y, whole, rtol=1e-12, atol=1e-12)
    torch.testing.assert_close(state["count"][:, 0], mask.sum(1))


def test_run_without_a_mask_and_a_chunk_with_no_real_step_for_an_example():
    x = torch.randn(2, 3, 4)
    layer = GlobalPooling("avg")
    _, state = layer.run(x[:, :, :2])
    y, _ = layer.run(x[:, :, 2:], torch.tensor([[1.0, 1], [0, 0]]), state)   # example 1: nothing new
    torch.testing.assert_close(y[0], x[0].mean(1))
    torch.testing.assert_close(y[1], x[1, :, :2].mean(1))


def test_run_errors():
    layer = GlobalPooling()
    x = torch.randn(2, 3, 4)
    with pytest.raises(ValueError, match="example 1 of the batch is entirely masked out"):
        layer.run(x, torch.tensor([[1.0, 0, 0, 0], [0, 0, 0, 0]]))
    with pytest.raises(ValueError, match=r"state must be a dict with keys \['total', 'count'\]"):
        layer.run(x, None, {"h": torch.zeros(2, 3)})
    with pytest.raises(ValueError, match="state must be a dict"):
        layer.run(x, None, [torch.zeros(2, 3)])
    with pytest.raises(ValueError, match=r"state 'total' must be \[N, F\] = \[2, 3\], got \[2, 4\]"):
        layer.run(x, None, {"total": torch.zeros(2, 4), "count": torch.ones(2, 3)})
    with pytest.raises(ValueError, match=r"expected sequences \[N, F, T\], got \(2, 3, 4, 4\)"):
        layer.run(torch.randn(2, 3, 4, 4))


def test_rnn_time_step_pools_over_everything_seen_so_far():
    net = Sequential([L.LSTM(3), GlobalPooling("max"), L.Output(2)], input_type=InputType.recurrent(2),
                     seed=0, dtype=torch.float64)
    x = np.random.default_rng(0).normal(size=(2, 2, 6))
    whole = net.output(x)
    net.rnn_time_step(x[:, :, :2])
    net.rnn_time_step(x[:, :, 2:5])
    np.testing.assert_allclose(net.rnn_time_step(x[:, :, 5]), whole, rtol=0, atol=1e-12)
    assert set(net.rnn_get_previous_state(1)) == {"total", "count"}


# -- gradients ------------------------------------------------------------------------------------
@pytest.mark.parametrize("mask_kind", ["none", "right", "left", "gaps"])
@pytest.mark.parametrize("mode, p", [("avg", 2), ("max", 2), ("sum", 2), ("pnorm", 2), ("pnorm", 3)])
def test_gradcheck(mode, p, mask_kind):
    x, mask = _batch(mask_kind)
    layer = GlobalPooling(mode, p)
    assert torch.autograd.gradcheck(lambda v: layer(v, mask), (x.clone().requires_grad_(),),
                                    eps=1e-6, atol=1e-5)


@pytest.mark.parametrize("mode", ["avg", "max", "sum", "pnorm"])
def test_padded_steps_get_no_gradient_even_when_they_hold_nan(mode):
    x, mask = _batch("gaps")
    x = torch.where(mask[:, None, :] != 0, x, torch.full_like(x, float("nan"))).requires_grad_()
    GlobalPooling(mode)(x, mask).sum().backward()
    grad = x.grad.permute(0, 2, 1)[mask == 0]
    assert torch.isfinite(x.grad).all() and (grad == 0).all()


def test_low_precision_is_pooled_in_float32_and_returned_in_its_dtype():
    x, mask = _batch("right", dtype=torch.float32)
    y = GlobalPooling("avg")(x.bfloat16(), mask)
    assert y.dtype == torch.bfloat16
    torch.testing.assert_close(y.float(), GlobalPooling("avg")(x.bfloat16().float(), mask), rtol=1e-2, atol=1e-2)


def test_saved_in_a_network(tmp_path):
    net = Sequential([L.Conv1D(3, 2), GlobalPooling("pnorm", 3), L.Output(2)], input_type=InputType.recurrent(2),
                     seed=0)
    net.save(tmp_path / "net.seqkit")
    loaded = seqkit.load(tmp_path / "net.seqkit")
    assert loaded.layers[1].mode == "pnorm" and loaded.layers[1].pnorm == 3
    x = np.random.default_rng(1).normal(size=(3, 2, 5)).astype(np.float32)
    np.testing.assert_array_equal(loaded.output(x), net.output(x))
