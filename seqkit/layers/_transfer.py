"""Host-to-device copies that never make the host wait for the device.

A plain ``tensor.to("cuda")`` from pageable memory makes torch synchronise
the stream (``cudaStreamSynchronize``): inside a training step that stalls
the host until every queued kernel has run. The fast paths build a few small
index tensors on the host (from the CPU copy of the mask); :func:`to_device`
copies them from pinned memory without blocking. torch's caching host
allocator keeps the pinned block alive until the copy has run.
"""

from __future__ import annotations

import torch

__all__ = ["to_device"]


def to_device(host: torch.Tensor, device: torch.device | str, dtype: torch.dtype | None = None) -> torch.Tensor:
    """``host`` (a CPU tensor) on ``device`` as ``dtype``, without a host-device sync.

    On a CUDA device the (converted) tensor is pinned and copied with
    ``non_blocking=True``; on other devices it is copied with
    ``non_blocking=True`` as it is (on the CPU: no copy at all). Never modify
    ``host`` afterwards expecting the copy to see it.

    Shape:
        any; returns the same shape.
    """
    device = torch.device(device)
    if dtype is not None and host.dtype != dtype:
        host = host.to(dtype)                                            # on the host, before pinning
    if device.type == "cuda":
        host = host.pin_memory()
    return host.to(device, non_blocking=True)
