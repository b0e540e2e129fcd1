"""``seqkit predict``: a trained model's predictions, one Parquet row per sequence (or a flat CSV).

Columns (``steps`` counts the real steps of the input sequence):

==================  =========================================================
classification, one label per sequence (the network ends in ``Output``)
-----------------------------------------------------------------------------
``key``             string: the sequence key (file path, id value, key column)
``steps``           int32
``prediction``      int64: the predicted class index
``label``           string: its class name (when the model has class names)
``probabilities``   list<float32>: the output for each class
==================  =========================================================

With a per-step output (``RnnOutput``), ``prediction`` is list<int64>,
``label`` list<string> and ``probabilities`` list<list<float32>>, one entry
per real step. Regression networks (mse or mae loss) write ``prediction`` as
list<float32> (the K targets) or, per step, list<list<float32>>.

``--out`` ending in ``.csv`` writes the flat table of :mod:`seqkit.cli._prediction_csv`
instead (one column per class, one row per step for per-step outputs).
"""

from __future__ import annotations

import argparse
import os
import sys

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from ._args import (add_source_arguments, add_threads_argument, positive, source_from_args,
                    torch_threads)
from ._data import BatchSpec, make_batches
from ._errors import CliError
from ._prediction_csv import csv_table
from ._writing import writing_to

__all__ = ["add_parser", "run"]

HELP = "predict with a trained model; write one row per sequence (Parquet or CSV)"
EXAMPLE = """\
examples:
  seqkit predict runs/sc/model.seqkit 'datasets/synthetic_control/test/features/%d.csv' \\
      --start 0 --end 149 --out predictions.parquet
  seqkit predict runs/sc/model.seqkit 'datasets/synthetic_control/test/features/%d.csv' \
      --start 0 --end 149 --out predictions.csv

Parquet columns: key, steps, prediction (class index), label (class name, when
known) and probabilities (list<float32>); per-step networks write lists per
step, regression networks the predicted values. A .csv file is flat: one
probability_<class> column per class, one row per real step for per-step
networks. See docs/cli.md.
"""


