"""seqkit.layers: recurrent, wrapper, convolutional, feed-forward and output layers.

Every layer is a ``torch.nn.Module`` taking NCL input ``[N, F, T]`` (or ``[N, F]``
for feed-forward layers) and an optional ``[N, T]`` mask. See docs/masking.md.
"""

from ._base import Layer

__all__ = sorted([
    "Layer",
])
