"""Losses: values against torch.nn.functional and hand-worked numbers, masks, reductions, errors."""

import math

import pytest
import torch
import torch.nn.functional as F

from seqkit.layers import LOSSES, REDUCTIONS, Loss, RnnOutput, compute_loss, get_activation, get_loss

DEVICES = ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]
DTYPES = [torch.float32, torch.float64]


def _one_hot(n, c, t, seed=0, device="cpu", dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    idx = torch.randint(0, c, (n, t), generator=g)
    return F.one_hot(idx, c).permute(0, 2, 1).to(device=device, dtype=dtype)     # [N, C, T]


def _mask(device="cpu", dtype=torch.float64):
    return torch.tensor([[1, 1, 1, 0, 0], [0, 1, 1, 1, 1], [1, 0, 1, 1, 0]], dtype=dtype, device=device)


def _loop_reduce(per_step, mask, reduction):
    """Plain Python loop over examples and steps: the reference for the reductions."""
    n, t = per_step.shape
    total, count = 0.0, 0.0
    per_example = []
    for i in range(n):
        s = 0.0
        for j in range(t):
            if mask[i, j] != 0:
                s += float(per_step[i, j])
                count += float(mask[i, j])
        per_example.append(s)
        total += s
    if reduction == "per_sequence":
        return total / n
    if reduction == "per_step":
        return total / count
    if reduction == "sum":
        return total
    return per_example


# -- each loss against torch.nn.functional ---------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
def test_mcxent_softmax_equals_torch_cross_entropy(device, dtype):
    z = torch.randn(3, 4, 5, dtype=dtype, device=device)                         # [N, C, T]
    y = _one_hot(3, 4, 5, device=device, dtype=dtype)
    ref = F.cross_entropy(z, y, reduction="none")                                # [N, T]
    act = get_activation("softmax")
    got = compute_loss("mcxent", act, z, y, reduction="none")
    torch.testing.assert_close(got, ref)
    torch.testing.assert_close(compute_loss("mcxent", act, z, y), ref.sum() / 3)
    # from probabilities (clipped path) the value is the same for moderate logits
    got_p = compute_loss("mcxent", act, act(z), y, reduction="none", preactivation=False)
    torch.testing.assert_close(got_p, ref, atol=1e-5, rtol=1e-5)


def test_nll_is_mcxent():
    z, y = torch.randn(2, 3, 4, dtype=torch.float64), _one_hot(2, 3, 4)
    act = get_activation("softmax")
    for pre in (True, False):
        v = z if pre else act(z)
        assert torch.equal(compute_loss("nll", act, v, y, preactivation=pre),
                           compute_loss("mcxent", act, v, y, preactivation=pre))


def test_mcxent_clips_probabilities_like_dl4j():
    # p = 0 for the true class: -log(1e-10) per step, not inf
    p = torch.tensor([[[0.0, 1.0]], [[1.0, 0.0]]], dtype=torch.float64).permute(0, 2, 1)  # [2, 2, 1]
    y = torch.tensor([[[1.0, 0.0]], [[1.0, 0.0]]], dtype=torch.float64).permute(0, 2, 1)
    got = compute_loss("mcxent", get_activation("identity"), p, y, reduction="none")
    torch.testing.assert_close(got, torch.tensor([[-math.log(1e-10)], [-math.log(1.0 - 1e-10)]],
                                                 dtype=torch.float64))


def test_mcxent_softmax_from_logits_is_stable_with_gradient_p_minus_y():
    z = torch.tensor([[[1000.0], [-1000.0], [0.0]]], dtype=torch.float64, requires_grad=True)  # [1, 3, 1]
    y = torch.tensor([[[0.0], [1.0], [0.0]]], dtype=torch.float64)
    loss = compute_loss("mcxent", get_activation("softmax"), z, y)
    assert torch.isfinite(loss) and loss.item() == pytest.approx(2000.0)
    loss.backward()
    torch.testing.assert_close(z.grad, torch.softmax(z.detach(), dim=1) - y)


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name,activation", [("mse", "identity"), ("mae", "identity"),
                                             ("mse", "tanh"), ("xent", "sigmoid"), ("xent", "hard_sigmoid")])
