"""Masked recurrent training steps: seqkit against Keras 3 (torch backend) and bare torch.nn.

One training step = forward over a right-padded batch, mean-square loss over
the ``[N, H, T]`` (or ``[N, T, H]``) outputs, backward. Lengths are drawn
uniformly from 40%-100% of T. Sides, all on the same data, in one process:

* seqkit ``LSTM`` / ``GRU`` / ``SimpleRNN`` / ``GravesLSTM`` with the mask
  (``[N, F, T]`` input, ``[N, T]`` mask kept on the CPU as batches arrive);
* Keras 3 ``LSTM`` / ``GRU`` / ``SimpleRNN`` on the torch backend with the same
  boolean mask (``[N, T, F]`` input);
* bare ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` (``batch_first``) on the same padded
  tensor with no masking at all (the cost floor of the fused kernel);
* GravesLSTM (peepholes, no fused kernel) against bare ``torch.nn.LSTM`` of the
  same size; for information, ``GRU(reset_after=False)`` (hand-written loop)
  against bare ``torch.nn.GRU``.

Timing: the sides of one comparison alternate in rounds after a warm-up; each
round times a few steps; the table shows the median per-step time over the
rounds. ratio = peer time / seqkit time (> 1: seqkit faster). Targets: vs Keras
>= 5x (small shape) and >= 2x (large); vs bare torch >= 0.85x; GravesLSTM vs
nn.LSTM >= 0.4x.

With ``--device cuda`` (section "## Layers (CUDA)") the sides are different:
masked seqkit ``LSTM`` / ``GRU`` against bare ``nn.LSTM`` / ``nn.GRU`` on cuDNN
(unmasked), with seqkit in its default float32 mode ("ieee": cuDNN in IEEE
float32, info only, since torch's default lets cuDNN use TF32), in "tf32" mode
(the same precision as the bare side; target >= 0.85x) and both sides under
bf16 autocast (info); and the launch-bound hand-written loops (GravesLSTM,
``GRU(reset_after=False)``, LSTM on a mask with gaps) with compiled steps
against the same loops eager (``seqkit.layers.set_compiled_steps``; info,
ratio > 1: compiled faster). Keras is left out on CUDA unless ``--keras``.

Compile rows (CPU, small shape, info): the same masked training step through a
``Sequential`` run eagerly (the "seqkit" side) against the same network after
``net.compile()`` (inductor) with ``recurrent="eager"`` (recurrent layers run
outside the graph on their fast path) and, for LSTM, ``recurrent="scan"`` (the
device-only scan inside the graph; GRU is refused there with inductor, so its
scan row uses ``backend="aot_eager"``). As in every row, ratio = peer time /
seqkit time, so > 1 means the eager network is faster than the compiled one.
The first compiled calls (compilation) are in the warm-up, not in the times.

    .venv/bin/python benchmarks/layers.py            # full run (about 1-2 min quiet), updates RESULTS.md
    .venv/bin/python benchmarks/layers.py --quick    # a smoke run, prints only
    .venv/bin/python benchmarks/layers.py --device cuda --quick    # the CUDA table (make gpu-check)
"""

from __future__ import annotations

import argparse
import contextlib
import os
import platform
import re
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("KERAS_BACKEND", "torch")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from seqkit.layers import (GRU, LSTM, GravesLSTM, SimpleRNN, compiled_steps_enabled,  # noqa: E402
                           float32_precision, set_compiled_steps)

RESULTS = Path(__file__).with_name("RESULTS.md")
SHAPES = {"small": (32, 12, 29, 64), "large": (64, 32, 100, 128)}   # N, F, T, H
OURS = {"LSTM": LSTM, "GRU": GRU, "SimpleRNN": SimpleRNN, "GravesLSTM": GravesLSTM,
        "GRU(reset_after=False)": lambda h, f: GRU(h, f, reset_after=False)}
BARE = {"LSTM": torch.nn.LSTM, "GRU": torch.nn.GRU, "SimpleRNN": torch.nn.RNN,
        "GravesLSTM": torch.nn.LSTM, "GRU(reset_after=False)": torch.nn.GRU}
TARGET_KERAS = {"small": 5.0, "large": 2.0}
TARGET_BARE = 0.85
TARGET_GRAVES = 0.4


