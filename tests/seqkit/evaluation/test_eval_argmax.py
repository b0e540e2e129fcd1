"""The fast class-dimension argmax equals torch.argmax: ties, infinities, NaN, soft labels."""

import numpy as np
import torch

from seqkit import Evaluation
from seqkit.evaluation._argmax import class_argmax


def test_class_argmax_matches_torch_with_ties_and_infinities():
    g = torch.Generator().manual_seed(0)
    x = torch.randint(0, 4, (50, 7, 30), generator=g).float()                  # many ties
    x[0, 3, 0] = float("inf")
    x[2, 1:3, 0] = float("inf")
    x[1, :, 1] = float("-inf")
    for dtype in (torch.float32, torch.float64, torch.float16):
        values, index = class_argmax(x.to(dtype))
        assert torch.equal(index, x.argmax(dim=1)) and torch.equal(values, x.amax(dim=1).to(dtype))
    wide = torch.rand(3, 300, 4, generator=g)                                   # > 255 classes: plain max
    assert torch.equal(class_argmax(wide)[1], wide.argmax(dim=1))
    nan = torch.zeros(1, 3, 1)
    nan[0, 1, 0] = float("nan")
    values, index = class_argmax(nan)
    assert torch.isnan(values).all() and 0 <= int(index) < 3


def test_evaluation_uses_the_true_argmax_for_soft_labels():
    rng = np.random.default_rng(1)
    soft = rng.random((20, 5, 6)).astype(np.float32)
    preds = rng.random((20, 5, 6)).astype(np.float32)
    mask = (rng.random((20, 6)) < 0.8).astype(np.float32)
    ev = Evaluation().eval(soft, preds, mask)
    real = mask != 0
    expected = np.zeros((5, 5), np.int64)
    np.add.at(expected, (soft.argmax(1)[real], preds.argmax(1)[real]), 1)
    assert np.array_equal(ev.confusion_matrix(), expected)
    half = Evaluation().eval(torch.from_numpy(soft).half(), torch.from_numpy(preds).half(), mask)
    assert half.num_steps == int(real.sum())
