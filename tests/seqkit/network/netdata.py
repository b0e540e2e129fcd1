"""Shared helpers for the network tests: layers, small data sets, training recorders."""

from __future__ import annotations

import numpy as np
import torch

import seqkit
from seqkit.layers import GRU, LSTM, GravesLSTM, SimpleRNN

RECURRENT = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN, "GravesLSTM": GravesLSTM}

__all__ = ["GRU", "LSTM", "GravesLSTM", "SimpleRNN", "RECURRENT", "Recorder",
           "one_hot", "sequence_data", "params_of"]


def one_hot(classes: np.ndarray, n: int) -> np.ndarray:
    """``[N, T]`` (or ``[N]``) class indices -> one-hot ``[N, C, T]`` (or ``[N, C]``) float32."""
    eye = np.eye(n, dtype=np.float32)[classes]                       # [N, T, C] or [N, C]
    return np.moveaxis(eye, -1, 1) if classes.ndim == 2 else eye


def sequence_data(n=6, f=3, t=10, c=3, seed=0, *, per_step=True):
    """Random features ``[N, F, T]`` and labels (per step ``[N, C, T]`` or per sequence ``[N, C]``)."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, f, t)).astype(np.float32)
    if per_step:
        y = one_hot(rng.integers(0, c, (n, t)), c)
    else:
        y = one_hot(rng.integers(0, c, n), c)
    return x, y


class Recorder(seqkit.Listener):
    """Records every iteration's score (reads it from the device each time: tests only)."""

    def __init__(self):
        self.scores: list[float] = []
        self.iterations: list[int] = []

    def on_iteration_end(self, state) -> None:
        self.scores.append(state.score())
        self.iterations.append(state.iteration)


def params_of(net) -> dict[str, torch.Tensor]:
    """A detached copy of every parameter."""
    return {k: v.detach().clone() for k, v in net.named_parameters()}
