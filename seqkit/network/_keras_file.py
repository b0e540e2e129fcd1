"""Reading a saved Keras model without Keras: its config, compiled loss and weight arrays.

Two formats (both written by ``model.save``):

- Keras 3 ``.keras``: a zip archive holding ``config.json`` (the model's
  serialized config, its ``compile_config`` among the top-level keys),
  ``metadata.json`` (``keras_version``) and ``model.weights.h5``. In the
  weights file each layer of the model's layer list has a group
  ``layers/<class in snake case>``, numbered ``_1``, ``_2``... per class in
  layer order; its ``vars`` group holds the layer's own variables ``0, 1, ...``
  and, since Keras 3.6, the layer's name as attribute ``name``. Nested layers
  sit below it: ``cell`` (recurrent layers), ``forward_layer/cell`` and
  ``backward_layer/cell`` (Bidirectional), ``layer`` (TimeDistributed).
- legacy HDF5 ``.h5`` (Keras 2, and Keras 3 with a ``.h5`` name): attributes
  ``model_config`` and ``training_config`` (JSON) and ``keras_version``;
  ``model_weights/<layer name>`` lists the layer's arrays in its attribute
  ``weight_names``.

Either way :meth:`KerasFile.weights` gives a layer's arrays in the order of
Keras's ``layer.get_weights()``, the list seqkit's ``set_keras_weights`` takes.

h5py is needed for the weights (both formats are HDF5 inside); it is an
optional dependency of seqkit, imported only here (see :func:`open_keras_file`).
Nothing in a file is executed: JSON is parsed, arrays are read as numbers.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from ._modelfile import ModelFileError, read_member

__all__ = ["H5PY_HINT", "KERAS_GROUPS", "KerasFile", "keras_group_names", "open_keras_file"]

#: What to do when h5py is missing.
H5PY_HINT = "pip install h5py"

#: The weights group name of each Keras class seqkit imports (Keras's snake case of the class name).
KERAS_GROUPS: dict[str, str] = {
    "Activation": "activation", "Bidirectional": "bidirectional", "Conv1D": "conv1d", "Dense": "dense",
    "Dropout": "dropout", "GRU": "gru", "InputLayer": "input_layer", "LSTM": "lstm", "Masking": "masking",
    "SimpleRNN": "simple_rnn", "TimeDistributed": "time_distributed",
}

_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")
_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_ZIP_ERRORS = (zipfile.BadZipFile, zlib.error, EOFError, OSError, ValueError, NotImplementedError,
               RuntimeError)
_CONFIG, _METADATA, _WEIGHTS, _WEIGHTS_NPZ = "config.json", "metadata.json", "model.weights.h5", "model.weights.npz"
#: Datasets up to this size are read whatever their storage; larger ones must be stored in full.
_SMALL_DATASET = 2 ** 20


def keras_group_names(class_names: Sequence[str]) -> list[str]:
    """The ``layers/<group>`` name of each layer of a model's layer list, in order.

    Keras numbers the groups per class: the second ``LSTM`` is ``lstm_1``
    whatever its name. Classes outside :data:`KERAS_GROUPS` get their name lower-cased.
    """
    seen: dict[str, int] = {}
    out = []
    for cls in class_names:
        base = KERAS_GROUPS.get(cls, cls.lower())
        k = seen.get(base, -1) + 1
        seen[base] = k
        out.append(base if k == 0 else f"{base}_{k}")
    return out


def _h5py():
    """The h5py module (deferred: an optional dependency, only Keras import reads HDF5)."""
    try:
        import h5py
    except ImportError:
        raise ImportError(f"seqkit.load_keras needs h5py to read the weights of a Keras model "
                          f"(stored as HDF5 in both .keras and .h5 files): {H5PY_HINT}") from None
    return h5py


def _json(data: bytes | str, what: str, where: str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as err:
        raise ModelFileError(f"{where}: {what} is not valid JSON ({err})") from None


@dataclass
class KerasFile:
    """A Keras model file opened for import; use it as a context manager (it holds the HDF5 file).

    Attributes:
        path: the file, for messages.
        model_config: the model's serialized config ``{"class_name": ..., "config": {...}}``.
        loss: the compiled loss as stored (a name, a serialized loss, a list or
            dict of them), or None when the model was saved uncompiled.
        keras_version: ``"3.15.1"``, ``"2.15.0"``..., or None when the file does not say.
        legacy: True for a legacy HDF5 ``.h5`` file.
    """

    path: str
    model_config: dict
    loss: Any
    keras_version: str | None
    legacy: bool
    _h5: Any = field(repr=False, default=None)
    _names: dict[str, str] = field(repr=False, default_factory=dict)

    @property
    def keras_major(self) -> int | None:
        """Keras's major version (2 or 3), or None when unknown."""
        head = (self.keras_version or "").split(".")[0]
        return int(head) if head.isdigit() else None

    def __enter__(self) -> "KerasFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Close the HDF5 weights file."""
        if self._h5 is not None:
            self._h5.close()
            self._h5 = None

    # -- weights ------------------------------------------------------------------------------
    def _datasets(self, name: str, group: str, parts: Sequence[str], where: str) -> list:
        """The layer's HDF5 datasets in ``get_weights()`` order (see the module docstring)."""
        h5py = _h5py()
        if self.legacy:
            root = self._h5.get("model_weights", self._h5)
            layer = root.get(name)
            if not isinstance(layer, h5py.Group):
                raise ModelFileError(f"{self.path}: {where}: no weights group model_weights/{name}")
            names = [n.decode() if isinstance(n, bytes) else str(n) for n in layer.attrs.get("weight_names", [])]
            found = [layer.get(n) for n in names]
            missing = [n for n, d in zip(names, found) if not isinstance(d, h5py.Dataset)]
            if missing:
                raise ModelFileError(f"{self.path}: {where}: weight {missing[0]} is listed but missing")
            return found
        path = self._names.get(name, f"layers/{group}")
        out = []
        for part in parts:
            vars_path = "/".join(p for p in (path, part, "vars") if p)
            node = self._h5.get(vars_path)
            if not isinstance(node, h5py.Group):
                raise ModelFileError(f"{self.path}: {where}: no weights group {vars_path} in {_WEIGHTS}")
            keys = list(node.keys())
            if not all(k.isdigit() for k in keys):
                raise ModelFileError(f"{self.path}: {where}: unexpected entries {sorted(keys)} in {vars_path}")
            for k in sorted(keys, key=int):
                d = node[k]
                if not isinstance(d, h5py.Dataset):
                    raise ModelFileError(f"{self.path}: {where}: {vars_path}/{k} is not an array")
                out.append(d)
        return out

    def weight_shapes(self, name: str, group: str, parts: Sequence[str], where: str) -> list[tuple[int, ...]]:
        """The shapes of :meth:`weights`, read from the file's metadata only (nothing is loaded)."""
        return [tuple(int(s) for s in d.shape) for d in self._datasets(name, group, parts, where)]

    def weights(self, name: str, group: str, parts: Sequence[str], where: str) -> list[np.ndarray]:
        """The layer's arrays as float32, in Keras's ``get_weights()`` order.

        Args:
            name: the layer's name (legacy files, and ``.keras`` files since Keras 3.6).
            group: its numbered group under ``layers/`` (older ``.keras`` files).
            parts: ``.keras`` only: the sub-groups holding its variables, in
                order (``""`` for its own, ``"cell"``, ``"forward_layer/cell"``...).
            where: the layer as messages name it.

        Raises:
            ModelFileError: a missing group or array, a non-float array, or
                an array declared larger than the bytes the file stores for it.
        """
        out = []
        for d in self._datasets(name, group, parts, where):
            if d.dtype.kind != "f":
                raise ModelFileError(f"{self.path}: {where}: array {d.name} has dtype {d.dtype}; "
                                     f"expected floating-point weights")
            if d.nbytes > _SMALL_DATASET and d.id.get_storage_size() < d.nbytes:
                raise ModelFileError(f"{self.path}: {where}: array {d.name} declares {d.nbytes} bytes but "
                                     f"the file stores {d.id.get_storage_size()}; refusing to read it")
            try:
                out.append(np.asarray(d[()], dtype=np.float32))
            except OSError as err:
                raise ModelFileError(f"{self.path}: {where}: array {d.name} cannot be read ({err})") from None
        return out


