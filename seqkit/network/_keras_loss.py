"""A saved Keras model's compiled loss as a seqkit loss for the imported output layer.

Keras's losses and seqkit's compute the same per-step values:

==================================================  ==========  ===========================
Keras loss                                          seqkit      note
==================================================  ==========  ===========================
``categorical_crossentropy``                        ``mcxent``  one-hot labels
``sparse_categorical_crossentropy``                 ``mcxent``  ``fit`` takes class indices too
``binary_crossentropy``                             ``xent``    mean over the outputs, as Keras
``mean_squared_error`` / ``mse``                    ``mse``     mean over the outputs, as Keras
``mean_absolute_error`` / ``mae``                   ``mae``
==================================================  ==========  ===========================

Reductions differ (Keras averages over the batch and the steps; seqkit's
default sums over real steps and divides by the number of sequences, DL4J's
rule; ``Sequential(loss_reduction="per_step")`` averages over real steps).
A loss with ``from_logits=True`` on a linear output becomes softmax + mcxent
(sigmoid + xent): the same training, but the imported network's ``output``
gives probabilities where Keras's ``predict`` gave logits.
"""

from __future__ import annotations

from typing import Any

__all__ = ["KERAS_LOSSES", "default_loss", "seqkit_loss"]

#: Keras loss names and seqkit's equivalents.
KERAS_LOSSES: dict[str, str] = {
    "binary_crossentropy": "xent", "categorical_crossentropy": "mcxent", "mae": "mae",
    "mean_absolute_error": "mae", "mean_squared_error": "mse", "mse": "mse",
    "sparse_categorical_crossentropy": "mcxent",
}

_CLASSES = {"BinaryCrossentropy": "binary_crossentropy", "CategoricalCrossentropy": "categorical_crossentropy",
            "MeanAbsoluteError": "mean_absolute_error", "MeanSquaredError": "mean_squared_error",
            "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy"}
_LOGIT_ACTIVATIONS = {"mcxent": "softmax", "xent": "sigmoid"}


def default_loss(activation: str) -> str:
    """The loss that goes with an output activation: softmax mcxent, sigmoid xent, else mse."""
    return {"softmax": "mcxent", "sigmoid": "xent"}.get(activation, "mse")


def _parse(stored: Any) -> tuple[str | None, dict]:
    """``(Keras loss name, its config)`` of a stored loss; None when it is not one loss."""
    if isinstance(stored, str):
        return stored.lower(), {}
    if isinstance(stored, (list, tuple)) and len(stored) == 1:
        return _parse(stored[0])
    if isinstance(stored, dict) and "class_name" not in stored and len(stored) == 1:
        return _parse(next(iter(stored.values())))                # {output name: loss}
    if isinstance(stored, dict):
        cfg = stored.get("config")
        if isinstance(cfg, str):                                   # a serialized loss function
            return cfg.lower(), {}
        cfg = cfg if isinstance(cfg, dict) else {}
        cls = stored.get("class_name")
        name = _CLASSES.get(cls) or (cfg.get("name") if isinstance(cfg.get("name"), str) else cls)
        return (name.lower() if isinstance(name, str) else None), cfg
    return None, {}


def seqkit_loss(stored: Any, activation: str, where: str, notes: list[str]) -> tuple[str, str]:
    """``(seqkit loss, output activation)`` for the output layer from a stored Keras loss.

    Args:
        stored: the compiled loss as the file stores it, or None (uncompiled).
        activation: the output layer's seqkit activation name.
        where: the output layer as messages name it.
        notes: receives a line when the loss is a default or differs from Keras's in use.
    """
    name, cfg = _parse(stored) if stored is not None else (None, {})
    loss = KERAS_LOSSES.get(name) if name else None
    if loss is None:
        loss = default_loss(activation)
        why = ("the model was saved without a compiled loss" if stored is None
               else f"its compiled loss {name or stored!r} has no seqkit equivalent")
        notes.append(f"{where}: {why}, so the output layer gets loss {loss!r} (from its {activation!r} "
                     f"activation); pass loss= to choose another")
        return loss, activation
    if cfg.get("from_logits") and activation == "identity" and loss in _LOGIT_ACTIVATIONS:
        activation = _LOGIT_ACTIVATIONS[loss]
        notes.append(f"{where}: the loss {name!r} has from_logits=True, so the output layer applies "
                     f"{activation}: output() gives probabilities where Keras's predict gave logits")
    if cfg.get("label_smoothing"):
        notes.append(f"{where}: label_smoothing={cfg['label_smoothing']} of the loss {name!r} is not imported")
    return loss, activation
