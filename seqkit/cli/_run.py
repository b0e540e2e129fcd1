"""One training run from a checked config: data, network, fit, model file, test report.

``seqkit train`` and ``seqkit demo`` both call :func:`train_run`. The run
folder receives:

- ``model.seqkit``: the trained network (``seqkit.load`` reads it), carrying
  its data description: reading options, feature columns, classes and
  normalisation statistics for ``evaluate`` and ``predict`` (every checkpoint
  carries it too, so a folder never mixes two runs' models and statistics);
- ``metrics.jsonl``: one JSON object per epoch;
- ``checkpoints/``: ``checkpoint-e<epoch>-i<iteration>.seqkit`` files; ``--resume``
  continues from the newest of these and the model file (by iteration);
- ``report.html`` (or as configured): the test split's evaluation, when there is one;
- ``config.toml``: a copy of the configuration.
"""

from __future__ import annotations

import glob
import os
import shutil
import time
from dataclasses import dataclass, replace

import readers

from ..network import (Checkpoint, DataDescription, EarlyStopping, InputType, ProgressBar, Sequential,
                       default_progress, distributed_world, is_main_process, read_model_file)
from ._config import DEVICES, RunConfig, is_device_name
from ._data import BatchSpec, make_batches
from ._errors import CliError
from ._layers import build_layers
from ._listeners import InterruptStop, MetricsLog
from ._network_size import check_network_size
from ._resume_check import check_resume
from ._runinfo import READ_KEYS, RunInfo
from ._writing import writing_to

__all__ = ["CHECKPOINTS", "RunResult", "evaluate_split", "resolve_device", "train_run"]

CHECKPOINTS = "checkpoints"
_PREFIX = "checkpoint"
_DEFAULT_SEED = 12345


def _standardized(batches, standardizer: "readers.Standardizer | None"):
    """``batches`` standardised with the training statistics, or as they are without any."""
    return batches if standardizer is None else standardizer(batches)


@dataclass
class RunResult:
    """What a run produced.

    Attributes:
        out_dir: the run folder.
        model: the model file (None when interrupted).
        checkpoint: the checkpoint written on Ctrl-C (None otherwise).
        metrics: the metrics log.
        report: the test report (None without a test split or report).
        evaluation: the test evaluation, or None.
        net: the network.
        seconds: wall time of the run.
    """

    out_dir: str
    model: str | None
    checkpoint: str | None
    metrics: str
    report: str | None
    evaluation: object
    net: Sequential
    seconds: float

    @property
    def interrupted(self) -> bool:
        return self.checkpoint is not None


def resolve_device(name: str | None) -> str:
    """``"auto"`` (or None) is CUDA when available, else the CPU; other names as given.

    Raises:
        CliError: a name other than auto, cpu, cuda, cuda:N or mps, or a device torch does not see.
    """
    import torch

    if name in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    if not is_device_name(name):
        raise CliError(f"unknown device {name!r}; allowed: {', '.join(DEVICES)} or cuda:N")
    if name.startswith("cuda"):
        if not torch.cuda.is_available():
            raise CliError(f"device {name!r} asked for, but torch sees no CUDA device; use cpu or auto")
        index = int(name.partition(":")[2] or 0)
        if index >= torch.cuda.device_count():
            raise CliError(f"device {name!r} asked for, but torch sees {torch.cuda.device_count()} CUDA "
                           f"device(s): cuda:0 .. cuda:{torch.cuda.device_count() - 1}")
    if name == "mps" and not torch.backends.mps.is_available():
        raise CliError("device 'mps' asked for, but torch sees no Apple GPU (MPS); use cpu or auto")
    return name


def _silent(*args, **kwargs) -> None:
    """The printer of ranks other than 0."""


def config_provenance(config: RunConfig):
    """The run's configuration for a report's provenance: the TOML file's text (or its path)."""
    if config.file is None:
        return None
    try:
        with open(config.file, encoding="utf-8") as handle:
            return handle.read()
    except (OSError, UnicodeDecodeError):
        return os.fspath(config.file)


def _read_options(config: RunConfig) -> dict:
    source = config.splits["train"]
    return {k: getattr(source, k) for k in READ_KEYS if getattr(source, k) is not None}


