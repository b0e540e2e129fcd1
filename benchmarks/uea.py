"""UEA/UCR classification: seqkit's recipes against a bare-PyTorch FCN, beside the published figures.

    python benchmarks/uea.py DIR [--datasets BasicMotions,JapaneseVowels] [--seeds 3] [--first-seed 0] [--epochs N]
                                 [--models fcn,lstm,torch_fcn] [--normalize none|per_sequence]
                                 [--threads N] [--no-write]

DIR holds `<Name>_TRAIN.ts` and `<Name>_TEST.ts` (directly or in `<Name>/`), e.g.
the `aeon/datasets/data/` folder of the aeon wheel (`pip download --no-deps aeon`,
then unzip it). For each data set and seed it trains `seqkit.models.fcn`,
`seqkit.models.lstm_classifier` and the same FCN written in bare PyTorch (same
batches, optimiser, schedule, clipping and epochs; ``--models torch_fcn_glorot``
starts it from the recipe's Glorot-uniform weights and zero biases instead of
torch's default initialisation), and reports test accuracy
(mean over seeds) and CPU time per run. ``--normalize per_sequence`` z-normalises
every series on its own (each channel over its real steps, padding left 0:
``readers.Standardizer(per_sequence=True)``) before any model sees it, the same
batches for every model. Writes the "UEA classification" section of
benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

import numpy as np
import torch
from torch import nn

# the repository first, so that `import readers` is the package, not benchmarks/readers.py
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import readers                        # noqa: E402
from seqkit import models             # noqa: E402

from _results import write_section    # noqa: E402

#: name -> (epochs, batch size, published FCN accuracy (Fawaz et al. 2019, 10-run mean) or None).
DATASETS = {
    "BasicMotions": (100, 16, 1.0),
    "JapaneseVowels": (100, 16, 0.993),
    "OSULeaf": (100, 16, 0.977),
    "PickupGestureWiimoteZ": (100, 16, None),
}
TARGETS = {"BasicMotions": 1.0, "JapaneseVowels": 0.98, "OSULeaf": 0.90}
#: --models choices.
MODELS = ("fcn", "lstm", "torch_fcn", "torch_fcn_glorot")
#: --normalize choices: the raw series, or each series z-normalised on its own.
NORMALIZE = ("none", "per_sequence")


def find(folder: str, name: str, split: str) -> str:
    for path in (os.path.join(folder, f"{name}_{split}.ts"), os.path.join(folder, name, f"{name}_{split}.ts")):
        if os.path.exists(path):
            return path
    raise FileNotFoundError(f"no {name}_{split}.ts in {folder} or {folder}/{name}")


def batches(path: str, classes, batch_size: int, *, train: bool, seed: int, normalize: str = "none"):
    reader = readers.TSFileReader(path)
    out = readers.SequenceBatches(reader, label_column="class", classes=classes or reader.classes,
                                  sequence_labels=True, batch_size=batch_size, align="align_start",
                                  shuffle=train, seed=seed)
    if normalize == "per_sequence":
        out = readers.Standardizer(per_sequence=True)(out)      # len() and set_epoch() pass through
    return reader, out


class TorchFCN(nn.Module):
    """The FCN in bare PyTorch: BatchNorm1d over all steps (padding included), masked average pooling."""

    def __init__(self, n_in: int, n_classes: int, glorot: bool = False):
        super().__init__()
        blocks, width = [], n_in
        for n, k in ((128, 8), (256, 5), (128, 3)):
            blocks += [nn.Conv1d(width, n, k, padding="same"), nn.BatchNorm1d(n, momentum=0.1, eps=1e-3), nn.ReLU()]
            width = n
        self.body, self.head = nn.Sequential(*blocks), nn.Linear(width, n_classes)
        if glorot:                   # the recipe's (and the Keras FCN's) start instead of torch's default
            for layer in self.modules():
                if isinstance(layer, (nn.Conv1d, nn.Linear)):
                    nn.init.xavier_uniform_(layer.weight)
                    nn.init.zeros_(layer.bias)

    def forward(self, x, mask):
        h = self.body(x)
        if mask is None:
            return self.head(h.mean(2))
        return self.head((h * mask[:, None]).sum(2) / mask.sum(1, keepdim=True))


def torch_fcn(train, test, n_in, n_classes, epochs, seed, glorot: bool = False) -> float:
    torch.manual_seed(seed)
    net = TorchFCN(n_in, n_classes, glorot)
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=epochs, eta_min=1e-5)
    loss_fn = nn.CrossEntropyLoss()
    for epoch in range(epochs):
        net.train()
        train.set_epoch(epoch)
        for b in train:
            x = torch.from_numpy(b.features)
            mask = None if b.features_mask is None else torch.from_numpy(b.features_mask)
            loss = loss_fn(net(x, mask), torch.from_numpy(b.labels.argmax(1)))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        sched.step()
    net.eval()
    right = total = 0
    with torch.no_grad():
        for b in test:
            mask = None if b.features_mask is None else torch.from_numpy(b.features_mask)
            pred = net(torch.from_numpy(b.features), mask).argmax(1).numpy()
            right += int((pred == b.labels.argmax(1)).sum())
            total += len(pred)
    return right / total


def seqkit_model(kind, train, test, n_in, n_classes, epochs, seed) -> float:
    if kind == "fcn":
        net = models.fcn(n_in, n_classes, epochs=epochs, seed=seed)
    else:
        net = models.lstm_classifier(n_in, n_classes, epochs=epochs, seed=seed)
    net.fit(train, epochs=epochs, progress=False)
    return net.evaluate(test).accuracy()


def train_one(kind, train, test, n_in, n_classes, epochs, seed) -> float:
    """Train model ``kind`` ("fcn", "lstm", "torch_fcn" or "torch_fcn_glorot"); its test accuracy."""
    if kind in ("torch_fcn", "torch_fcn_glorot"):
        return torch_fcn(train, test, n_in, n_classes, epochs, seed, glorot=kind == "torch_fcn_glorot")
    return seqkit_model(kind, train, test, n_in, n_classes, epochs, seed)


def run(folder: str, names, seeds: int, epochs_override, kinds, normalize: str = "none", first_seed: int = 0) -> list:
    rows = []
    for name in names:
        epochs, size, published = DATASETS[name]
        epochs = epochs_override or epochs
        train_reader = readers.TSFileReader(find(folder, name, "TRAIN"))
        n_in, n_classes = train_reader.dimensions, len(train_reader.classes)
        # one untimed epoch of each model first: the first run on a data set pays the CPU kernels'
        # one-off set-up for every new batch shape, which would bias whichever model runs first
        for kind in kinds:
            _, train = batches(find(folder, name, "TRAIN"), None, size, train=True, seed=0, normalize=normalize)
            _, test = batches(find(folder, name, "TEST"), train_reader.classes, 64, train=False, seed=0,
                              normalize=normalize)
            train_one(kind, train, test, n_in, n_classes, 1, 0)
        for kind in kinds:
            accs, cpu, wall = [], [], []
            for seed in range(first_seed, first_seed + seeds):
                _, train = batches(find(folder, name, "TRAIN"), None, size, train=True, seed=seed,
                                   normalize=normalize)
                _, test = batches(find(folder, name, "TEST"), train_reader.classes, 64, train=False, seed=seed,
                                  normalize=normalize)
                start, clock = time.process_time(), time.perf_counter()
                acc = train_one(kind, train, test, n_in, n_classes, epochs, seed)
                cpu.append(time.process_time() - start)
                wall.append(time.perf_counter() - clock)
                accs.append(acc)
                print(f"{name:22s} {kind:10s} seed {seed}: accuracy {acc:.3f}, CPU {cpu[-1]:.0f} s, "
                      f"wall {wall[-1]:.0f} s", flush=True)
            rows.append((name, kind, epochs, accs, float(np.mean(cpu)), float(np.mean(wall)),
                         published if kind != "lstm" else None))
    return rows


def table(rows, seeds: int) -> str:
    lines = ["| data set | model | epochs | test accuracy (mean of seeds) | per seed | CPU s per run "
             "| wall s per run | published FCN | target |", "|---|---|---|---|---|---|---|---|---|"]
    for name, kind, epochs, accs, cpu, wall, published in rows:
        target = TARGETS.get(name)
        lines.append(f"| {name} | {kind} | {epochs} | {np.mean(accs):.3f} | "
                     f"{' / '.join(f'{a:.3f}' for a in accs)} | {cpu:.0f} | {wall:.0f} | "
                     f"{'' if published is None else published} | {'' if target is None else target} |")
    return "\n".join(lines)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder")
    parser.add_argument("--datasets", default=",".join(DATASETS))
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--first-seed", type=int, default=0, help="seeds first-seed .. first-seed + seeds - 1")
    parser.add_argument("--epochs", type=int, default=None, help="override every data set's epochs")
    parser.add_argument("--models", default="fcn,lstm,torch_fcn")
    parser.add_argument("--normalize", choices=NORMALIZE, default="none",
                        help="per_sequence: z-normalise each series on its own (every model, same batches)")
    parser.add_argument("--threads", type=int, default=max(1, os.cpu_count() or 1),
                        help="torch threads (default: every core)")
    parser.add_argument("--no-write", action="store_true", help="print only; leave RESULTS.md alone")
    args = parser.parse_args(argv)
    if args.threads < 1:
        parser.error(f"--threads must be at least 1, got {args.threads}")
    torch.set_num_threads(args.threads)
    kinds = [k.strip() for k in args.models.split(",") if k.strip()]
    if not kinds or set(kinds) - set(MODELS):
        parser.error(f"--models: unknown {sorted(set(kinds) - set(MODELS))}; known: {', '.join(MODELS)}")
    names = [n.strip() for n in args.datasets.split(",") if n.strip()]
    unknown = [n for n in names if n not in DATASETS]
    if unknown:
        parser.error(f"unknown data sets {unknown}; known: {list(DATASETS)}")
    rows = run(args.folder, names, args.seeds, args.epochs, kinds, args.normalize, args.first_seed)
    scaling = "no normalisation" if args.normalize == "none" else "each series z-normalised on its own"
    text = (f"## UEA classification\n\nCommand: `python benchmarks/uea.py DIR --datasets {','.join(names)} "
            f"--seeds {args.seeds}{'' if args.first_seed == 0 else f' --first-seed {args.first_seed}'} "
            f"--models {args.models}"
            f"{'' if args.epochs is None else f' --epochs {args.epochs}'}"
            f"{'' if args.normalize == 'none' else f' --normalize {args.normalize}'}"
            f" --threads {args.threads}`; {platform.processor() or 'CPU'}, "
            f"{os.cpu_count()} cores, torch {torch.__version__}. fcn and lstm are `seqkit.models` recipes "
            f"(Adam 1e-3, cosine schedule, grad-norm clip 1.0, batch 16, BatchNorm momentum 0.9, {scaling}); "
            f"torch_fcn is the same FCN in bare PyTorch trained on the same batches (its BatchNorm over "
            f"padding too). Each model gets one untimed epoch per data set first (kernel set-up). "
            f"Published FCN: Fawaz et al. 2019 (10-run means, 2000 epochs).\n\n{table(rows, args.seeds)}\n")
    print(text)
    if not args.no_write:
        write_section("UEA classification", text)


if __name__ == "__main__":
    main()
