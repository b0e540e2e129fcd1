"""The size of a configured network, found before any memory is taken for it.

The network is built once on torch's ``meta`` device, where parameters have
shapes but no storage, so a layer of two billion units is counted in
milliseconds instead of failing deep inside the allocator. Training takes
about :data:`TRAINING_COPIES` times the parameters' memory (the parameters,
their gradients and Adam's two moments); more than the device has is a
:class:`ConfigFileError` naming the largest layer and the estimate.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass

import torch

from ..network import InputType, Sequential
from ._errors import ConfigFileError
from ._layers import LayerSpec, build_layers

__all__ = ["NetworkSize", "TRAINING_COPIES", "check_network_size", "device_memory", "network_size"]

#: Parameters, gradients and two optimizer moments (Adam): memory of the parameters times this.
TRAINING_COPIES = 4


@dataclass
class NetworkSize:
    """Parameter counts of a planned network.

    Attributes:
        parameters: all parameters.
        per_layer: parameters of each top-level layer (``layers[i]``), in order.
        bytes_per_value: the size of one value of the network's dtype.
    """

    parameters: int
    per_layer: list
    bytes_per_value: int

    @property
    def training_bytes(self) -> int:
        return self.parameters * self.bytes_per_value * TRAINING_COPIES


def _gib(n: float) -> str:
    return f"{n / 2 ** 30:,.1f} GiB" if n >= 2 ** 30 else f"{n / 2 ** 20:,.1f} MiB"


def network_size(specs: list[LayerSpec], n_outputs: int, n_features: int,
                 kwargs: dict) -> NetworkSize | None:
    """Build the network on the meta device for ``n_features`` input channels and count its parameters
    (None when a layer cannot be built there).

    Raises:
        ConfigFileError: a parameter too large to count (over 2**63 values), naming its shape.
        ConfigError: the layers do not fit together (from ``Sequential``).
    """
    layers = build_layers(specs, n_outputs)
    try:
        with torch.device("meta"):
            net = Sequential(layers, input_type=InputType.recurrent(n_features), **dict(kwargs, device="meta"))
    except (RuntimeError, NotImplementedError) as err:
        if "overflow" not in str(err):                # an operation the meta device lacks: size unknown
            return None
        shape = re.search(r"sizes=(\[[\d, ]+\])", str(err))
        what = f"a parameter of shape {shape.group(1)}" if shape else "a parameter"
        raise ConfigFileError(f"the network is too large to build: {what} has more values than fit in "
                              f"memory anywhere (over 2**63 bytes); make the layers smaller (n_out)",
                              key="layers") from None
    per_layer = [sum(p.numel() for p in layer.parameters()) for layer in net.layers]
    total = sum(p.numel() for p in net.parameters())
    return NetworkSize(total, per_layer, torch.empty((), dtype=net.dtype, device="meta").element_size())


def device_memory(device: str | None) -> tuple[int, str] | None:
    """``(bytes, what)``: the memory of a CUDA device (``auto`` when CUDA is available), else of
    this machine; None when unknown."""
    device = device or "auto"
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and torch.cuda.is_available():
        index = int(device.partition(":")[2] or 0)
        if index < torch.cuda.device_count():
            return torch.cuda.get_device_properties(index).total_memory, f"{device}'s"
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"), "this machine's"
    except (AttributeError, OSError, ValueError):     # not POSIX: no limit known
        return None


def check_network_size(specs: list[LayerSpec], n_outputs: int, n_features: int, kwargs: dict,
                       device: str | None, file=None) -> NetworkSize | None:
    """:func:`network_size`, refused when training it would need more memory than ``device`` has.

    Raises:
        ConfigFileError: naming the parameter count, the largest layer and the estimate (and
            ``file``, the config file, when given).
    """
    try:
        return _checked(specs, n_outputs, n_features, kwargs, device)
    except ConfigFileError as err:
        raise err.in_file(file) if file else err from None


def _checked(specs, n_outputs, n_features, kwargs, device) -> NetworkSize | None:
    size = network_size(specs, n_outputs, n_features, kwargs)
    memory = device_memory(device)
    if size is not None and memory is not None and size.training_bytes > memory[0]:
        largest = max(range(len(size.per_layer)), key=size.per_layer.__getitem__)
        spec = specs[largest]
        raise ConfigFileError(
            f"the network has {size.parameters:,} parameters ({spec.key} ({spec.cls.__name__}) has "
            f"{size.per_layer[largest]:,}); training needs about {_gib(size.training_bytes)} (parameters, "
            f"gradients and optimizer state), more than {memory[1]} {_gib(memory[0])} of memory; make the "
            f"layers smaller (n_out)", key="layers")
    return size
