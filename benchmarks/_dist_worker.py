"""One rank of benchmarks/distributed.py: trains a masked LSTM classifier on array data and prints the
sequences per second it saw (run with RANK/WORLD_SIZE set, or alone)."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import seqkit  # noqa: E402
from seqkit.layers import LSTM, LastTimeStep, Output  # noqa: E402


def main() -> None:
    options = json.loads(sys.argv[1])
    torch.set_num_threads(1)
    rng = np.random.default_rng(0)
    n, t, f = options["n"], options["t"], options["f"]
    x = rng.normal(size=(n, f, t)).astype(np.float32)
    lengths = rng.integers(t // 2, t + 1, size=n)
    mask = (np.arange(t)[None, :] < lengths[:, None]).astype(np.float32)
    y = np.eye(4, dtype=np.float32)[rng.integers(0, 4, size=n)]
    net = seqkit.Sequential([LSTM(64), LastTimeStep(LSTM(32)), Output(4)],
                            input_type=seqkit.InputType.recurrent(f), seed=1)
    net.fit((x[:64], y[:64], mask[:64]), epochs=1, batch_size=options["batch"], progress=False)   # warm-up
    start = time.perf_counter()
    net.fit((x, y, mask), epochs=options["epochs"], batch_size=options["batch"], shuffle=True, progress=False)
    seconds = time.perf_counter() - start
    if int(os.environ.get("RANK", "0")) == 0:
        print(json.dumps({"seconds": seconds, "sequences": n * options["epochs"]}))


if __name__ == "__main__":
    main()
