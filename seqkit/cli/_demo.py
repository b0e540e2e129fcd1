"""``seqkit demo``: the main job on the bundled synthetic control data, end to end.

It runs ``examples/configs/synthetic_control.toml``: read the numbered CSV
files, standardise, train the DL4J page's LSTM classifier, evaluate on the
test split, write the HTML report and print where it is. The data set and the
config are found next to the ``seqkit`` package (an editable install or a
checkout): ``<repo>/datasets`` and ``<repo>/examples/configs``.
"""

from __future__ import annotations

import argparse
import copy
import os
import time
from pathlib import Path

from ._args import add_threads_argument, positive, torch_threads
from ._errors import CliError
from ._output import print_paths

__all__ = ["add_parser", "demo_config_path", "run"]

HELP = "train and evaluate the LSTM classifier on the bundled synthetic control data"
EXAMPLE = """\
examples:
  seqkit demo                      # well under a minute on two CPU cores
  seqkit demo --quick              # a few iterations, to check the installation
  seqkit demo --out /tmp/demo --epochs 40

It runs examples/configs/synthetic_control.toml (seqkit train with that file
does the same) and prints where the HTML report is.
"""

_QUICK_TRAIN, _QUICK_TEST = 64, 32            # sequences used by --quick


def add_parser(sub, common):
    parser = sub.add_parser("demo", help=HELP, description=HELP[:1].upper() + HELP[1:] + ".", epilog=EXAMPLE,
                            parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", metavar="DIR", default=os.path.join("runs", "demo"),
                        help="the run folder (default runs/demo)")
    parser.add_argument("--epochs", type=positive, help="epochs (default: the config's)")
    parser.add_argument("--quick", action="store_true",
                        help=f"train 1 epoch on {_QUICK_TRAIN} series, test on {_QUICK_TEST}")
    parser.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_threads_argument(parser)
    parser.set_defaults(run=run)
    return parser


def _repo() -> Path:
    return Path(__file__).resolve().parents[2]


def demo_config_path() -> Path:
    """The demo's config file; CliError when the checkout's examples or datasets are missing."""
    repo = _repo()
    config = repo / "examples" / "configs" / "synthetic_control.toml"
    data = repo / "datasets" / "synthetic_control"
    for path, what in ((data, "the bundled data set"), (config, "the demo configuration")):
        if not path.exists():
            raise CliError(f"{what} is not at {path}; seqkit demo needs the seqkit source tree "
                           f"(install it from a clone with pip install -e .)")
    return config


def _quick(data: dict) -> dict:
    data = copy.deepcopy(data)
    data["data"]["train"]["end"] = _QUICK_TRAIN - 1
    data["data"]["test"]["end"] = _QUICK_TEST - 1
    data["data"].pop("validation", None)
    data.setdefault("train", {}).update(epochs=1, checkpoint_every_epochs=1)
    data["train"].pop("early_stopping", None)
    return data


def run(args) -> int:
    with torch_threads(args.threads):
        return _execute(args)


def _execute(args) -> int:
    # torch-based: imported here so that `seqkit --help`, inspect and convert start without torch
    from ._config import parse_config, read_toml
    from ._run import resolve_device, train_run

    if args.device is not None:
        resolve_device(args.device)                   # a bad --device fails now, not after the data is read
    path = demo_config_path()
    data = read_toml(path)
    if args.quick:
        data = _quick(data)
    config = parse_config(data, file=str(path))
    train = config.splits["train"]
    test = config.splits["test"]
    print(f"seqkit demo: synthetic control charts, 6 classes; train series {train.start}..{train.end}, "
          f"test series {test.start}..{test.end} (config {path})")
    start = time.perf_counter()
    result = train_run(config, args.out, epochs=args.epochs, device=args.device,
                       progress=False if args.no_progress else None, summary=True)
    if result.interrupted:
        print(f"seqkit: interrupted; checkpoint saved to {result.checkpoint}")
        return 130
    print(result.evaluation.stats())
    print(f"test accuracy: {result.evaluation.accuracy():.4f} "
          f"({time.perf_counter() - start:.0f} s in all)")
    print_paths(result)
    print(f"\nOpen the report: {os.path.abspath(result.report)}")
    return 0