def test_elementwise_losses_equal_torch(name, activation, device, dtype):
    z = torch.randn(3, 4, 5, dtype=dtype, device=device)
    y = torch.rand(3, 4, 5, dtype=dtype, device=device)
    act = get_activation(activation)
    p = act(z)
    if name == "mse":
        ref = F.mse_loss(p, y, reduction="none").mean(dim=1)
    elif name == "mae":
        ref = F.l1_loss(p, y, reduction="none").mean(dim=1)
    else:
        ref = F.binary_cross_entropy(p.clamp(1e-7, 1 - 1e-7), y, reduction="none").mean(dim=1)
    tol = dict(atol=1e-5, rtol=1e-5) if dtype == torch.float32 else {}
    torch.testing.assert_close(compute_loss(name, act, z, y, reduction="none"), ref, **tol)
    from_p = compute_loss(name, act, p, y, reduction="none", preactivation=False)
    torch.testing.assert_close(from_p, ref, **tol)


def test_xent_sigmoid_from_logits_is_stable():
    z = torch.tensor([[200.0, -200.0]], dtype=torch.float32, requires_grad=True)      # [N, C]
    y = torch.tensor([[0.0, 1.0]])
    loss = compute_loss("xent", get_activation("sigmoid"), z, y)
    assert loss.item() == pytest.approx(200.0)                                        # mean of 200, 200
    loss.backward()
    assert torch.isfinite(z.grad).all()


def test_hand_worked_mse_and_mae():
    p = torch.tensor([[1.0, 2.0], [3.0, 5.0]], dtype=torch.float64)                   # [N=2, C=2]
    y = torch.tensor([[0.0, 0.0], [3.0, 1.0]], dtype=torch.float64)
    ident = get_activation("identity")
    torch.testing.assert_close(compute_loss("mse", ident, p, y, reduction="none"),
                               torch.tensor([2.5, 8.0], dtype=torch.float64))
    torch.testing.assert_close(compute_loss("mae", ident, p, y, reduction="none"),
                               torch.tensor([1.5, 2.0], dtype=torch.float64))
    assert float(compute_loss("mse", ident, p, y)) == pytest.approx((2.5 + 8.0) / 2)


# -- masks and reductions ------------------------------------------------------------------------
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("name,activation", [("mcxent", "softmax"), ("mse", "identity"), ("xent", "sigmoid")])
@pytest.mark.parametrize("reduction", ["per_sequence", "per_step", "sum", "per_example"])
def test_masked_reductions_equal_a_plain_loop(name, activation, reduction, device):
    z = torch.randn(3, 4, 5, dtype=torch.float64, device=device)
    y = _one_hot(3, 4, 5, device=device)
    mask = _mask(device)
    act = get_activation(activation)
    per_step = compute_loss(name, act, z, y, reduction="none").cpu()                 # unmasked [N, T]
    per_step_unmasked = get_loss(name).per_step(z, y, act).cpu()
    got = compute_loss(name, act, z, y, mask, reduction=reduction)
    want = _loop_reduce(per_step_unmasked, mask.cpu(), reduction)
    if reduction == "per_example":
        torch.testing.assert_close(got.cpu(), torch.tensor(want, dtype=torch.float64))
    else:
        assert float(got) == pytest.approx(want, rel=1e-12)
    assert torch.equal(per_step, per_step_unmasked)


def test_none_reduction_is_zero_at_masked_steps():
    z, y, mask = torch.randn(3, 4, 5, dtype=torch.float64), _one_hot(3, 4, 5), _mask()
    got = compute_loss("mcxent", get_activation("softmax"), z, y, mask, reduction="none")
    assert got.shape == (3, 5)
    assert torch.all(got[mask == 0] == 0)


def test_per_step_reduction_of_an_all_masked_batch_is_zero():
    z, y = torch.randn(2, 3, 4), _one_hot(2, 3, 4, dtype=torch.float32)
    got = compute_loss("mse", get_activation("identity"), z, y, torch.zeros(2, 4), reduction="per_step")
    assert float(got) == 0.0


def test_unmasked_per_step_divides_by_n_times_t():
    z, y = torch.randn(2, 3, 4, dtype=torch.float64), _one_hot(2, 3, 4)
    act = get_activation("softmax")
    per_seq = compute_loss("mcxent", act, z, y)
    per_step = compute_loss("mcxent", act, z, y, reduction="per_step")
    torch.testing.assert_close(per_step, per_seq / 4)


