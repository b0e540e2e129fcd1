"""Export: a network as an ONNX model (``.onnx``) or a ``torch.export`` program (``.pt2``).

:func:`export_network` (``Sequential.export``) traces ``net.forward`` in eval
mode with ``torch.export`` (the ONNX exporter starts from the same trace):

- inputs ``features`` ``[N, F, T]`` and ``mask`` ``[N, T]`` (1 = real step) in
  the network's dtype and on its device, N and T dynamic; output ``output``,
  what ``net.output(features, mask)`` gives. A network without a time axis
  (feed-forward or image input) has the one input ``features``.
- While tracing, every recurrent layer takes its device-only path (see
  :mod:`seqkit.layers._tracing`): the mask is a tensor of the graph, nothing
  is read back to the host and no numpy runs, and the step loop is one
  ``scan`` (an ONNX ``Scan``), so T stays dynamic and masks of any shape
  (left or right padding, gaps) give the masking semantic exactly.
- ``standardize=True`` puts the data description's ``Standardizer`` into the
  program, so it takes features as the data files hold them.
- The file is written atomically (a temporary file beside it, renamed when
  complete), then checked: the written program is loaded and run on a
  padded example batch, and its output must equal ``net.forward`` to 1e-5
  (for ONNX when onnxruntime is installed).

What cannot be exported is an error naming the layer and its index: a
stateful layer (its state lives between calls), or whatever the tracer
refuses inside a layer (the tracer's message is kept). An exported program
does not check its input: an example whose mask row is all 0 gets a result
instead of the error ``output`` gives.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import warnings
from pathlib import Path

import numpy as np
import torch
from torch import nn

from .._errors import ConfigError
from ._shapes import layer_name

__all__ = ["EXPORT_FORMATS", "ExportCheckError", "export_network"]

#: Suffix -> what is written.
EXPORT_FORMATS = {".onnx": "ONNX model (torch.onnx, dynamo exporter)",
                  ".pt2": "torch.export program (torch.export.save)"}

_TOLERANCE = 1e-5
_EXAMPLE_N, _EXAMPLE_T = 3, 7            # neither 0 nor 1, so the tracer keeps N and T symbolic


class ExportCheckError(RuntimeError):
    """The written program's output differs from the network's on the check batch."""


class _Standardize(nn.Module):
    """A ``readers.Standardizer`` on device tensors: per feature, or per sequence over real steps.

    Shape:
        features ``[N, F, T]``; mask ``[N, T]`` or None; returns ``[N, F, T]``, 0 at masked steps.
    """

    def __init__(self, standardizer, dtype: torch.dtype, device: torch.device):
        super().__init__()
        self.per_sequence = bool(standardizer.per_sequence)
        if not self.per_sequence:
            scale = np.where(standardizer.std > 0, standardizer.std, 1.0)
            self.register_buffer("mean", torch.as_tensor(standardizer.mean, dtype=dtype, device=device).view(1, -1, 1))
            self.register_buffer("inv", torch.as_tensor(1.0 / scale, dtype=dtype, device=device).view(1, -1, 1))

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
        w = None if mask is None else (mask != 0).to(features.dtype).unsqueeze(1)     # [N, 1, T]
        if not self.per_sequence:
            out = (features - self.mean) * self.inv                                 # [N, F, T]
            return out if w is None else out * w
        w = torch.ones_like(features[:, :1]) if w is None else w
        count = w.sum(dim=2, keepdim=True).clamp_min(1.0)                           # [N, 1, 1]
        mean = (features * w).sum(dim=2, keepdim=True) / count                      # [N, F, 1]
        std = ((((features - mean) * w) ** 2).sum(dim=2, keepdim=True) / count).sqrt()
        return (features - mean) / torch.where(std > 0, std, torch.ones_like(std)) * w


class _Program(nn.Module):
    """What is exported: (standardisation, then) the network's forward."""

    def __init__(self, net, standardize: nn.Module | None, logits: bool, masked: bool):
        super().__init__()
        self.net, self.standardize, self.logits, self.masked = net, standardize, logits, masked

    def forward(self, features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if self.standardize is not None:
            features = self.standardize(features, mask)
        return self.net(features, mask if self.masked else None, logits=self.logits)


def _time_axis(net) -> bool:
    """True when the network's input has a time axis at dim 2 (sequences, video)."""
    return None in tuple(net.input_type.shape(sequence=True))


def _example(net, masked: bool, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """A padded example batch: N=3, T=7; example 1 right-padded, example 2 left-padded."""
    shape = [_EXAMPLE_T if d is None else d for d in net.input_type.shape(sequence=True)]
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn([_EXAMPLE_N] + shape, generator=gen, dtype=torch.float64)
    x = x.to(device=net.device, dtype=net.dtype)
    if not masked:
        return (x,)
    mask = torch.ones(_EXAMPLE_N, _EXAMPLE_T, dtype=net.dtype, device=net.device)   # [N, T]
    mask[1, _EXAMPLE_T - 2:] = 0
    mask[2, :3] = 0
    x = x * mask.view(_EXAMPLE_N, 1, _EXAMPLE_T, *([1] * (x.dim() - 3)))             # padding holds 0
    return x, mask


def _check_exportable(net) -> None:
    """ConfigError naming the first layer (index, class) that an exported program cannot hold."""
    for i, layer in enumerate(net.layers):
        for module in layer.modules():
            if getattr(module, "stateful", False):
                inner = "" if module is layer else f" (its {type(module).__name__})"
                raise ConfigError(
                    f"layer {i} ({layer_name(layer)}){inner} cannot be exported: it is stateful (its state "
                    f"lives between calls, an exported program keeps none); export a copy built with "
                    f"stateful=False and carry the state yourself")


@contextlib.contextmanager
def _layer_watch(net):
    """Yields a list whose last item is the index of the layer being traced (forward pre-hooks)."""
    entered: list[int] = []
    handles = [layer.register_forward_pre_hook(lambda _m, _a, i=i: entered.append(i))
               for i, layer in enumerate(net.layers)]
    try:
        yield entered
    finally:
        for h in handles:
            h.remove()


def _where(net, entered: list[int]) -> str:
    if not entered:
        return "the network's input"
    i = entered[-1]
    return f"layer {i} ({layer_name(net.layers[i])})"


def _dynamic_shapes(args: tuple) -> dict:
    n, t = torch.export.Dim("N"), torch.export.Dim("T")
    shapes = {"features": {0: n, 2: t} if len(args) == 2 else {0: n}}
    if len(args) == 2:
        shapes["mask"] = {0: n, 1: t}
    return shapes


def _trace(program: _Program, args: tuple):
    return torch.export.export(program, args, dynamic_shapes=_dynamic_shapes(args), strict=False)


def _write_onnx(program: _Program, args: tuple, path: str, metadata: dict) -> None:
    try:
        import onnxscript  # noqa: F401  (the ONNX exporter needs it; fail early with a clear hint)
    except ImportError:
        raise ImportError("exporting to .onnx needs the onnx and onnxscript packages: "
                          "pip install 'seqkit[export]'") from None
    import onnx

    names = ["features", "mask"][:len(args)]
    onnx_program = torch.onnx.export(program, args, dynamo=True, input_names=names, output_names=["output"],
                                     dynamic_shapes=_dynamic_shapes(args), external_data=False,
                                     optimize=False, verbose=False)
    model = onnx_program.model_proto
    for key, value in metadata.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save_model(model, path)


def _run_written(path: str, suffix: str, args: tuple) -> np.ndarray | None:
    """The written program's output on ``args`` (None for ONNX without onnxruntime)."""
    if suffix == ".pt2":
        with torch.no_grad():
            return torch.export.load(path).module()(*args).detach().cpu().double().numpy()
    try:
        import onnxruntime
    except ImportError:
        warnings.warn("export: onnxruntime is not installed, so the written .onnx file was not checked "
                      "against the network; pip install 'seqkit[export]' to check it", stacklevel=4)
        return None
    session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {name: a.detach().cpu().numpy() for name, a in zip(("features", "mask"), args)}
    return np.asarray(session.run(["output"], feeds)[0], dtype=np.float64)


@contextlib.contextmanager
def _replaced_when_done(path: Path):
    """Yields a temporary path beside ``path``; renames it over ``path`` when the block completes."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp{path.suffix}")
    try:
        yield str(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def export_network(net, path, *, standardize: bool = False, logits: bool = False, check: bool = True) -> Path:
    """Write ``net`` to ``path`` as ONNX (``.onnx``) or a ``torch.export`` program (``.pt2``).

    See the module docstring for the inputs, output and guarantees.

    Args:
        net: a built ``Sequential``; exported in eval mode (its mode is restored after).
        path: the file; its suffix picks the format (:data:`EXPORT_FORMATS`).
        standardize: put the data description's ``Standardizer`` in front (the
            program then takes unstandardised features); an error when the
            network carries none.
        logits: output the output layer's pre-activation instead of its activation.
        check: run the written file on a padded example batch and compare it with
            ``net.forward`` (1e-5); ONNX needs onnxruntime for it.

    Returns:
        The path written.

    Raises:
        ConfigError: an unknown suffix, a network not built, a layer that cannot
            be exported (named with its index), ``standardize`` without a standardizer.
        ExportCheckError: the written program disagrees with the network (the file is removed).

    Shape:
        features ``[N, F, T]`` (or the input type's layout), mask ``[N, T]``;
        output as ``net.output``: ``[N, C, T]`` or ``[N, C]``.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in EXPORT_FORMATS:
        formats = "; ".join(f"{k}: {v}" for k, v in EXPORT_FORMATS.items())
        raise ConfigError(f"export: cannot tell the format of {path}: the name must end in "
                          f"{' or '.join(EXPORT_FORMATS)} ({formats})")
    if not net.built:
        raise ConfigError("export: the network is not built yet; give it input_type= or run it once")
    _check_exportable(net)
    scaler = None
    description = net.data_description
    if standardize:
        if description is None or description.standardizer is None:
            raise ConfigError("export: standardize=True but the network carries no Standardizer in its "
                              "data description (it was not trained on standardised readers data)")
        scaler = _Standardize(description.standardizer, net.dtype, net.device)
    masked = _time_axis(net)
    program = _Program(net, scaler, logits, masked)
    args = _example(net, masked)
    metadata = _metadata(net, standardize, logits, masked)
    was_training = net.training
    program.eval()                                 # the network too
    try:
        with torch.no_grad():
            expected = program(*args).detach().cpu().double().numpy()
        with _layer_watch(net) as entered, _replaced_when_done(path) as tmp, _quiet_exporter():
            try:
                if suffix == ".pt2":
                    torch.export.save(_trace(program, args), tmp, extra_files={"seqkit.json": json.dumps(metadata)})
                else:
                    _write_onnx(program, args, tmp, metadata)
            except (ConfigError, ImportError):
                raise
            except Exception as err:               # the tracer's refusal, named by the layer it was in
                first = (str(err).strip().splitlines() or [type(err).__name__])[0]
                raise ConfigError(f"export: {_where(net, entered)} cannot be exported: "
                                  f"{type(err).__name__}: {first}") from err
            if check:
                _check_written(tmp, suffix, args, expected)
    finally:
        net.train(was_training)
    return path


@contextlib.contextmanager
def _quiet_exporter():
    """Silence what torch's exporters say on every export that is not about this network: deprecation
    notices, the axis renaming note, and the registry's note about torchvision ops."""
    registry = logging.getLogger("torch.onnx._internal.exporter._registration")
    level = registry.level
    registry.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning)
            warnings.filterwarnings("ignore", message=r".*axis name.*will not be used")
            yield
    finally:
        registry.setLevel(level)


def _check_written(tmp: str, suffix: str, args: tuple, expected: np.ndarray) -> None:
    got = _run_written(tmp, suffix, args)
    if got is None:
        return
    if got.shape != expected.shape or not np.allclose(got, expected, rtol=0.0, atol=_TOLERANCE):
        worst = float(np.abs(got - expected).max()) if got.shape == expected.shape else float("nan")
        raise ExportCheckError(f"export: the written {suffix} program's output differs from the network's on "
                               f"the check batch (shape {got.shape} vs {expected.shape}, largest difference "
                               f"{worst:.3g} > {_TOLERANCE}); nothing was written")


def _metadata(net, standardize: bool, logits: bool, masked: bool) -> dict:
    """String key/values stored with the program: what its inputs and output mean."""
    description = net.data_description
    meta = {"seqkit.inputs": "features [N, F, T], mask [N, T] (1 = real step)" if masked else "features",
            "seqkit.output": "logits" if logits else "output layer activation",
            "seqkit.standardized_inside": json.dumps(bool(standardize))}
    if description is not None:
        if description.feature_columns is not None:
            meta["seqkit.feature_columns"] = json.dumps(list(description.feature_columns))
        if description.class_names is not None:
            meta["seqkit.class_names"] = json.dumps(list(description.class_names))
    return meta
