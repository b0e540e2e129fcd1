"""Integer class labels: class indices turned into the one-hot labels a classification head scores.

``fit``, ``score``, ``evaluate`` (and ``fit``'s validation data) accept labels
as integer class indices when the network ends in a classification head, an
output layer with a softmax activation and the ``"mcxent"`` or ``"nll"`` loss:

- ``[N]`` integers for a per-example head (``Output``);
- ``[N, T]`` integers for a per-step head (``RnnOutput``, ``RnnLoss``).

They become one-hot ``[N, C]`` / ``[N, C, T]`` float labels with C the output
size, on the host, before the batch goes to the device, so training gives
exactly what the same labels given one-hot give. Every index at a real step
must be in ``[0, C)``; a step the labels mask (or, without one, the features
mask) marks as padding may hold anything (``-1`` is a common choice) and gets
an all-zero label, which the masked loss ignores. An index out of range is a
``ValueError`` naming the value, the example (its row in the batch and its
key) and the step.

Integer labels already shaped like the output (``[N, C]`` / ``[N, C, T]``,
e.g. 0/1 multi-label targets) are taken as they are, converted to floats.
Integer class indices for any other head are an error saying what the head
is and what it would need.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..layers import RnnLoss, RnnOutput, activation_name

__all__ = ["ClassIndexLabels", "is_integer_labels"]

CLASSIFICATION_LOSSES = ("mcxent", "nll")


def is_integer_labels(labels: torch.Tensor) -> bool:
    """True for integer (not bool, not floating) label tensors."""
    return not (labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool)


def _key(keys, row: int) -> str:
    if keys is None or row >= len(keys):
        return ""
    return f" (key {keys[row]!r})"


class ClassIndexLabels:
    """Turns a batch's integer class indices into one-hot labels for the network's output layer.

    Args:
        head: the output layer (``Output``, ``RnnOutput`` or ``RnnLoss``).
        index: its position in the network, for messages.

    Call it with a batch's host labels, mask and keys (see :meth:`__call__`).
    """

    def __init__(self, head, index: int):
        self.head, self.index = head, index
        self.per_step = isinstance(head, (RnnOutput, RnnLoss))

    @property
    def _where(self) -> str:
        return f"layer {self.index} ({type(self.head).__name__})"

    def _check_head(self, labels: torch.Tensor) -> int:
        act = activation_name(self.head.activation)
        loss = getattr(self.head.loss_fn, "name", None)
        if act != "softmax" or loss not in CLASSIFICATION_LOSSES:
            act_text = repr(act) if act is not None else "a custom callable"
            raise ValueError(
                f"labels are integer class indices of shape {tuple(labels.shape)}, but {self._where} "
                f"is not a classification head (activation {act_text}, loss {loss!r}; needs softmax "
                f"with mcxent or nll); give labels shaped like the output, "
                f"{'[N, C, T]' if self.per_step else '[N, C]'}, as floats")
        n_classes = self.head.n_out
        if n_classes is None:
            raise ValueError(f"labels are integer class indices but {self._where} does not know its "
                             f"number of classes yet (build the network first)")
        return int(n_classes)

    def __call__(self, labels: torch.Tensor, mask: torch.Tensor | None, keys=None) -> torch.Tensor:
        """One-hot labels for integer class indices; other labels as floats, unchanged.

        Args:
            labels: host labels, integer dtype.
            mask: host labels mask (or features mask), ``[N, T]`` / ``[N]``, or None.
            keys: the batch's sequence keys, for messages.

        Shape:
            ``[N, T]`` -> ``[N, C, T]`` (per-step head); ``[N]`` -> ``[N, C]``
            (per-example head); anything else is returned as float32.

        Raises:
            ValueError: a head that is not a classification head, or an index
                out of ``[0, C)`` at a real step (naming value, example and step).
        """
        index_rank = 2 if self.per_step else 1
        if labels.dim() != index_rank:
            return labels.float()
        n_classes = self._check_head(labels)
        real = torch.ones(labels.shape, dtype=torch.bool)
        if mask is not None and tuple(mask.shape) == tuple(labels.shape):
            real = mask.to("cpu") != 0
        values = labels.to("cpu", torch.int64)
        bad = real & ((values < 0) | (values >= n_classes))
        if bool(bad.any()):
            pos = [int(i) for i in bad.nonzero()[0]]
            step = f", step {pos[1]}" if len(pos) > 1 else ""
            raise ValueError(
                f"labels: class index {int(values[tuple(pos)])} at example {pos[0]}{_key(keys, pos[0])}"
                f"{step} is out of range for {self._where} with {n_classes} classes (expected an "
                f"integer in [0, {n_classes}) at every real step)")
        one_hot = F.one_hot(torch.where(real, values, 0), n_classes).to(torch.float32)
        one_hot = one_hot * real.unsqueeze(-1)                               # padding: all zeros
        return one_hot.movedim(-1, 1).contiguous()                           # [N, C(, T)]
