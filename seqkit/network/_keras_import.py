"""``seqkit.load_keras``: a whole saved Keras model as a :class:`~seqkit.Sequential`
(Deeplearning4j's "Keras model import").

The file is read without Keras (:mod:`._keras_file`: JSON and HDF5 through
h5py), the model's layers are taken as a chain (:mod:`._keras_chain`), each
becomes a seqkit layer (:mod:`._keras_layers`), the last one becomes the
output layer with the compiled loss (:mod:`._keras_loss`), and each layer
loads its Keras weights through its own ``set_keras_weights``.

How the layers around the translated ones are applied:

- ``Masking(mask_value)`` wraps the next layer in ``MaskZero(layer,
  mask_value)``, which derives the mask from the data and hands it to every
  later layer (see :class:`seqkit.layers.MaskZero`).
- ``Dropout(rate)`` becomes the next layer's input dropout,
  ``seqkit.options(layer, dropout=rate)`` (consecutive ones combine:
  ``1 - (1 - a)(1 - b)``). One before the output layer, or at the end, is
  dropped with a warning: a seqkit network applies no input dropout to its
  output layer.
- ``Activation`` becomes the activation of the Dense or Conv1D before it when
  that one is linear; at the end of a network on sequences it becomes an
  ``RnnLoss`` with that activation; ``Activation("linear")`` is dropped.
- The last Dense (or ``TimeDistributed(Dense)``) becomes ``RnnOutput`` on
  sequences, ``Output`` on vectors. A network ending in another layer on
  sequences gets an ``RnnLoss`` (linear) when a loss is known; otherwise it
  keeps no output layer (``output`` works, ``fit`` needs one).
"""

from __future__ import annotations

import math
import os
import tempfile
import warnings
from dataclasses import dataclass, field

import torch
from torch import nn

from .._errors import ConfigError
from ..layers import MaskZero, Output, RnnLoss, RnnOutput
from ._input_type import InputType
from ._keras_chain import KerasChain, model_chain
from ._keras_file import KerasFile, open_keras_file
from ._keras_layers import Translation, translate_layer
from ._keras_loss import seqkit_loss
from ._modelfile import ModelFileError
from ._options import options
from ._sequential import Sequential

__all__ = ["from_keras", "load_keras"]


@dataclass
class _Planned:
    """One seqkit layer to build: the translation, the masks in front of it and its input dropout."""

    t: Translation
    masks: list[float] = field(default_factory=list)
    dropout: float = 0.0

    def build(self) -> nn.Module:
        layer = self.t.build()
        for value in self.masks:
            layer = MaskZero(layer, value)
        opts = dict(self.t.options)
        if self.dropout > 0.0:
            opts["dropout"] = self.dropout
        return options(layer, **opts) if opts else layer


def _plan(chain: KerasChain, keras_major: int | None, notes: list[str]) -> tuple[list[_Planned], str]:
    """The seqkit layers the chain becomes, and the layout the last one outputs."""
    layout = {1: "vectors", 2: "sequences", 3: "signals"}[len(chain.input_shape)]
    planned: list[_Planned] = []
    masks: list[float] = []
    keep = 1.0
    last = len(chain.layers) - 1
    for i, kl in enumerate(chain.layers):
        t = translate_layer(kl, layout, keras_major, notes)
        if t.kind == "mask":
            masks.append(t.value)
            continue
        if t.kind == "dropout":
            keep *= 1.0 - t.value
            if masks:
                notes.append(f"{kl.where}: it follows a Masking layer; seqkit drops the next layer's input "
                             f"before MaskZero derives the mask, so in training a step whose features are "
                             f"all dropped counts as padding")
            continue
        if t.kind == "activation":
            if t.value == "identity":
                continue
            prev = planned[-1] if planned else None
            if prev is not None and prev.t.foldable and not masks and keep == 1.0:
                prev.t.kwargs["activation"] = t.value
                continue
            if i == last and layout == "sequences" and not masks:
                t = Translation("layer", kl, RnnLoss, {"activation": t.value})
            else:
                raise ConfigError(f"{kl.where}: seqkit.load_keras imports an Activation only right after a "
                                  f"Dense or Conv1D with a linear activation (it becomes theirs) or at the "
                                  f"end of a network on sequences (as an RnnLoss)")
        planned.append(_Planned(t, masks, 1.0 - keep))
        masks, keep = [], 1.0
        layout = t.layout
    if masks:
        raise ConfigError(f"{chain.layers[-1].where}: the model ends with a Masking layer; nothing after "
                          f"it uses the mask")
    if keep < 1.0:
        notes.append(f"{chain.layers[-1].where}: a Dropout at the end of the model is not imported (it acts "
                     f"only in training, on the model's output)")
    if not planned:
        raise ConfigError("the model has no layer seqkit imports as a layer (only Masking, Dropout or "
                          "linear Activation)")
    return planned, layout


