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

__all__ = sorted([
    "all_reduce_evaluation",
    "Checkpoint",
    "ConfigError",
    "EarlyStopping",
    "Evaluation",
    "EvaluationBinary",
    "FitState",
    "InputType",
    "layers",
    "Listener",
    "load",
    "ModelFileError",
    "network",
    "NonFiniteLossError",
    "options",
    "ProgressBar",
    "RegressionEvaluation",
    "ROC",
    "ROCMultiClass",
    "ScoreListener",
    "Sequential",
])
