"""Loading a trained model with its data description, for ``evaluate`` and ``predict``.

The description comes from the model file itself (``net.data_description``);
a model file from an older run without one falls back to the ``data.json``
beside it, with a note.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass

from ..network import load
from ._errors import CliError
from ._runinfo import FILE_NAME, RunInfo, find_run_info

__all__ = ["LoadedModel", "is_regression", "load_model"]


def is_regression(net) -> bool:
    """True when the network's output layer has a regression loss (mse, mae)."""
    return net.head().is_regression


@dataclass
class LoadedModel:
    """A network and what it expects of its data (None when the model carries no description)."""

    net: object
    info: RunInfo | None
    path: str

    @property
    def n_outputs(self) -> int | None:
        try:
            return int(self.net.layers[-1].n_out)
        except (AttributeError, TypeError, NotImplementedError):
            return None


def load_model(path: str, device: str | None) -> LoadedModel:
    """``seqkit.load`` and the data description it carries (a note on stderr when there is none)."""
    from ._run import resolve_device

    if not os.path.exists(path):
        raise FileNotFoundError(2, "no such model file", path)
    if os.path.isdir(path):
        raise CliError(f"{path} is a folder; give the model file in it (e.g. {path}/model.seqkit)")
    net = load(path, device=resolve_device(device))
    if net.data_description is not None:
        return LoadedModel(net, RunInfo.from_description(net.data_description), path)
    info = find_run_info(path)
    if info is None:
        print(f"seqkit: note: {path} carries no data description (a network saved from Python without "
              f"training on readers data) and no older {FILE_NAME} is beside it: the data is read as the "
              f"options say and not standardised", file=sys.stderr)
    return LoadedModel(net, info, path)
