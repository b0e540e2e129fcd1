"""The hand-written recurrent kernels train under bf16 autocast (precision="bf16-mixed")."""

import pytest
import torch

import seqkit
from seqkit.layers import GRU, GravesLSTM, RnnOutput, SimpleRNN


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
    assert torch.allclose(out, ref, atol=5e-2)                       # only the projection was bf16
    assert (out[2, :, 3:] == 0).all()


def test_network_fits_with_bf16_mixed_on_graves():
    net = seqkit.Sequential([GravesLSTM(8), RnnOutput(3, activation="softmax")],
                            input_type=seqkit.InputType.recurrent(4), seed=0, precision="bf16-mixed")
    x = torch.randn(2, 4, 5)
    y = torch.nn.functional.one_hot(torch.randint(0, 3, (2, 5)), 3).permute(0, 2, 1).float()
    before = [p.detach().clone() for p in net.parameters()]
    net.fit((x, y), epochs=1)
    assert any(not torch.equal(a, b.detach()) for a, b in zip(before, net.parameters()))
