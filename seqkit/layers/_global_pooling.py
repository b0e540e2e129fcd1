"""GlobalPooling: a sequence pooled over its real steps into one vector (DL4J's GlobalPoolingLayer)."""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import torch

from .._errors import ConfigError
from ._base import Layer
from ._checks import check_feature_count, check_positive_int
from ._mask import check_mask
from ._step_mask import StepMask
from ._tracing import tracing
from ._zeroing import check_any_mask, zero_input, zero_masked

__all__ = ["GlobalPooling", "POOLING_MODES"]

#: The pooling modes GlobalPooling takes (DL4J's ``PoolingType`` AVG, MAX, PNORM, SUM).
POOLING_MODES: tuple[str, ...] = ("avg", "max", "pnorm", "sum")

#: The state keys of :meth:`GlobalPooling.run`.
_STATE_KEYS = ("total", "count")
_LOW_PRECISION = (torch.float16, torch.bfloat16)


def _mode(value, owner: str) -> str:
    key = value.lower() if isinstance(value, str) else value
    if key not in POOLING_MODES:
        raise ConfigError(f"{owner}: mode must be one of {', '.join(POOLING_MODES)}, got {value!r}")
    return key


def _check_nonempty(real: torch.Tensor, where: str) -> None:
    """ValueError naming the first example with no real step.

    Shape:
        real: ``[N, T]`` mask values, or ``[N]`` counts (nonzero = has a real step).
    """
    if tracing():                                                        # no data-dependent check
        return
    has = (real != 0).any(dim=1) if real.dim() == 2 else real != 0
    if not bool(has.all()):
        bad = int((~has).nonzero()[0, 0])
        raise ValueError(f"{where}: example {bad} of the batch is entirely masked out (its mask row is "
                         f"all 0s), so it has no real step to pool over")