def _open_h5(h5py, source, where: str, member: str):
    try:
        return h5py.File(source, "r")
    except OSError as err:
        raise ModelFileError(f"{where}: {member} is not a readable HDF5 file ({err})") from None


def _vars_names(h5py, h5) -> dict[str, str]:
    """``{layer name: "layers/<group>"}`` from the ``name`` attribute of each top-level layer's ``vars``."""
    layers = h5.get("layers")
    out: dict[str, str] = {}
    if not isinstance(layers, h5py.Group):
        return out
    for key in layers:
        node = layers[key].get("vars") if isinstance(layers[key], h5py.Group) else None
        if isinstance(node, h5py.Group) and "name" in node.attrs:
            value = node.attrs["name"]
            out[value.decode() if isinstance(value, bytes) else str(value)] = f"layers/{key}"
    return out


def _open_keras_zip(path: str) -> KerasFile:
    try:
        zf = zipfile.ZipFile(path)
    except _ZIP_ERRORS as err:
        raise ModelFileError(f"{path}: a damaged or truncated .keras archive ({type(err).__name__}: {err})") from None
    with zf:
        names = set(zf.namelist())
        if _CONFIG not in names:
            raise ModelFileError(f"{path}: not a Keras model archive: no {_CONFIG} in it "
                                 f"(members: {', '.join(sorted(names)[:8]) or 'none'})")
        if _WEIGHTS not in names:
            if _WEIGHTS_NPZ in names:
                raise ModelFileError(f"{path}: the weights are in {_WEIGHTS_NPZ} (saved with "
                                     f"weights_format='npz'); seqkit reads {_WEIGHTS}: save the model "
                                     f"again with Keras's default format")
            raise ModelFileError(f"{path}: no {_WEIGHTS} in the archive (sharded or missing weights)")
        config = _json(read_member(zf, _CONFIG, path), _CONFIG, path)
        metadata = _json(read_member(zf, _METADATA, path), _METADATA, path) if _METADATA in names else {}
        weights = read_member(zf, _WEIGHTS, path)
    if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
        raise ModelFileError(f"{path}: {_CONFIG} does not hold a serialized Keras model "
                             f"(no 'class_name' and 'config')")
    compile_config = config.get("compile_config")
    loss = compile_config.get("loss") if isinstance(compile_config, dict) else None
    version = metadata.get("keras_version") if isinstance(metadata, dict) else None
    h5py = _h5py()
    h5 = _open_h5(h5py, io.BytesIO(weights), path, _WEIGHTS)
    model = {"class_name": config.get("class_name"), "config": config["config"]}
    return KerasFile(path, model, loss, str(version) if version else None, False, h5, _vars_names(h5py, h5))


