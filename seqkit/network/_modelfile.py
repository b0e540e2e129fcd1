"""The seqkit model file: config, parameters and training state in one zip archive.

Members (only those given are written; each is listed in the manifest):

=====================  ===========================================================
``manifest.json``      format name ``"seqkit-model"``, format version, seqkit
                       version, creation time (UTC), and each other member's
                       SHA-256 and size
``config.json``        the network config (plain JSON)
``training.json``      iteration / epoch counters, listener state... (plain JSON)
``parameters.pt``      ``{name: tensor}`` (a ``state_dict``), via ``torch.save``
``optimizer.pt``       the optimizer's ``state_dict``
``scheduler.pt``       the learning-rate scheduler's ``state_dict``
``rng.pt``             random generator states, ``{name: tensor}``
=====================  ===========================================================

Safety: tensor members are read with ``torch.load(..., weights_only=True)``,
which rebuilds tensors and plain containers only and refuses any other pickled
object, so reading a file never runs code from it. The checksums detect
truncation and corruption (and edits that do not also rewrite the manifest);
they are not a signature.

Writing is atomic: the archive is written to a temporary file in the target's
directory, flushed and fsync'ed, then renamed over the target, so a crash or
error mid-write leaves any previous file intact.
"""

from __future__ import annotations

import contextlib
import datetime
import hashlib
import io
import json
import os
import pickle
import secrets
import zipfile
import zlib
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Mapping

import torch

from .._version import seqkit_version

__all__ = ["FORMAT_NAME", "FORMAT_VERSION", "MAX_INFLATION", "MAX_JSON_BYTES", "ModelFile", "ModelFileError",
           "read_member", "read_model_file",
           "write_model_file"]

FORMAT_NAME = "seqkit-model"
FORMAT_VERSION = 1

_MANIFEST = "manifest.json"
_CONFIG, _TRAINING = "config.json", "training.json"
_PARAMETERS, _OPTIMIZER, _SCHEDULER, _RNG = "parameters.pt", "optimizer.pt", "scheduler.pt", "rng.pt"
_JSON_MEMBERS = (_CONFIG, _TRAINING)
_TENSOR_MEMBERS = (_PARAMETERS, _OPTIMIZER, _SCHEDULER, _RNG)
_REQUIRED = (_CONFIG, _PARAMETERS)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
# What zipfile raises for damaged archives (NotImplementedError and RuntimeError for header
# bits that, when damaged, claim an unknown compression method or encryption).
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError,
               RuntimeError)

# Leaf values a tensor member may hold: what torch.load(weights_only=True) rebuilds.
_PLAIN_LEAVES = (type(None), bool, int, float, complex, str, bytes, torch.Tensor, torch.dtype,
                 torch.device, torch.Size)


class ModelFileError(ValueError):
    """A file that is not a readable seqkit model file, or state that cannot be written to one.

    The message names the file and, where one is at fault, the member.
    """


@dataclass
class ModelFile:
    """The contents of a model file, as :func:`read_model_file` returns them.

    Attributes:
        config: the config dict.
        parameters: ``{name: tensor}``.
        optimizer_state, scheduler_state: the ``state_dict`` s, or None when not saved.
        training_state: the JSON training state, or None.
        rng_state: ``{name: tensor}`` random generator states, or None.
        manifest: the manifest (format version, seqkit version, creation time, checksums).
    """

    config: dict
    parameters: dict[str, torch.Tensor]
    optimizer_state: dict | None = None
    scheduler_state: dict | None = None
    training_state: dict | None = None
    rng_state: dict[str, torch.Tensor] | None = None
    manifest: dict = field(default_factory=dict)


