"""``seqkit predict --out predictions.csv``: the prediction rows as a flat CSV table.

Parquet holds lists; CSV does not, so the CSV is flat:

- one row per sequence for a network with a sequence-level output
  (``key, steps, prediction[, label], probability_<class>...``);
- one row per real step for a per-step output (``RnnOutput``), with the
  step's 0-based index among the sequence's real steps
  (``key, step, prediction[, label], probability_<class>...``);
- a regression network writes ``prediction`` (one target) or
  ``prediction_0 .. prediction_<K-1>`` instead of classes and probabilities.

``<class>`` is the class name when the model has class names, else its index.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

__all__ = ["csv_table"]


def _value_names(prefix: str, count: int, names) -> list[str]:
    if names:
        return [f"{prefix}_{name}" for name in names]
    return [f"{prefix}_{k}" for k in range(count)]


def csv_table(cols: dict, kind: str, per_step: bool, outputs: int, names) -> pa.Table:
    """The flat table of one batch's prediction columns (as ``_predict`` builds them for Parquet).

    Args:
        cols: ``key``, ``steps``, ``prediction``, ``label`` (with names), ``probabilities``.
        kind: ``"classification"`` or ``"regression"``.
        per_step: the values are per real step (lists of steps).
        outputs: C classes or K regression targets.
        names: the class names, or None.
    """
    keys, steps = cols["key"], cols["steps"]
    if per_step:
        repeat = np.asarray(steps, dtype=np.int64)
        out = {"key": pa.array(np.repeat(np.asarray(keys, dtype=object), repeat), pa.string()),
               "step": pa.array(np.concatenate([np.arange(n) for n in repeat]) if len(repeat) else
                                np.zeros(0, np.int64), pa.int32())}

        def flat(values):
            return [v for sequence in values for v in sequence]
    else:
        out = {"key": pa.array(keys, pa.string()), "steps": pa.array(steps, pa.int32())}

        def flat(values):
            return list(values)
    if kind == "regression":
        values = np.asarray(flat(cols["prediction"]), dtype=np.float32).reshape(-1, outputs)
        if outputs == 1:
            out["prediction"] = pa.array(values[:, 0])
        else:
            for k, name in enumerate(_value_names("prediction", outputs, None)):
                out[name] = pa.array(values[:, k])
        return pa.table(out)
    out["prediction"] = pa.array(flat(cols["prediction"]), pa.int64())
    if "label" in cols:
        out["label"] = pa.array(flat(cols["label"]), pa.string())
    probabilities = np.asarray(flat(cols["probabilities"]), dtype=np.float32).reshape(-1, outputs)
    for k, name in enumerate(_value_names("probability", outputs, names)):
        out[name] = pa.array(probabilities[:, k])
    return pa.table(out)