def _attr_text(h5, key: str) -> str | None:
    value = h5.attrs.get(key)
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


def _open_legacy_h5(path: str) -> KerasFile:
    h5py = _h5py()
    h5 = _open_h5(h5py, path, path, "the file")
    try:
        text = _attr_text(h5, "model_config")
        if text is None:
            raise ModelFileError(f"{path}: an HDF5 file without a model_config attribute: weights only "
                                 f"(save_weights) or not a Keras model; seqkit.load_keras needs a whole "
                                 f"saved model (model.save)")
        config = _json(text, "the model_config attribute", path)
        if not isinstance(config, dict) or not isinstance(config.get("config"), dict):
            raise ModelFileError(f"{path}: model_config does not hold a serialized Keras model")
        training = _attr_text(h5, "training_config")
        training = _json(training, "the training_config attribute", path) if training else None
    except ModelFileError:
        h5.close()
        raise
    loss = training.get("loss") if isinstance(training, dict) else None
    model = {"class_name": config.get("class_name"), "config": config["config"]}
    return KerasFile(path, model, loss, _attr_text(h5, "keras_version"), True, h5)


def open_keras_file(path) -> KerasFile:
    """Open a Keras 3 ``.keras`` archive or a legacy ``.h5`` model file, told apart by content.

    Raises:
        FileNotFoundError: no file at ``path``.
        ImportError: h5py is not installed (the message says ``pip install h5py``).
        seqkit.ModelFileError: a damaged or truncated file, or neither format.
    """
    where = os.fspath(path)
    if not os.path.exists(where):
        raise FileNotFoundError(f"no Keras model file at {where}")
    if os.path.isdir(where):
        raise ModelFileError(f"{where}: a directory; seqkit.load_keras reads a .keras or .h5 file")
    with open(where, "rb") as f:
        head = f.read(8)
    if head[:4] in _ZIP_MAGIC:
        return _open_keras_zip(where)
    if head == _HDF5_MAGIC:
        return _open_legacy_h5(where)
    raise ModelFileError(f"{where}: not a Keras model file: neither a .keras archive (zip) nor a "
                         f"legacy HDF5 .h5 file")
