"""Preprocessors: reshapes between sequence, row and image layouts (DL4J's InputPreProcessors).

Layouts (batch N, steps T, features F, channels C, height H, width W):

- sequence ``[N, F, T]`` (recurrent layers, RnnOutput),
- rows ``[N*T, F]`` (feed-forward layers), row ``n*T + t`` holding step t of example n,
- frames ``[N*T, C, H, W]`` (DL4J's convention for video into a CNN), same row order,
- video ``[N, C, T, H, W]`` (seqkit's convention: ``Conv2D`` and ``Subsampling2D``
  take it directly, frame by frame),
- images ``[N, C, H, W]`` and flat vectors ``[N, C*H*W]`` (``CnnToFeedForward``).

Protocol (what a network relies on):

- ``forward(x, mask=None, *, batch_size=None)``: ``mask`` is in the *input*'s
  layout (``[N, T]`` with time, a row mask ``[N*T]`` without); masked steps or
  rows come out as exact zeros. Going from rows or frames back to a sequence
  needs N: pass ``batch_size=N`` (the network passes the original batch size to
  every preprocessor; those that do not need it ignore it).
- ``forward_mask(mask, *, batch_size=None)``: the mask in the *output*'s layout
  (``[N, T] -> [N*T]`` or back), None stays None.
- ``output_shape(input_shape)``: shapes without the batch dim; an unknown T is None.

All of them are parameter-free :class:`Layer` s (``n_in`` is dim 1 of the input).
"""

from __future__ import annotations

from typing import Sequence

import torch

from .._errors import ConfigError
from ._base import Layer
from ._checks import check_feature_count, check_positive_int
from ._zeroing import check_any_mask, zero_masked

__all__ = ["CnnToFeedForward", "CnnToRnn", "FeedForwardToRnn", "Preprocessor", "RnnToFeedForward"]


def _rows_to_batch(rows: int, batch_size, where: str) -> int:
    """T from ``rows = N*T`` and ``batch_size = N``; a ValueError when they do not divide."""
    if batch_size is None:
        raise ValueError(f"{where}: input in rows [N*T, ...] needs batch_size=N to restore the "
                         f"time axis; got {rows} rows and no batch_size")
    n = check_positive_int(batch_size, "batch_size", where)
    if rows % n != 0:
        raise ValueError(f"{where}: {rows} rows cannot be split into batch_size={n} sequences "
                         f"of equal length (rows must be N*T)")
    return rows // n


class Preprocessor(Layer):
    """Base of the parameter-free layout changes; see the module docstring for the protocol."""

    def forward_mask(self, mask: torch.Tensor | None, *, batch_size: int | None = None
                     ) -> torch.Tensor | None:
        """The mask in the output's layout (identity by default)."""
        return mask

    @property
    def n_out(self) -> int | None:
        return self.n_in

    def extra_repr(self) -> str:
        return f"n_in={self.n_in}, n_out={self.n_out}"


