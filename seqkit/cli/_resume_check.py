"""``seqkit train --resume``: refuse to continue a run with settings or data other than its own.

A resumed run must be the run it continues: the same data, layers and
network settings. Two things are compared, and any difference is a
``CliError`` that lists each one (``network.learning_rate: 0.005 in the run,
0.01 now``):

- the configuration against the copy the run folder keeps (``config.toml``,
  written when the run started), except what may change between the two
  halves of one run: ``[train]`` (epochs, checkpoints, early stopping),
  ``[output]``, ``[data.test]`` (evaluated only at the end) and
  ``network.device``;
- the data as read now (feature columns, classes, outputs) against the data
  description the checkpoint carries, which catches data files that changed
  under an unchanged configuration.
"""

from __future__ import annotations

import os

from ..network import DataDescription, read_model_file
from ._config import RunConfig, read_toml
from ._errors import CliError

__all__ = ["COPY_NAME", "FREE_KEYS", "check_resume", "config_differences"]

#: The run folder's copy of the configuration.
COPY_NAME = "config.toml"
#: Dotted keys (and every key under them) that may differ when a run is resumed.
FREE_KEYS = ("train", "output", "data.test", "network.device")


def _flat(value, key: str, out: dict) -> dict:
    """Dotted key -> value; tables and arrays of tables are opened, other arrays kept whole."""
    if isinstance(value, dict):
        for name, item in value.items():
            _flat(item, f"{key}.{name}" if key else name, out)
    elif isinstance(value, list) and value and all(isinstance(v, dict) for v in value):
        out[f"{key}#count"] = len(value)
        for i, item in enumerate(value):
            _flat(item, f"{key}[{i}]", out)
    else:
        out[key] = value
    return out


def _free(key: str) -> bool:
    return any(key == free or key.startswith((f"{free}.", f"{free}[", f"{free}#")) for free in FREE_KEYS)


def _show(value) -> str:
    return "not set" if value is _MISSING else repr(value) if isinstance(value, str) else str(value)


_MISSING = object()


def config_differences(run: dict, now: dict) -> list[str]:
    """The differences between a run's configuration and the current one, outside :data:`FREE_KEYS`,
    as ``key: <value> in the run, <value> now``."""
    old, new = _flat(run, "", {}), _flat(now, "", {})
    lines = []
    for key in sorted(set(old) | set(new)):
        if _free(key):
            continue
        a, b = old.get(key, _MISSING), new.get(key, _MISSING)
        if a != b:
            name = key.replace("#count", "")
            what = " (tables)" if key.endswith("#count") else ""
            lines.append(f"{name}: {_show(a)}{what} in the run, {_show(b)}{what} now")
    return lines


def _data_differences(saved: DataDescription, now) -> list[str]:
    lines = []
    for name in ("feature_columns", "class_names", "num_outputs"):
        a, b = getattr(saved, name), getattr(now, name)
        if a is not None and b is not None and list(a if isinstance(a, list) else [a]) != \
                list(b if isinstance(b, list) else [b]):
            lines.append(f"the data's {name.replace('_', ' ')}: {a} in the run, {b} now")
    return lines


def check_resume(config: RunConfig, out_dir: str, resume_from: str, info) -> None:
    """Raise ``CliError`` when resuming ``resume_from`` with ``config`` would not continue the same run.

    Args:
        config: the configuration given now.
        out_dir: the run folder (its ``config.toml`` is the run's configuration).
        resume_from: the checkpoint (or model file) to continue.
        info: the data as read now (``feature_columns``, ``class_names``, ``num_outputs``).
    """
    lines = []
    copy = os.path.join(out_dir, COPY_NAME)
    if config.file is not None and os.path.isfile(copy):
        lines += config_differences(read_toml(copy), config.raw)
    saved = read_model_file(resume_from, map_location="cpu").config.get("data")
    if saved is not None:
        lines += _data_differences(DataDescription.from_dict(saved, resume_from), info)
    if lines:
        raise CliError(f"--resume: {config.file or 'the configuration'} would not continue the run in "
                       f"{out_dir}: " + "; ".join(lines) + ". Put the run's values back to continue it, "
                       "or start a new run (without --resume, or with another --out)")
