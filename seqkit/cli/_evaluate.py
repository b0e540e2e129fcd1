"""``seqkit evaluate``: masked evaluation of a trained model, printed and written as a report."""

from __future__ import annotations

import argparse
import os
from dataclasses import replace

import readers

from ..reports import FORMATS
from ._args import (add_batch_arguments, add_source_arguments, add_threads_argument, batch_from_args,
                    source_from_args, torch_threads)
from ._data import BatchSpec, make_batches
from ._errors import CliError

__all__ = ["add_parser", "resolve_data", "run"]

HELP = "evaluate a trained model on labelled data and write a report"
EXAMPLE = """\
examples:
  seqkit evaluate runs/sc/model.seqkit 'datasets/synthetic_control/test/features/%d.csv' \\
      --labels 'datasets/synthetic_control/test/labels/%d.csv' --start 0 --end 149 --report report.html
  seqkit evaluate runs/sc/model.seqkit --config examples/configs/synthetic_control.toml --report report.md

Reading options, alignment, classes and normalisation statistics default to
the ones the model file carries; options given here win. Feature columns are
matched to the model's by name. The report format follows the extension: .html, .md or .json.
"""


def add_parser(sub, common):
    parser = sub.add_parser("evaluate", help=HELP, description=HELP[:1].upper() + HELP[1:] + ".", epilog=EXAMPLE,
                            parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="MODEL",
                        help="a model file written by seqkit train (or a checkpoint)")
    add_source_arguments(parser, source="data", required=False)
    add_batch_arguments(parser)
    parser.add_argument("--config", metavar="CONFIG.toml",
                        help="take the data from this run configuration's [data] table instead of DATA")
    parser.add_argument("--split", default=None, choices=("test", "validation", "train"),
                        help="the config's split to evaluate (default: test, else validation)")
    parser.add_argument("--report", metavar="REPORT", help="write the report here (.html, .md or .json)")
    parser.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    add_threads_argument(parser)
    parser.set_defaults(run=run)
    return parser


def resolve_data(args, model, *, labelled: bool = True):
    """``(source, batch spec, standardizer)`` from DATA and options, or from ``--config``."""
    # torch-based: imported here so that `seqkit --help`, inspect and convert start without torch
    from ._config import load_config
    from ._model import is_regression

    info = model.info
    standardizer = info.standardizer if info is not None else None
    if getattr(args, "config", None):
        if args.data is not None:
            raise CliError("give DATA or --config, not both")
        config = load_config(args.config)
        split = args.split or next((s for s in ("test", "validation") if s in config.splits), None)
        if split is None or split not in config.splits:
            raise CliError(f"{args.config} has no [data.{split or 'test'}] table; it has: "
                           f"{', '.join(config.splits)}")
        batch = batch_from_args(args, config.batch)
        if info is None and config.normalize:
            standardizer = readers.Standardizer.fit(make_batches(config.splits["train"], config.batch,
                                                         batch_size=1024))
        return config.splits[split], batch, standardizer
    if args.data is None:
        raise CliError("give the data to evaluate (DATA) or --config CONFIG.toml")
    source = source_from_args(args, source="data", defaults=info.read if info is not None else None)
    batch = batch_from_args(args, info.batch if info is not None else BatchSpec())
    if is_regression(model.net) and not batch.regression:
        batch = replace(batch, regression=True, num_classes=None, classes=None, class_names=None)
    if labelled and not batch.regression and batch.num_classes is None and batch.classes is None:
        batch = replace(batch, num_classes=model.n_outputs)
    return source, batch, standardizer


def run(args) -> int:
    with torch_threads(args.threads):
        return _execute(args)


def _execute(args) -> int:
    # torch-based: imported here so that `seqkit --help`, inspect and convert start without torch
    from ..network import is_main_process
    from ._model import load_model
    from ._run import evaluate_split

    model = load_model(args.model, args.device)
    if args.report is not None and not args.report.lower().endswith(tuple(FORMATS)):
        raise CliError(f"--report must end in .html, .md or .json, got {args.report}")
    source, batch, standardizer = resolve_data(args, model)
    names = None if batch.regression else batch.names
    evaluation = evaluate_split(model.net, source, batch, standardizer, names,
                                provenance={"model_file": os.fspath(args.model)})
    if not is_main_process():                          # under torchrun: every rank merged, rank 0 writes
        return 0
    print(evaluation.stats())
    if args.report is not None:
        folder = os.path.dirname(os.path.abspath(args.report))
        os.makedirs(folder, exist_ok=True)
        evaluation.report(args.report)
        print(f"report: {args.report}")
    return 0
