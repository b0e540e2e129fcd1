"""Truncated BPTT on sequences of 1,000+ steps: a per-step memory task (a noisy flip-flop).

Each sequence is a stream of noise on two channels in which, now and then, a
command appears: a pulse on channel 0 means "set", on channel 1 "reset". The
tag at every step is the state of a flip-flop: 1 when the last command seen
was "set", 0 when it was "reset" (or before the first command). Commands are
about 30 steps apart in training (a fifth of the gaps are over 50 steps) and
about 80 apart in the test sequences, so the tag often depends on something
much further back than one TBPTT segment.

With ``backprop="tbptt"`` and ``tbptt_length=50`` each minibatch of 1,200
steps is cut into 24 segments; each segment gets its own forward, backward
and optimizer step, and the LSTM state is carried (detached) from one
segment to the next (DL4J's truncated BPTT). The gradient never spans more
than 50 steps, yet the network learns to *hold* the state: holding is local
(keep the cell, ignore the noise), so it carries over any distance. The
script shows

- the training loss going down epoch by epoch (the seqkit ``ScoreListener``);
- per-step accuracy on test sequences of 3,000 steps (longer than training),
  also for steps 100+ and 200+ steps after the last command, i.e. beyond what
  any one gradient ever saw;
- the time of one epoch with TBPTT versus full BPTT over the 1,200 steps.

Run:
    python examples/tbptt_long_sequences.py            # full run, about 5 s on CPU
    python examples/tbptt_long_sequences.py --segment 100
    python examples/tbptt_long_sequences.py --smoke    # a tiny run, for the tests
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

import seqkit
from seqkit.layers import LSTM, RnnOutput


def flip_flop(n: int, steps: int, rng: np.random.Generator, *, mean_gap: float, noise: float = 0.1):
    """``n`` noisy flip-flop sequences of ``steps`` steps.

    Commands come about ``mean_gap`` steps apart (5 + a geometric gap), each
    a one-step pulse of 1.0 on channel 0 ("set") or channel 1 ("reset"), on
    top of Gaussian noise of standard deviation ``noise`` on both channels.

    Returns:
        features float32 ``[N, 2, T]``, one-hot labels float32 ``[N, 2, T]``,
        and ``since`` int64 ``[N, T]``: steps since the last command (-1 before the first).
    """
    features = rng.normal(0.0, noise, size=(n, 2, steps)).astype(np.float32)    # [N, 2, T]
    state = np.zeros((n, steps), dtype=np.int64)                                 # [N, T]
    since = np.full((n, steps), -1, dtype=np.int64)
    for i in range(n):
        t, marks = int(rng.geometric(1.0 / mean_gap)), []
        while t < steps:
            command = int(rng.integers(0, 2))                       # 1 = set, 0 = reset
            features[i, 0 if command else 1, t] += 1.0
            marks.append((t, command))
            t += int(rng.geometric(1.0 / mean_gap)) + 5
        for k, (t, command) in enumerate(marks):
            end = marks[k + 1][0] if k + 1 < len(marks) else steps
            state[i, t:end] = command
            since[i, t:end] = np.arange(end - t)
    labels = np.zeros((n, 2, steps), dtype=np.float32)
    np.put_along_axis(labels, state[:, None, :], 1.0, axis=1)
    return features, labels, since


def build(seed: int, backprop: str, segment: int) -> seqkit.Sequential:
    return seqkit.Sequential([
        LSTM(16),
        RnnOutput(2, activation="softmax", loss="mcxent"),
    ], input_type=seqkit.InputType.recurrent(2), seed=seed, updater="adam", learning_rate=0.02,
        backprop=backprop, tbptt_length=segment, loss_reduction="per_step", grad_clip=1.0)


def report(net, features, labels, since) -> float:
    """Per-step accuracy overall and for steps far after the last command."""
    pred = net.predict(features)                                       # [N, T]
    truth = labels.argmax(axis=1)
    correct = pred == truth
    parts = [f"all steps {correct.mean():.4f}"]
    for far in (100, 200):
        sel = since >= far
        if sel.any():
            parts.append(f"{far}+ steps after the last command {correct[sel].mean():.4f} "
                         f"({int(sel.sum())} steps)")
    print("test accuracy: " + ", ".join(parts))
    return float(correct.mean())


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--segment", type=int, default=50, help="tbptt_length")
    parser.add_argument("--steps", type=int, default=1200, help="training sequence length")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--smoke", action="store_true", help="a tiny run, for the tests")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1, see examples/README.md)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)      # small recurrent models: one thread is fastest
    n_train, steps, n_test, test_steps, epochs, batch = (64, args.steps, 16, 3000, args.epochs, 16)
    if args.smoke:
        n_train, steps, n_test, test_steps, epochs, batch = 8, 1000, 4, 1000, 1, 8

    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    x, y, _ = flip_flop(n_train, steps, rng, mean_gap=30)
    xt, yt, since = flip_flop(n_test, test_steps, rng, mean_gap=80)
    print(f"train: {n_train} sequences x {steps} steps; test: {n_test} x {test_steps} steps; "
          f"{y[:, 1].mean():.0%} of training steps are 'set'")

    net = build(args.seed, "tbptt", args.segment)
    print(net.summary())
    scores = seqkit.ScoreListener(10 ** 9)                          # prints each epoch's mean loss
    t0 = time.perf_counter()
    net.fit((x, y), epochs=epochs, batch_size=batch, shuffle=True, listeners=[scores], progress=False)
    tbptt_time = (time.perf_counter() - t0) / epochs
    losses = [mean for _, mean, _ in scores.epoch_history]
    print(f"training loss per epoch: {' -> '.join(f'{v:.4f}' for v in losses)}")
    print(f"{net.updates} optimizer steps: {net.iteration} minibatches x "
          f"{-(-steps // args.segment)} segments of {args.segment} steps")
    accuracy = report(net, xt, yt, since)

    # One epoch of full BPTT on the same data, for the time only.
    full = build(args.seed, "standard", args.segment)
    t0 = time.perf_counter()
    full.fit((x, y), epochs=1, batch_size=batch, shuffle=True, progress=False)
    full_time = time.perf_counter() - t0
    print(f"one epoch: TBPTT({args.segment}) {tbptt_time:.2f} s ({net.updates // epochs} updates), "
          f"full BPTT {full_time:.2f} s ({full.updates} updates)")
    print(f"done in {time.perf_counter() - start:.1f} s")
    return accuracy


if __name__ == "__main__":
    main()
    sys.exit(0)
