"""The TOML run configuration of ``seqkit train``: schema, validation and the checked result.

Top-level tables: ``[data]``, ``[[layers]]``, ``[network]``, ``[train]``,
``[output]`` (docs/cli.md has the full schema and an example). The file is
read with ``tomllib``. Every value is checked here, before any data is read,
and a mistake raises :class:`ConfigFileError` naming the file, the full
dotted key and, for an unknown key or value, the allowed ones. Relative
paths in the file are taken from the file's folder.
"""

from __future__ import annotations

import copy
import functools
import inspect
import os
import re
import sys
from dataclasses import dataclass, field

if sys.version_info >= (3, 11):
    import tomllib
else:                                                       # pragma: no cover - Python 3.10
    import tomli as tomllib

import readers

from .._errors import ConfigError
from ..network import BACKPROP, SCHEDULES, UPDATERS, WEIGHT_INITS, Sequential
from ._data import ALIGNS, FORMATS, BatchSpec, SourceSpec
from ._errors import CliError, ConfigFileError
from ._layers import LayerSpec, build_layers, check_layers
from ._network_size import check_network_size
from ._schema import (boolean, check_table, choice, column, columns, describe, integer, number,
                      optional, string, strings)

__all__ = ["DEVICES", "RunConfig", "is_device_name", "load_config", "parse_config", "read_toml"]

SPLITS = ("train", "validation", "test")

#: Reading options: allowed in [data] (defaults for every split) and in each split's table.
READ_FIELDS = {
    "format": choice(*FORMATS),
    "skip_lines": integer(0),
    "delimiter": string,
    "id_column": column,
    "order_column": column,
    "key_column": column,
    "columns": columns,
}

SPLIT_FIELDS = {"path": string, "labels": string, "start": integer(0), "end": integer(0), **READ_FIELDS}


def _label_column(value, key):
    return columns(value, key) if isinstance(value, list) else column(value, key)


DATA_FIELDS = {
    **{split: lambda v, k: v for split in SPLITS},          # checked as split tables below
    **READ_FIELDS,
    "batch_size": integer(1),
    "align": choice(*ALIGNS),
    "num_classes": integer(1),
    "classes": strings,
    "class_names": strings,
    "regression": boolean,
    "sequence_labels": boolean,
    "label_column": _label_column,
    "normalize": boolean,
    "shuffle": boolean,
    "seed": integer(),
    "bucket_by_length": boolean,
    "allow_nan": boolean,
}

DEVICES = ("auto", "cpu", "cuda", "mps")


def is_device_name(value) -> bool:
    """One of :data:`DEVICES` or ``cuda:N``."""
    return isinstance(value, str) and (value in DEVICES or re.fullmatch(r"cuda:\d+", value) is not None)


def _device(value, key):
    if is_device_name(value):
        return value
    raise ConfigFileError(f"unknown device {value!r}; allowed: {', '.join(DEVICES)} or cuda:N", key=key)


def _callable_table(registry: dict, what: str, skip: int):
    """A name from ``registry`` or a table ``{type = name, argument = value...}``."""
    def check(value, key):
        if isinstance(value, str):
            return choice(*registry)(value, key)
        if not isinstance(value, dict) or "type" not in value:
            raise ConfigFileError(f"expected a {what} name or a table with type = \"...\" and its "
                                  f"arguments, got {describe(value)}", key=key)
        name = choice(*registry)(value["type"], f"{key}.type")
        cls = registry[name]
        params = list(inspect.signature(cls.__init__).parameters)[1 + skip:]
        for arg in value:
            if arg != "type" and arg not in params:
                raise ConfigFileError(f"{cls.__name__} has no argument {arg!r}; allowed: "
                                      f"{', '.join(params)}", key=f"{key}.{arg}")
        return dict(value, type=name)
    return check