class RnnToFeedForward(Preprocessor):
    """Sequence to rows: ``[N, F, T] -> [N*T, F]``, row ``n*T + t`` = step t of example n.

    Shape:
        - x: ``[N, F, T]``; mask: ``[N, T]``
        - output: ``[N*T, F]``; ``forward_mask``: ``[N, T] -> [N*T]`` (same row order)
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, *,
                batch_size: int | None = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 3:
            raise ValueError(f"RnnToFeedForward: expected input [N, F, T], got shape "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        self._build_like(x)
        n, f, t = x.shape
        rows = x.transpose(1, 2).reshape(n * t, f)                             # [N*T, F]
        mask = check_any_mask(mask, x, "RnnToFeedForward")
        return zero_masked(rows, self.forward_mask(mask))

    def forward_mask(self, mask, *, batch_size=None):
        return None if mask is None else mask.reshape(-1)                     # [N, T] -> [N*T]

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """``(F, T) -> (F,)``."""
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise ConfigError(f"RnnToFeedForward: expected input (N, F, T), got "
                              f"(N, {', '.join(map(str, shape))})")
        check_feature_count(self, shape[0])
        return (shape[0],)


class FeedForwardToRnn(Preprocessor):
    """Rows to sequence: ``[N*T, F] -> [N, F, T]``; needs ``batch_size=N`` in ``forward``.

    Shape:
        - x: ``[N*T, F]`` (row ``n*T + t``); mask: row mask ``[N*T]``
        - output: ``[N, F, T]``; ``forward_mask``: ``[N*T] -> [N, T]``
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, *,
                batch_size: int | None = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 2:
            raise ValueError(f"FeedForwardToRnn: expected input [N*T, F], got shape "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        self._build_like(x)
        t = _rows_to_batch(x.shape[0], batch_size, "FeedForwardToRnn")
        n = x.shape[0] // t
        mask = check_any_mask(mask, x, "FeedForwardToRnn")
        seq = x.reshape(n, t, x.shape[1]).transpose(1, 2)                      # [N, F, T]
        return zero_masked(seq, self.forward_mask(mask, batch_size=n))

    def forward_mask(self, mask, *, batch_size=None):
        if mask is None:
            return None
        mask = mask.reshape(-1)
        t = _rows_to_batch(mask.shape[0], batch_size, "FeedForwardToRnn")
        return mask.reshape(-1, t)                                             # [N*T] -> [N, T]

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """``(F,) -> (F, None)`` (T is known only at run time)."""
        shape = tuple(input_shape)
        if len(shape) != 1:
            raise ConfigError(f"FeedForwardToRnn: expected input (N*T, F), got "
                              f"(N, {', '.join(map(str, shape))})")
        check_feature_count(self, shape[0])
        return (shape[0], None)


class CnnToRnn(Preprocessor):
    """Per-frame feature maps to a sequence of flat vectors: ``-> [N, C*H*W, T]``.

    Takes video ``[N, C, T, H, W]`` (seqkit's convention; no batch size needed)
    or DL4J's frames ``[N*T, C, H, W]`` (with ``batch_size=N``). Each frame is
    flattened in C, H, W order: feature ``c*H*W + h*W + w``.

    Args:
        height, width, channels: optional, as DL4J's ``CnnToRnnPreProcessor``;
            when given, the input is checked against them.

    Shape:
        - x: ``[N, C, T, H, W]`` with mask ``[N, T]``, or ``[N*T, C, H, W]`` with row mask ``[N*T]``
        - output: ``[N, C*H*W, T]``; ``forward_mask`` gives ``[N, T]``
    """

    def __init__(self, height: int | None = None, width: int | None = None,
                 channels: int | None = None):
        super().__init__(channels)
        self.height = None if height is None else check_positive_int(height, "height", "CnnToRnn")
        self.width = None if width is None else check_positive_int(width, "width", "CnnToRnn")
        self._maybe_build()

    @property
    def channels(self) -> int | None:
        """C, the same as ``n_in`` (None until known)."""
        return self.n_in

    @property
    def n_out(self) -> int | None:
        """``C*H*W`` once all three are known, else None."""
        if None in (self.n_in, self.height, self.width):
            return None
        return self.n_in * self.height * self.width

    def _check_hw(self, h, w, exc) -> None:
        if (self.height is not None and h != self.height) or (self.width is not None and w != self.width):
            raise exc(f"CnnToRnn: configured for height x width {self.height} x {self.width}, "
                      f"got frames of {h} x {w}")

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, *,
                batch_size: int | None = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() not in (4, 5):
            raise ValueError(f"CnnToRnn: expected video [N, C, T, H, W] or frames [N*T, C, H, W], got "
                             f"shape {tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        self._build_like(x)
        self._check_hw(x.shape[-2], x.shape[-1], ValueError)
        mask = check_any_mask(mask, x, "CnnToRnn")
        if x.dim() == 5:
            n, c, t, h, w = x.shape
            seq = x.permute(0, 1, 3, 4, 2).reshape(n, c * h * w, t)            # [N, C*H*W, T]
            return zero_masked(seq, mask)
        rows, c, h, w = x.shape
        t = _rows_to_batch(rows, batch_size, "CnnToRnn")
        seq = x.reshape(rows // t, t, c * h * w).transpose(1, 2)               # [N, C*H*W, T]
        return zero_masked(seq, self.forward_mask(mask, batch_size=rows // t))

    def forward_mask(self, mask, *, batch_size=None):
        if mask is None or mask.dim() == 2:
            return mask                                                        # video: [N, T] as is
        mask = mask.reshape(-1)
        t = _rows_to_batch(mask.shape[0], batch_size, "CnnToRnn")
        return mask.reshape(-1, t)                                             # [N*T] -> [N, T]

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """``(C, T, H, W) -> (C*H*W, T)``; frames ``(C, H, W) -> (C*H*W, None)``."""
        shape = tuple(input_shape)
        if len(shape) not in (3, 4) or None in (shape[0], *shape[-2:]):
            raise ConfigError(f"CnnToRnn: expected input (N, C, T, H, W) or (N*T, C, H, W) with C, H "
                              f"and W known, got (N, {', '.join(map(str, shape))})")
        check_feature_count(self, shape[0])
        self._check_hw(shape[-2], shape[-1], ConfigError)
        flat = shape[0] * shape[-2] * shape[-1]
        return (flat, shape[1]) if len(shape) == 4 else (flat, None)

    def extra_repr(self) -> str:
        return f"height={self.height}, width={self.width}, channels={self.n_in}"


class CnnToFeedForward(Preprocessor):
    """Images to flat vectors: ``[N, C, H, W] -> [N, C*H*W]`` (C, H, W order).

    Inserted by the network between a convolutional layer on images and a
    ``Dense`` or ``Output`` layer.

    Shape:
        x ``[N, C, H, W]``; row mask ``[N]`` passes through; output ``[N, C*H*W]``.
    """

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None, *,
                batch_size: int | None = None) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() != 4:
            raise ValueError(f"CnnToFeedForward: expected images [N, C, H, W], got "
                             f"{tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__}")
        return x.reshape(x.shape[0], -1)                                    # [N, C*H*W]

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """``(C, H, W) -> (C*H*W,)``; C, H and W must be known."""
        shape = tuple(input_shape)
        if len(shape) != 3 or None in shape:
            given = "[" + ", ".join(["N"] + ["T" if d is None else str(d) for d in shape]) + "]"
            raise ConfigError(f"CnnToFeedForward: expected images (N, C, H, W), got {given}")
        return (shape[0] * shape[1] * shape[2],)