def _start_fresh(out_dir: str, metrics: str) -> None:
    """A new run in an existing folder replaces its metrics log and checkpoints."""
    if os.path.exists(metrics):
        os.remove(metrics)
    for path in glob.glob(os.path.join(out_dir, CHECKPOINTS, f"{_PREFIX}-e*-i*.seqkit")):
        os.remove(path)


def _listeners(config: RunConfig, out_dir: str, metrics: MetricsLog) -> list:
    train = config.train
    items = [metrics, Checkpoint(os.path.join(out_dir, CHECKPOINTS), prefix=_PREFIX,
                                 every_iterations=train["checkpoint_every_iterations"],
                                 every_epochs=train["checkpoint_every_epochs"],
                                 keep_last=train["keep_last"])]
    if train["early_stopping"] is not None:
        items.append(EarlyStopping(**train["early_stopping"]))
    return items


def _iteration(path: str) -> int:
    state = read_model_file(path, map_location="cpu").training_state or {}
    return int(state.get("iteration", 0))


def _resume_point(out_dir: str, model_name: str) -> str | None:
    """The newest of the latest checkpoint and the finished model (by iteration), or None."""
    candidates = [Checkpoint.latest(os.path.join(out_dir, CHECKPOINTS), prefix=_PREFIX),
                  os.path.join(out_dir, model_name)]
    found = [(_iteration(p), p) for p in candidates if p is not None and os.path.isfile(p)]
    return max(found)[1] if found else None


def _copy_config(config: RunConfig, out_dir: str) -> None:
    if config.file is None:
        return
    target = os.path.join(out_dir, "config.toml")
    if os.path.abspath(config.file) != os.path.abspath(target):
        shutil.copyfile(config.file, target)


def rank_share():
    """``"auto"`` under torchrun (each rank reads its share; evaluations merge), else None."""
    return "auto" if distributed_world()[1] > 1 else None


def evaluate_split(net, source, batch: BatchSpec, standardizer, names, *, batch_size: int | None = None,
                   provenance: dict | None = None):
    """Evaluate ``net`` on one split (standardised like the training data); under torchrun every rank
    evaluates its share and gets the merged, global figures. ``provenance`` goes to the report."""
    data = _standardized(make_batches(source, batch, batch_size=batch_size, shard=rank_share()), standardizer)
    evaluation = net.evaluate(data, labels=None if batch.regression else names)
    evaluation.provenance = dict(evaluation.provenance, data_source=source.describe(), **(provenance or {}))
    return evaluation


def _prepare_data(config: RunConfig, batch: BatchSpec, resume_from: str | None, printer):
    """The training batches and the run information, normalisation statistics included.

    A resumed run reuses the statistics its checkpoint carries; a new run reads the
    training split once for them. Nothing is written: the model file carries it all.
    """
    source = config.splits["train"]
    train_batches = make_batches(source, batch, training=True, shard=rank_share())
    standardizer = None
    if config.normalize:
        saved = None
        if resume_from is not None:
            data = read_model_file(resume_from, map_location="cpu").config.get("data")
            saved = None if data is None else DataDescription.from_dict(data, resume_from).standardizer
        if saved is not None:
            standardizer = saved
        else:
            printer("computing normalisation statistics from the training data")
            standardizer = readers.Standardizer.fit(make_batches(source, batch, batch_size=1024))
    info = RunInfo(batch, _read_options(config), list(train_batches.feature_columns),
                   list(train_batches.label_columns), train_batches.num_outputs, standardizer)
    return train_batches, info