def make_batch(n: int, f: int, t: int, seed: int = 0):
    """Features ``[N, F, T]``, a right-padded float mask ``[N, T]`` (lengths 40%-100% of T)."""
    g = torch.Generator().manual_seed(seed)
    lengths = torch.randint(int(0.4 * t), t + 1, (n,), generator=g)
    mask = (torch.arange(t)[None, :] < lengths[:, None]).float()
    x = torch.randn(n, f, t, generator=g) * mask[:, None, :]
    return x, mask


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def time_steps(step, device: str, n: int) -> float:
    """Seconds per step over ``n`` steps."""
    sync(device)
    start = time.perf_counter()
    for _ in range(n):
        step()
    sync(device)
    return (time.perf_counter() - start) / n


def compare(sides: dict, device: str, rounds: int, per_round: dict) -> dict[str, float]:
    """Median seconds per step of each side, the sides alternating in rounds."""
    for name, step in sides.items():                                     # warm-up
        time_steps(step, device, max(1, per_round[name] // 2))
    samples = {name: [] for name in sides}
    for _ in range(rounds):
        for name, step in sides.items():
            samples[name].append(time_steps(step, device, per_round[name]))
    return {name: statistics.median(v) for name, v in samples.items()}


def seqkit_step(kind: str, x, mask, h: int, device: str, *, bf16: bool = False, float32: str | None = None,
                compiled: bool | None = None):
    """One seqkit training step; ``bf16``: under bf16 autocast; ``float32``: in that float32 mode;
    ``compiled``: with the compiled loop steps on or off."""
    layer = OURS[kind](h, x.shape[1]).to(device)
    x = x.to(device)

    def step():
        y = layer(x, mask)                                               # mask stays on the host
        y.float().square().mean().backward()

    if not bf16 and float32 is None and compiled is None:
        return step

    def run():
        with contextlib.ExitStack() as stack:
            if bf16:
                stack.enter_context(torch.autocast(torch.device(device).type, dtype=torch.bfloat16))
            if float32 is not None:
                stack.enter_context(float32_precision(float32))
            if compiled is not None:
                previous = compiled_steps_enabled()
                set_compiled_steps(compiled)
                stack.callback(set_compiled_steps, previous)
            step()
    return run


def bare_step(kind: str, x, h: int, device: str, *, bf16: bool = False):
    rnn = BARE[kind](x.shape[1], h, batch_first=True).to(device)
    x_ntf = x.permute(0, 2, 1).contiguous().to(device)                   # [N, T, F]

    def step():
        with torch.autocast(torch.device(device).type, dtype=torch.bfloat16, enabled=bf16):
            y, _ = rnn(x_ntf)
        y.float().square().mean().backward()
    return step


def keras_step(kind: str, x, mask, h: int, device: str):
    import keras
    layer = getattr(keras.layers, kind)(h, return_sequences=True)
    x_ntf = x.permute(0, 2, 1).contiguous().to(device)
    layer.build(tuple(x_ntf.shape))
    bool_mask = mask.bool().to(device)

    def step():
        y = layer(x_ntf, mask=bool_mask, training=True)
        y.square().mean().backward()
    return step


def gapped(mask: torch.Tensor) -> torch.Tensor:
    """``mask`` with a two-step gap inside every third example (forces the masked loops)."""
    out = mask.clone()
    out[::3, 2:4] = 0
    return out


def run_cuda(quick: bool, device: str, keras: bool) -> list[dict]:
    """The CUDA table (see the module docstring)."""
    rows = []
    for shape_name, (n, f, t, h) in SHAPES.items():
        x, mask = make_batch(n, f, t)
        small = shape_name == "small"
        rounds = 3 if quick else (30 if small else 10)
        per = {"seqkit": 20 if small else 5, "bare": 20 if small else 5}
        for kind in ("LSTM", "GRU"):
            bare = bare_step(kind, x, h, device)
            for label, ours, target in (
                    ("ieee", seqkit_step(kind, x, mask, h, device, float32="ieee"), None),
                    ("tf32", seqkit_step(kind, x, mask, h, device, float32="tf32"), TARGET_BARE)):
                times = compare({"seqkit": ours, "bare": bare}, device, rounds, per)
                rows.append(_row(f"{kind} [{label}]", shape_name,
                                 f"bare torch.nn.{BARE[kind].__name__}, cuDNN, torch defaults (no mask)",
                                 times, target))
                print(rows[-1]["line"], flush=True)
            times = compare({"seqkit": seqkit_step(kind, x, mask, h, device, bf16=True),
                             "bare": bare_step(kind, x, h, device, bf16=True)}, device, rounds, per)
            rows.append(_row(f"{kind} [bf16 autocast]", shape_name,
                             f"bare torch.nn.{BARE[kind].__name__} under bf16 autocast (no mask)", times, None))
            print(rows[-1]["line"], flush=True)
            if keras:
                times = compare({"seqkit": seqkit_step(kind, x, mask, h, device),
                                 "keras": keras_step(kind, x, mask, h, device)}, device, max(3, rounds // 2),
                                {"seqkit": 10, "keras": 1})
                rows.append(_row(kind, shape_name, "Keras 3 (torch backend), masked", times, None))
                print(rows[-1]["line"], flush=True)
        per = {"seqkit": 5 if small else 2, "eager": 5 if small else 2}
        for kind, m, label in (("GravesLSTM", mask, "GravesLSTM"),
                               ("GRU(reset_after=False)", mask, "GRU(reset_after=False)"),
                               ("LSTM", gapped(mask), "LSTM, mask with gaps")):
            times = compare({"seqkit": seqkit_step(kind, x, m, h, device, compiled=True),
                             "eager": seqkit_step(kind, x, m, h, device, compiled=False)},
                            device, max(3, rounds // 3), per)
            rows.append(_row(f"{label} [compiled steps]", shape_name, "the same loop, eager", times, None))
            print(rows[-1]["line"], flush=True)
    return rows


def run(quick: bool, device: str, keras: bool = True) -> list[dict]:
    if device.startswith("cuda"):
        return run_cuda(quick, device, keras)
    rows = []
    kinds = ["LSTM", "GRU", "SimpleRNN"]
    for shape_name, (n, f, t, h) in SHAPES.items():
        x, mask = make_batch(n, f, t)
        small = shape_name == "small"
        rounds = 3 if quick else (40 if small else 15)
        for kind in kinds:
            ours = seqkit_step(kind, x, mask, h, device)
            per = {"seqkit": 20 if small else 3, "bare": 20 if small else 3}
            times = compare({"seqkit": ours, "bare": bare_step(kind, x, h, device)}, device, rounds, per)
            rows.append(_row(kind, shape_name, f"bare torch.nn.{BARE[kind].__name__} (no mask)", times,
                             TARGET_BARE))
            per = {"seqkit": 10 if small else 2, "keras": 2 if small else 1}
            times = compare({"seqkit": ours, "keras": keras_step(kind, x, mask, h, device)}, device,
                            max(3, rounds // 2), per)
            rows.append(_row(kind, shape_name, "Keras 3 (torch backend), masked", times,
                             TARGET_KERAS[shape_name]))
            print(rows[-2]["line"], rows[-1]["line"], sep="\n", flush=True)
        for kind, peer, target in (("GravesLSTM", "bare torch.nn.LSTM (no mask)", TARGET_GRAVES),
                                   ("GRU(reset_after=False)", "bare torch.nn.GRU (no mask)", None)):
            per = {"seqkit": 10 if small else 2, "bare": 20 if small else 3}
            times = compare({"seqkit": seqkit_step(kind, x, mask, h, device),
                             "bare": bare_step(kind, x, h, device)}, device, rounds, per)
            rows.append(_row(kind, shape_name, peer, times, target))
            print(rows[-1]["line"], flush=True)
    return rows + compile_rows(quick)


def network_step(kind: str, x, mask, h: int, compile_args: dict | None):
    """One training step of ``Sequential([kind(h)])`` on the masked batch, compiled with ``compile_args``."""
    import seqkit

    net = seqkit.Sequential([OURS[kind](h, x.shape[1])], input_type=seqkit.InputType.recurrent(x.shape[1]), seed=0)
    if compile_args is not None:
        net.compile(**compile_args)

    def step():
        net(x, mask).square().mean().backward()
    return step


def compile_rows(quick: bool) -> list[dict]:
    """Eager against compiled network steps (info rows, CPU, small shape)."""
    n, f, t, h = SHAPES["small"]
    x, mask = make_batch(n, f, t)
    rows = []
    for kind, label, args in (("LSTM", 'compile(recurrent="eager"), inductor', {"recurrent": "eager"}),
                              ("LSTM", 'compile(recurrent="scan"), inductor', {"recurrent": "scan"}),
                              ("GRU", 'compile(recurrent="eager"), inductor', {"recurrent": "eager"}),
                              ("GRU", 'compile(recurrent="scan"), aot_eager',
                               {"recurrent": "scan", "backend": "aot_eager"})):
        sides = {"seqkit": network_step(kind, x, mask, h, None), "compiled": network_step(kind, x, mask, h, args)}
        times = compare(sides, "cpu", 3 if quick else 15, {"seqkit": 10, "compiled": 10})
        rows.append(_row(kind, "small", label, times, None))
        print(rows[-1]["line"], flush=True)
    return rows


def _row(kind: str, shape: str, peer: str, times: dict, target: float | None) -> dict:
    ours = times["seqkit"]
    other = next(v for k, v in times.items() if k != "seqkit")
    ratio = other / ours
    n, f, t, h = SHAPES[shape]
    result = "info" if target is None else ("pass" if ratio >= target else "MISS")
    row = {"kind": kind, "shape": f"{shape} (N={n}, F={f}, T={t}, H={h})", "peer": peer,
           "ours_ms": ours * 1e3, "peer_ms": other * 1e3, "ratio": ratio, "target": target,
           "result": result}
    target_text = "no target" if target is None else f">= {target:g}"
    row["line"] = (f"| {kind} masked | {row['shape']} | {peer} | {row['ours_ms']:.2f} | "
                   f"{row['peer_ms']:.2f} | {ratio:.2f} | {target_text} | {result} |")
    return row


def machine(device: str) -> str:
    cpu = platform.processor() or "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            cpu = next(line.split(":", 1)[1].strip() for line in fh if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    import keras
    load = " ".join(f"{v:.2f}" for v in os.getloadavg()) if hasattr(os, "getloadavg") else "?"
    dev = torch.cuda.get_device_name(0) if device.startswith("cuda") else "CPU"
    return (f"Machine: {os.cpu_count()} cores ({cpu}), device {dev}, torch {torch.__version__} "
            f"({torch.get_num_threads()} threads), keras {keras.__version__}, numpy {np.__version__}, "
            f"Python {platform.python_version()}; load average at start {load}.")


def write_section(text: str, title: str = "Layers") -> None:
    """Replace (or append) the ``## {title}`` section of RESULTS.md, leaving other sections alone."""
    old = RESULTS.read_text(encoding="utf-8") if RESULTS.exists() else "# Benchmark results\n"
    pattern = re.compile(r"^## " + re.escape(title) + r"\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(old):
        new = pattern.sub(lambda _: text.rstrip("\n") + "\n\n", old)
    else:
        new = old.rstrip("\n") + "\n\n" + text
    RESULTS.write_text(new.rstrip("\n") + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="few rounds; print only")
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--no-write", action="store_true", help="do not update RESULTS.md")
    parser.add_argument("--keras", action="store_true", help="with --device cuda: Keras rows too (slow)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        parser.error(f"--device {args.device}: torch sees no CUDA device (torch {torch.__version__}, "
                     f"CUDA build {torch.version.cuda or 'none'})")
    torch.manual_seed(0)
    info = machine(args.device)
    print(info)
    header = ("| layer | shape | peer | seqkit (ms/step) | peer (ms/step) | ratio peer/seqkit | "
              "target | result |\n|---|---|---|---:|---:|---:|---:|---|")
    print(header)
    start = time.perf_counter()
    rows = run(args.quick, args.device, args.keras)
    elapsed = time.perf_counter() - start
    command = "`.venv/bin/python benchmarks/layers.py" + (
        f" --device {args.device}" if args.device != "cpu" else "") + "`"
    title = "Layers (CUDA)" if args.device.startswith("cuda") else "Layers"
    text = "\n".join([
        f"## {title}", "",
        f"Command: {command} (from the repository root; {elapsed:.0f} s in all).",
        info, "",
        "One training step: forward over a right-padded batch (lengths 40%-100% of T), "
        "mean-square loss over all outputs, backward. Medians of per-round means, the sides "
        "alternating in rounds after a warm-up; ratio = peer time / seqkit time (> 1: seqkit faster). "
        "seqkit gets the `[N, T]` mask (kept on the CPU, as batches arrive); Keras the same boolean "
        "mask; bare torch.nn runs the same padded tensor with no mask at all.", "",
        header, *[r["line"] for r in rows], "",
    ])
    if not (args.quick or args.no_write):
        write_section(text, title)
        print(f"updated {RESULTS}")


if __name__ == "__main__":
    main()