def _add_head(planned: list[_Planned], layout: str, stored_loss, loss, notes: list[str]) -> None:
    """Make the last layer an output layer with its loss (see the module docstring)."""
    last = planned[-1]
    kl = last.t.source
    if last.t.dense or last.t.factory is RnnLoss:
        if last.masks:
            notes.append(f"{kl.where}: the Masking right before it is not imported (it would only change "
                         f"the output at padded steps); pass the mask to output()")
            last.masks = []
        if last.dropout > 0.0:
            notes.append(f"{kl.where}: the Dropout right before it is not imported (a seqkit network "
                         f"applies no input dropout to its output layer)")
            last.dropout = 0.0
        activation = last.t.kwargs["activation"]
        if loss is None:
            loss, activation = seqkit_loss(stored_loss, activation, kl.where, notes)
        if last.t.dense:
            last.t.factory = RnnOutput if layout == "sequences" else Output
        last.t.kwargs.update(activation=activation, loss=loss)
        return
    if layout == "sequences" and (loss is not None or stored_loss is not None):
        if loss is None:
            loss, activation = seqkit_loss(stored_loss, "identity", kl.where, notes)
        else:
            activation = "identity"
        planned.append(_Planned(Translation("layer", kl, RnnLoss, {"activation": activation, "loss": loss})))
        return
    hint = " (pass loss= to end it with an RnnLoss)" if layout == "sequences" else ""
    notes.append(f"{kl.where}: the model ends with it, not with an output layer: output() gives its "
                 f"output; fit and evaluate need an output layer{hint}")


def _input_type(shape: tuple) -> InputType:
    """seqkit's input type for a Keras input shape ``(F,)``, ``(T, F)`` or ``(T, L, C)``."""
    if len(shape) == 1:
        return InputType.feed_forward(int(shape[0]))
    if len(shape) == 2:
        return InputType.recurrent(int(shape[1]))
    return InputType.signals(int(shape[1]), int(shape[2]))


def _check_sizes(planned: list[_Planned], kf: KerasFile, input_type: InputType, where: str) -> None:
    """ModelFileError unless each layer's parameter count equals the numbers the file holds for it.

    The network is built on torch's ``meta`` device first (shapes, no memory),
    so a config that asks for huge layers is refused before anything is allocated.
    """
    with torch.device("meta"):
        probe = Sequential([p.build() for p in planned], input_type=input_type, seed=0, device="meta")
    for layer, p in zip(probe.layers, planned):
        kl = p.t.source
        want = sum(q.numel() for q in layer.parameters())
        got = sum(math.prod(s) for s in kf.weight_shapes(kl.name, kl.group, p.t.parts, kl.where)) \
            if p.t.parts else 0
        if want != got:
            raise ModelFileError(f"{where}: {kl.where}: its config makes {want} parameters but the file "
                                 f"holds {got} numbers for it")


