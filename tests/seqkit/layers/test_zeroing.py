"""The zeroing notes: a layer skips zeroing an input a seqkit layer has just zeroed, never anything else.

A stack Conv1D -> BatchNorm -> Activation -> GlobalPooling zeroes the padding
once (at the stack's input); each layer's output carries a note for its mask
(seqkit/layers/_zeroing.py). These tests hold the note to never change a
result: junk (NaN) in the padding stays out, a changed tensor or another mask
object is zeroed again, and a stack gives what each layer gives on its own.
"""

from __future__ import annotations

import pytest
import torch

from seqkit.layers import Activation, BatchNorm, Conv1D, GlobalPooling
from seqkit.layers._activations import ACTIVATIONS, get_activation, keeps_zero
from seqkit.layers._zeroing import holds_zeros, keep_factor, mark_zeroed, zero_finite, zero_input, zero_masked

N, F, T = 3, 4, 7
MASK = [[1, 1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0, 0], [0, 0, 1, 1, 1, 0, 0]]


def _data(seed=0):
    """``[N, F, T]`` float64 features with NaN at the padded steps, and the ``[N, T]`` mask."""
    gen = torch.Generator().manual_seed(seed)
    mask = torch.tensor(MASK, dtype=torch.float64)
    x = torch.randn(N, F, T, dtype=torch.float64, generator=gen)
    return torch.where(mask[:, None, :] != 0, x, torch.full_like(x, float("nan"))), mask


def _padded(y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The entries of ``y [N, H, T]`` at the masked steps, ``[masked steps, H]``."""
    return y.permute(0, 2, 1)[mask == 0]


def test_a_zeroed_output_is_noted_for_its_mask_object_only():
    x, mask = _data()
    y = zero_masked(x, mask)
    assert holds_zeros(y, mask)
    assert not holds_zeros(x, mask)                                      # the input carries no note
    assert not holds_zeros(y, mask.clone())                              # another mask object
    assert not holds_zeros(y[:, :, :], mask)                             # a view is another tensor
    assert not holds_zeros(y, None)
    assert zero_input(y, mask) is y                                      # nothing to do


def test_an_in_place_change_drops_the_note():
    x, mask = _data()
    y = zero_masked(x, mask)
    y.add_(1.0)                                                          # padding no longer zero
    assert not holds_zeros(y, mask)
    z = zero_input(y, mask)
    assert z is not y and (_padded(z, mask) == 0).all()


def test_an_in_place_change_of_the_mask_drops_the_note():
    x, mask = _data()
    y = zero_masked(x, mask)
    mask[0, 2] = 0.0                                                     # one more step masked
    assert not holds_zeros(y, mask)
    z = zero_input(y, mask)
    assert z is not y and (_padded(z, mask) == 0).all()


def test_zero_finite_is_exact_and_noted():
    x, mask = _data()
    finite = torch.nan_to_num(x, nan=-2.5)                               # finite junk, some negative
    y = zero_finite(finite, mask)
    assert (_padded(y, mask) == 0).all() and holds_zeros(y, mask)
    torch.testing.assert_close(y, zero_masked(finite, mask), rtol=0, atol=0)


def test_keep_factor_broadcasts_over_steps_and_rows():
    x, mask = _data()
    keep = keep_factor(mask, x.float())
    assert keep.shape == (N, 1, T) and keep.dtype == torch.float32
    assert torch.equal(keep[:, 0], (mask != 0).float())
    rows = torch.tensor([1.0, 0.0, 2.0])
    assert torch.equal(keep_factor(rows, torch.zeros(3, F, 2, 2)), torch.tensor([1.0, 0.0, 1.0]).view(3, 1, 1, 1))


def test_a_note_is_not_kept_while_tracing(monkeypatch):
    import seqkit.layers._zeroing as zeroing
    x, mask = _data()
    monkeypatch.setattr(zeroing, "tracing", lambda: True)
    y = zero_masked(x, mask)
    assert not holds_zeros(y, mask)
    assert not holds_zeros(mark_zeroed(y, mask), mask)


@pytest.mark.parametrize("name", [n for n in ACTIVATIONS])
def test_keeps_zero_names_exactly_the_activations_with_f0_equal_0(name):
    fn = get_activation(name)
    at_zero = fn(torch.zeros(2, 3, 4, dtype=torch.float64))
    assert keeps_zero(fn) == bool((at_zero == 0).all())
    assert torch.isfinite(at_zero).all()                                 # every named one: finite at 0


def test_keeps_zero_is_false_for_a_callable():
    assert not keeps_zero(torch.relu)


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "softmax", "tanh"])
@pytest.mark.parametrize("training", [True, False])
def test_a_stack_equals_its_layers_each_on_their_own(activation, training):
    """The FCN block: with the notes each layer skips the input zeroing; without (a clone of
    each output, so no note) each zeroes again. Outputs and gradients must agree exactly."""
    x, mask = _data()
    torch.manual_seed(0)
    layers = [Conv1D(5, 3, F, padding="same").double(), BatchNorm(5).double(), Activation(activation, 5),
              Conv1D(6, 2, 5, padding="causal").double(), BatchNorm(6).double(), Activation("relu", 6)]
    pooling = GlobalPooling("avg")
    for layer in layers:
        layer.train(training)

    def run(cut_notes: bool):
        h = x
        for layer in layers:
            h = layer(h, mask)
            assert holds_zeros(h, mask) and (_padded(h, mask) == 0).all()
            if cut_notes:
                h = h.clone()                                            # same values, no note
        out = pooling(h, mask)
        grads = torch.autograd.grad(out.square().sum(), [p for layer in layers for p in layer.parameters()])
        return out, grads

    states = [{k: v.clone() for k, v in layer.state_dict().items()} for layer in layers]
    noted, noted_grads = run(cut_notes=False)
    for layer, state in zip(layers, states):
        layer.load_state_dict(state)                                     # same running statistics
    alone, alone_grads = run(cut_notes=True)
    assert torch.isfinite(noted).all()
    torch.testing.assert_close(noted, alone, rtol=1e-12, atol=1e-12)
    for a, b in zip(noted_grads, alone_grads):
        assert torch.isfinite(a).all()
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)
