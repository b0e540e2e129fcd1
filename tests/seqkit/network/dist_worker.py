"""One rank of the torch.distributed tests (run by test_distributed.py with RANK/WORLD_SIZE set).

Usage: python dist_worker.py MODE OUT_DIR [options as JSON]. Writes OUT_DIR/rank{R}.pt with the
final parameters and the losses the listeners saw.
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np
import torch

import seqkit
from seqkit.layers import GRU, LSTM, LastTimeStep, Output, RnnOutput

torch.set_num_threads(1)


def data(n: int, t: int, per_step: bool, seed: int = 0):
    """Uneven lengths (right padding), 3 features, 2 classes."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, 3, t)).astype(np.float64)
    lengths = rng.integers(2, t + 1, size=n)
    mask = (np.arange(t)[None, :] < lengths[:, None]).astype(np.float64)
    x *= mask[:, None, :]
    if per_step:
        y = np.zeros((n, 2, t))
        y[np.arange(n)[:, None], (x[:, 0] > 0).astype(int), np.arange(t)[None, :]] = 1.0
        return x, y * mask[:, None, :], mask, mask
    y = np.zeros((n, 2))
    y[np.arange(n), (x[:, 0].sum(1) > 0).astype(int)] = 1.0
    return x, y, mask, None


def network(options: dict):
    per_step = options["per_step"]
    layers = [LSTM(6), GRU(5), RnnOutput(2)] if per_step else [LSTM(6), LastTimeStep(GRU(5)), Output(2)]
    kwargs = dict(input_type=seqkit.InputType.recurrent(3), seed=3, dtype=torch.float64, learning_rate=0.05,
                  loss_reduction=options["reduction"], grad_clip=options.get("grad_clip"), l2=options.get("l2", 0.0))
    if options.get("tbptt"):
        kwargs.update(backprop="tbptt", tbptt_length=4)
    return seqkit.Sequential(layers, **kwargs)


class Losses(seqkit.Listener):
    def __init__(self, die_at=None):
        self.values, self.die_at = [], die_at

    def on_iteration_end(self, state):
        self.values.append(state.score())
        if self.die_at is not None and state.iteration == self.die_at:
            os._exit(3)                                              # a rank that fails mid-epoch


def main() -> None:
    mode, out = sys.argv[1], sys.argv[2]
    options = json.loads(sys.argv[3]) if len(sys.argv) > 3 else {}
    rank = int(os.environ.get("RANK", "0"))
    x, y, fm, lm = data(options["n"], options["t"], options["per_step"])
    net = network(options)
    losses = Losses(die_at=options.get("die_at") if rank == options.get("die_rank", -1) else None)
    arrays = (x, y, fm, lm) if lm is not None else (x, y, fm)
    extra = {}
    if mode == "resume":
        extra["resume_from"] = options["resume_from"]
    listeners = [losses]
    if options.get("checkpoint_dir"):
        listeners.append(seqkit.Checkpoint(options["checkpoint_dir"], every_iterations=options["checkpoint_every"],
                                           every_epochs=None, keep_last=None))
    net.fit(arrays, epochs=options["epochs"], batch_size=options["batch_size"], shuffle=True, progress=False,
            listeners=listeners, **extra)
    result = {"params": {k: v.clone() for k, v in net.state_dict().items()}, "losses": losses.values,
              "iteration": net.iteration}
    if options.get("evaluate"):
        ev = net.evaluate(arrays)
        result["confusion"] = torch.as_tensor(np.asarray(ev.confusion_matrix()))
        result["score"] = net.score(arrays)
    torch.save(result, os.path.join(out, f"rank{rank}.pt"))


if __name__ == "__main__":
    main()
