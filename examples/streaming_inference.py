"""Step-by-step inference with rnn_time_step: state saved, cleared, restored, identical to output().

A model that tags every step of a stream (here: "is the running sum of
channel 0 positive?", learnt in a few seconds) usually has to answer one step
at a time, as the values arrive, and sometimes has to stop and resume: a
server restarts, a device reconnects. seqkit's ``rnn_time_step`` (DL4J's
``rnnTimeStep``) keeps each recurrent layer's state between calls, so

1. the streamed outputs, one step per call, are the outputs ``net.output``
   gives on the whole sequences at once;
2. halfway through, the states are read with ``net.rnn_get_previous_state(i)``
   and written to disk next to the model file (``net.save``);
3. the stored states are cleared (``rnn_clear_previous_state``): continuing
   from zeros gives different outputs, which the script shows;
4. a fresh copy of the model is loaded (``seqkit.load``), the saved states are
   set (``rnn_set_previous_state``) and streaming continues, in chunks of
   several steps this time: the outputs match ``net.output`` again.

The script prints the largest absolute difference to ``net.output`` for each
part and checks it with ``numpy.allclose``.

Run:
    python examples/streaming_inference.py            # a few seconds
    python examples/streaming_inference.py --smoke    # even shorter, for the tests
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time

import numpy as np
import torch

import seqkit
from seqkit.layers import GRU, LSTM, Dense, RnnOutput


def running_sign(n: int, steps: int, rng: np.random.Generator):
    """Features ``[N, 2, T]`` (channel 1 is noise) and one-hot labels ``[N, 2, T]``: cumsum(ch 0) > 0."""
    x = rng.normal(0.0, 1.0, size=(n, 2, steps)).astype(np.float32)
    positive = (np.cumsum(x[:, 0], axis=1) > 0).astype(np.int64)         # [N, T]
    y = np.zeros((n, 2, steps), dtype=np.float32)
    np.put_along_axis(y, positive[:, None, :], 1.0, axis=1)
    return x, y


def build(seed: int) -> seqkit.Sequential:
    return seqkit.Sequential([
        LSTM(24),                                   # layer 0: state {"h", "c"}
        Dense(16, activation="tanh"),               # layer 1: no state (applied per step)
        GRU(16),                                    # layer 2: state {"h"}
        RnnOutput(2, activation="softmax"),         # layer 3
    ], input_type=seqkit.InputType.recurrent(2), seed=seed, updater="adam", learning_rate=0.01)


def check(name: str, streamed: np.ndarray, full: np.ndarray) -> float:
    diff = float(np.abs(streamed - full).max())
    same = np.allclose(streamed, full, atol=1e-5)
    print(f"{name}: max |streamed - output()| = {diff:.2e} -> {'identical' if same else 'DIFFERENT'}")
    return diff


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--steps", type=int, default=200, help="steps of the streamed sequences")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--smoke", action="store_true", help="a tiny run, for the tests")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1, see examples/README.md)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)      # small recurrent models: one thread is fastest
    n_train, train_steps, epochs, steps = 256, 100, args.epochs, args.steps
    if args.smoke:
        n_train, train_steps, epochs, steps = 32, 40, 1, 40
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)

    net = build(args.seed)
    print(net.summary())
    x, y = running_sign(n_train, train_steps, rng)
    net.fit((x, y), epochs=epochs, batch_size=32, shuffle=True, progress=False)

    # Four streams, answered one step at a time.
    stream, labels = running_sign(4, steps, rng)
    full = net.output(stream)                                            # [4, 2, T]: the reference
    accuracy = float((full.argmax(axis=1) == labels.argmax(axis=1)).mean())
    print(f"trained {epochs} epochs; per-step accuracy on the streams: {accuracy:.3f}")
    half = steps // 2
    recurrent = [0, 2]                                                   # the layers with state

    net.rnn_clear_previous_state()
    first = np.stack([net.rnn_time_step(stream[:, :, t]) for t in range(half)], axis=2)   # [4, 2, half]
    worst = check(f"steps 0..{half - 1}, one per call", first, full[:, :, :half])

    # Save the model and the states reached after `half` steps.
    saved = {i: net.rnn_get_previous_state(i) for i in recurrent}
    for i, state in saved.items():
        print(f"  layer {i} state: " + ", ".join(f"{k} {tuple(v.shape)}" for k, v in state.items()))
    with tempfile.TemporaryDirectory(prefix="seqkit-stream-") as tmp:
        model_path = os.path.join(tmp, "model.seqkit")
        state_path = os.path.join(tmp, "states.npz")
        net.save(model_path)
        np.savez(state_path, **{f"{i}/{k}": v.numpy() for i, s in saved.items() for k, v in s.items()})

        # Without the state the second half starts from zeros: different outputs.
        net.rnn_clear_previous_state()
        cold = net.rnn_time_step(stream[:, :, half:])
        print(f"steps {half}..{steps - 1} after rnn_clear_previous_state(): max |diff| = "
              f"{float(np.abs(cold - full[:, :, half:]).max()):.3f} (the state matters)")

        # A fresh process would do this: load the model, set the states, continue.
        resumed = seqkit.load(model_path)
        stored = np.load(state_path)
        for i in recurrent:
            resumed.rnn_set_previous_state(i, {k: stored[f"{i}/{k}"]
                                               for k in resumed.layers[i].state_keys})
        chunks = [resumed.rnn_time_step(stream[:, :, t:t + 7]) for t in range(half, steps, 7)]
        second = np.concatenate(chunks, axis=2)                          # [4, 2, steps - half]
    worst = max(worst, check(f"steps {half}..{steps - 1}, restored, chunks of 7", second,
                             full[:, :, half:]))
    streamed = np.concatenate([first, second], axis=2)
    worst = max(worst, check("whole stream", streamed, full))
    print(f"max abs diff {worst:.2e}; done in {time.perf_counter() - start:.1f} s")
    if not np.allclose(streamed, full, atol=1e-5):
        raise SystemExit("streamed outputs differ from net.output")
    return worst


if __name__ == "__main__":
    main()
    sys.exit(0)