# -- writing -----------------------------------------------------------------------
def write_model_file(path: str | os.PathLike, *, config: dict,
                     parameters: Mapping[str, torch.Tensor],
                     optimizer_state: dict | None = None, scheduler_state: dict | None = None,
                     training_state: dict | None = None,
                     rng_state: Mapping[str, torch.Tensor] | None = None) -> None:
    """Write a model file atomically (temporary file, fsync, rename over ``path``).

    Args:
        path: the file to write; its directory must exist. An existing file is
            replaced only once the new one is complete.
        config: JSON-safe dict (str keys; None, bool, int, float, str, lists,
            dicts). Tuples are written as lists.
        parameters: ``{name: tensor}``, e.g. a module's ``state_dict()``.
        optimizer_state, scheduler_state: ``state_dict()`` of a ``torch.optim``
            optimizer and of a learning-rate scheduler: tensors and plain values.
        training_state: JSON-safe dict (counters, listener state, ...).
        rng_state: ``{name: tensor}``, e.g. ``{"torch": torch.get_rng_state()}``.

    Raises:
        ModelFileError: a value that cannot be stored (named by its path,
            e.g. ``training_state['listeners'][0]``), or parameters that are not
            a ``{str: tensor}`` mapping. OSError from the file system as is; the
            previous file, if any, is then left untouched.
    """
    members: dict[str, bytes] = {_CONFIG: _json_bytes(config, "config")}
    if training_state is not None:
        members[_TRAINING] = _json_bytes(training_state, "training_state")
    members[_PARAMETERS] = _tensor_bytes(_tensor_dict(parameters, "parameters"), "parameters")
    for name, value, what in ((_OPTIMIZER, optimizer_state, "optimizer_state"),
                              (_SCHEDULER, scheduler_state, "scheduler_state"),
                              (_RNG, rng_state, "rng_state")):
        if value is not None:
            if not isinstance(value, Mapping):
                raise ModelFileError(f"{what} must be a dict (a state_dict), got {type(value).__name__}")
            members[name] = _tensor_bytes(dict(value), what)
    manifest = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "seqkit_version": seqkit_version(),
        "created": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "members": {name: {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
                    for name, data in members.items()},
    }
    _atomic_write(os.fspath(path), [(_MANIFEST, json.dumps(manifest, indent=2).encode())]
                  + list(members.items()))


