"""Weight initialisation, L1/L2 penalties and optimizer parameter groups for a network.

Parameter roles (by the parameter's own name, the last part of its dotted name):

- bias: names starting with ``bias`` (``bias``, ``bias_ih``, ``bias_hh``);
- recurrent kernel: ``weight_hh`` (or a name containing ``recurrent``);
- peephole: names containing ``peephole`` (GravesLSTM);
- kernel: every other parameter with two or more dimensions;
- other: one-dimensional parameters that are not biases (e.g. gains).

Initialisation (``weight_init`` / ``weight_init_recurrent``) touches kernels
and recurrent kernels only. Biases, peepholes and other parameters keep what
the layer gave them, so an LSTM's forget-gate bias stays at its
``forget_gate_bias_init`` (1.0) and GravesLSTM starts as a plain LSTM.

Penalties (DL4J's): ``l2`` adds ``0.5 * l2 * sum(w^2)`` and ``l1`` adds
``l1 * sum(|w|)`` to the loss for every kernel, recurrent kernel and
peephole, never for biases (DL4J regularises W and RW, not b).
"""

from __future__ import annotations

import torch
from torch import nn

from .._errors import ConfigError
from ._options import resolve_option

__all__ = ["apply_weight_init", "param_groups", "param_role", "penalty", "penalty_groups"]


def param_role(name: str, param: torch.Tensor) -> str:
    """``"bias"``, ``"recurrent"``, ``"peephole"``, ``"kernel"`` or ``"other"`` (module docstring)."""
    last = name.rsplit(".", 1)[-1]
    if last.startswith("bias"):
        return "bias"
    if last == "weight_hh" or "recurrent" in last:
        return "recurrent"
    if "peephole" in last:
        return "peephole"
    return "kernel" if param.dim() >= 2 else "other"


def _init_tensor(param: torch.Tensor, how: str) -> None:
    with torch.no_grad():
        if how == "xavier":
            nn.init.xavier_uniform_(param)
        elif how == "xavier_normal":
            nn.init.xavier_normal_(param)
        elif how in ("he", "kaiming"):
            nn.init.kaiming_normal_(param, nonlinearity="relu")        # He normal, fan_in
        elif how == "orthogonal":
            nn.init.orthogonal_(param)
        elif how == "zeros":
            param.zero_()
        else:                                                          # pragma: no cover
            raise ConfigError(f"unknown weight_init {how!r}")


def _reset_own(layer: nn.Module) -> None:
    """The layer's own (Keras-style) initialisation: every ``reset_parameters`` in it."""
    for module in layer.modules():
        fn = getattr(module, "reset_parameters", None)
        if callable(fn):
            fn()


def apply_weight_init(layer: nn.Module, weight_init: str, weight_init_recurrent: str) -> None:
    """Initialise ``layer``'s kernels with the resolved settings (module docstring).

    ``"keras"`` re-runs the layer's own initialisers for the kernels it
    governs (Glorot kernels, orthogonal recurrent kernels, the layer's biases).
    Uses torch's global RNG; the network seeds it when it has a seed.
    """
    how = resolve_option(layer, "weight_init", weight_init)
    how_rec = resolve_option(layer, "weight_init_recurrent", weight_init_recurrent)
    if how == "keras":
        _reset_own(layer)
        if how_rec == "keras":
            return
        for name, p in layer.named_parameters():
            if param_role(name, p) == "recurrent":
                _init_tensor(p, how_rec)
        return
    for name, p in layer.named_parameters():
        role = param_role(name, p)
        if role == "kernel":
            _init_tensor(p, how)
        elif role == "recurrent":
            if how_rec == "keras":
                continue
            _init_tensor(p, how_rec)


def penalty_groups(layers, l1: float, l2: float) -> list[tuple[float, float, list[torch.Tensor]]]:
    """``(l1, l2, weights)`` per layer with a nonzero coefficient (resolved per layer)."""
    out = []
    for layer in layers:
        c1 = resolve_option(layer, "l1", l1)
        c2 = resolve_option(layer, "l2", l2)
        if not c1 and not c2:
            continue
        weights = [p for name, p in layer.named_parameters()
                   if p.requires_grad and param_role(name, p) in ("kernel", "recurrent", "peephole")]
        if weights:
            out.append((float(c1), float(c2), weights))
    return out


def penalty(groups) -> torch.Tensor | None:
    """The summed L1/L2 penalty of :func:`penalty_groups` (a 0-d tensor), or None."""
    total = None
    for c1, c2, weights in groups:
        if c2:
            norms = torch.stack(torch._foreach_norm(weights, 2))                # [P]
            term = 0.5 * c2 * norms.square().sum()
            total = term if total is None else total + term
        if c1:
            norms = torch.stack(torch._foreach_norm(weights, 1))                # [P]
            term = c1 * norms.sum()
            total = term if total is None else total + term
    return total


def param_groups(layers, learning_rate_default: float | None = None) -> list[dict]:
    """One optimizer param group per layer with parameters; ``lr`` only where a layer overrides it."""
    groups = []
    for layer in layers:
        params = [p for p in layer.parameters() if p.requires_grad]
        if not params:
            continue
        group = {"params": params}
        lr = resolve_option(layer, "learning_rate", None)
        if lr is not None:
            group["lr"] = float(lr)
        groups.append(group)
    return groups