class GlobalPooling(Layer):
    """Pool each example's real steps into one vector: ``[N, F, T] -> [N, F]``.

    Over the steps where the mask is nonzero (all steps without a mask), per
    feature (DL4J's ``GlobalPoolingLayer`` with its masked reductions):

    - ``"avg"``: the mean, ``sum_t x / (number of real steps)``;
    - ``"max"``: the maximum;
    - ``"sum"``: the sum;
    - ``"pnorm"``: ``(sum_t |x|^p)^(1/p)`` with ``p = pnorm``.

    Padded steps are left out whatever they hold, so padding never changes an
    example's result, and they get no gradient. An example with no real step
    is a ``ValueError`` naming its index. The check reads the CPU copy of the
    mask when there is one (a ``StepMask`` from a network fed by the readers,
    or a mask tensor on the CPU), so it costs no device sync; a mask that
    lives only on the GPU costs one sync per call.

    Images ``[N, C, H, W] -> [N, C]`` are pooled over every position (no step
    mask; a row mask ``[N]`` zeroes masked rows), DL4J's pooling of CNN
    activations.

    In a network: the time axis is gone after it (``reduces_time``), so it
    ends a sequence stack before ``Output``; truncated BPTT refuses it (each
    segment would be pooled on its own). ``rnn_time_step`` pools over every
    real step seen so far: :meth:`run` carries the running total and count
    (its state ``{"total", "count"}``, each ``[N, F]``), so after each chunk
    the output is what ``output`` gives for the whole sequence so far.

    Args:
        mode: ``"avg"`` (default; DL4J's default is ``"max"``), ``"max"``,
            ``"sum"`` or ``"pnorm"`` (case-insensitive).
        pnorm: the ``p`` of ``"pnorm"``, a positive int (DL4J's default 2).
        n_in: features F; inferred when left out (the output has as many).

    Float16/bfloat16 input is pooled in float32 and returned in its dtype.

    Shape:
        - x: ``[N, F, T]`` with mask ``[N, T]`` (or a ``StepMask``) or None;
          or ``[N, C, H, W]`` with an optional row mask ``[N]``
        - output: ``[N, F]`` (``[N, C]``)
    """

    # -- self-description (see Layer) -------------------------------------------------------
    input_layouts = frozenset({"sequences", "images"})
    reduces_time = True
    carries_state = True
    takes_step_mask = True

    def __init__(self, mode: str = "avg", pnorm: int = 2, *, n_in: int | None = None):
        super().__init__(n_in)
        name = type(self).__name__
        self.mode = _mode(mode, name)
        self.pnorm = check_positive_int(pnorm, "pnorm", name)
        self._maybe_build()

    @property
    def n_out(self) -> int | None:
        """The input size (None until built)."""
        return self.n_in

    @property
    def pooling(self) -> str:
        """The pooling as a network summary shows it: the mode (``"pnorm(3)"`` with its p)."""
        return f"pnorm({self.pnorm})" if self.mode == "pnorm" else self.mode

    @property
    def state_keys(self) -> tuple[str, ...]:
        """The keys of :meth:`run`'s state: the running total and the count of real steps."""
        return _STATE_KEYS

    # -- forward ----------------------------------------------------------------------------
    def _check_input(self, x, ranks=(3, 4)) -> torch.Tensor:
        if not isinstance(x, torch.Tensor) or x.dim() not in ranks:
            shape = tuple(x.shape) if isinstance(x, torch.Tensor) else type(x).__name__
            want = "[N, F, T] or images [N, C, H, W]" if 4 in ranks else "[N, F, T]"
            raise ValueError(f"{type(self).__name__}: expected sequences {want}, got {shape}")
        self._build_like(x)
        return x

    def _step_mask(self, mask, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        """The mask values on ``x``'s device and the copy to check for empty rows (the CPU
        copy when there is one), or ``(None, None)``."""
        if mask is None:
            return None, None
        if isinstance(mask, StepMask):
            if tuple(mask.values.shape) != (x.shape[0], x.shape[2]):
                raise ValueError(f"{type(self).__name__}: mask must be [N, T] = [{x.shape[0]}, "
                                 f"{x.shape[2]}] for input of shape {tuple(x.shape)}, got mask of "
                                 f"shape {tuple(mask.values.shape)}")
            return mask.values, (mask.host if mask.host is not None else mask.values)
        raw = mask if isinstance(mask, torch.Tensor) else torch.as_tensor(np.asarray(mask))
        values = check_mask(raw, x, type(self).__name__)
        return values, (raw if raw.device.type == "cpu" else values)

    def _pool(self, x: torch.Tensor, values: torch.Tensor | None) -> torch.Tensor:
        """``x [N, F, L]`` pooled over L where ``values [N, L]`` is nonzero -> ``[N, F]``."""
        if self.mode == "max":
            if values is None:
                return x.amax(dim=2)
            keep = (values != 0).unsqueeze(1)                               # [N, 1, L]
            return torch.where(keep, x, torch.full((), -math.inf, dtype=x.dtype, device=x.device)).amax(dim=2)
        xz = zero_input(x, values)                    # no work for an input a seqkit layer has just zeroed
        if self.mode == "sum":
            return xz.sum(dim=2)
        if self.mode == "pnorm":
            return torch.linalg.vector_norm(xz, ord=self.pnorm, dim=2)
        count = x.shape[2] if values is None else \
            (values != 0).sum(dim=1, keepdim=True, dtype=x.dtype).clamp_min(1.0)   # [N, 1]
        return xz.sum(dim=2) / count

    def forward(self, x: torch.Tensor, mask=None) -> torch.Tensor:
        """Each example pooled over its real steps (see the class docstring).

        Shape:
            x ``[N, F, T]`` with mask ``[N, T]`` or None (or ``[N, C, H, W]`` with
            ``[N]``); returns ``[N, F]``.

        Raises:
            ValueError: an example with no real step (naming it), or a mask
                that does not fit ``x``.
        """
        x = self._check_input(x)
        xc = x.float() if x.dtype in _LOW_PRECISION else x
        if x.dim() == 4:                                                   # images: every position
            rows = check_any_mask(mask.values if isinstance(mask, StepMask) else mask, x,
                                  type(self).__name__)
            return zero_masked(self._pool(xc.flatten(2), None), rows).to(x.dtype)
        values, src = self._step_mask(mask, x)
        if src is not None:
            _check_nonempty(src, type(self).__name__)
        return self._pool(xc, values).to(x.dtype)

    # -- streaming --------------------------------------------------------------------------
    def _chunk(self, x: torch.Tensor, values: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """This chunk's running total ``[N, F]`` and its count of real steps ``[N, 1]``."""
        keep = (torch.ones_like(x[:, :1], dtype=torch.bool) if values is None
                else (values != 0).unsqueeze(1))                            # [N, 1, T]
        count = keep.sum(dim=2, dtype=x.dtype)                              # [N, 1]
        if self.mode == "max":
            total = torch.where(keep, x, torch.full((), -math.inf, dtype=x.dtype, device=x.device))
            return total.amax(dim=2), count
        xz = torch.where(keep, x, torch.zeros((), dtype=x.dtype, device=x.device))
        if self.mode == "pnorm":
            xz = xz.abs().pow(self.pnorm)
        return xz.sum(dim=2), count

    def _state(self, state, x: torch.Tensor) -> tuple[torch.Tensor | None, torch.Tensor | None]:
        if state is None:
            return None, None
        if not isinstance(state, dict) or set(state) != set(_STATE_KEYS):
            got = sorted(state) if isinstance(state, dict) else type(state).__name__
            raise ValueError(f"{type(self).__name__}: state must be a dict with keys "
                             f"{list(_STATE_KEYS)}, got {got}")
        want = (x.shape[0], x.shape[1])
        for k in _STATE_KEYS:
            if tuple(state[k].shape) != want:
                raise ValueError(f"{type(self).__name__}: state {k!r} must be [N, F] = {list(want)}, "
                                 f"got {list(state[k].shape)}")
        return state["total"].to(x.dtype), state["count"].to(x.dtype)

    def run(self, x: torch.Tensor, mask=None, state=None) -> tuple[torch.Tensor, dict]:
        """Streaming: pool this chunk together with the chunks before it.

        Args:
            x: ``[N, F, T]``, the next chunk.
            mask: ``[N, T]`` (or a ``StepMask``) or None.
            state: ``{"total", "count"}`` from the previous call, or None (no
                step seen yet).

        Returns:
            ``(y [N, F], state)``: each example pooled over every real step so
            far, and the state to pass with the next chunk (``total``: the
            running sum, sum of ``|x|^p``, or maximum; ``count``: the real
            steps so far, repeated over the F features).

        Raises:
            ValueError: an example with no real step so far (naming it; one
                device sync), or a state of the wrong keys or shape.
        """
        x = self._check_input(x, ranks=(3,))
        xc = x.float() if x.dtype in _LOW_PRECISION else x
        values, _ = self._step_mask(mask, x)
        total, count = self._chunk(xc, values)                             # [N, F], [N, 1]
        count = count.expand_as(total)
        prev_total, prev_count = self._state(state, xc)
        if prev_total is not None:
            total = torch.maximum(prev_total, total) if self.mode == "max" else prev_total + total
            count = prev_count + count
        _check_nonempty(count[:, 0], type(self).__name__)
        if self.mode == "avg":
            y = total / count
        elif self.mode == "pnorm":
            y = total.pow(1.0 / self.pnorm)
        else:
            y = total
        return y.to(x.dtype), {"total": total, "count": count.contiguous()}

    # -- shapes -----------------------------------------------------------------------------
    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """``(F, T) -> (F,)``, ``(C, H, W) -> (C,)``. Does not build.

        Raises:
            ConfigError: other input, or ``F`` other than a known ``n_in``.
        """
        shape = tuple(input_shape)
        if len(shape) not in (2, 3):
            raise ConfigError(f"{type(self).__name__}: expected sequences (N, F, T) or images "
                              f"(N, C, H, W), got (N, {', '.join(map(str, shape))})")
        check_feature_count(self, shape[0])
        return (shape[0],)

    def extra_repr(self) -> str:
        extra = f", pnorm={self.pnorm}" if self.mode == "pnorm" else ""
        return f"mode={self.mode!r}{extra}, n_in={self.n_in}"
