"""Listener state in checkpoints: collecting and restoring it, and tensors as exact JSON.

See :mod:`seqkit.network._listeners` for what a listener's state is and how a resumed
``fit`` matches saved states to listeners (by class and position).

Tensors (EarlyStopping's best parameters) go into the JSON training state as
``{"dtype": "float32", "shape": [...], "data": base64 of the raw bytes}``: exact,
and read back without unpickling anything.
"""

from __future__ import annotations

import base64

import torch

__all__ = ["listener_states", "restore_listener_states", "state_error", "state_field",
           "tensors_from_json", "tensors_to_json"]


def listener_states(listeners) -> list[dict]:
    """``[{"class": name, "state": listener.state_dict()}, ...]`` for a model file's training state."""
    return [{"class": type(item).__name__, "state": item.state_dict()} for item in listeners]


def restore_listener_states(listeners, saved, where: str) -> None:
    """Give each listener the saved state of its class and position (module docstring).

    Raises:
        ValueError: a listener refusing its saved state, naming ``where`` (the
            checkpoint), the listener's position and class.
    """
    pools: dict[str, list] = {}
    for entry in saved or ():
        if isinstance(entry, dict) and isinstance(entry.get("class"), str):
            pools.setdefault(entry["class"], []).append(entry.get("state") or {})
    for position, item in enumerate(listeners):
        queue = pools.get(type(item).__name__)
        if not queue:
            continue
        try:
            item.load_state_dict(queue.pop(0))
        except ValueError as err:
            raise ValueError(f"resume_from {where}: listener {position} ({type(item).__name__}): "
                             f"{err}") from None


def state_error(owner: str, what: str) -> ValueError:
    """The ValueError a listener raises for a state it cannot take."""
    return ValueError(f"{owner}: cannot restore state: {what}")


def state_field(state, key: str, owner: str):
    """``state[key]``, or a clear ValueError when ``state`` is not a dict or lacks ``key``."""
    if not isinstance(state, dict):
        raise state_error(owner, f"expected a dict, got {type(state).__name__}")
    if key not in state:
        raise state_error(owner, f"missing {key!r}")
    return state[key]


def tensors_to_json(tensors: dict) -> dict:
    """``{name: tensor}`` as JSON: dtype, shape and the raw bytes in base64 (exact; no pickle)."""
    out = {}
    for name, t in tensors.items():
        flat = t.detach().to("cpu").contiguous().reshape(-1)
        out[name] = {"dtype": str(t.dtype).removeprefix("torch."), "shape": list(t.shape),
                     "data": base64.b64encode(flat.view(torch.uint8).numpy().tobytes()).decode("ascii")}
    return out


def tensors_from_json(data, owner: str, what: str) -> dict:
    """The tensors :func:`_tensors_to_json` described (on the CPU); ValueError for anything else."""
    if not isinstance(data, dict):
        raise state_error(owner, f"{what} must be a dict, got {type(data).__name__}")
    out = {}
    for name, item in data.items():
        where = f"{what}[{name!r}]"
        try:
            dtype = getattr(torch, item["dtype"])
            shape = [int(d) for d in item["shape"]]
            raw = base64.b64decode(item["data"], validate=True)
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise state_error(owner, f"{where} is not a stored tensor ({err})") from None
        if not isinstance(dtype, torch.dtype) or any(d < 0 for d in shape):
            raise state_error(owner, f"{where} has an unknown dtype or a bad shape")
        numel = 1
        for d in shape:
            numel *= d
        size = torch.empty((), dtype=dtype).element_size()
        if len(raw) != numel * size:
            raise state_error(owner, f"{where}: {len(raw)} bytes for a {item['dtype']} tensor of "
                                      f"shape {shape} (expected {numel * size})")
        flat = torch.frombuffer(bytearray(raw), dtype=torch.uint8) if raw else torch.empty(0, dtype=torch.uint8)
        out[name] = flat.view(dtype).reshape(shape).clone()
    return out
