"""seqkit.evaluation: masked evaluation of sequence models, mergeable across batches and ranks.

- :class:`Evaluation`: classification (confusion matrix, accuracy, precision,
  recall, F-scores, MCC, top-N), accuracy by time step and by sequence
  length, and the worst-classified sequences by key;
- :class:`RegressionEvaluation`: per-column MSE, MAE, RMSE, RSE, Pearson, R^2;
- :class:`ROC` and :class:`ROCMultiClass`: exact AUC and AUPRC and curves;
- :class:`EvaluationBinary`: multi-label outputs with per-output thresholds and masks;
- :func:`all_reduce_evaluation`: global figures on every rank of ``torch.distributed``.

Every class takes numpy arrays or torch tensors, 2-D ``[N, C]`` or NCL
``[N, C, T]`` with an ``[N, T]`` mask (nonzero = real step), and has
``merge``, ``to_dict``, ``stats``, ``report(path, provenance=None)`` (HTML,
Markdown or JSON) and ``provenance`` (model file, data source, epochs,
training time, config; see ``docs/reports.md``).
"""

from ._binary import EvaluationBinary
from ._by_time import LengthBuckets, StepAccuracy
from ._classification import Evaluation
from ._distributed import all_reduce_evaluation
from ._inputs import eval_features_mask
from ._regression import RegressionEvaluation
from ._roc import ROC, ROCMultiClass

__all__ = [
    "Evaluation",
    "EvaluationBinary",
    "LengthBuckets",
    "ROC",
    "ROCMultiClass",
    "RegressionEvaluation",
    "StepAccuracy",
    "all_reduce_evaluation",
    "eval_features_mask",
]