def load_keras(path, *, loss=None, **settings) -> Sequential:
    """A saved Keras model as a seqkit network, weights included (DL4J's Keras model import).

    Reads a Keras 3 ``.keras`` file, or a legacy ``.h5`` full-model file
    (Keras 2 or 3), without Keras: the config is JSON, the weights HDF5 (read
    with h5py, an optional dependency: ``pip install h5py``). The model must be
    a ``Sequential``, or a ``Functional`` model that is a plain chain, of
    ``InputLayer``, ``Masking``, ``LSTM``, ``GRU``, ``SimpleRNN``,
    ``Bidirectional``, ``Conv1D``, ``ConvLSTM1D``, ``GlobalAveragePooling1D``,
    ``GlobalMaxPooling1D``, ``Dense``, ``TimeDistributed(Dense)``, ``Dropout``
    and ``Activation``. docs/migrating.md ("Keras model import")
    lists how each layer and option maps.

    The imported network takes seqkit's layout: Keras's ``(N, T, F)`` input is
    ``x.transpose(0, 2, 1)``, ``[N, F, T]``; per-step outputs are ``[N, C, T]``.
    A ConvLSTM1D model's ``(N, T, L, C)`` input is ``x.transpose(0, 3, 1, 2)``,
    ``[N, C, T, L]`` (``InputType.signals(L, C)``).
    At every real step it gives Keras's ``predict`` output (to float
    precision); at padded steps it gives zeros (Keras repeats the last
    output). A ``Masking`` layer becomes ``MaskZero``, so padded input works
    without a mask; passing the mask to ``output`` as well changes nothing.

    Args:
        path: the ``.keras`` or ``.h5`` file.
        loss: the output layer's loss (a seqkit name or ``Loss``); by default
            the compiled Keras loss (categorical / sparse categorical
            crossentropy ``mcxent``, binary crossentropy ``xent``, mse, mae),
            else one that suits the output activation, with a warning.
        **settings: passed to :class:`~seqkit.Sequential` (``updater``,
            ``learning_rate``, ``device``, ``dtype``, ``seed``...). The
            optimizer is not imported; ``input_type`` comes from the model.

    Returns:
        A built ``Sequential`` with the Keras weights. Options that matter
        only in training and have no seqkit equivalent (constraints, bias
        regularizers, a default loss...) are reported with ``warnings.warn``.

    Raises:
        FileNotFoundError: no file at ``path``.
        ImportError: h5py is missing.
        seqkit.ModelFileError: a damaged or truncated file, or weights that do
            not fit the config.
        seqkit.ConfigError: a layer class or option seqkit cannot import,
            naming the Keras layer (name and class) and the option.
    """
    where = os.fspath(path)
    if "input_type" in settings:
        raise ConfigError("load_keras: input_type comes from the Keras model's input shape")
    notes: list[str] = []
    with open_keras_file(path) as kf:
        if kf.keras_major is not None and kf.keras_major < 2:
            raise ConfigError(f"{where}: saved by Keras {kf.keras_version}; seqkit.load_keras reads "
                              f"Keras 2 and 3 files")
        chain = model_chain(kf.model_config, where)
        planned, layout = _plan(chain, kf.keras_major, notes)
        _add_head(planned, layout, kf.loss, loss, notes)
        input_type = _input_type(chain.input_shape)
        _check_sizes(planned, kf, input_type, where)
        net = Sequential([p.build() for p in planned], input_type=input_type, **settings)
        for layer, p in zip(net.layers, planned):
            if not p.t.parts:
                continue
            kl = p.t.source
            arrays = kf.weights(kl.name, kl.group, p.t.parts, kl.where)
            try:
                layer.set_keras_weights(arrays)
            except (ValueError, ConfigError) as err:
                raise ModelFileError(f"{where}: {kl.where}: the file's weights do not fit its config: "
                                     f"{err}") from None
    for note in notes:
        warnings.warn(f"load_keras: {note}", stacklevel=2)
    return net


def from_keras(model_or_path, *, loss=None, **settings) -> Sequential:
    """A Keras 3 model object, or a saved ``.keras``/``.h5`` file, as a seqkit network.

    A path goes to :func:`load_keras`. A model object is saved with its own
    ``model.save`` to a temporary ``.keras`` file (Keras must be installed,
    as it is when you hold a model) and read back the same way, so both give
    the same network. Arguments and errors as :func:`load_keras`.

    Shape:
        the network takes ``[N, F, T]`` (Keras's ``(N, T, F)`` transposed).
    """
    if isinstance(model_or_path, (str, os.PathLike)):
        return load_keras(model_or_path, loss=loss, **settings)
    save = getattr(model_or_path, "save", None)
    if not callable(save) or not hasattr(model_or_path, "layers"):
        raise ConfigError(f"from_keras: expected a Keras model or the path of a .keras/.h5 file, got "
                          f"{type(model_or_path).__name__}")
    with tempfile.TemporaryDirectory(prefix="seqkit-keras-") as folder:
        path = os.path.join(folder, "model.keras")
        save(path)
        return load_keras(path, loss=loss, **settings)
