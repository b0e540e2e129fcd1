"""``seqkit export``: a trained model as an ONNX model or a torch.export program.

The program takes ``features`` ``[N, F, T]`` and ``mask`` ``[N, T]`` (1 = real
step) and gives ``output``, what ``seqkit predict`` computes its columns from.
When the model was trained on standardised data (``[data] standardize`` in
the config) the standardisation goes into the program, so it takes the
features as the data files hold them (``--no-standardize`` leaves it out).
See docs/deploy.md.
"""

from __future__ import annotations

import argparse
import os
import sys

from ._args import add_threads_argument, torch_threads
from ._errors import CliError
from ._writing import writing_to

__all__ = ["add_parser", "run"]

HELP = "export a trained model to ONNX (.onnx) or a torch.export program (.pt2)"
EXAMPLE = """\
examples:
  seqkit export runs/demo/model.seqkit runs/demo/model.onnx
  seqkit export runs/demo/model.seqkit runs/demo/model.pt2 --no-standardize

Inputs: features [N, F, T] float32 (F in the model's feature-column order) and
mask [N, T] float32 (1 = real step); output: "output" (class probabilities, or
the regression targets), per step or per sequence as the model gives them. N
and T are free. The file is checked after writing (run once, compared with
the model to 1e-5; ONNX with onnxruntime). See docs/deploy.md.
"""


def add_parser(sub, common):
    parser = sub.add_parser("export", help=HELP, description=HELP[:1].upper() + HELP[1:] + ".", epilog=EXAMPLE,
                            parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="MODEL", help="a model file written by seqkit train (or Sequential.save)")
    parser.add_argument("out", metavar="OUT", help="the file to write: .onnx or .pt2")
    parser.add_argument("--no-standardize", action="store_true",
                        help="leave the model's standardisation out (the program then takes standardised features)")
    parser.add_argument("--logits", action="store_true", help="output the output layer's pre-activation")
    parser.add_argument("--device", help="cpu (default) or cuda[:N]: where the program runs")
    add_threads_argument(parser)
    parser.set_defaults(run=run)
    return parser


def run(args) -> int:
    with torch_threads(args.threads):
        return _execute(args)


def _execute(args) -> int:
    # torch-based: imported here so that `seqkit --help`, inspect and convert start without torch
    from ..network import EXPORT_FORMATS
    from ._model import load_model

    suffix = os.path.splitext(args.out)[1].lower()
    if suffix not in EXPORT_FORMATS:
        raise CliError(f"OUT must end in {' or '.join(EXPORT_FORMATS)}, got {args.out}")
    model = load_model(args.model, args.device or "cpu")
    net = model.net
    description = net.data_description
    standardize = (not args.no_standardize and description is not None
                   and description.standardizer is not None)
    if not args.no_standardize and not standardize and model.info is not None \
            and model.info.standardizer is not None:
        raise CliError(f"{args.model} was trained on standardised data, but its standardisation lives in an "
                       f"older data.json beside it, not in the model; re-save the model with a current seqkit "
                       f"or give --no-standardize and standardise the features yourself")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with writing_to(args.out):
        path = net.export(args.out, standardize=standardize, logits=args.logits)
    inputs = "features [N, F, T], mask [N, T]" if len(net.input_type.shape(sequence=True)) > 1 else "features"
    columns = description.feature_columns if description is not None else None
    print(f"wrote {path} ({EXPORT_FORMATS[suffix]})")
    print(f"inputs: {inputs}" + (f"; feature columns in order: {', '.join(map(str, columns))}" if columns else ""))
    print("standardisation: " + ("inside the program (give raw features)" if standardize else
                                 "not inside (give standardised features)" if args.no_standardize
                                 else "none"), file=sys.stdout)
    return 0
