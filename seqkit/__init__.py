"""seqkit: recurrent networks on PyTorch over padded, masked NCL batches.

The data side lives in the separate ``readers`` package, which never imports torch.
"""

from ._errors import ConfigError
from . import layers

__all__ = sorted([
    "ConfigError",
    "layers",
])
