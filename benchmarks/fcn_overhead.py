"""Seconds per training epoch of seqkit's FCN against the bare-PyTorch FCN of benchmarks/uea.py.

    python benchmarks/fcn_overhead.py DIR [--dataset JapaneseVowels] [--rounds 20] [--threads 1]
                                          [--root CHECKOUT]

One process, alternating one epoch of each model for ``--rounds`` rounds (the
order swapped every round), both on the same epoch's shuffle of the same
``SequenceBatches``, so both train on the same batches. Three untimed epochs
of each come first (oneDNN builds its convolution kernels for each new batch
shape on first use; whichever model met a shape first would pay for it).
Reports CPU seconds per epoch and the median of the per-round ratios
seqkit / bare, which holds up against other load on the machine better than
totals do. ``seqkit`` trains through ``Sequential.fit`` (one epoch per call),
the bare model through the loop of ``uea.torch_fcn``.

``--root`` imports seqkit and benchmarks/uea.py from another checkout (e.g. an
older commit unpacked with ``git archive <commit> seqkit readers benchmarks |
tar -x -C DIR``), to compare before and after a change with this script.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", help="the folder of <Name>_TRAIN.ts / <Name>_TEST.ts (see uea.py)")
    parser.add_argument("--dataset", default="JapaneseVowels")
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--root", default=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                        help="the checkout to import seqkit and benchmarks/uea.py from (default: this one)")
    args = parser.parse_args(argv)
    root = os.path.abspath(args.root)
    sys.path[:0] = [os.path.join(root, "benchmarks"), root]
    import torch
    from torch import nn

    import uea
    from seqkit import models

    torch.set_num_threads(args.threads)
    _, batch_size, _ = uea.DATASETS[args.dataset]
    path = uea.find(args.folder, args.dataset, "TRAIN")
    reader, train = uea.batches(path, None, batch_size, train=True, seed=0)
    n_in, n_classes = reader.dimensions, len(reader.classes)

    torch.manual_seed(0)
    bare = uea.TorchFCN(n_in, n_classes).train()
    opt = torch.optim.Adam(bare.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()

    def bare_epoch(epoch: int) -> None:                        # uea.torch_fcn's loop
        train.set_epoch(epoch)
        for b in train:
            x = torch.from_numpy(b.features)                                   # [N, F, T]
            mask = None if b.features_mask is None else torch.from_numpy(b.features_mask)   # [N, T]
            loss = loss_fn(bare(x, mask), torch.from_numpy(b.labels.argmax(1)))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(bare.parameters(), 1.0)
            opt.step()

    net = models.fcn(n_in, n_classes, epochs=1000, seed=0)

    def seqkit_epoch(epoch: int) -> None:
        net.progress.epoch = epoch                             # fit calls train.set_epoch(epoch)
        net.fit(train, epochs=1, progress=False)

    for epoch in range(3):
        bare_epoch(epoch)
        seqkit_epoch(epoch)
    bare_s, seqkit_s = [], []
    for k in range(args.rounds):
        epoch = 3 + k % 10
        for name, run in ((("bare", bare_epoch), ("seqkit", seqkit_epoch)) if k % 2 == 0
                          else (("seqkit", seqkit_epoch), ("bare", bare_epoch))):
            start = time.process_time()
            run(epoch)
            (bare_s if name == "bare" else seqkit_s).append(time.process_time() - start)
    ratios = [s / b for s, b in zip(seqkit_s, bare_s)]
    quartiles = statistics.quantiles(ratios, n=4)
    print(f"{args.dataset}, {root}, {args.rounds} rounds, {args.threads} thread(s): CPU s per epoch: "
          f"bare FCN median {statistics.median(bare_s):.3f}, seqkit fcn median {statistics.median(seqkit_s):.3f}; "
          f"seqkit / bare per round: median {statistics.median(ratios):.2f} "
          f"(quartiles {quartiles[0]:.2f}..{quartiles[2]:.2f})")


if __name__ == "__main__":
    main()
