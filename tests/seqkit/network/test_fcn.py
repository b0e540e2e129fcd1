"""The FCN of Wang, Yan and Oates (2017) for time series classification, written with seqkit layers.

``Conv1D -> BatchNorm -> Activation`` three times (128, 256, 128 filters;
kernels 8, 5, 3), global average pooling, softmax: it builds from
``InputType.recurrent(F)``, trains on a padded batch, saves and loads to
identical outputs, and keeps padding from changing an example's result in
inference.
"""

from __future__ import annotations

import numpy as np
import torch

import seqkit
from seqkit import InputType, Sequential
from seqkit.layers import Activation, BatchNorm, Conv1D, GlobalPooling, Output

F, C = 3, 4


def fcn(**kwargs) -> Sequential:
    return Sequential([Conv1D(128, 8, padding="same"), BatchNorm(), Activation("relu"),
                       Conv1D(256, 5, padding="same"), BatchNorm(), Activation("relu"),
                       Conv1D(128, 3, padding="same"), BatchNorm(), Activation("relu"),
                       GlobalPooling("avg"), Output(C)], input_type=InputType.recurrent(F), **kwargs)


def padded_batch(seed=0):
    """6 examples of lengths 4..12, right or left padded, with junk in the padding."""
    rng = np.random.default_rng(seed)
    lengths, t = [12, 9, 4, 7, 12, 5], 12
    x = rng.normal(scale=5.0, size=(6, F, t)).astype(np.float32)          # junk everywhere first
    mask = np.zeros((6, t), np.float32)
    alone = []
    for i, n in enumerate(lengths):
        start = t - n if i % 2 else 0
        steps = rng.normal(size=(F, n)).astype(np.float32) + (i % C)       # class-dependent level
        x[i, :, start:start + n] = steps
        mask[i, start:start + n] = 1.0
        alone.append(steps)
    labels = np.eye(C, dtype=np.float32)[[i % C for i in range(6)]]
    return x, labels, mask, alone


def test_builds_with_the_papers_shapes():
    net = fcn(seed=0)
    assert net.output_shapes == [(128, None), (128, None), (128, None), (256, None), (256, None), (256, None),
                                 (128, None), (128, None), (128, None), (128,), (C,)]
    assert sum(p.numel() for p in net.parameters()) == (
        (F * 8 * 128 + 128) + 2 * 128 + (128 * 5 * 256 + 256) + 2 * 256 + (256 * 3 * 128 + 128) + 2 * 128
        + (128 * C + C))
    assert "GlobalPooling(128 -> 128, avg)" in net.summary()


def test_trains_on_a_padded_batch_then_saves_and_loads_to_identical_outputs(tmp_path):
    x, y, mask, _ = padded_batch()
    net = fcn(seed=1, learning_rate=1e-3)
    before = net.score((x, y, mask, None))
    bn = net.layers[1]
    net.fit((x, y, mask, None), epochs=8, batch_size=6, progress=False)
    after = net.score((x, y, mask, None))
    assert np.isfinite(after) and after < before
    assert not torch.equal(bn.running_mean, torch.zeros(128))             # statistics were tracked
    out = net.output(x, mask)
    assert out.shape == (6, C) and np.allclose(out.sum(1), 1.0, atol=1e-5)
    net.save(tmp_path / "fcn.seqkit")
    loaded = seqkit.load(tmp_path / "fcn.seqkit")
    np.testing.assert_array_equal(loaded.output(x, mask), out)
    for a, b in zip(loaded.state_dict().values(), net.state_dict().values()):
        assert torch.equal(a, b)
    loaded.fit((x, y, mask, None), epochs=1, batch_size=6, progress=False)   # training continues


def test_padding_changes_no_example_in_inference():
    x, y, mask, alone = padded_batch(seed=2)
    net = fcn(seed=3, dtype=torch.float64)
    net.fit((x.astype(np.float64), y, mask, None), epochs=2, batch_size=6, progress=False)
    out = net.output(x.astype(np.float64), mask)
    for i, steps in enumerate(alone):
        own = net.output(steps[None].astype(np.float64))[0]
        np.testing.assert_allclose(out[i], own, rtol=0, atol=1e-10)