def _grad_clip(value, key):
    if isinstance(value, dict):
        fields = check_table(value, key, {"norm": number(0, above=True), "value": number(0, above=True)})
        if len(fields) != 1:
            raise ConfigFileError("give one of norm = ... or value = ...", key=key)
        return next(iter(fields.items()))
    return number(0, above=True)(value, key)


NETWORK_FIELDS = {
    "seed": integer(),
    "updater": _callable_table(UPDATERS, "updater", 1),
    "learning_rate": number(0, above=True),
    "lr_schedule": _callable_table(SCHEDULES, "schedule", 1),
    "lr_schedule_interval": choice("epoch", "iteration"),
    "weight_init": choice(*WEIGHT_INITS),
    "weight_init_recurrent": choice(*WEIGHT_INITS),
    "l1": number(0),
    "l2": number(0),
    "dropout": number(0, below=1),
    "dtype": choice("float32", "float64"),
    "backprop": choice(*BACKPROP),
    "tbptt_length": integer(1),
    "tbptt_back_length": optional(integer(1)),
    "loss_reduction": choice("per_sequence", "per_step"),
    "grad_clip": optional(_grad_clip),
    "device": _device,
    "precision": optional(choice("32", "bf16-mixed")),
}

EARLY_STOPPING_FIELDS = {
    "patience": integer(1),
    "metric": choice("score", "accuracy"),
    "min_delta": number(0),
    "restore_best": boolean,
}

TRAIN_FIELDS = {
    "epochs": integer(1),
    "checkpoint_every_epochs": optional(integer(1)),
    "checkpoint_every_iterations": optional(integer(1)),
    "keep_last": optional(integer(1)),
    "early_stopping": lambda v, k: check_table(v, k, EARLY_STOPPING_FIELDS),
    "validation_split": optional(number(0, above=True, below=1)),
}

OUTPUT_FIELDS = {
    "dir": string,
    "model": string,
    "metrics": string,
    "report": optional(string),
}

TOP_FIELDS = {"data": lambda v, k: v, "layers": lambda v, k: v, "network": lambda v, k: v,
              "train": lambda v, k: v, "output": lambda v, k: v}

TRAIN_DEFAULTS = {"epochs": 10, "checkpoint_every_epochs": 1, "checkpoint_every_iterations": None,
                  "keep_last": 3, "early_stopping": None, "validation_split": None}
OUTPUT_DEFAULTS = {"dir": None, "model": "model.seqkit", "metrics": "metrics.jsonl",
                   "report": "report.html"}


@dataclass
class RunConfig:
    """A checked run configuration.

    Attributes:
        file: the TOML file (None for a config given as a dict).
        splits: ``train`` (always), ``validation`` and ``test`` when given.
        batch: the batching options.
        normalize: standardise features with the training split's statistics.
        layers: the checked layer specs (``build_layers`` makes new layers).
        network: keyword arguments for ``seqkit.Sequential`` (``updater`` and
            ``lr_schedule`` as given: a name or a table; see :meth:`sequential_kwargs`).
        train: epochs, checkpointing, early stopping.
        output: dir (None: not set), model, metrics and report file names.
        raw: the TOML data as read (for the run folder's copy).
    """

    file: str | None
    splits: dict[str, SourceSpec]
    batch: BatchSpec
    normalize: bool
    layers: list[LayerSpec]
    network: dict
    train: dict
    output: dict
    raw: dict = field(default_factory=dict)

    def sequential_kwargs(self) -> dict:
        """``seqkit.Sequential`` keyword arguments, tables turned into optimizer factories."""
        kwargs = dict(self.network)
        kwargs.pop("device", None)
        rate = kwargs.get("learning_rate", 1e-3)
        updater = kwargs.get("updater")
        if isinstance(updater, dict):
            args = {k: v for k, v in updater.items() if k != "type"}
            args.setdefault("lr", rate)
            kwargs["updater"] = functools.partial(UPDATERS[updater["type"]], **args)
        schedule = kwargs.get("lr_schedule")
        if schedule is not None:
            if isinstance(schedule, str):
                schedule = {"type": schedule}
            args = {k: v for k, v in schedule.items() if k != "type"}
            kwargs["lr_schedule"] = functools.partial(SCHEDULES[schedule["type"]], **args)
        if "dtype" in kwargs:
            import torch
            kwargs["dtype"] = getattr(torch, kwargs["dtype"])
        return kwargs


