"""CNN + RNN on video clips: which way is the square moving? (the DL4J video example's model).

Each clip is ``T`` grey frames of 16 x 16 pixels: a bright 3 x 3 square moves
one pixel per frame right, left, down or up (the class), next to a dimmer
square that stays still, under pixel noise. A single frame cannot tell the
direction; the network has to compare frames, which is what the LSTM does
with the per-frame features the convolutions extract.

The network is the one on DL4J's recurrent page for video:

    Conv2D(3x3, relu) -> Subsampling2D(max 2x2) -> Conv2D(3x3, relu)
        -> Subsampling2D(max 2x2) -> LSTM -> RnnOutput(softmax)

built from ``InputType.convolutional(16, 16, 1)`` alone: seqkit sees that the
layers after the convolutions work on sequences, so the input is video
``[N, C, T, H, W]`` and a ``CnnToRnn`` preprocessor is inserted before the
LSTM (``net.summary()`` shows it as "inserted"). Labels are per frame,
``[N, 4, T]``, as in DL4J's example; the evaluation is per frame, and the
accuracy by frame index shows the first frames well below the later ones: the
direction shows only once the square has moved.

Run:
    python examples/cnn_rnn_video.py            # full run, about 10 s on CPU
    python examples/cnn_rnn_video.py --smoke    # a tiny run, for the tests
"""

from __future__ import annotations

import argparse
import sys
import time

import numpy as np
import torch

import seqkit
from seqkit.layers import LSTM, Conv2D, RnnOutput, Subsampling2D

SIZE, SQUARE = 16, 3
DIRECTIONS = ["right", "left", "down", "up"]
STEP = {0: (0, 1), 1: (0, -1), 2: (1, 0), 3: (-1, 0)}          # (drow, dcol) per frame


def make_clips(n: int, frames: int, rng: np.random.Generator):
    """``n`` clips ``[N, 1, T, 16, 16]`` float32 and per-frame one-hot labels ``[N, 4, T]``."""
    clips = rng.normal(0.0, 0.15, size=(n, 1, frames, SIZE, SIZE)).astype(np.float32)
    classes = rng.integers(0, 4, size=n)
    travel = frames - 1
    for i, c in enumerate(classes):
        dr, dc = STEP[int(c)]
        # a start from which the square stays inside the frame for the whole clip
        rows = range(max(0, -dr * travel), SIZE - SQUARE + 1 - max(0, dr * travel))
        cols = range(max(0, -dc * travel), SIZE - SQUARE + 1 - max(0, dc * travel))
        r0, c0 = int(rng.choice(rows)), int(rng.choice(cols))
        sr, sc = rng.integers(0, SIZE - SQUARE + 1, size=2)          # the still distractor
        clips[i, 0, :, sr:sr + SQUARE, sc:sc + SQUARE] += 0.6
        for t in range(frames):
            r, col = r0 + dr * t, c0 + dc * t
            clips[i, 0, t, r:r + SQUARE, col:col + SQUARE] += 1.0
    labels = np.zeros((n, 4, frames), dtype=np.float32)
    labels[np.arange(n), classes, :] = 1.0                            # the same class on every frame
    return clips, labels


def build(seed: int) -> seqkit.Sequential:
    return seqkit.Sequential([
        Conv2D(8, 3, activation="relu"),                  # [N, 1, T, 16, 16] -> [N, 8, T, 14, 14]
        Subsampling2D(2, pooling="max"),                  # -> [N, 8, T, 7, 7]
        Conv2D(16, 3, activation="relu"),                 # -> [N, 16, T, 5, 5]
        Subsampling2D(2, pooling="max"),                  # -> [N, 16, T, 2, 2]; CnnToRnn -> [N, 64, T]
        LSTM(32),
        RnnOutput(4, activation="softmax", loss="mcxent"),
    ], input_type=seqkit.InputType.convolutional(SIZE, SIZE, 1), seed=seed, updater="adam",
        learning_rate=0.005)


def main(argv=None) -> float:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=12)
    parser.add_argument("--frames", type=int, default=8)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--smoke", action="store_true", help="a tiny run, for the tests")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads (default 1, see examples/README.md)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)      # small recurrent models: one thread is fastest
    n_train, n_test, epochs = 1200, 300, args.epochs
    if args.smoke:
        n_train, n_test, epochs = 64, 32, 1
    start = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    x, y = make_clips(n_train, args.frames, rng)
    xt, yt = make_clips(n_test, args.frames, rng)
    print(f"clips: train {x.shape}, test {xt.shape} [N, C, T, H, W]; labels {y.shape} [N, 4, T]")

    net = build(args.seed)
    print(net.summary())
    net.fit((x, y), epochs=epochs, batch_size=32, shuffle=True,
            listeners=[seqkit.ScoreListener(10 ** 9)], progress=False)

    evaluation = net.evaluate((xt, yt), labels=DIRECTIONS)            # every frame of every clip
    print(evaluation.stats())
    by_frame = evaluation.accuracy_by_step("start")
    print("accuracy by frame: " + ", ".join(f"{int(t)}: {a:.2f}"
                                            for t, a in zip(by_frame.step, by_frame.accuracy)))
    last = (net.predict(xt)[:, -1] == yt[:, :, -1].argmax(axis=1)).mean()
    print(f"per-frame accuracy {evaluation.accuracy():.4f}; clip accuracy at the last frame "
          f"{last:.4f} ({time.perf_counter() - start:.1f} s)")
    return float(evaluation.accuracy())


if __name__ == "__main__":
    main()
    sys.exit(0)