def test_feed_forward_labels_with_row_mask():
    z, y = torch.randn(4, 3, dtype=torch.float64), F.one_hot(torch.tensor([0, 2, 1, 1]), 3).double()
    act = get_activation("softmax")
    per_row = F.cross_entropy(z, y, reduction="none")
    m = torch.tensor([1.0, 0.0, 1.0, 1.0], dtype=torch.float64)
    want = (per_row * m).sum() / 4
    torch.testing.assert_close(compute_loss("mcxent", act, z, y, m), want)
    torch.testing.assert_close(compute_loss("mcxent", act, z, y, m[:, None]), want)
    torch.testing.assert_close(compute_loss("mcxent", act, z, y, m, reduction="per_step"),
                               per_row[m == 1].mean())


# -- DL4J cases ------------------------------------------------------------------------------------
@pytest.mark.parametrize("t", [3, 10])
@pytest.mark.parametrize("n_out", [1, 2, 5])
@pytest.mark.parametrize("n", [1, 4])
def test_dl4j_score_magnitudes(t, n_out, n):
    """dl4j.md §8 #4: zero weights, identity, MSE, labels all 1.

    Each real step costs (1/nOut) * sum_c (0 - 1)^2 = 1, so an example with
    ``n_masked`` masked steps sums to ``T - n_masked``. The per-sequence score
    is the batch's sum over real steps divided by N: with the same number of
    masked steps in every example it equals ``T - n_masked`` for any N.
    """
    layer = RnnOutput(n_out, 3, activation="identity", loss="mse").double()
    with torch.no_grad():
        layer.weight.zero_()
    x = torch.randn(n, 3, t, dtype=torch.float64)
    labels = torch.ones(n, n_out, t, dtype=torch.float64)
    for n_masked in range(t):
        mask = torch.ones(n, t, dtype=torch.float64)
        if n_masked:
            mask[:, t - n_masked:] = 0
        score = layer.score_input(x, labels, mask)
        assert score.item() == pytest.approx(t - n_masked)
        torch.testing.assert_close(layer.score_examples(layer.preactivation(x), labels, mask),
                                   torch.full((n,), float(t - n_masked), dtype=torch.float64))
    if n > 1:    # different masked counts per example: the score is the mean of T - n_masked_i
        mask = torch.ones(n, t, dtype=torch.float64)
        masked_counts = [min(i, t - 1) for i in range(n)]                    # 0, 1, 2, ... masked steps
        for i, k in enumerate(masked_counts):
            if k:
                mask[i, t - k:] = 0
        expected = sum(t - k for k in masked_counts) / n
        assert layer.score_input(x, labels, mask).item() == pytest.approx(expected)


@pytest.mark.parametrize("name,activation", [("mcxent", "softmax"), ("mse", "identity"),
                                             ("mae", "tanh"), ("xent", "sigmoid")])
def test_labels_at_masked_steps_change_neither_value_nor_gradient(name, activation):
    z0 = torch.randn(3, 4, 5, dtype=torch.float64)
    y = _one_hot(3, 4, 5)
    mask = _mask()
    act = get_activation(activation)
    y_other = y.clone()
    y_other[:, :, :][(mask == 0).unsqueeze(1).expand_as(y)] = float("nan")         # garbage where masked
    results = []
    for labels in (y, y_other, y * 7.0 * (mask.unsqueeze(1) == 0) + y * (mask.unsqueeze(1) != 0)):
        z = z0.clone().requires_grad_(True)
        loss = compute_loss(name, act, z, labels, mask)
        loss.backward()
        results.append((loss.detach(), z.grad))
    for loss, grad in results[1:]:
        assert torch.equal(loss, results[0][0])
        assert torch.equal(grad, results[0][1])
    assert torch.all(results[0][1].permute(0, 2, 1)[mask == 0] == 0)                 # no gradient there


