"""seqkit: recurrent networks on PyTorch over padded, masked NCL batches.

The data side lives in the separate ``readers`` package, which never imports torch.
"""

from ._errors import ConfigError
from ._modelfile import ModelFileError
from . import layers
from .evaluation import (ROC, Evaluation, EvaluationBinary, RegressionEvaluation, ROCMultiClass,
                         all_reduce_evaluation)
from ._input_type import InputType
from ._listeners import Checkpoint, EarlyStopping, Listener, ProgressBar, ScoreListener
from ._network import Sequential
from ._options import options
from ._persist import load
from ._fit_state import NonFiniteLossError

__all__ = sorted([
    "all_reduce_evaluation",
    "Checkpoint",
    "EarlyStopping",
    "InputType",
    "Listener",
    "load",
    "NonFiniteLossError",
    "options",
    "ProgressBar",
    "ScoreListener",
    "Sequential",
    "ConfigError",
    "Evaluation",
    "EvaluationBinary",
    "layers",
    "ModelFileError",
    "RegressionEvaluation",
    "ROC",
    "ROCMultiClass",
])
