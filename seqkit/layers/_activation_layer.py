"""Activation: an activation function as a layer of its own (DL4J's ActivationLayer, Keras's Activation).

Not to be confused with the named activation *functions* of
:mod:`seqkit.layers._activations` (the registry every layer's ``activation=``
argument draws from): this layer applies one of them and nothing else.
"""

from __future__ import annotations

import torch

from ._activations import activation_name, keeps_zero
from ._checks import describe_activation, layer_activation
from ._same_shape import SameShape
from ._zeroing import check_any_mask, mark_zeroed, zero_finite, zero_input, zero_masked

__all__ = ["Activation"]


class Activation(SameShape):
    """``y = activation(x)``, with exact zeros at masked steps.

    The layer has no parameters. Every activation applies element-wise,
    except ``"softmax"``, which normalises over dim 1 (the features) at each
    step, as everywhere in seqkit. Typical use is between a layer and its
    normalisation: ``Conv1D(...), BatchNorm(), Activation("relu")``.

    Args:
        activation: a name from ``seqkit.layers.ACTIVATIONS`` (case-insensitive;
            saved in a model file by its name) or a callable (usable, but a
            network holding it cannot be saved).
        n_in: features F; inferred when left out (the output has as many).

    Shape:
        - x: ``[N, F]``, ``[N, F, T]``, images ``[N, C, H, W]`` or video
          ``[N, C, T, H, W]``; any layout, taken as it is.
        - mask: optional; ``[N, T]`` for input with time (dim 2 of 3-D and
          5-D input), a row mask ``[N]`` otherwise.
        - output: the input's shape, exact zeros at masked steps (rows).
    """

    ranks = (2, 3, 4, 5)
    input_layouts = None                   # element-wise: any layout, as it is

    def __init__(self, activation, n_in: int | None = None):
        super().__init__(n_in)
        self.activation = layer_activation(activation, type(self).__name__)
        self._maybe_build()

    def forward(self, x: torch.Tensor, mask=None) -> torch.Tensor:
        """``activation(x)``, zero where the mask is 0.

        Shape:
            x ``[N, F, ...]``; mask ``[N, T]`` or ``[N]`` or None; returns ``x``'s shape.
        """
        x = self._check_input(x)
        mask = check_any_mask(mask, x, type(self).__name__)
        if activation_name(self.activation) is None:          # a callable: a fresh input (it may work
            return zero_masked(self.activation(zero_masked(x, mask)), mask)   # in place), anything out
        y = self.activation(zero_input(x, mask))                          # junk out, even NaN
        if keeps_zero(self.activation):                                   # zero in, zero out
            return mark_zeroed(y, mask)
        return zero_finite(y, mask)                                       # named: finite at zero

    def extra_repr(self) -> str:
        return f"{describe_activation(self.activation)}, n_in={self.n_in}"
