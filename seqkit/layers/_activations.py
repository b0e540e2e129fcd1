"""Activation functions by name, shared by every seqkit layer.

:func:`get_activation` turns a name (or a callable) into a function of one
tensor. Names are case-insensitive; the registry is :data:`ACTIVATIONS`.

Every activation is element-wise except ``"softmax"``, which normalises over
dim 1, the class (feature) dimension of both ``[N, C]`` and ``[N, C, T]``
tensors, as DL4J does for NCL output layers.

Choices where the peers differ (each stated once here):

- Two hard sigmoids, both piecewise-linear approximations of the sigmoid:

  - ``"hard_sigmoid"`` is Keras 3's ``relu6(x + 3) / 6`` (slope 1/6, saturating
    at ``|x| >= 3``);
  - ``"hard_sigmoid_dl4j"`` is DL4J's ``Activation.HARDSIGMOID`` and Keras 2's
    ``hard_sigmoid``: ``clip(0.2 x + 0.5, 0, 1)`` (slope 0.2, saturating at
    ``|x| >= 2.5``); ``"hard_sigmoid_keras2"`` is an alias. Use it to port a
    DL4J model (``GravesLSTM(gate_activation="hard_sigmoid_dl4j")``) or Keras 2
    weights exactly; being a name, it is saved in model files like any other.
- ``"leaky_relu"`` uses negative slope 0.01 (DL4J's and torch's default; Keras's
  activation function uses 0.2). Pass a callable for another slope.
- ``"gelu"`` is the exact, erf-based GELU (Keras 3's and torch's default).
- ``"swish"`` is ``x * sigmoid(x)`` (also called SiLU; ``"silu"`` is an alias).
"""

from __future__ import annotations

from typing import Callable

import torch
import torch.nn.functional as F

__all__ = ["ACTIVATIONS", "Activation", "activation_name", "canonical_activation", "get_activation",
           "keeps_zero"]


def _identity(x: torch.Tensor) -> torch.Tensor:
    return x


def _hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    return F.relu6(x + 3.0) / 6.0


def _hard_sigmoid_dl4j(x: torch.Tensor) -> torch.Tensor:
    return torch.clamp(0.2 * x + 0.5, 0.0, 1.0)


def _softmax(x: torch.Tensor) -> torch.Tensor:
    return torch.softmax(x, dim=1)          # [N, C] or [N, C, T]: over the class dim


def _leaky_relu(x: torch.Tensor) -> torch.Tensor:
    return F.leaky_relu(x, negative_slope=0.01)


_FUNCTIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "elu": F.elu,
    "gelu": F.gelu,
    "hard_sigmoid": _hard_sigmoid,
    "hard_sigmoid_dl4j": _hard_sigmoid_dl4j,
    "identity": _identity,
    "leaky_relu": _leaky_relu,
    "relu": torch.relu,
    "selu": torch.selu,
    "sigmoid": torch.sigmoid,
    "softmax": _softmax,
    "softplus": F.softplus,
    "softsign": F.softsign,
    "swish": F.silu,
    "tanh": torch.tanh,
}

_ALIASES = {
    "linear": "identity",
    "none": "identity",
    "hardsigmoid": "hard_sigmoid",
    "hard_sigmoid_keras2": "hard_sigmoid_dl4j",
    "leakyrelu": "leaky_relu",
    "silu": "swish",
}

#: The canonical names whose function maps 0 to 0 (a zero step stays zero through them).
_ZERO_AT_ZERO = frozenset({"elu", "gelu", "identity", "leaky_relu", "relu", "selu", "softsign", "swish", "tanh"})

#: Every accepted activation name (canonical names and aliases), sorted.
ACTIVATIONS: tuple[str, ...] = tuple(sorted(set(_FUNCTIONS) | set(_ALIASES)))


class Activation:
    """A named activation function: ``Activation("relu")(x)``.

    Holds its canonical name (``.name``) so that a layer can be described or
    saved without pickling code.

    Shape:
        Input any ``[N, C, ...]``; output the same shape.
    """

    __slots__ = ("name", "_fn")

    def __init__(self, name: str):
        self.name = canonical_activation(name)
        self._fn = _FUNCTIONS[self.name]

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._fn(x)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Activation) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("Activation", self.name))

    def __repr__(self) -> str:
        return f"Activation({self.name!r})"


def canonical_activation(name: str) -> str:
    """The canonical registry name for ``name`` (case-insensitive, aliases resolved).

    Raises:
        ValueError: listing the allowed names when ``name`` is unknown.
    """
    if not isinstance(name, str):
        raise ValueError(f"activation must be a name or a callable, got {name!r}")
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in _FUNCTIONS:
        raise ValueError(
            f"unknown activation {name!r}; allowed names: {', '.join(ACTIVATIONS)} (or a callable)")
    return key


def get_activation(activation: str | Callable[[torch.Tensor], torch.Tensor] | None
                   ) -> Callable[[torch.Tensor], torch.Tensor]:
    """Resolve an activation given by name or as a callable.

    Args:
        activation: a registry name (see :data:`ACTIVATIONS`; case-insensitive),
            ``None`` (identity), or any callable taking and returning a tensor
            (for example ``torch.nn.ReLU()`` or ``lambda x: x.clamp(0, 1)``),
            which is returned unchanged.

    Returns:
        A callable; for a name it is an :class:`Activation` whose ``.name`` is
        the canonical name.

    Raises:
        ValueError: for an unknown name, listing the allowed names.
    """
    if activation is None:
        return Activation("identity")
    if isinstance(activation, Activation):
        return activation
    if isinstance(activation, str):
        return Activation(activation)
    if callable(activation):
        return activation
    raise ValueError(f"activation must be a name or a callable, got {activation!r}; "
                     f"allowed names: {', '.join(ACTIVATIONS)}")


def activation_name(activation: Callable[[torch.Tensor], torch.Tensor]) -> str | None:
    """The canonical name of a resolved activation, or None for a user callable."""
    return activation.name if isinstance(activation, Activation) else None


def keeps_zero(activation: Callable[[torch.Tensor], torch.Tensor]) -> bool:
    """True for a named activation that maps 0 to 0 (``relu``, ``tanh``...); False for the others
    (``sigmoid``, ``softmax``...) and for any user callable."""
    return activation_name(activation) in _ZERO_AT_ZERO