def _atomic_write(path: str, members: list[tuple[str, bytes]]) -> None:
    directory, base = os.path.split(os.path.abspath(path))
    tmp = os.path.join(directory, f".{base}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)   # mode follows the umask
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w") as zf:
                for name, data in members:
                    kind = zipfile.ZIP_DEFLATED if name.endswith(".json") else zipfile.ZIP_STORED
                    zf.writestr(_zip_info(name, kind), data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    _fsync_directory(directory)


def _zip_info(name: str, kind: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))     # time lives in the manifest
    info.compress_type = kind
    info.external_attr = 0o644 << 16
    return info


def _fsync_directory(directory: str) -> None:
    """Make the rename durable where the platform allows it (POSIX); best effort."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _json_bytes(value: Any, what: str) -> bytes:
    if not isinstance(value, Mapping):
        raise ModelFileError(f"{what} must be a dict, got {type(value).__name__}")
    _check_json(value, what)
    return json.dumps(value, indent=1).encode()


def _check_json(value: Any, where: str) -> None:
    """Raise a ModelFileError naming the first value JSON cannot hold faithfully."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise ModelFileError(f"{where}: JSON keys must be str, got {key!r} ({type(key).__name__})")
            _check_json(item, f"{where}[{key!r}]")
        return
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_json(item, f"{where}[{i}]")
        return
    raise ModelFileError(f"{where}: a {type(value).__module__}.{type(value).__qualname__} cannot be "
                         f"stored as JSON (allowed: None, bool, int, float, str, lists, dicts with "
                         f"str keys)")


def _tensor_dict(value: Any, what: str) -> dict[str, torch.Tensor]:
    if not isinstance(value, Mapping):
        raise ModelFileError(f"{what} must be a dict of tensors, got {type(value).__name__}")
    for key, item in value.items():
        if not isinstance(key, str):
            raise ModelFileError(f"{what} must map str names to tensors; got the key {key!r} "
                                 f"({type(key).__name__})")
        if not isinstance(item, torch.Tensor):
            raise ModelFileError(f"{what} must map str names to tensors; {key!r} maps to a "
                                 f"{type(item).__name__}")
    return dict(value)


def _check_plain(value: Any, where: str) -> None:
    """Raise a ModelFileError for anything torch.load(weights_only=True) would refuse."""
    if isinstance(value, _PLAIN_LEAVES):
        return
    if type(value) in (dict, OrderedDict):
        for key, item in value.items():
            _check_plain(key, f"{where} key")
            _check_plain(item, f"{where}[{key!r}]")
        return
    if type(value) in (list, tuple):
        for i, item in enumerate(value):
            _check_plain(item, f"{where}[{i}]")
        return
    raise ModelFileError(f"{where}: a {type(value).__module__}.{type(value).__qualname__} cannot be "
                         f"stored in a model file, which holds tensors and plain values only")


def _tensor_bytes(value: dict, what: str) -> bytes:
    _check_plain(value, what)
    buffer = io.BytesIO()
    torch.save(value, buffer)
    return buffer.getvalue()


# -- reading -----------------------------------------------------------------------
def read_model_file(path: str | os.PathLike, *, map_location: Any = "cpu") -> ModelFile:
    """Read and check a model file written by :func:`write_model_file`.

    Every member's SHA-256 is checked against the manifest before it is
    decoded; tensor members are read with ``torch.load(weights_only=True)``.

    Args:
        path: the file.
        map_location: where tensors go, as ``torch.load``'s (default ``"cpu"``).

    Raises:
        FileNotFoundError: no file at ``path``.
        ModelFileError: a directory or other non-file; not a seqkit model file
            (not a zip archive, or a zip without a seqkit manifest); a
            truncated or corrupted file; a missing, unexpected or duplicated
            member; a checksum mismatch ("tampered or corrupted: member X"); an
            unknown format version; a member holding a pickled object that is
            not a tensor or plain value (refused, never run).
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise FileNotFoundError(f"no model file at {path!r}")
    if not os.path.isfile(path):
        raise ModelFileError(f"{path}: not a file")
    with open(path, "rb") as fh:
        head = fh.read(30 + len(_MANIFEST))
        if not head:
            raise ModelFileError(f"{path}: not a seqkit model file (the file is empty)")
        if head[:4] not in _ZIP_MAGIC:
            raise ModelFileError(f"{path}: not a seqkit model file (not a zip archive)")
        fh.seek(0)
        try:
            zf = zipfile.ZipFile(fh)
        except _ZIP_ERRORS as err:
            raise ModelFileError(f"{path}: truncated or corrupted model file (its zip directory "
                                 f"cannot be read: {err})") from None
        with zf:
            return _read_archive(zf, path, map_location, _starts_with_manifest(head))


def _starts_with_manifest(head: bytes) -> bool:
    """True when the first zip entry is ``manifest.json``, as :func:`write_model_file` writes it."""
    name = _MANIFEST.encode()
    return (head[:4] == b"PK\x03\x04" and int.from_bytes(head[26:28], "little") == len(name)
            and head[30:30 + len(name)] == name)


def _read_archive(zf: zipfile.ZipFile, path: str, map_location: Any, ours: bool) -> ModelFile:
    names = zf.namelist()
    duplicated = sorted({n for n in names if names.count(n) > 1})
    if duplicated:
        raise ModelFileError(f"{path}: tampered or corrupted: member {duplicated[0]} appears twice")
    if _MANIFEST not in names or (ours and zf.getinfo(_MANIFEST).header_offset != 0):
        if ours:
            # The tensor members are zip archives themselves: when the end of the file is cut
            # off, zipfile may find the directory of one of those instead of ours.
            raise ModelFileError(f"{path}: truncated or corrupted model file (the zip directory "
                                 f"at its end is missing)")
        raise ModelFileError(f"{path}: not a seqkit model file (no {_MANIFEST}; a file written by "
                             f"torch.save is not one)")
    manifest = _parse_json(read_member(zf, _MANIFEST, path), _MANIFEST, path)
    if manifest.get("format") != FORMAT_NAME:
        raise ModelFileError(f"{path}: not a seqkit model file (format {manifest.get('format')!r})")
    version = manifest.get("format_version")
    if type(version) is not int or version != FORMAT_VERSION:
        newer = type(version) is int and version > FORMAT_VERSION
        hint = " (written by a newer seqkit; upgrade seqkit to read it)" if newer else ""
        raise ModelFileError(f"{path}: unknown model file format version {version!r}{hint}; this "
                             f"seqkit reads version {FORMAT_VERSION}")
    listed = manifest.get("members")
    if not isinstance(listed, dict) or not all(
            isinstance(v, dict) and isinstance(v.get("sha256"), str) for v in listed.values()):
        raise ModelFileError(f"{path}: corrupted {_MANIFEST}: 'members' must map names to checksums")
    known = set(_JSON_MEMBERS) | set(_TENSOR_MEMBERS)
    for name in sorted(listed):
        if name not in known:
            raise ModelFileError(f"{path}: unexpected member {name} in the manifest")
    for name in _REQUIRED:
        if name not in listed:
            raise ModelFileError(f"{path}: missing member {name} (not in the manifest)")
    for name in sorted(set(names) - {_MANIFEST}):
        if name not in listed:
            raise ModelFileError(f"{path}: tampered or corrupted: member {name} is not in the manifest")
    data = {}
    for name in sorted(listed):
        if name not in names:
            raise ModelFileError(f"{path}: missing member {name}")
        size = listed[name].get("size")
        if isinstance(size, int) and zf.getinfo(name).file_size != size:   # before inflating it
            raise ModelFileError(f"{path}: tampered or corrupted: member {name} has "
                                 f"{zf.getinfo(name).file_size} bytes, the manifest says {size}")
        raw = read_member(zf, name, path)
        if hashlib.sha256(raw).hexdigest() != listed[name]["sha256"]:
            raise ModelFileError(f"{path}: tampered or corrupted: member {name} does not match its "
                                 f"SHA-256 in the manifest")
        data[name] = raw
    values = {name: _parse_json(raw, name, path) if name.endswith(".json")
              else _load_tensors(raw, name, path, map_location) for name, raw in data.items()}
    parameters = values[_PARAMETERS]
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in parameters.items()):
        raise ModelFileError(f"{path}: member {_PARAMETERS} must map names to tensors")
    return ModelFile(config=values[_CONFIG], parameters=parameters,
                     optimizer_state=values.get(_OPTIMIZER), scheduler_state=values.get(_SCHEDULER),
                     training_state=values.get(_TRAINING), rng_state=values.get(_RNG),
                     manifest=manifest)


#: The most a JSON member may inflate to (a config or training state is far smaller).
MAX_JSON_BYTES = 64 * 2 ** 20
#: How much larger than its stored bytes a member may inflate (seqkit stores tensors
#: uncompressed and deflates JSON, which compresses well under this).
MAX_INFLATION = 100


def read_member(zf: zipfile.ZipFile, name: str, path: str) -> bytes:
    """The member's bytes, read in pieces and refused once past what its stored size allows.

    The limit comes from the bytes the archive actually holds for the member
    (``compress_size``), never from sizes a header or the manifest claims, so a
    small file cannot make the reader inflate gigabytes.
    """
    info = zf.getinfo(name)
    limit = MAX_INFLATION * max(info.compress_size, 1) + 2 ** 20
    if name.endswith(".json"):
        limit = min(limit, MAX_JSON_BYTES)
    parts, total = [], 0
    try:
        with zf.open(info) as member:
            while True:
                piece = member.read(2 ** 20)
                if not piece:
                    break
                total += len(piece)
                if total > limit:
                    raise ModelFileError(f"{path}: refused member {name}: it inflates past {limit:,} bytes "
                                         f"from {info.compress_size:,} stored (a crafted or corrupted file)")
                parts.append(piece)
    except _ZIP_ERRORS as err:
        if isinstance(err, ModelFileError):
            raise
        raise ModelFileError(f"{path}: truncated or corrupted: member {name} cannot be read "
                             f"({err})") from None
    return b"".join(parts)


def _parse_json(raw: bytes, name: str, path: str) -> dict:
    try:
        value = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise ModelFileError(f"{path}: corrupted: member {name} is not valid JSON ({err})") from None
    if not isinstance(value, dict):
        raise ModelFileError(f"{path}: corrupted: member {name} must hold a JSON object")
    return value


def _load_tensors(raw: bytes, name: str, path: str, map_location: Any) -> dict:
    try:
        value = torch.load(io.BytesIO(raw), map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        raise ModelFileError(f"{path}: refused member {name}: it holds a pickled object that is not "
                             f"a tensor or plain value, and loading never runs pickled code"
                             f"{_refusal_detail(err)}") from None
    except Exception as err:  # torch's own errors for a damaged tensor archive
        raise ModelFileError(f"{path}: corrupted: member {name} cannot be loaded "
                             f"({type(err).__name__}: {err})") from None
    if not isinstance(value, dict):
        raise ModelFileError(f"{path}: corrupted: member {name} must hold a dict, got "
                             f"{type(value).__name__}")
    return value


def _refusal_detail(err: Exception) -> str:
    """The part of torch's weights-only refusal that names the object, e.g. ``(GLOBAL os.system ...)``.

    torch's full message also explains how to load the file unsafely, which
    is not advice to pass on for a file that failed this check.
    """
    for line in str(err).splitlines():
        line = line.strip()
        if line.startswith("WeightsUnpickler error:"):
            detail = line.removeprefix("WeightsUnpickler error:").strip().split(". Please")[0]
            return f" ({detail})"
    return ""
