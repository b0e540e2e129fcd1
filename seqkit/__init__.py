"""seqkit: recurrent networks on PyTorch over padded, masked NCL batches.

The data side lives in the separate ``readers`` package, which never imports torch.
"""

from ._errors import ConfigError
from . import layers
from .evaluation import (ROC, Evaluation, EvaluationBinary, RegressionEvaluation, ROCMultiClass,
                         all_reduce_evaluation)
from . import network
from .network import (Checkpoint, EarlyStopping, FitState, InputType, Listener, ModelFileError,
                      NonFiniteLossError, ProgressBar, ScoreListener, Sequential, load, options)

__all__ = [
    "Checkpoint",
    "ConfigError",
    "EarlyStopping",
    "Evaluation",
    "EvaluationBinary",
    "FitState",
    "InputType",
    "Listener",
    "ModelFileError",
    "NonFiniteLossError",
    "ProgressBar",
    "ROC",
    "ROCMultiClass",
    "RegressionEvaluation",
    "ScoreListener",
    "Sequential",
    "all_reduce_evaluation",
    "layers",
    "load",
    "network",
    "options",
]