def add_parser(sub, common):
    parser = sub.add_parser("predict", help=HELP, description=HELP[:1].upper() + HELP[1:] + ".", epilog=EXAMPLE,
                            parents=[common], formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("model", metavar="MODEL", help="a model file written by seqkit train")
    add_source_arguments(parser, source="data", labels=False)
    parser.add_argument("--out", required=True, metavar="PREDICTIONS.parquet",
                        help="the file to write: .parquet (list columns) or .csv (flat: one column per "
                             "class, one row per step for per-step outputs)")
    parser.add_argument("--batch-size", type=positive, help="sequences per batch (default 256)")
    parser.add_argument("--device", help="auto (default), cpu, cuda or cuda:N")
    add_threads_argument(parser)
    parser.set_defaults(run=run)
    return parser


def _feature_columns(source, info) -> list | None:
    """The trained-on feature columns when the data has them under those names, else None."""
    if info is None or not info.feature_columns:
        return None
    columns = [str(c) for c in source.reader().columns]
    wanted = [str(c) for c in info.feature_columns]
    if columns == wanted:
        return None
    if set(wanted) <= set(columns):
        return wanted
    if len(columns) != len(wanted):
        raise CliError(f"the model was trained on {len(wanted)} feature column(s) {wanted}; the data "
                       f"has {columns}. Select them with --columns")
    return None


def _schema(kind: str, per_step: bool, names) -> pa.Schema:
    def nest(t):
        return pa.list_(t) if per_step else t
    fields = [pa.field("key", pa.string()), pa.field("steps", pa.int32())]
    if kind == "regression":
        fields.append(pa.field("prediction", nest(pa.list_(pa.float32()))))
    else:
        fields.append(pa.field("prediction", nest(pa.int64())))
        if names:
            fields.append(pa.field("label", nest(pa.string())))
        fields.append(pa.field("probabilities", nest(pa.list_(pa.float32()))))
    return pa.schema(fields)


def _rows(out: np.ndarray, mask, steps: int, keys, kind: str, names) -> dict:
    """Columns for one batch. ``out`` is ``[N, C]`` or ``[N, C, T]``; ``mask`` ``[N, T]`` or None;
    ``steps`` is T, the batch's padded length."""
    n = out.shape[0]
    lengths = np.full(n, steps) if mask is None else mask.sum(axis=1).astype(np.int64)
    cols = {"key": [str(k) for k in keys], "steps": lengths.astype(np.int32).tolist()}
    if out.ndim == 2:
        values = out.astype(np.float32)
        if kind == "regression":
            cols["prediction"] = values.tolist()
            return cols
        index = values.argmax(axis=1)
        cols["prediction"] = index.tolist()
        if names:
            cols["label"] = [names[i] for i in index.tolist()]
        cols["probabilities"] = values.tolist()
        return cols
    per_example = []
    for i in range(n):
        steps = out[i] if mask is None else out[i][:, mask[i] != 0]          # [C, t]
        per_example.append(steps.T.astype(np.float32))                        # [t, C]
    if kind == "regression":
        cols["prediction"] = [p.tolist() for p in per_example]
        return cols
    index = [p.argmax(axis=1) for p in per_example]
    cols["prediction"] = [ix.tolist() for ix in index]
    if names:
        cols["label"] = [[names[j] for j in ix.tolist()] for ix in index]
    cols["probabilities"] = [p.tolist() for p in per_example]
    return cols


def run(args) -> int:
    with torch_threads(args.threads):
        return _execute(args)


_PARQUET = (".parquet", ".pq", ".parq")


def _writer(path: str, schema: pa.Schema, csv: bool):
    """A Parquet writer, or a CSV writer of the flat table (``_prediction_csv``)."""
    if csv:
        return pa_csv.CSVWriter(path, schema)
    return pq.ParquetWriter(path, schema, compression="zstd")


def _execute(args) -> int:
    # torch-based: imported here so that `seqkit --help`, inspect and convert start without torch
    from ._model import is_regression, load_model

    from ..network import is_main_process

    if not is_main_process():
        # Under torchrun rank 0 predicts everything and writes the file once, in the data's order;
        # prediction is one forward pass, cheap beside training, so the other ranks have nothing to do.
        return 0
    csv = args.out.lower().endswith(".csv")
    if not csv and not args.out.lower().endswith(_PARQUET):
        raise CliError(f"--out must be a .parquet or .csv file, got {args.out}")
    model = load_model(args.model, args.device)
    info = model.info
    source = source_from_args(args, source="data", defaults=info.read if info is not None else None)
    batch = info.batch if info is not None else BatchSpec()
    batches = make_batches(source, batch, labelled=False, batch_size=args.batch_size or 256,
                           feature_columns=_feature_columns(source, info))
    data = info.standardizer(batches) if info is not None and info.standardizer is not None else batches
    kind = "regression" if is_regression(model.net) else "classification"
    names = info.class_names if info is not None and kind == "classification" else None
    writer, count, partial = None, 0, f"{args.out}.partial"
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    try:
        with writing_to(args.out):
            for item in data:
                out = model.net.output(item.features, item.features_mask)
                if names and len(names) != out.shape[1]:
                    names = None
                cols = _rows(out, item.features_mask, item.features.shape[-1], item.keys, kind, names)
                if csv:
                    table = csv_table(cols, kind, out.ndim == 3, out.shape[1], names)
                else:
                    table = pa.Table.from_pydict(cols, schema=_schema(kind, out.ndim == 3, names))
                if writer is None:
                    schema = table.schema
                    writer = _writer(partial, schema, csv)
                writer.write_table(table)
                count += len(item)
            if writer is None:
                raise CliError(f"{source.describe()}: no sequences to predict")
            writer.close()
            writer = None
            os.replace(partial, args.out)
    finally:
        if writer is not None:
            writer.close()
        if os.path.exists(partial):
            os.remove(partial)
    print(f"wrote {count:,} predictions to {args.out} (columns: {', '.join(schema.names)})",
          file=sys.stdout)
    return 0
