"""Sequential as a torch module: forward equals output, gradients flow, the own-loop recipe
(docs/network.md) trains, and DistributedDataParallel in a one-process gloo group trains
exactly like the network alone."""

from __future__ import annotations

import pathlib
import re

import numpy as np
import pytest
import torch

import seqkit
from seqkit import InputType, Sequential
from seqkit.layers import (GRU, LSTM, Bidirectional, Dense, GravesLSTM, LastTimeStep, Output, RnnOutput,
                           SimpleRNN, TimeDistributed)

DOCS = pathlib.Path(__file__).resolve().parents[3] / "docs" / "network.md"


def _stacks():
    return {
        "lstm-rnnoutput": [LSTM(5), GRU(4), RnnOutput(3)],
        "backwards-last": [GravesLSTM(5), LastTimeStep(SimpleRNN(4, go_backwards=True)), Dense(4),
                           Output(3)],
        "bidirectional": [Bidirectional(LSTM(4), mode="concat"), TimeDistributed(Dense(3)), RnnOutput(2)],
    }


@pytest.mark.parametrize("name", list(_stacks()))
def test_forward_in_eval_mode_equals_output_at_every_step(name):
    torch.manual_seed(0)
    net = Sequential(_stacks()[name], input_type=InputType.recurrent(3), seed=1, dtype=torch.float64)
    x = torch.randn(4, 3, 7, dtype=torch.float64)
    mask = torch.ones(4, 7, dtype=torch.float64)
    mask[1, 5:] = 0
    mask[2, :3] = 0                                                       # left padding too
    net.eval()
    with torch.no_grad():
        got = net(x, mask)
    want = net.output(x, mask)
    assert got.shape == want.shape
    torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_forward_gives_gradients_to_every_parameter_and_obeys_train_mode():
    net = Sequential([LSTM(6), LastTimeStep(GRU(5)), Dense(4), Output(2)], input_type=InputType.recurrent(3),
                     seed=0, dropout=0.5)
    x = torch.randn(2, 3, 5)
    net.train()
    out = net(x)
    assert out.shape == (2, 2) and out.requires_grad
    (out * torch.randn_like(out)).sum().backward()                       # softmax rows sum to 1
    missing = [n for n, p in net.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert missing == []
    torch.manual_seed(3)
    a = net(x)
    torch.manual_seed(4)
    b = net(x)
    assert not torch.equal(a, b)                                          # dropout in train mode
    net.eval()
    assert torch.equal(net(x), net(x))                                    # none in eval mode


def test_loss_equals_what_score_reports():
    """``net.loss`` is fit's objective: on a frozen network it equals ``net.score`` (labels mask
    given, and without it, from the features mask), from logits and from probabilities."""
    torch.manual_seed(0)
    net = Sequential([LSTM(5), RnnOutput(3)], input_type=InputType.recurrent(2), seed=0, dtype=torch.float64,
                     l2=1e-3)
    x = torch.randn(4, 2, 6, dtype=torch.float64)
    mask = torch.ones(4, 6, dtype=torch.float64)
    mask[0, 4:] = 0
    y = torch.nn.functional.one_hot(torch.randint(0, 3, (4, 6)), 3).permute(0, 2, 1).double()
    want = net.score((x, y, mask, mask))
    net.eval()
    with torch.no_grad():
        from_logits = float(net.loss(net(x, mask, logits=True), y, mask, logits=True))
        from_probs = float(net.loss(net(x, mask), y, mask))
        from_features_mask = float(net.loss(net(x, mask, logits=True), y, mask=mask, logits=True))
    assert from_logits == pytest.approx(want, rel=1e-6)
    assert from_probs == pytest.approx(want, rel=1e-6)
    assert from_features_mask == pytest.approx(want, rel=1e-6)


def test_loss_without_a_mask_counts_the_reversed_steps_after_a_backwards_layer():
    net = Sequential([LSTM(4, go_backwards=True), RnnOutput(2)], input_type=InputType.recurrent(2), seed=0,
                     dtype=torch.float64)
    x = torch.randn(1, 2, 5, dtype=torch.float64)
    mask = torch.tensor([[1.0, 1, 1, 0, 0]], dtype=torch.float64)
    y = torch.tensor([[[1.0, 0, 1, 0, 1], [0, 1, 0, 1, 0]]], dtype=torch.float64)
    net.eval()
    with torch.no_grad():
        out = net(x, mask, logits=True)
        got = float(net.loss(out, y, mask=mask, logits=True))
        want = float(net.loss(out, y, mask.flip(1), logits=True))        # the output's real steps: 2, 3, 4
        wrong = float(net.loss(out, y, mask, logits=True))
    assert got == pytest.approx(want) and got != pytest.approx(wrong)


def _recipe_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", DOCS.read_text(), flags=re.S)


def test_own_loop_recipe_in_the_docs_trains():
    code = _recipe_blocks()[0]
    assert len(code.strip().splitlines()) <= 20
    scope: dict = {}
    exec(compile(code, str(DOCS), "exec"), scope)                          # noqa: S102 - our own docs
    net, x, y, mask = scope["net"], scope["x"], scope["y"], scope["mask"]
    fresh = Sequential([LSTM(16), RnnOutput(3)], input_type=InputType.recurrent(4), seed=0)
    assert net.score((x, y, mask, mask)) < 0.8 * fresh.score((x, y, mask, mask))
    torch.testing.assert_close(scope["probabilities"], net.output(x, mask))


def _train(net, model, x, y, mask, steps=5):
    opt = torch.optim.SGD(net.parameters(), lr=0.1)
    net.train()
    for _ in range(steps):
        opt.zero_grad()
        net.loss(model(x, mask, logits=True), y, mask, logits=True).backward()
        opt.step()


def test_distributed_data_parallel_in_a_one_process_gloo_group_trains_like_the_network(tmp_path):
    import torch.distributed as dist

    torch.manual_seed(0)
    x = torch.randn(6, 3, 8)
    mask = torch.ones(6, 8)
    mask[:3, 6:] = 0
    y = torch.nn.functional.one_hot(torch.randint(0, 2, (6, 8)), 2).permute(0, 2, 1).float()
    plain = Sequential([LSTM(5), GRU(4), RnnOutput(2)], input_type=InputType.recurrent(3), seed=7)
    wrapped = Sequential([LSTM(5), GRU(4), RnnOutput(2)], input_type=InputType.recurrent(3), seed=7)
    dist.init_process_group("gloo", init_method=f"file://{tmp_path / 'rendezvous'}", rank=0, world_size=1)
    try:
        ddp = torch.nn.parallel.DistributedDataParallel(wrapped)
        _train(wrapped, ddp, x, y, mask)
    finally:
        dist.destroy_process_group()
    _train(plain, plain, x, y, mask)
    for (name, a), b in zip(plain.named_parameters(), wrapped.parameters()):
        torch.testing.assert_close(a, b, msg=name)
    initial = Sequential([LSTM(5), GRU(4), RnnOutput(2)], input_type=InputType.recurrent(3), seed=7)
    assert not torch.equal(next(initial.parameters()), next(plain.parameters()))    # it did train


def test_public_names_are_importable_from_seqkit_as_before():
    for name in ("Sequential", "load", "InputType", "options", "Listener", "Checkpoint", "EarlyStopping",
                 "ProgressBar", "ScoreListener", "NonFiniteLossError", "ModelFileError", "ConfigError"):
        assert getattr(seqkit, name) is getattr(seqkit.network, name, getattr(seqkit, name))
    assert np.all([name in seqkit.__all__ for name in ("Sequential", "load", "network")])
