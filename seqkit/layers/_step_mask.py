"""StepMask: a checked step mask with the cached views recurrent kernels use."""

from __future__ import annotations

import numpy as np
import torch

from ._mask import check_mask, last_real_index, single_runs
from ._tracing import tracing
from ._transfer import to_device

__all__ = ["StepMask"]


class StepMask:
    """A checked ``[N, T]`` step mask with the cached views recurrent kernels use.

    When the caller's mask lives on the CPU (as batches from the readers do)
    the run analysis and the last-real-step index are computed from that copy,
    so choosing a fast path costs no device synchronisation; what the kernels
    need on the device (the 0/1 mask, run starts and lengths, the last real
    step) is copied there from pinned memory without blocking (see
    :mod:`seqkit.layers._transfer`) and cached.

    Shape:
        ``values``: ``[N, T]`` in the input's dtype and device, 1 at real steps.
        ``real``: bool ``[T, N]`` (time-major, contiguous), True at real steps.
    """

    __slots__ = ("values", "_host", "_real", "_keep", "_runs", "_flags", "_dev_runs")

    def __init__(self, mask, x: torch.Tensor, where: str):
        raw = mask if isinstance(mask, torch.Tensor) else torch.as_tensor(mask)
        self.values = check_mask(raw, x, where)                       # [N, T]
        self._host = raw if raw.device.type == "cpu" and not tracing() else None
        self._real = self._keep = self._runs = self._flags = self._dev_runs = None

    @classmethod
    def wrap(cls, values: torch.Tensor, host: torch.Tensor | None = None) -> "StepMask":
        """A mask around checked device ``values`` and, optionally, their CPU copy ``host``.

        No check and no copy: the caller vouches that ``host`` holds the same
        values (it lets the fast paths read padding without a device sync).

        Shape:
            values, host: ``[N, T]``, or a row mask ``[R]`` between preprocessors.
        """
        out = cls.__new__(cls)
        out.values, out._host = values, (None if tracing() else host)   # a tracer reads no copy
        out._real = out._keep = out._runs = out._flags = out._dev_runs = None
        return out

    @property
    def host(self) -> torch.Tensor | None:
        """The CPU copy of :attr:`values`, or None when the caller gave none."""
        return self._host

    def slice(self, start: int, stop: int) -> "StepMask":
        """Steps ``[start, stop)``, the CPU copy sliced alike."""
        host = self._host[:, start:stop] if self._host is not None else None
        return StepMask.wrap(self.values[:, start:stop], host)

    @property
    def real(self) -> torch.Tensor:
        """Bool ``[T, N]``: True at real steps (time-major, for step loops and kernels)."""
        if self._real is None:
            self._real = (self.values != 0).t().contiguous()          # [T, N]
        return self._real

    def zero_masked(self, ys: torch.Tensor) -> torch.Tensor:
        """Time-major outputs ``[T, N, ...]`` with exact zeros at the masked steps.

        A multiplication by a cached 0/1 mask, several times faster than
        ``torch.where`` on CPU. Outputs are finite, so the masked entries are
        exactly zero (``-0.0`` where the output was negative, equal to ``0.0``).
        """
        if self._keep is None:
            if self._host is not None:
                self.runs()                                              # also makes _keep
            else:
                self._keep = self.real.to(self.values.dtype)             # [T, N] of 0/1
        return ys * self._keep.view(self._keep.shape + (1,) * (ys.dim() - 2))

    def runs(self) -> tuple[torch.Tensor, torch.Tensor, bool]:
        """``(starts, lengths, one_run_each)`` as :func:`single_runs` gives them, on the host."""
        if self._runs is None:
            if self._host is not None:
                self._runs, self._flags, keep = _host_runs(self._host)
                if self._keep is None:
                    self._keep = to_device(keep, self.values.device, self.values.dtype)
            else:
                starts, lengths, contiguous = single_runs(self.values)
                self._runs = (starts.cpu(), lengths.cpu(), contiguous)
                self._flags = (bool(self._runs[0].any()),
                               bool((self._runs[1] < self.values.shape[1]).any()))
        return self._runs

    def device_runs(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``(starts, lengths)`` of :meth:`runs` as int64 ``[N]`` on the values' device (cached).

        From the CPU copy when there is one (one non-blocking copy from pinned
        memory), else computed on the device; either way no host-device sync.
        """
        if self._dev_runs is None:
            device = self.values.device
            if self._host is not None:
                starts, lengths, _ = self.runs()
                both = to_device(torch.stack([starts, lengths]), device)   # [2, N], one copy
                self._dev_runs = (both[0], both[1])
            else:
                real = self.values != 0                                    # [N, T]
                self._dev_runs = (real.to(torch.int8).argmax(dim=1).long(), real.sum(dim=1))
        return self._dev_runs

    @property
    def shifted(self) -> bool:
        """True when some example's first real step is not step 0 (left padding, or empty)."""
        self.runs()
        return self._flags[0]

    @property
    def padded(self) -> bool:
        """True when some step of some example is masked."""
        self.runs()
        return self._flags[1]

    def last_index(self, where: str) -> torch.Tensor:
        """Each example's last real step, int64 ``[N]`` on the values' device.

        While tracing, nothing is checked (an example with no real step gets
        index ``T - 1``) and nothing is read back.

        Raises:
            ValueError: naming the first example with no real step.
        """
        if tracing():
            real = self.values != 0                                    # [N, T]
            return (self.values.shape[1] - 1) - real.flip(1).to(torch.int8).argmax(dim=1)
        if self._host is None:                                         # reads the device mask back
            return last_real_index(self.values, self.values.shape[0], self.values.shape[1], where)
        idx = last_real_index(self._host, self._host.shape[0], self._host.shape[1], where)  # [N]
        return to_device(idx, self.values.device)

    def flip(self) -> "StepMask":
        """The mask reversed along time."""
        host = self._host.flip(1) if self._host is not None else None
        return StepMask.wrap(self.values.flip(1), host)


def _host_runs(mask: torch.Tensor):
    """For a CPU mask, in numpy: the :func:`single_runs` triple, the flags
    ``(shifted, padded)`` and the mask as 0/1 ``[T, N]`` float32.

    Few numpy calls, fewest for right padding (the common case): measured
    inside a training step, each costs several times its time in isolation.
    """
    mask = mask.detach()
    if mask.dtype in (torch.bfloat16, torch.float16):
        mask = mask.float()
    real = mask.numpy() != 0                                             # [N, T]
    lengths = real.sum(axis=1)
    keep = torch.from_numpy(np.ascontiguousarray(real.T, dtype=np.float32))  # [T, N]
    rises = real[:, 1:] > real[:, :-1]                                   # a 0 -> 1 step inside
    if not rises.any():                                                  # right padding: [0, length)
        starts = np.zeros(real.shape[0], np.int64)
        one_run, shifted, padded = True, False, not bool(real[:, -1].all())
    else:
        starts = real.argmax(axis=1)                                     # first real step (0 if none)
        one_run = bool(((rises.sum(axis=1) + real[:, 0]) <= 1).all())
        shifted = bool(starts.any())
        padded = bool((lengths < real.shape[1]).any())
    return ((torch.from_numpy(starts.astype(np.int64, copy=False)),
             torch.from_numpy(lengths.astype(np.int64, copy=False)), one_run),
            (shifted, padded), keep)