def read_toml(path) -> dict:
    """The TOML file as a dict.

    Raises:
        FileNotFoundError: no such file.
        CliError: a directory.
        ConfigFileError: not UTF-8, or not valid TOML (with the line and column).
    """
    path = os.fspath(path)
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except IsADirectoryError:
        raise CliError(f"{path} is a directory; expected a TOML file") from None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        raise ConfigFileError(f"not UTF-8 text (TOML files are UTF-8): byte 0x{data[err.start]:02x} on "
                              f"line {line}; save the file as UTF-8", file=path) from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ConfigFileError(f"not valid TOML: {err}", file=path) from None


def load_config(path) -> RunConfig:
    """Read and check a TOML run configuration (see the module docstring)."""
    path = os.fspath(path)
    return parse_config(read_toml(path), file=path)


def _split(value, key: str, defaults: dict, base: str) -> SourceSpec:
    checked = check_table(value, key, SPLIT_FIELDS, required=("path",))
    spec = {**defaults, **checked}
    try:
        return SourceSpec(**spec).relative_to(base)
    except CliError as err:
        raise ConfigFileError(str(err), key=key) from None


def _check_data(value, base: str) -> tuple[dict, BatchSpec, bool]:
    data = check_table(value, "data", DATA_FIELDS, required=("train",))
    defaults = {k: data[k] for k in READ_FIELDS if k in data}
    splits = {s: _split(data[s], f"data.{s}", defaults, base) for s in SPLITS if s in data}
    batch = {k: data[k] for k in ("batch_size", "align", "num_classes", "classes", "class_names",
                                  "regression", "sequence_labels", "label_column", "seed",
                                  "bucket_by_length", "allow_nan") if k in data}
    batch["shuffle"] = data.get("shuffle", True)
    batch.update(_ts_labels(splits["train"], data))
    spec = BatchSpec(**batch)
    if spec.regression:
        for name in ("classes", "class_names", "num_classes"):
            if name in data:
                raise ConfigFileError(f"{name} is for classification; this config sets regression = true",
                                      key=f"data.{name}")
    else:
        count = spec.num_classes
        for name in ("classes", "class_names"):
            names = data.get(name)
            if names is not None and count is not None and len(names) != count:
                raise ConfigFileError(f"{len(names)} names but num_classes = {count}", key=f"data.{name}")
            if names is not None and len(set(names)) != len(names):
                raise ConfigFileError("the names must be distinct", key=f"data.{name}")
            count = count or (len(names) if names else None)
        if count is None:
            raise ConfigFileError("missing; classification needs num_classes (or classes / class_names), "
                                  "or set regression = true", key="data.num_classes")
        if spec.classes is not None and spec.class_names is not None:
            raise ConfigFileError("give classes (text labels) or class_names (names of integer "
                                  "labels), not both", key="data.class_names")
        spec.num_classes = count
    for split, source in splits.items():
        if source.labels is None and spec.label_column is None:
            raise ConfigFileError("no labels: give label_column in [data] or labels in this table",
                                  key=f"data.{split}")
    return splits, spec, data.get("normalize", True)


def _ts_labels(train: SourceSpec, data: dict) -> dict:
    """For a ``.ts`` training file without label settings: its ``@classLabel`` classes, one label per series."""
    given = ("regression", "num_classes", "classes", "class_names", "label_column")
    try:
        if train.file_format() != "ts" or any(data.get(k) not in (None, False) for k in given):
            return {}
        classes = readers.TSFileReader(train.path).classes
    except (CliError, OSError, readers.SequenceDataError):
        return {}                                   # reported when the data is read
    return {} if classes is None else {"classes": classes, "num_classes": len(classes), "label_column": "class",
                                       "sequence_labels": True}


