"""``seqkit train``: data, network and training from one TOML file.

See :mod:`seqkit.cli._config` for the schema and :mod:`seqkit.cli._run` for
what the run folder receives.
"""

from __future__ import annotations

import argparse
import os
import sys

from ._args import add_threads_argument, positive, torch_threads
from ._output import print_paths

__all__ = ["add_parser", "default_out_dir", "run"]

HELP = "train a network described by a TOML file"
EXAMPLE = """\
examples:
  seqkit train examples/configs/synthetic_control.toml --out runs/sc
  seqkit train examples/configs/synthetic_control.toml --out runs/sc --resume --epochs 60
  seqkit train my.toml --check          # validate the file only

The run folder receives model.seqkit (which carries what evaluate and predict
need: columns, classes, normalisation), metrics.jsonl (one JSON object per epoch), checkpoints/, the test
report (report.html) when [data.test] is given, and a copy of the config.
Ctrl-C stops after the current batch and saves a checkpoint (exit code 130);
--resume continues from the newest checkpoint, and refuses a config or data
that differ from the run's. docs/cli.md has the schema.
"""


def add_parser(sub, common):
    parser = sub.add_parser("train", help=HELP, description=HELP[:1].upper() + HELP[1:] + ".", epilog=EXAMPLE,
                            parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("config", metavar="CONFIG.toml", help="the run configuration")
    parser.add_argument("--out", metavar="DIR",
                        help="the run folder (default: [output] dir, else runs/<config name>)")
    parser.add_argument("--resume", action="store_true",
                        help="continue from the newest checkpoint in the run folder")
    parser.add_argument("--epochs", type=positive, help="override [train] epochs")
    parser.add_argument("--device", help="override [network] device (auto, cpu, cuda, cuda:N, mps)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--check", action="store_true",
                        help="only validate the configuration (and the network's size) and exit")
    add_threads_argument(parser)
    parser.set_defaults(run=run)
    return parser


def default_out_dir(config) -> str:
    """[output] dir when set, else ``runs/<config file stem>`` in the current directory."""
    if config.output["dir"] is not None:
        return config.output["dir"]
    stem = os.path.splitext(os.path.basename(config.file or "run"))[0]
    return os.path.join("runs", stem)


def run(args) -> int:
    with torch_threads(args.threads):
        return _execute(args)


def _execute(args) -> int:
    # torch-based: imported here so that `seqkit --help`, inspect and convert start without torch
    from ._config import load_config
    from ._run import resolve_device, train_run

    config = load_config(args.config)
    if args.device is not None:
        resolve_device(args.device)                   # a bad --device fails now, not after the data is read
    if args.check:
        print(f"{args.config}: valid ({len(config.layers)} layers; splits: "
              f"{', '.join(config.splits)})")
        return 0
    out_dir = args.out or default_out_dir(config)
    result = train_run(config, out_dir, resume=args.resume, epochs=args.epochs, device=args.device,
                       progress=False if args.no_progress else None)
    if result.interrupted:
        print(f"seqkit: interrupted; checkpoint saved to {result.checkpoint}. Continue with: "
              f"seqkit train {args.config} --out {out_dir} --resume", file=sys.stderr)
        return 130
    if result.evaluation is not None:
        print(result.evaluation.stats())
    print_paths(result)
    return 0
