"""The masking semantic, for every recurrent layer: padding never changes an example's result.

Each example of a padded batch (padding on the right, the left, both ends, or
gaps) must equal that example run alone on its real steps: the same outputs
at its real steps, exact zeros at its masked steps, the same final state. An
example with no real step keeps its initial state.
"""

import pytest
import torch

from recurrent_cases import DEVICES, LAYERS, get_mask, inputs, make, random_state

KINDS = ["right", "left", "both_ends", "gaps", "empty_row"]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_each_example_equals_itself_alone(name, kind, device):
    layer = make(name, device=device)
    x, mask = inputs(device=device), get_mask(kind, device=device)
    state = random_state(layer, device=device)
    y, final = layer.run(x, mask, state)
    for n in range(x.shape[0]):
        real = mask[n] != 0
        mine = {k: v[n:n + 1] for k, v in state.items()}
        if not bool(real.any()):
            expected_final = mine
        else:
            y_alone, expected_final = layer.run(x[n:n + 1][:, :, real], None, mine)
            torch.testing.assert_close(y[n][:, real], y_alone[0], atol=1e-10, rtol=0)
        assert (y[n][:, ~real] == 0).all()
        for k in layer.state_keys:
            torch.testing.assert_close(final[k][n:n + 1], expected_final[k], atol=1e-10, rtol=0)


@pytest.mark.parametrize("kind", ["right", "left", "gaps"])
@pytest.mark.parametrize("name", sorted(LAYERS))
def test_forward_last_output_and_backwards_are_per_example(name, kind):
    """return_sequences=False and go_backwards also act per example, as if each ran alone."""
    x, mask = inputs(), get_mask(kind)
    last = make(name, return_sequences=False, return_state=True)
    back = make(name, return_sequences=False, go_backwards=True)
    y_last, *states = last(x, mask)
    y_back = back(x, mask)
    for n in range(x.shape[0]):
        xs = x[n:n + 1][:, :, mask[n] != 0]
        alone, final = last.run(xs)
        torch.testing.assert_close(y_last[n], alone[0, :, -1], atol=1e-10, rtol=0)
        torch.testing.assert_close(states[0][n], final[last.state_keys[0]][0], atol=1e-10, rtol=0)
        torch.testing.assert_close(y_back[n], back.run(xs.flip(2))[0][0, :, -1], atol=1e-10, rtol=0)


@pytest.mark.parametrize("name", ["LSTM", "GRU", "SimpleRNN", "GravesLSTM"])
def test_all_masked_example_with_return_sequences_false_is_an_error(name):
    layer = make(name, return_sequences=False)
    with pytest.raises(ValueError, match="example 1 .*entirely masked"):
        layer(inputs(), get_mask("empty_row"))