def _n_outputs(spec: BatchSpec) -> int | None:
    if not spec.regression:
        return spec.num_classes
    if isinstance(spec.label_column, list):
        return len(spec.label_column)
    return 1 if spec.label_column is not None else None


def parse_config(data: dict, *, file: str | None = None, base: str | None = None) -> RunConfig:
    """Check a run configuration given as a dict (what ``tomllib`` returns).

    Args:
        data: the configuration.
        file: the file it came from, for messages.
        base: the folder relative paths start from (default: the file's folder,
            else the current directory).
    """
    if base is None:
        base = os.path.dirname(os.path.abspath(file)) if file else os.getcwd()
    try:
        top = check_table(data, "", TOP_FIELDS, required=("data", "layers"))
        splits, batch, normalize = _check_data(top["data"], base)
        layers = check_layers(top["layers"], _n_outputs(batch))
        network = check_table(top.get("network", {}), "network", NETWORK_FIELDS)
        train = {**TRAIN_DEFAULTS, **check_table(top.get("train", {}), "train", TRAIN_FIELDS)}
        if train["checkpoint_every_epochs"] is None and train["checkpoint_every_iterations"] is None:
            train["checkpoint_every_epochs"] = 1
        output = {**OUTPUT_DEFAULTS, **check_table(top.get("output", {}), "output", OUTPUT_FIELDS)}
        if output["dir"] is not None and not os.path.isabs(output["dir"]):
            output["dir"] = os.path.join(base, output["dir"])
        config = RunConfig(file, splits, batch, normalize, layers, network, train, output,
                           raw=copy.deepcopy(data))
        _check_network(config)
    except ConfigFileError as err:
        raise err.in_file(file) if file else err from None
    if train["validation_split"] is not None and "validation" in splits:
        raise ConfigFileError("give a validation split ([data.validation]) or [train] validation_split, "
                              "not both", key="train.validation_split", file=file)
    if train["early_stopping"] is not None and "validation" not in splits and train["validation_split"] is None:
        raise ConfigFileError("early stopping needs a validation split ([data.validation] or "
                              "[train] validation_split)", key="train.early_stopping", file=file)
    return config


def _check_optimizer(kwargs: dict) -> None:
    """Make the updater and schedule once on a dummy parameter, so bad arguments show now."""
    import torch

    from ..network import make_optimizer, make_schedule

    try:
        optimizer = make_optimizer(kwargs.get("updater", "adam"),
                                   [{"params": [torch.nn.Parameter(torch.zeros(1))]}],
                                   kwargs.get("learning_rate", 1e-3))
    except (TypeError, ValueError) as err:
        raise ConfigFileError(f"the updater cannot be made: {err}", key="network.updater") from None
    if kwargs.get("lr_schedule") is not None:
        try:
            make_schedule(kwargs["lr_schedule"], optimizer)
        except (TypeError, ValueError) as err:
            raise ConfigFileError(f"the schedule cannot be made: {err}", key="network.lr_schedule") \
                from None


def _check_network(config: RunConfig) -> None:
    """Construct the network once (unbuilt) so cross-setting errors show now, naming [network]."""
    kwargs = config.sequential_kwargs()
    _check_optimizer(kwargs)
    n_outputs = _n_outputs(config.batch) or 2
    try:
        Sequential(build_layers(config.layers, n_outputs), **kwargs)
    except ConfigError as err:
        if isinstance(err, ConfigFileError):
            raise
        raise ConfigFileError(str(err), key="network") from None
    # Built once more, without memory, for one feature channel (the data is not read yet): the
    # layers must fit together, and training must fit in memory. `train` checks again with the data's.
    try:
        check_network_size(config.layers, n_outputs, 1, kwargs, config.network.get("device"))
    except ConfigError as err:
        if isinstance(err, ConfigFileError):
            raise
        raise ConfigFileError(str(err), key="layers") from None
