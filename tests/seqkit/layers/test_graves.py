"""GravesLSTM against an independent NumPy implementation of DL4J's equations (dl4j.md §3.1).

The oracle keeps DL4J's parameter layout: ``W [F, 4H]`` and ``RW [H, 4H+3]``
with gate blocks in CFOI order ``[a (candidate), f, o, g (input gate)]`` and
peephole columns ``4H`` (forget), ``4H+1`` (output), ``4H+2`` (input gate);
they are loaded into the layer through the mapping its docstring documents.
"""

import numpy as np
import pytest
import torch

from seqkit.layers import GravesLSTM

H, F, T, N = 3, 2, 6, 3


def _sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def dl4j_graves(x, w, rw, b, h0, c0, mask=None):
    """DL4J GravesLSTM forward; at a masked step h and c are carried and the output is 0.

    x ``[N, F, T]``; returns outputs ``[N, H, T]`` and final h, c ``[N, H]``.
    """
    h, c = h0.copy(), c0.copy()
    out = np.zeros((x.shape[0], H, x.shape[2]))
    w_ff, w_oo, w_gg = rw[:, 4 * H], rw[:, 4 * H + 1], rw[:, 4 * H + 2]
    for t in range(x.shape[2]):
        z = x[:, :, t] @ w + h @ rw[:, :4 * H] + b                       # [N, 4H]
        a = np.tanh(z[:, :H])
        f = _sigmoid(z[:, H:2 * H] + c * w_ff)
        g = _sigmoid(z[:, 3 * H:] + c * w_gg)
        c_new = f * c + g * a
        o = _sigmoid(z[:, 2 * H:3 * H] + c_new * w_oo)
        h_new = o * np.tanh(c_new)
        real = np.ones((x.shape[0], 1), bool) if mask is None else (mask[:, t:t + 1] != 0)
        h, c = np.where(real, h_new, h), np.where(real, c_new, c)
        out[:, :, t] = np.where(real, h_new, 0.0)
    return out, h, c


def load_dl4j(layer, w, rw, b):
    """DL4J's arrays into the layer: ours (i, f, g, o) = DL4J blocks (3, 1, 0, 2)."""
    order = [3, 1, 0, 2]

    def blocks(a):                                                       # [., 4H] -> [4H, .]
        return np.concatenate([a[:, k * H:(k + 1) * H] for k in order], axis=1).T
    cell = layer.cell
    with torch.no_grad():
        cell.weight_ih.copy_(torch.as_tensor(blocks(w)))
        cell.weight_hh.copy_(torch.as_tensor(blocks(rw[:, :4 * H])))
        cell.bias.copy_(torch.as_tensor(blocks(b[None, :])[:, 0]))
        cell.peephole.copy_(torch.as_tensor(np.stack([rw[:, 4 * H + 2], rw[:, 4 * H],
                                                      rw[:, 4 * H + 1]])))


def _random_dl4j(seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(F, 4 * H)) * 0.5, rng.normal(size=(H, 4 * H + 3)) * 0.5,
            rng.normal(size=4 * H) * 0.5)


MASKS = {
    None: None,
    "right": [[1] * 6, [1, 1, 1, 0, 0, 0], [1, 0, 0, 0, 0, 0]],
    "left": [[1] * 6, [0, 0, 1, 1, 1, 1], [0] * 6],
    "gaps": [[1, 0, 1, 1, 0, 1], [0, 1, 1, 0, 0, 1], [1] * 6],
}


@pytest.mark.parametrize("mask_kind", list(MASKS))
def test_matches_dl4j_equations(mask_kind):
    w, rw, b = _random_dl4j()
    layer = GravesLSTM(H, F).double()
    load_dl4j(layer, w, rw, b)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(N, F, T))
    h0, c0 = rng.normal(size=(N, H)), rng.normal(size=(N, H))
    mask = None if MASKS[mask_kind] is None else np.array(MASKS[mask_kind], float)
    expected, h_exp, c_exp = dl4j_graves(x, w, rw, b, h0, c0, mask)
    tensor = torch.as_tensor
    for fn in (layer.run, layer.reference):
        y, final = fn(tensor(x), None if mask is None else tensor(mask),
                      {"h": tensor(h0), "c": tensor(c0)})
        np.testing.assert_allclose(y.detach().numpy(), expected, atol=1e-12)
        np.testing.assert_allclose(final["h"].detach().numpy(), h_exp, atol=1e-12)
        np.testing.assert_allclose(final["c"].detach().numpy(), c_exp, atol=1e-12)


def test_peepholes_matter_and_see_the_right_cell_state():
    """Output gate on c_t, forget/input gates on c_{t-1}: each peephole changes the result."""
    w, rw, b = _random_dl4j(2)
    x = np.random.default_rng(3).normal(size=(N, F, T))
    base, _, _ = dl4j_graves(x, w, rw, b, np.zeros((N, H)), np.zeros((N, H)))
    layer = GravesLSTM(H, F).double()
    load_dl4j(layer, w, rw, b)
    np.testing.assert_allclose(layer(torch.as_tensor(x)).detach().numpy(), base, atol=1e-12)
    for col in (4 * H, 4 * H + 1, 4 * H + 2):
        rw2 = rw.copy()
        rw2[:, col] = 0.0
        assert not np.allclose(dl4j_graves(x, w, rw2, b, np.zeros((N, H)), np.zeros((N, H)))[0], base)


def test_initialisation():
    layer = GravesLSTM(4, 3, forget_gate_bias_init=2.5)
    cell = layer.cell
    assert torch.equal(cell.peephole, torch.zeros(3, 4))
    assert torch.equal(cell.bias[4:8], torch.full((4,), 2.5))
    assert cell.bias[:4].abs().sum() == 0 and cell.bias[8:].abs().sum() == 0
    assert layer.state_keys == ("h", "c")


@pytest.mark.parametrize("activation", ["softsign", "relu"])
def test_other_activations_use_the_loop_and_match_it(activation):
    layer = GravesLSTM(H, F, activation=activation, gate_activation="hard_sigmoid").double()
    with torch.no_grad():
        layer.cell.peephole.normal_()
    x = torch.randn(N, F, T, dtype=torch.float64)
    y, final = layer.run(x)
    y_ref, final_ref = layer.reference(x)
    torch.testing.assert_close(y, y_ref)
    cell = layer.cell
    h = c = torch.zeros(N, H, dtype=torch.float64)
    for t in range(T):                                                   # the cell's step by hand
        z = x[:, :, t] @ cell.weight_ih.t() + cell.bias + h @ cell.weight_hh.t()
        zi, zf, zg, zo = z.chunk(4, 1)
        hs = cell.gate_activation
        c = hs(zf + cell.peephole[1] * c) * c + hs(zi + cell.peephole[0] * c) * cell.activation(zg)
        h = hs(zo + cell.peephole[2] * c) * cell.activation(c)
    torch.testing.assert_close(final["h"], h)
