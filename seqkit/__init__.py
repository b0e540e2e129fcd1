"""seqkit: recurrent networks on PyTorch over padded, masked NCL batches.

The data side lives in the separate ``readers`` package, which never imports torch.

The torch-based parts (``seqkit.layers``, ``seqkit.network``, ``seqkit.evaluation``)
load on first use (PEP 562 module ``__getattr__``): ``from seqkit import Sequential``
and ``seqkit.layers`` work as usual, while ``import seqkit`` alone, and so the
``seqkit`` command's ``--help``, ``inspect`` and ``convert``, never import torch.
"""

import importlib

from ._errors import ConfigError

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
    "from_keras",
    "layers",
    "load",
    "load_keras",
    "models",
    "network",
    "options",
]

#: Where each lazily loaded public name lives (a submodule, or a name in one). ``evaluation`` and
#: ``reports`` are not in ``__all__`` but were always reachable as ``seqkit.evaluation``; they stay so.
_SUBMODULES = ("evaluation", "layers", "models", "network", "reports")
_LAZY = {
    **{name: "evaluation" for name in ("Evaluation", "EvaluationBinary", "ROC", "ROCMultiClass",
                                       "RegressionEvaluation", "all_reduce_evaluation")},
    **{name: "network" for name in ("Checkpoint", "EarlyStopping", "FitState", "InputType", "Listener",
                                    "ModelFileError", "NonFiniteLossError", "ProgressBar",
                                    "ScoreListener", "Sequential", "from_keras", "load", "load_keras", "options")},
}


def __getattr__(name: str):
    """Import a torch-based submodule or public name on first use, then keep it as an attribute."""
    if name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    elif name in _LAZY:
        value = getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
    else:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list:
    return sorted(set(globals()) | set(__all__))
