"""Tracing mode: the path layers take while ``torch.compile`` or ``torch.export`` traces them.

In eager mode the recurrent layers choose their fast path from a CPU copy of
the mask (:class:`~seqkit.layers.StepMask`): whether any example is padded,
whether its real steps form one run, where each run starts. Under a tracer
none of that can be read: a graph cannot branch on the mask's values, and
numpy cannot run on a traced tensor. So while tracing:

- a ``StepMask`` keeps no CPU copy and nothing is read back from the device;
- every recurrent layer runs its reference step loop (the masking semantic
  itself: at a masked step the state is carried and the output is zero) as
  one ``scan`` over time, which ``torch.export`` keeps with a dynamic number of
  steps and the ONNX exporter writes as an ONNX ``Scan``; masks with gaps are
  handled like any other;
- the checks that would read data (an example with no real step before
  ``LastTimeStep``, ``return_sequences=False`` or ``GlobalPooling``) are left
  out: such an example gets the output at its last step / pooled zeros
  instead of an error.

The eager paths and the traced path agree to float rounding; the tests
compare them for every recurrent layer.
"""

from __future__ import annotations

import torch

__all__ = ["tracing"]


def tracing() -> bool:
    """True while ``torch.compile`` (dynamo) or ``torch.export`` traces the running code."""
    return torch.compiler.is_compiling()
