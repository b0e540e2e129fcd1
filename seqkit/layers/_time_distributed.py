"""TimeDistributed: apply a feed-forward layer, or any module, at every step."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

from .._errors import ConfigError
from ._base import Layer
from ._mask import check_mask
from ._zeroing import zero_masked

__all__ = ["TimeDistributed"]


def _inner_n_in(layer: nn.Module) -> int | None:
    if isinstance(layer, Layer):
        return layer.n_in
    for attr in ("in_features", "in_channels"):                 # nn.Linear, nn.ConvNd, ...
        value = getattr(layer, attr, None)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


class TimeDistributed(Layer):
    """Apply ``layer`` to every step with the same weights, in one call.

    The steps are folded into the batch: ``[N, F, T] -> [N*T, F]`` (row
    ``n*T + t`` is step t of example n), the inner module runs once on all
    rows, and its output is unfolded back to ``[N, H, T]``. Input with spatial
    dims after time, ``[N, C, T, *spatial]``, reaches the inner module as
    ``[N*T, C, *spatial]`` (e.g. a ``torch.nn.Conv2d`` per video frame).

    ``layer`` may be any ``torch.nn.Module`` taking one tensor (a seqkit
    ``Dense``, ``Conv2D``, ``torch.nn.Linear``, a ``torch.nn.Sequential``...). A
    seqkit layer with ``n_in`` left out is built from the input.

    As a wrapper it tells a network only what it does to time: it needs a
    time axis (sequences or video) and keeps it; nothing of the inner module's
    own description applies across steps.

    Masking: the inner module is called without the mask and sees every row,
    padding included; the output is then exactly 0 at masked steps (so
    padded rows get no gradient). Unlike DL4J's TimeDistributed, the mask's
    rows are folded in the same ``n*T + t`` order as the data. Keras's
    TimeDistributed does not zero masked steps; seqkit does, as every layer.

    Args:
        layer: the module applied per step.

    Shape:
        - x: ``[N, F, T]`` or ``[N, C, T, *spatial]``; mask: ``[N, T]``
        - inner module: ``[N*T, F]`` -> ``[N*T, H, *rest]``
        - output: ``[N, H, T, *rest]``
    """

    def __init__(self, layer: nn.Module):
        if not isinstance(layer, nn.Module):
            raise ConfigError(f"TimeDistributed: layer must be a torch.nn.Module, got {type(layer).__name__}")
        super().__init__(_inner_n_in(layer))
        self.layer = layer
        self._maybe_build()

    @property
    def n_out(self) -> int | None:
        """The inner layer's output size (dim 1), or None when it cannot be told without input."""
        if isinstance(self.layer, Layer):
            return self.layer.n_out
        for attr in ("out_features", "out_channels"):
            value = getattr(self.layer, attr, None)
            if isinstance(value, int):
                return value
        return None

    def _build(self, n_in: int) -> None:
        if isinstance(self.layer, Layer):
            self.layer.build(n_in)

    # -- self-description (see Layer): per step, so nothing of time but its need ---------
    input_layouts = frozenset({"sequences", "video"})
    needs_time = True

    @property
    def wrapped(self) -> nn.Module:
        return self.layer

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() < 3:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            raise ValueError(f"TimeDistributed: expected input [N, F, T] or [N, C, T, *spatial], "
                             f"got shape {shape}")
        self._build_like(x)
        mask = check_mask(mask, x, "TimeDistributed")
        n, t = x.shape[0], x.shape[2]
        rows = x.transpose(1, 2).reshape(n * t, x.shape[1], *x.shape[3:])   # [N*T, F, *spatial]
        y = self.layer(rows)                                                # [N*T, H, *rest]
        if not isinstance(y, torch.Tensor) or y.dim() < 2 or y.shape[0] != n * t:
            got = tuple(y.shape) if isinstance(y, torch.Tensor) else type(y).__name__
            raise ValueError(f"TimeDistributed: the inner {type(self.layer).__name__} must return one "
                             f"tensor with {n * t} rows [N*T, H, ...], got {got}")
        y = y.reshape(n, t, *y.shape[1:]).transpose(1, 2)                   # [N, H, T, *rest]
        return zero_masked(y, mask)

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """``(F, T, *spatial) -> (H, T, *rest)`` without the batch dim; T may be None.

        Uses the inner layer's ``output_shape`` when it has one (seqkit layers);
        otherwise runs it once on a zero input of batch 1, which needs every
        dim except T known.

        Raises:
            ConfigError: a rank below 2, or an inner shape that cannot be inferred.
        """
        shape = tuple(input_shape)
        if len(shape) < 2:
            raise ConfigError(f"TimeDistributed: expected input (N, F, T, ...), got "
                              f"(N, {', '.join(map(str, shape))})")
        if self.n_in is not None and shape[0] != self.n_in:
            raise ConfigError(f"TimeDistributed: n_in={self.n_in} but the input has {shape[0]} features")
        step_shape = (shape[0], *shape[2:])                                 # one step: (F, *spatial)
        if hasattr(self.layer, "output_shape"):
            inner = tuple(self.layer.output_shape(step_shape))
        else:
            if None in step_shape:
                raise ConfigError(f"TimeDistributed: cannot infer the output of "
                                  f"{type(self.layer).__name__} for input {shape} with unknown sizes")
            param = next(self.layer.parameters(), None)
            probe = torch.zeros((1, *step_shape),
                                dtype=param.dtype if param is not None else torch.get_default_dtype(),
                                device=param.device if param is not None else None)
            try:
                with torch.no_grad():
                    inner = tuple(self.layer(probe).shape[1:])
            except Exception as err:  # the inner module's own error, re-raised as a config error
                raise ConfigError(f"TimeDistributed: {type(self.layer).__name__} cannot take one step "
                                  f"of shape {step_shape}: {err}") from err
        return (inner[0], shape[1], *inner[1:])

    def extra_repr(self) -> str:
        return f"n_in={self.n_in}, n_out={self.n_out}"