def test_dl4j_variable_length_padding_gives_identical_score_and_gradients():
    """dl4j.md §8 #5: a length-4 batch vs the same padded to 5 with labels mask 0 at t=4."""
    layer = RnnOutput(3, 2, loss="mcxent").double()
    x = torch.randn(2, 2, 4, dtype=torch.float64)
    y = _one_hot(2, 3, 4)
    x5 = torch.cat([x, torch.randn(2, 2, 1, dtype=torch.float64)], dim=2)
    y5 = torch.cat([y, _one_hot(2, 3, 1, seed=3)], dim=2)
    mask5 = torch.tensor([[1, 1, 1, 1, 0]] * 2, dtype=torch.float64)
    scores, grads = [], []
    for xi, yi, mi in ((x, y, None), (x5, y5, mask5)):
        layer.zero_grad()
        s = layer.score_input(xi, yi, mi)
        s.backward()
        scores.append(s.detach())
        grads.append([p.grad.clone() for p in layer.parameters()])
    torch.testing.assert_close(scores[0], scores[1])
    for a, b in zip(*grads):
        torch.testing.assert_close(a, b)


# -- gradcheck ----------------------------------------------------------------------------------
@pytest.mark.parametrize("name,activation", [("mcxent", "softmax"), ("mcxent", "sigmoid"), ("mse", "tanh"),
                                             ("mae", "identity"), ("xent", "sigmoid"), ("xent", "softmax")])
@pytest.mark.parametrize("reduction", ["per_sequence", "per_step"])
def test_gradcheck(name, activation, reduction):
    z = torch.randn(2, 3, 5, dtype=torch.float64, requires_grad=True)
    y = torch.rand(2, 3, 5, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 0, 1, 0], [0, 1, 1, 1, 1]], dtype=torch.float64)
    act = get_activation(activation)
    assert torch.autograd.gradcheck(lambda v: compute_loss(name, act, v, y, mask, reduction=reduction), (z,))


# -- registry and errors --------------------------------------------------------------------------
def test_registry_names_and_aliases():
    assert LOSSES == ("mae", "mcxent", "mse", "nll", "xent")
    assert REDUCTIONS[0] == "per_sequence"
    assert get_loss("MCXENT").name == "mcxent"
    assert get_loss("NegativeLogLikelihood").name == "nll"
    assert get_loss("binary_crossentropy").name == "xent"
    loss = get_loss("mse")
    assert get_loss(loss) is loss
    assert isinstance(loss, Loss) and repr(loss) == "MeanSquaredError()"


def test_unknown_loss_lists_allowed_names():
    with pytest.raises(ValueError) as err:
        get_loss("hinge")
    for name in ("hinge",) + LOSSES:
        assert name in str(err.value)
    with pytest.raises(ValueError, match="allowed names"):
        get_loss(None)


def test_unknown_reduction():
    z, y = torch.randn(2, 3), torch.rand(2, 3)
    with pytest.raises(ValueError, match="reduction 'mean'.*per_sequence"):
        compute_loss("mse", get_activation("identity"), z, y, reduction="mean")


def test_sequence_length_mismatch_message():
    z, y = torch.randn(2, 3, 5), torch.rand(2, 3, 4)
    with pytest.raises(ValueError) as err:
        compute_loss("mse", get_activation("identity"), z, y, where="RnnOutput")
    msg = str(err.value).lower()
    for word in ("sequence length", "input", "label", "(2, 3, 5)", "(2, 3, 4)", "rnnoutput"):
        assert word in msg


def test_class_count_mismatch_names_both_shapes():
    with pytest.raises(ValueError, match=r"\(2, 4, 5\).*\(2, 3, 5\)"):
        compute_loss("mcxent", get_activation("softmax"), torch.randn(2, 3, 5), torch.rand(2, 4, 5))
    with pytest.raises(ValueError, match=r"\[N, C\] or \[N, C, T\]"):
        compute_loss("mse", get_activation("identity"), torch.randn(2), torch.rand(2))


def test_bad_mask_shapes():
    act = get_activation("identity")
    with pytest.raises(ValueError, match=r"labels mask must be \[N, T\].*\(2, 4\)"):
        compute_loss("mse", act, torch.randn(2, 3, 5), torch.rand(2, 3, 5), torch.ones(2, 4))
    with pytest.raises(ValueError, match=r"\[N\] or \[N, 1\]"):
        compute_loss("mse", act, torch.randn(2, 3), torch.rand(2, 3), torch.ones(3))
