"""``Sequential.summary``: a table of the layers, their output shapes and parameter counts."""

from __future__ import annotations

import torch

from ._shapes import describe_shape, layer_name

__all__ = ["describe_layer", "summary"]


def describe_layer(layer) -> str:
    """One line for ``layer``: class, sizes, kernel, activation, loss (wrappers nest)."""
    name = layer_name(layer)
    inner = None
    for attr in ("inner", "forward_layer"):
        value = getattr(layer, attr, None)
        if isinstance(value, torch.nn.Module):
            inner = value
    if inner is not None:
        mode = getattr(layer, "mode", None)
        return f"{name}({describe_layer(inner)}{', ' + mode if isinstance(mode, str) else ''})"
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


def _updater_name(net) -> str:
    u = net.updater
    if isinstance(u, str):
        return f"{u} (learning_rate={net.learning_rate:g})"
    func = getattr(u, "func", u)
    return getattr(func, "__name__", type(u).__name__)


def summary(net) -> str:
    """A table of the layers: index, layer, output shape, parameter count, and totals.

    Shapes are per layer output, ``N`` the batch and ``T`` the steps; rows
    between ``RnnToFeedForward`` and ``FeedForwardToRnn`` show as ``[N*T, F]``.
    """
    rows = [("#", "layer", "output shape", "params")]
    shapes = net.output_shapes
    batches = net.output_batches or ["N"] * len(net.layers)
    for i, layer in enumerate(net.layers):
        key = str(i)
        if key in net.preprocessors:
            rows.append(("", f"{layer_name(net.preprocessors[key])} (inserted)", "", "0"))
        shape = describe_shape(shapes[i], batches[i]) if shapes is not None else "?"
        count = sum(p.numel() for p in layer.parameters())
        rows.append((str(i), describe_layer(layer), shape, f"{count:,}"))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    lines = []
    it = repr(net.input_type) if net.input_type is not None else "unknown (built from the first batch)"
    inp = describe_shape(net.input_shape) if net.built else "?"
    lines.append(f"Sequential: {len(net.layers)} layers, input {inp} from {it}")
    for k, r in enumerate(rows):
        lines.append("  ".join([r[0].rjust(widths[0]), r[1].ljust(widths[1]), r[2].ljust(widths[2]),
                                r[3].rjust(widths[3])]).rstrip())
        if k == 0:
            lines.append("-" * len(lines[-1]))
    total = sum(p.numel() for p in net.parameters())
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    lines.append("-" * max(len(line) for line in lines[1:3]))
    lines.append(f"Total parameters: {total:,} (trainable: {trainable:,})")
    lines.append(f"Training: backprop={net.backprop}"
                 + (f" (segments of {net.tbptt_length}, gradient window "
                    f"{net.tbptt_back_length or net.tbptt_length})" if net.backprop == "tbptt" else "")
                 + f", loss_reduction={net.loss_reduction}, updater={_updater_name(net)}")
    return "\n".join(lines)
