"""seqkit.models: ready-made sequence classifiers, configured to train well out of the box.

Each recipe returns a built :class:`seqkit.Sequential` (Adam, learning rate
1e-3 by default, a cosine learning-rate schedule over ``epochs`` epochs, and
gradient-norm clipping) for ``fit`` with sequence labels (``SequenceBatches(...,
sequence_labels=True)`` or labels ``[N, C]`` / class indices ``[N]``). Pass
the same ``epochs`` to ``fit`` as to the recipe: the schedule ends there.

- :func:`fcn`: the fully convolutional network of Wang, Yan and Oates (2017),
  the strong baseline of the UCR/UEA archives.
- :func:`lstm_classifier`: its recurrent counterpart, stacked LSTMs read to
  the last real step of each sequence (or pooled over all real steps).

Both honour the mask: a padded sequence gets the output it would get alone.
"""

from __future__ import annotations

import functools

import torch

from ._errors import ConfigError
from .layers import LSTM, Activation, BatchNorm, Conv1D, GlobalPooling, LastTimeStep, Output
from .network import InputType, Sequential

__all__ = ["fcn", "lstm_classifier"]


def _positive(value, name: str, owner: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"{owner}: {name} must be a positive int, got {value!r}")
    return value


def _network(layers: list, n_in: int, epochs: int, learning_rate: float, grad_clip, options: dict) -> Sequential:
    schedule = functools.partial(torch.optim.lr_scheduler.CosineAnnealingLR, T_max=epochs,
                                 eta_min=learning_rate / 100)
    settings = {"updater": "adam", "learning_rate": learning_rate, "lr_schedule": schedule,
                "grad_clip": grad_clip, **options}
    return Sequential(layers, input_type=InputType.recurrent(n_in), **settings)


def fcn(n_in: int, n_classes: int, *, filters=(128, 256, 128), kernels=(8, 5, 3), epochs: int = 200,
        learning_rate: float = 1e-3, grad_clip=1.0, bn_momentum: float = 0.9, **options) -> Sequential:
    """The FCN of Wang, Yan and Oates (2017) for sequence classification.

    ``Conv1D(128, 8) -> BatchNorm -> relu -> Conv1D(256, 5) -> BatchNorm ->
    relu -> Conv1D(128, 3) -> BatchNorm -> relu -> GlobalPooling("avg") ->
    Output(n_classes, softmax)``; convolutions "same"-padded, pooling and
    normalisation over real steps only.

    Args:
        n_in: F, features per step.
        n_classes: C.
        filters, kernels: the three blocks' filter counts and kernel sizes.
        epochs: the length of the cosine learning-rate schedule (decays to
            learning_rate / 100); train for this many epochs.
        learning_rate: Adam's initial rate.
        grad_clip: clip the gradients' global norm (None: no clipping).
        bn_momentum: the BatchNorm layers' momentum (share of the running
            statistics kept per batch). 0.9, not Keras's 0.99: on a small
            training set (a few batches an epoch) 0.99's running statistics
            are still far from the data's after a short schedule, and the
            evaluated network gives every series one class
            (docs/classification.md).
        options: any other ``Sequential`` argument (``seed``, ``device``,
            ``dtype``, ``l2``, ...).

    Shape:
        input ``[N, F, T]`` (mask ``[N, T]``); output ``[N, C]``.

    Raises:
        ConfigError: a bad size or option.
    """
    owner = "models.fcn"
    _positive(n_in, "n_in", owner)
    _positive(n_classes, "n_classes", owner)
    _positive(epochs, "epochs", owner)
    filters, kernels = tuple(filters), tuple(kernels)
    if len(filters) != len(kernels) or not filters:
        raise ConfigError(f"{owner}: filters and kernels must be as many (one per block), got "
                          f"{len(filters)} and {len(kernels)}")
    layers = []
    for n, k in zip(filters, kernels):
        layers += [Conv1D(_positive(n, "filters", owner), _positive(k, "kernels", owner), padding="same"),
                   BatchNorm(momentum=bn_momentum), Activation("relu")]
    layers += [GlobalPooling("avg"), Output(n_classes)]
    return _network(layers, n_in, epochs, learning_rate, grad_clip, options)


def lstm_classifier(n_in: int, n_classes: int, *, units: int = 100, layers: int = 1, pooling: str = "last",
                    epochs: int = 100, learning_rate: float = 1e-3, grad_clip=1.0, **options) -> Sequential:
    """Stacked LSTMs then a softmax: the recurrent counterpart of :func:`fcn`.

    ``LSTM(units) x (layers - 1) -> LastTimeStep(LSTM(units)) -> Output``
    with ``pooling="last"`` (each sequence's last real step), or ``LSTM(units)
    x layers -> GlobalPooling(pooling) -> Output`` with ``"avg"`` or ``"max"``.

    Args:
        n_in: F, features per step.
        n_classes: C.
        units: H, the LSTM width.
        layers: stacked LSTM layers.
        pooling: "last", "avg" or "max".
        epochs, learning_rate, grad_clip, options: as for :func:`fcn`.

    Shape:
        input ``[N, F, T]`` (mask ``[N, T]``); output ``[N, C]``.

    Raises:
        ConfigError: a bad size, pooling or option.
    """
    owner = "models.lstm_classifier"
    for value, name in ((n_in, "n_in"), (n_classes, "n_classes"), (units, "units"), (layers, "layers"),
                        (epochs, "epochs")):
        _positive(value, name, owner)
    if pooling not in ("last", "avg", "max"):
        raise ConfigError(f"{owner}: pooling must be 'last', 'avg' or 'max', got {pooling!r}")
    stack = [LSTM(units) for _ in range(layers)]
    if pooling == "last":
        stack[-1] = LastTimeStep(stack[-1])
    else:
        stack.append(GlobalPooling(pooling))
    return _network(stack + [Output(n_classes)], n_in, epochs, learning_rate, grad_clip, options)
