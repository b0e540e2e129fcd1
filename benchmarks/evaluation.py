"""Masked classification evaluation: seqkit.Evaluation against scikit-learn's confusion_matrix.

Workload: 10M real (unmasked) steps, 10 classes, as NCL chunks of 256
sequences x 1000 steps with float32 softmax-like scores ``[N, C, T]``,
one-hot float32 labels ``[N, C, T]`` and an ``[N, T]`` mask (lengths 500..1000,
so about a quarter of the slots are padding). Both sides start from the same
numpy arrays, chunk by chunk:

* seqkit: ``Evaluation.eval(labels, predictions, mask)`` per chunk (which also
  keeps accuracy by step and by length), then ``confusion_matrix()``;
* scikit-learn, end to end: per chunk ``argmax`` of labels and predictions and
  masked selection with numpy, then one ``confusion_matrix`` on the
  concatenated flat arrays (the fair comparison: both produce the matrix from
  the model's output);
* scikit-learn, matrix only: ``confusion_matrix`` on the already flattened,
  masked integer arrays (argmax and masking excluded from its time).

Each timing is the best of ``--repeat`` runs, the three sides alternating.
seqkit runs with one torch thread by default (``--threads``), like numpy and
scikit-learn here. The ratio is reported against both scikit-learn timings;
the target is seqkit >= 5x faster end to end.

    .venv/bin/python benchmarks/evaluation.py            # prints the table, updates RESULTS.md
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seqkit import Evaluation  # noqa: E402

RESULTS = Path(__file__).with_name("RESULTS.md")


def make_chunks(steps: int, classes: int, n: int, t: int, seed: int):
    """Chunks (labels, predictions, mask) holding ``steps`` real steps in all."""
    rng = np.random.default_rng(seed)
    chunks, real = [], 0
    while real < steps:
        lengths = rng.integers(t // 2, t + 1, size=n)
        mask = (np.arange(t)[None, :] < lengths[:, None]).astype(np.float32)         # [N, T]
        extra = real + int(mask.sum()) - steps
        if extra > 0:                                                                 # trim the last chunk
            rows = np.flatnonzero(mask.sum(1) > 0)
            mask[rows[-1], :] = 0
            mask[rows[-1], :max(int(lengths[rows[-1]]) - extra, 0)] = 1
        classes_nt = rng.integers(0, classes, size=(n, t))
        labels = np.zeros((n, classes, t), np.float32)                                # one-hot [N, C, T]
        np.put_along_axis(labels, classes_nt[:, None, :], 1.0, axis=1)
        preds = rng.random((n, classes, t), dtype=np.float32) + 0.3 * labels           # [N, C, T]
        preds /= preds.sum(1, keepdims=True)
        chunks.append((labels, preds, mask))
        real += int(mask.sum())
    return chunks


def run_seqkit(chunks, classes: int) -> np.ndarray:
    ev = Evaluation(num_classes=classes)
    for labels, preds, mask in chunks:
        ev.eval(labels, preds, mask)
    return ev.confusion_matrix()


def flatten_numpy(chunks) -> tuple[np.ndarray, np.ndarray]:
    y_true, y_pred = [], []
    for labels, preds, mask in chunks:
        real = mask != 0
        y_true.append(labels.argmax(1)[real])
        y_pred.append(preds.argmax(1)[real])
    return np.concatenate(y_true), np.concatenate(y_pred)


def run_sklearn_end_to_end(chunks, classes: int) -> np.ndarray:
    from sklearn.metrics import confusion_matrix
    y_true, y_pred = flatten_numpy(chunks)
    return confusion_matrix(y_true, y_pred, labels=np.arange(classes))


def write_section(text: str) -> None:
    """Replace (or append) the ``## Evaluation`` section of RESULTS.md, leaving other sections alone."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(r"^## Evaluation\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(old):
        new = pattern.sub(lambda _: text, old, count=1)
    else:
        new = old.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(new.rstrip("\n") + "\n", encoding="utf-8")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=10_000_000, help="real (unmasked) steps in all")
    parser.add_argument("--classes", type=int, default=10)
    parser.add_argument("--sequences", type=int, default=256, help="sequences per chunk")
    parser.add_argument("--length", type=int, default=1000, help="padded steps per chunk")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1,
                        help="torch threads for seqkit (default 1: numpy and scikit-learn use one core here)")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    args = parser.parse_args()

    load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    shared = " (the machine was shared: absolute times are noisy, the alternating runs keep the ratios fair)" \
        if os.getloadavg()[0] > (os.cpu_count() or 1) else ""
    chunks = make_chunks(args.steps, args.classes, args.sequences, args.length, args.seed)
    slots = sum(m.size for _, _, m in chunks)
    real = int(sum(m.sum() for _, _, m in chunks))
    from sklearn.metrics import confusion_matrix
    y_true, y_pred = flatten_numpy(chunks)

    torch.set_num_threads(args.threads)
    sides = {
        "seqkit": lambda: run_seqkit(chunks, args.classes),
        "e2e": lambda: run_sklearn_end_to_end(chunks, args.classes),
        "cm": lambda: confusion_matrix(y_true, y_pred, labels=np.arange(args.classes)),
    }
    times = {k: float("inf") for k in sides}
    results = {}
    for _ in range(args.repeat):                          # the sides alternate, so load drift hits all alike
        for name, fn in sides.items():
            start = time.perf_counter()
            results[name] = fn()
            times[name] = min(times[name], time.perf_counter() - start)
    if not all(np.array_equal(results["seqkit"], results[k]) for k in ("e2e", "cm")):
        print("ERROR: the confusion matrices differ", file=sys.stderr)
        return 1
    t_seqkit, t_e2e, t_cm = times["seqkit"], times["e2e"], times["cm"]

    rows = [
        ("seqkit `Evaluation.eval` per chunk, then `confusion_matrix()`", t_seqkit),
        ("scikit-learn end to end: numpy argmax + mask per chunk, one `confusion_matrix`", t_e2e),
        ("scikit-learn `confusion_matrix` only, on prepared flat int arrays", t_cm),
    ]
    table = ["| what | seconds | real steps/s | time / seqkit |", "|:---|---:|---:|---:|"]
    for name, seconds in rows:
        table.append(f"| {name} | {seconds:.3f} | {real / seconds / 1e6:.1f} M | {seconds / t_seqkit:.1f}x |")
    verdict = "met" if t_e2e / t_seqkit >= 5 else "NOT met"
    text = "\n".join([
        "## Evaluation", "",
        f"`.venv/bin/python benchmarks/evaluation.py` (best of {args.repeat}): {real:,} real steps "
        f"({slots:,} slots with padding), {args.classes} classes, chunks of {args.sequences} x {args.length} "
        f"float32 `[N, C, T]` scores, one-hot float32 labels and an `[N, T]` mask. "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs, torch {torch.__version__} "
        f"with {args.threads} thread(s) (numpy and scikit-learn run on one core), CPU only; load average at "
        f"start {load}{shared}.", "",
        *table, "",
        f"Target (seqkit >= 5x faster than scikit-learn end to end): {verdict} "
        f"({t_e2e / t_seqkit:.1f}x). Against `confusion_matrix` alone, with argmax and masking done for it "
        f"beforehand and not timed: {t_cm / t_seqkit:.1f}x. seqkit's time also covers accuracy by time step and "
        "by sequence length, which scikit-learn does not compute. All confusion matrices are identical.", ""])
    print(text)
    if not args.no_write:
        write_section(text)
        print(f"updated {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