def train_run(config: RunConfig, out_dir, *, resume: bool = False, epochs: int | None = None,
              device: str | None = None, progress: bool | None = None, printer=print,
              summary: bool = False) -> RunResult:
    """Train as ``config`` says, writing the run folder (module docstring).

    Args:
        config: the checked configuration.
        out_dir: the run folder (created if missing).
        resume: continue from the newest checkpoint in ``out_dir/checkpoints``.
        epochs: overrides ``[train] epochs``.
        device: overrides ``[network] device``.
        progress: a tqdm bar per epoch (None: on a terminal outside CI).
        printer: receives the progress lines.
        summary: also print the network's layer table before training.

    Raises:
        CliError: ``resume`` without a checkpoint, or with other settings or data than the run's
            (:func:`~seqkit.cli._resume_check.check_resume`).
        readers.SequenceDataError, ConfigError, ValueError: bad data or settings.
    """
    start = time.perf_counter()
    out_dir = os.fspath(out_dir)
    main = is_main_process()                           # under torchrun only rank 0 prints and writes
    if not main:
        printer = _silent
    os.makedirs(out_dir, exist_ok=True)
    metrics_path = os.path.join(out_dir, config.output["metrics"])
    resume_from = None
    if resume:
        resume_from = _resume_point(out_dir, config.output["model"])
        if resume_from is None:
            raise CliError(f"--resume: no checkpoint in {os.path.join(out_dir, CHECKPOINTS)} and no "
                           f"model file in {out_dir}; start the run without --resume")
    elif main:
        _start_fresh(out_dir, metrics_path)
    batch = config.batch
    if batch.seed is None:
        batch = replace(batch, seed=config.network.get("seed", _DEFAULT_SEED))
    train_batches, info = _prepare_data(config, batch, resume_from, printer)
    if resume_from is not None:
        check_resume(config, out_dir, resume_from, info)   # before the config copy is replaced
    if main:
        _copy_config(config, out_dir)
    standardizer, n_outputs, train_source = info.standardizer, info.num_outputs, config.splits["train"]
    train = _standardized(train_batches, standardizer)
    validation = None
    if "validation" in config.splits:
        validation = _standardized(make_batches(config.splits["validation"], batch, shard=rank_share()),
                                   standardizer)

    device = resolve_device(device or config.network.get("device"))
    check_network_size(config.layers, n_outputs, train_batches.num_features, config.sequential_kwargs(),
                       device, file=config.file)          # before any memory is taken for it
    net = Sequential(build_layers(config.layers, n_outputs),
                     input_type=InputType.recurrent(train_batches.num_features),
                     device=device, **config.sequential_kwargs())
    net.data_description = info.to_description()      # into every checkpoint and the model file
    total = epochs or config.train["epochs"]
    if summary:
        printer(net.summary())
    metrics = MetricsLog(metrics_path, validation, printer if main else None)
    try:
        per_epoch = f"{len(train)} batches per epoch"
    except TypeError:                                  # a long table's size is known once read
        per_epoch = f"batches of {batch.batch_size}"
    printer(f"training on {train_source.describe()}: {train_batches.num_features} feature channel(s), "
            f"{n_outputs} {'target(s)' if batch.regression else 'classes'}, {per_epoch}, "
            f"{total} epochs, device {net.device}"
            + (f"; resuming from {resume_from}" if resume_from else ""))
    # The bar comes first, so it closes before the epoch line is printed.
    bar = [ProgressBar()] if main and (default_progress() if progress is None else progress) else []
    stop = InterruptStop()
    interrupted = False
    with stop, writing_to(out_dir):
        try:
            net.fit(train, total, listeners=[*bar, *_listeners(config, out_dir, metrics), stop],
                    validation=validation, resume_from=resume_from, progress=False,
                    nonfinite_dir=out_dir,                 # a NaN/inf checkpoint goes next to the run
                    validation_split=config.train["validation_split"])
        except KeyboardInterrupt:
            interrupted = True
        if interrupted or stop.interrupted:
            stop.hold()                                # a further Ctrl-C cannot cut the checkpoint short
            path = os.path.join(out_dir, CHECKPOINTS,
                                f"{_PREFIX}-e{net.epoch:04d}-i{net.iteration:09d}.seqkit")
            if main:
                net.save(path)
            return RunResult(out_dir, None, path, metrics_path, None, None, net,
                             time.perf_counter() - start)
    model_path = os.path.join(out_dir, config.output["model"])
    if main:
        with writing_to(model_path):
            net.save(model_path)
    evaluation = report = None
    if "test" in config.splits:
        evaluation = evaluate_split(net, config.splits["test"], batch, standardizer, info.class_names,
                                    provenance={"model_file": model_path, "config": config_provenance(config)})
        if config.output["report"] and main:
            report = os.path.join(out_dir, config.output["report"])
            evaluation.report(report)
    return RunResult(out_dir, model_path, None, metrics_path, report, evaluation, net,
                     time.perf_counter() - start)
