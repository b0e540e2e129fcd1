"""SyncAudit: find, on the CPU, what would make the host wait for a CUDA device.

On a GPU ``torch.cuda.set_sync_debug_mode("error")`` finds host-device syncs;
this machine has none, so the audit tells "device" tensors from "host"
tensors itself and records every operation that would sync on CUDA:

- reading a device tensor on the host: ``item()``, ``bool()``, ``int()``,
  ``float()`` (``aten._local_scalar_dense``), ``tolist()``, ``numpy()``,
  ``cpu()``, ``__array__``;
- an operation whose output size depends on device values (``nonzero``,
  ``masked_select``, ``unique``, boolean-mask indexing, ``repeat_interleave``
  without ``output_size``, ``equal``, ``is_nonzero``, ``allclose``);
- a blocking host-to-device copy: ``host_tensor.to(device)`` without
  ``non_blocking=True`` (from pageable memory torch then synchronises the
  stream), or ``torch.tensor(data, device=...)``.

Host tensors are those marked with :meth:`SyncAudit.host` (the CPU copies of
the masks), tensors made by factories without a ``device=`` argument
(``torch.arange(t)``, ``torch.from_numpy(a)``: patched while auditing, torch
function modes do not see it), ``.cpu()`` results, and
whatever is computed from host tensors only. Every other tensor counts as a
device tensor: the batch, the parameters, the gradients (the autograd engine's
tensors, which the audit never sees being made). A host tensor moved with
``.to(device)`` counts as a device tensor afterwards. The dispatch-level
checks run in backward too (custom autograd Functions included).
"""

from __future__ import annotations

import traceback

import torch
from torch.overrides import TorchFunctionMode
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_flatten

__all__ = ["SyncAudit"]

_READS = {torch.Tensor.tolist, torch.Tensor.numpy, torch.Tensor.cpu, torch.Tensor.__array__}
_VALUE_DEPENDENT = {"aten::_local_scalar_dense", "aten::nonzero", "aten::masked_select", "aten::_unique2",
                    "aten::unique_consecutive", "aten::unique_dim", "aten::equal", "aten::is_nonzero",
                    "aten::allclose"}


def _tensors(args, kwargs) -> list[torch.Tensor]:
    flat, _ = tree_flatten((args, kwargs or {}))
    return [a for a in flat if isinstance(a, torch.Tensor)]


def _where() -> str:
    """The innermost seqkit frame of the current stack, ``file:line (function)``."""
    for frame in reversed(traceback.extract_stack()[:-2]):
        if "/seqkit/" in frame.filename and "/tests/" not in frame.filename:
            return f"{frame.filename.split('/seqkit/', 1)[1]}:{frame.lineno} ({frame.name})"
    return "outside seqkit"


class _Functions(TorchFunctionMode):
    def __init__(self, audit: "SyncAudit"):
        super().__init__()
        self.audit = audit

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        audit = self.audit
        inputs = _tensors(args, kwargs)
        device_arg = kwargs.get("device") is not None
        if func is torch.Tensor.to:
            device_arg = device_arg or any(isinstance(a, (torch.device, str, torch.Tensor)) for a in args[1:])
        if func in _READS and inputs and not audit.is_host(inputs[0]):
            audit.record(f"device tensor read on the host ({func.__name__})")
        if func is torch.Tensor.to and device_arg and audit.is_host(inputs[0]) \
                and not kwargs.get("non_blocking", False):
            audit.record("blocking host-to-device copy (Tensor.to without non_blocking=True)")
        if func in (torch.tensor, torch.as_tensor) and device_arg:
            audit.record(f"blocking host-to-device copy (torch.{func.__name__}(..., device=...))")
        out = func(*args, **kwargs)
        if (func is torch.Tensor.to and device_arg or func is torch.Tensor.cpu) and out is args[0]:
            out = out.view_as(out)                                   # "moved": a new object, on the other side
        if func is torch.Tensor.cpu or (not device_arg and all(audit.is_host(t) for t in inputs)):
            audit.host(*[t for t in tree_flatten(out)[0] if isinstance(t, torch.Tensor)])
        return out


class _Dispatch(TorchDispatchMode):
    def __init__(self, audit: "SyncAudit"):
        super().__init__()
        self.audit = audit

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name
        inputs = _tensors(args, kwargs)
        audit = self.audit
        if inputs and not all(audit.is_host(t) for t in inputs[:1]):
            if name in _VALUE_DEPENDENT:
                audit.record(f"value-dependent op on a device tensor ({name})")
            elif name == "aten::repeat_interleave" and (kwargs or {}).get("output_size") is None:
                audit.record(f"value-dependent op on a device tensor ({name} without output_size)")
            elif name in ("aten::index", "aten::index_put", "aten::index_put_") and any(
                    t.dtype in (torch.bool, torch.uint8) for t in inputs[1:]):
                audit.record(f"boolean-mask indexing of a device tensor ({name})")
        return func(*args, **(kwargs or {}))


class SyncAudit:
    """A context manager recording every would-be host-device sync (see the module docstring).

    ``events`` lists ``(what, where)``; :meth:`host` marks tensors living on the host.
    """

    def __init__(self):
        self.events: list[tuple[str, str]] = []
        self._host: set[int] = set()
        self._alive: list[torch.Tensor] = []                            # keeps ids unique while auditing
        self._modes: list = []

    def host(self, *tensors) -> None:
        for t in tensors:
            if isinstance(t, torch.Tensor):
                self._host.add(id(t))
                self._alive.append(t)

    def is_host(self, t: torch.Tensor) -> bool:
        return id(t) in self._host

    def host_state_of(self, optimizer) -> None:
        """Mark the optimizer's ``step`` counters as host tensors (torch keeps them on the CPU
        unless ``capturable``/``fused``, and reads them there)."""
        for state in optimizer.state.values():
            step = state.get("step")
            if isinstance(step, torch.Tensor) and not (optimizer.defaults.get("capturable")
                                                       or optimizer.defaults.get("fused")):
                self.host(step)

    def record(self, what: str) -> None:
        self.events.append((what, _where()))

    def __enter__(self) -> "SyncAudit":
        from_numpy = self._from_numpy = torch.from_numpy             # not seen by torch-function modes

        def host_from_numpy(array):
            out = from_numpy(array)
            self.host(out)
            return out
        torch.from_numpy = host_from_numpy
        self._modes = [_Functions(self), _Dispatch(self)]
        for mode in self._modes:
            mode.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        for mode in reversed(self._modes):
            mode.__exit__(*exc)
        torch.from_numpy = self._from_numpy
        self._alive.clear()

    def report(self) -> str:
        return "\n".join(f"{what} at {where}" for what, where in self.events) or "no sync"
