"""Inference on a built network: output, predict, score, evaluate, activations, summary.

Inputs may be numpy arrays or torch tensors; ``output`` and ``predict``
return the same kind as their input (numpy on the CPU for numpy input, torch
on the network's device for torch input). Everything here runs in eval mode
without autograd and restores the training flag afterwards.
"""

from __future__ import annotations

import contextlib

import numpy as np
import torch

from ._data import _as_host, as_source, to_device
from ._labels import ClassIndexLabels
from ._forward import make_mask, run_layers
from ._parameters import penalty, penalty_groups
from ._shapes import describe_shape, layer_name
from .layers._output import LossHead

__all__ = ["InferenceMixin"]


@contextlib.contextmanager
def _eval_mode(net):
    was = net.training
    net.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        net.train(was)


def _as_tensor(x, what: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    array = np.asarray(x)
    if array.dtype == object or not np.issubdtype(array.dtype, np.number):
        raise TypeError(f"{what} must be a numeric numpy array or torch tensor, got dtype {array.dtype}")
    return torch.from_numpy(np.ascontiguousarray(array))


def _describe_layer(layer) -> str:
    name = layer_name(layer)
    inner = None
    for attr in ("inner", "forward_layer"):
        value = getattr(layer, attr, None)
        if isinstance(value, torch.nn.Module):
            inner = value
    if inner is not None:
        mode = getattr(layer, "mode", None)
        return f"{name}({_describe_layer(inner)}{', ' + mode if isinstance(mode, str) else ''})"
    parts = []
    n_in, n_out = getattr(layer, "n_in", None), None
    try:
        n_out = layer.n_out
    except (AttributeError, NotImplementedError, TypeError):
        pass
    if n_in is not None or n_out is not None:
        parts.append(f"{n_in if n_in is not None else '?'} -> {n_out if n_out is not None else '?'}")
    kernel = getattr(layer, "kernel_size", None)
    if kernel is not None:
        sizes = kernel if isinstance(kernel, (tuple, list)) else (kernel,)
        parts.append(f"kernel {'x'.join(str(k) for k in sizes)}")
        if getattr(layer, "padding", None) == "causal":
            parts.append("causal")
    pooling = getattr(layer, "pooling", None)
    if isinstance(pooling, str):
        parts.append(pooling)
    act = getattr(layer, "activation_name", None) or getattr(getattr(layer, "activation", None), "name", None)
    if act is None:
        cell = getattr(layer, "cell", None)
        act = getattr(cell, "activation_name", None)
    if isinstance(act, str):
        parts.append(act)
    loss = getattr(getattr(layer, "loss_fn", None), "name", None)
    if isinstance(loss, str) and loss:
        parts.append(loss)
    if getattr(layer, "return_sequences", True) is False:
        parts.append("last step")
    return f"{name}({', '.join(parts)})"


class InferenceMixin:
    """``output``, ``predict``, ``score``, ``evaluate``, ``activations`` and ``summary``."""

    # -- helpers ------------------------------------------------------------------------------
    def _prepare_input(self, x, mask):
        """``(x, StepMask or None)`` on the device, building the network from ``x`` if needed."""
        x = _as_tensor(x, "x")
        self._ensure_built(tuple(x.shape))
        x = x.to(device=self.device, dtype=self.dtype)
        host = None
        if mask is not None:
            mask = _as_tensor(mask, "mask")
            host = mask.detach().to("cpu", torch.float32)
            mask = mask.to(device=self.device, dtype=self.dtype)
        return x, make_mask(mask, host, x) if mask is not None else None

    def _device_batch(self, item, head):
        """One batch on the device, the network built from it if needed; integer class
        indices become one-hot for ``head`` (see :mod:`seqkit._labels`)."""
        host = _as_host(item)
        self._ensure_built(tuple(host.features.shape))
        return to_device(host, self.device, self.dtype,
                         class_labels=ClassIndexLabels(head, len(self.layers) - 1))

    @staticmethod
    def _like_input(out: torch.Tensor, x):
        return out.detach().cpu().numpy() if not isinstance(x, torch.Tensor) else out

    # -- output and predict -------------------------------------------------------------------
    def output(self, x, mask=None, *, labels_mask=None):
        """The network's output for features ``x`` in eval mode (no dropout, no autograd).

        Args:
            x: features ``[N, F, T]`` (or ``[N, F]``, video ``[N, C, T, H, W]``...),
                numpy or torch.
            mask: the features mask ``[N, T]`` or None. Masked steps output exact zeros.
            labels_mask: for a per-step output layer, zero its output where this
                ``[N, T]`` mask is 0 instead of where ``mask`` is (as DL4J does
                when a labels mask is set).

        Returns:
            ``[N, C, T]`` or ``[N, C]``, numpy for numpy input, else torch on the network's device.

        Shape:
            x ``[N, F, T]``; mask ``[N, T]``; returns ``[N, C, T]`` (per-step output) or ``[N, C]``.
        """
        with _eval_mode(self):
            xt, step_mask = self._prepare_input(x, mask)
            with self._autocast():
                out = self._forward_output(xt, step_mask, labels_mask)
        return self._like_input(out.float() if out.dtype == torch.bfloat16 else out, x)

    def _forward_output(self, x, step_mask, labels_mask=None):
        last = len(self.layers) - 1
        head = self.layers[last]
        if not isinstance(head, LossHead):
            return run_layers(self, x, step_mask)[0]
        h, m = run_layers(self, x, step_mask, stop=last)
        if labels_mask is not None and h.dim() == 3:
            mask = _as_tensor(labels_mask, "labels_mask").to(device=h.device, dtype=h.dtype)
        else:
            mask = None if m is None else m.values
        return head(h, mask)

    def predict(self, x, mask=None):
        """Class indices: argmax of :meth:`output` over dim 1.

        Returns:
            ``[N]`` or ``[N, T]`` int64, numpy for numpy input; masked steps
            (``mask == 0``) give ``-1``.
        """
        out = self.output(x if isinstance(x, torch.Tensor) else _as_tensor(x, "x"), mask)
        idx = out.argmax(dim=1)                                              # [N] or [N, T]
        if mask is not None and idx.dim() == 2:
            m = _as_tensor(mask, "mask").to(idx.device)
            idx = torch.where(m != 0, idx, torch.full_like(idx, -1))
        return self._like_input(idx, x)

    def activations(self, x, mask=None) -> list:
        """Every layer's output for ``x`` (eval mode): a list, one entry per layer.

        Entry i is layer i's output (after its preprocessor, if any). Same kind
        as ``x`` (numpy or torch).
        """
        with _eval_mode(self):
            xt, step_mask = self._prepare_input(x, mask)
            out: list = []
            with self._autocast():
                run_layers(self, xt, step_mask, collect=out)
        return [self._like_input(a, x) for a in out]

    # -- score ----------------------------------------------------------------------------------
    def _loss_mask(self, labels_mask, step_mask, h):
        """The mask the loss uses: the labels mask, else the propagated features mask for per-step output."""
        if labels_mask is not None:
            return labels_mask
        if step_mask is not None and h.dim() == 3:
            return step_mask.values
        return None

    def score(self, data, *, regularization: bool = True, batch_size: int = 32) -> float:
        """The loss on ``data`` (eval mode), plus the L1/L2 penalty as DL4J's score.

        ``data``: a ``readers.Batch``, arrays ``(features, labels[, features_mask,
        labels_mask])``, or any iterable of batches (labels may be integer class
        indices for a classification head, as in ``fit``); over several batches the
        result is the loss of them all taken together (total loss / total
        sequences, or / total real steps with ``loss_reduction="per_step"``).
        """
        head = self._check_trainable()
        total, count = None, 0.0
        with _eval_mode(self):
            for item in as_source(data, batch_size=batch_size):
                b = self._device_batch(item, head)
                if b.labels is None:
                    raise ValueError("score needs labels")
                step_mask = make_mask(b.features_mask, b.features_mask_host, b.features)
                with self._autocast():
                    h, m = run_layers(self, b.features, step_mask, stop=len(self.layers) - 1)
                    mask = self._loss_mask(b.labels_mask, m, h)
                    s = head.score(head.preactivation(h), b.labels, mask, reduction="sum").float()
                total = s if total is None else total + s
                if self.loss_reduction == "per_step":
                    host = b.labels_mask_host if b.labels_mask is not None else (
                        b.features_mask_host if mask is not None else None)
                    count += float(host.sum()) if host is not None else float(
                        len(b) * (b.labels.shape[2] if b.labels.dim() == 3 else 1))
                else:
                    count += len(b)
            if total is None:
                raise ValueError("score: the data holds no batch")
            value = float(total) / max(count, 1.0)
            if regularization:
                reg = penalty(penalty_groups(self.layers, self.l1, self.l2))
                value += float(reg) if reg is not None else 0.0
        return value

    # -- evaluate -------------------------------------------------------------------------------
    def evaluate(self, data, *, batch_size: int = 32, labels=None, top_n: int = 1):
        """Evaluate on ``data``: ``seqkit.Evaluation``, or ``RegressionEvaluation`` for mse/mae.

        Per-step outputs are evaluated at the steps the **labels** mask marks
        real (DL4J's rule); without a labels mask, at the steps the features
        mask marks real (all steps when neither is given). Batch keys go to
        the evaluation (``Evaluation`` reports the worst sequences by key), and
        so does the features mask: sequence lengths for ``accuracy_by_length``
        and step indices for ``accuracy_by_step`` come from it, not from the
        labels mask (one step per series in the many-to-one case).

        Args:
            data: as :meth:`score`.
            labels: class names for the report (classification).
            top_n: for top-N accuracy (classification).
        """
        from .evaluation import Evaluation, RegressionEvaluation
        from .evaluation._inputs import eval_features_mask

        head = self._check_trainable()
        regression = getattr(head.loss_fn, "name", "") in ("mse", "mae")
        ev = RegressionEvaluation() if regression else Evaluation(labels=labels, top_n=top_n)
        with _eval_mode(self):
            for item in as_source(data, batch_size=batch_size):
                b = self._device_batch(item, head)
                if b.labels is None:
                    raise ValueError("evaluate needs labels")
                step_mask = make_mask(b.features_mask, b.features_mask_host, b.features)
                with self._autocast():
                    h, m = run_layers(self, b.features, step_mask, stop=len(self.layers) - 1)
                    mask = self._loss_mask(b.labels_mask, m, h)
                    pred = head(h, mask).float()
                if regression:
                    ev.eval(b.labels, pred, mask)
                else:
                    ev.eval(b.labels, pred, mask, keys=b.keys,     # lengths from the features mask
                            features_mask=eval_features_mask(b.features, b.features_mask, pred, mask))
        return ev

    # -- summary ------------------------------------------------------------------------------
    def summary(self) -> str:
        """A table of the layers: index, layer, output shape, parameter count, and totals.

        Shapes are per layer output, ``N`` the batch and ``T`` the steps; rows
        between ``RnnToFeedForward`` and ``FeedForwardToRnn`` show as ``[N*T, F]``.
        """
        rows = [("#", "layer", "output shape", "params")]
        shapes = self.output_shapes
        batches = self._output_batches or ["N"] * len(self.layers)
        for i, layer in enumerate(self.layers):
            key = str(i)
            if key in self.preprocessors:
                pre = self.preprocessors[key]
                rows.append(("", f"{layer_name(pre)} (inserted)", "", "0"))
            shape = describe_shape(shapes[i], batches[i]) if shapes is not None else "?"
            count = sum(p.numel() for p in layer.parameters())
            rows.append((str(i), _describe_layer(layer), shape, f"{count:,}"))
        widths = [max(len(r[c]) for r in rows) for c in range(4)]
        lines = []
        it = repr(self.input_type) if self.input_type is not None else "unknown (built from the first batch)"
        inp = describe_shape(self.input_shape) if self.built else "?"
        lines.append(f"Sequential: {len(self.layers)} layers, input {inp} from {it}")
        for k, r in enumerate(rows):
            lines.append("  ".join([r[0].rjust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                                    r[3].rjust(widths[3])]).rstrip())
            if k == 0:
                lines.append("-" * len(lines[-1]))
        total = sum(p.numel() for p in self.parameters())
        trainable = sum(p.numel() for p in self.parameters() if p.requires_grad)
        lines.append("-" * max(len(line) for line in lines[1:3]))
        lines.append(f"Total parameters: {total:,} (trainable: {trainable:,})")
        lines.append(f"Training: backprop={self.backprop}"
                     + (f" (segments of {self.tbptt_length}, gradient window "
                        f"{self.tbptt_back_length or self.tbptt_length})" if self.backprop == "tbptt" else "")
                     + f", loss_reduction={self.loss_reduction}, updater={self._updater_name()}")
        return "\n".join(lines)

    def _updater_name(self) -> str:
        u = self.updater
        if isinstance(u, str):
            return f"{u} (learning_rate={self.learning_rate:g})"
        func = getattr(u, "func", u)
        return getattr(func, "__name__", type(u).__name__)
