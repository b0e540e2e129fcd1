"""Recurrent layers, cells and kernels under bf16 autocast (precision="bf16-mixed"): they run in
their weights' float32 with autocast off, a bfloat16 input cast up (seqkit.layers._kernel_precision)."""

import pytest
import torch

import seqkit
from seqkit.layers import GRU, GravesLSTM, GRUCell, LSTMCell, RnnOutput, SimpleRNN, SimpleRNNCell
from seqkit.layers._kernel_precision import call_in_weight_dtype


@pytest.mark.parametrize("make", [lambda: GravesLSTM(8), lambda: GRU(8, reset_after=False),
                                  lambda: GRU(8), lambda: SimpleRNN(8)],
                         ids=["graves", "gru_before", "gru_after", "simple_rnn"])
def test_bf16_autocast_matches_float32_closely(make):
    torch.manual_seed(0)
    layer = make().build(4)
    x = torch.randn(3, 4, 6)
    mask = torch.tensor([[1, 1, 1, 1, 1, 1], [1, 1, 1, 1, 0, 0], [1, 1, 1, 0, 0, 0]], dtype=torch.float32)
    ref = layer(x, mask)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out = layer(x, mask)
    out.float().sum().backward()                                     # the custom backward runs too
    assert out.dtype == torch.float32                                # the recurrence keeps float32 state
    assert torch.allclose(out, ref, atol=5e-2)                       # only the input was rounded
    assert (out[2, :, 3:] == 0).all()


def test_network_fits_with_bf16_mixed_on_graves():
    net = seqkit.Sequential([GravesLSTM(8), RnnOutput(3, activation="softmax")],
                            input_type=seqkit.InputType.recurrent(4), seed=0, precision="bf16-mixed")
    x = torch.randn(2, 4, 5)
    y = torch.nn.functional.one_hot(torch.randint(0, 3, (2, 5)), 3).permute(0, 2, 1).float()
    before = [p.detach().clone() for p in net.parameters()]
    net.fit((x, y), epochs=1)
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, net.parameters()))


@pytest.mark.parametrize("make", [lambda: LSTMCell(5, 3), lambda: GRUCell(5, 3, reset_after=False),
                                  lambda: SimpleRNNCell(5, 3)], ids=["lstm", "gru_before", "simple_rnn"])
def test_a_cell_on_its_own_under_autocast_steps_in_float32(make):
    torch.manual_seed(0)
    cell = make()
    x = torch.randn(2, 3)
    states = tuple(torch.zeros(2, 5) for _ in cell.state_keys)
    ref_out, ref_states = cell(x, states)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        out, new = cell(x.bfloat16(), states)
    assert out.dtype == torch.float32 and all(s.dtype == torch.float32 for s in new)
    assert torch.allclose(out, ref_out, atol=2e-2)


def test_outside_autocast_nothing_is_cast():
    seen = []
    x = torch.randn(2).bfloat16()
    call_in_weight_dtype(lambda a, b: seen.append((a.dtype, b.dtype)), torch.float32, x, x)
    with torch.autocast(device_type="cpu", dtype=torch.bfloat16):
        call_in_weight_dtype(lambda a, b, c: seen.append((a.dtype, b.dtype, c,
                                                          torch.is_autocast_enabled("cpu"))),
                             torch.float32, x, x.long(), "keep")
    assert seen == [(torch.bfloat16, torch.bfloat16), (torch.float32, torch.int64, "keep", False)]
