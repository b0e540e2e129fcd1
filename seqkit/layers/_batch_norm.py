"""BatchNorm: batch normalisation over the real steps of a padded batch (Keras's conventions)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.autograd.function import once_differentiable

from .._errors import ConfigError
from ._same_shape import SameShape, check_keras_vectors, positive_float
from ._zeroing import keep_factor, mark_zeroed

__all__ = ["BatchNorm"]

_KERAS_NAMES = ("gamma", "beta", "moving_mean", "moving_variance")


def _as(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """``t`` in ``dtype`` (itself when it is in it already: no dispatch)."""
    return t if t.dtype == dtype else t.to(dtype)


def _feature_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum over every dim but the features (dim 1), examples first: adding whole ``[F, ...]``
    slabs and then each feature's row is several times faster on the CPU than one reduction
    over dims (0, 2).

    Shape:
        t ``[N, F]`` or ``[N, F, T]``; returns ``[F]``.
    """
    t = t.sum(0)                                                         # [F] or [F, T]
    return t if t.dim() == 1 else t.sum(1)


def _moments(xz: torch.Tensor, keep: torch.Tensor | None):
    """Per-feature mean and (biased) variance over the real entries of ``xz``, which is already
    exactly zero at the masked entries, their count (0 with no real entry: mean and variance 0,
    no division by zero, no device sync), and ``xz`` centred, zero at the masked entries;
    ``keep`` is the 0/1 mask in ``xz``'s dtype.

    Sums and products only (no ``torch.where``): the masked entries are zeros, so the sum of
    ``xz`` is the sum over the real ones, and ``xz - keep * mean`` leaves them zero.

    Shape:
        xz ``[N, F]`` with keep ``[N, 1]``, or ``[N, F, T]`` with keep ``[N, 1, T]``, or keep None;
        returns mean ``[F]``, variance ``[F]``, count ``[]``, centred ``xz``'s shape.
    """
    view = (1, -1) + (1,) * (xz.dim() - 2)                               # [1, F(, 1)]
    if keep is None:
        count = torch.tensor(float(xz.numel() // xz.shape[1]), dtype=xz.dtype, device=xz.device)
        denom = count
    else:
        count = keep.sum()                                               # real steps (rows) in all
        denom = count.clamp_min(1.0)
    mean = _feature_sum(xz) / denom                                      # [F]
    if keep is None:
        centred = xz - mean.view(view)
    else:
        centred = torch.addcmul(xz, keep, mean.view(view), value=-1.0)  # zero at the masked entries
    var = _feature_sum(centred * centred) / denom                        # [F]
    return mean, var, count, centred


class _BatchStatsNorm(torch.autograd.Function):
    """Training-mode batch normalisation over the real entries, with a hand-written backward.

    The function of :func:`_moments` followed by ``gamma * (x - mean) /
    sqrt(var + eps) + beta`` (torch's inference-mode kernel, given these
    statistics) and zeros at the masked entries, in about half the tensor
    passes autograd takes through those ops. The backward is the textbook one
    over the ``n`` real entries; a masked entry gets no gradient. Once
    differentiable (as seqkit's recurrent kernels): a second derivative through
    training-mode BatchNorm is an error, not a wrong number.

    Forward: ``(xz, keep, weight, bias, eps) -> (y, mean, var, count)``; ``xz``
    is zero at the masked entries; the statistics are outputs without a
    gradient (for the running averages).

    Shape:
        xz ``[N, F, T]`` with keep ``[N, 1, T]`` (or ``[N, F]`` with ``[N, 1]``), keep
        0/1 in xz's dtype or None; weight, bias ``[F]``; y as xz; mean, var ``[F]``; count ``[]``.
    """

    @staticmethod
    def forward(ctx, xz, keep, weight, bias, eps):
        mean, var, count, centred = _moments(xz, keep)
        y = nn.functional.batch_norm(xz, mean, var, weight, bias, training=False, eps=eps)
        if keep is not None:
            y.mul_(keep)                                     # finite at the masked entries: exact zeros
        inv = torch.rsqrt(var + eps)                                     # [F]
        scale = inv * weight                                             # [F]
        per_real = scale / count.clamp_min(1.0)                          # [F]: scale / n
        ctx.save_for_backward(centred, keep, inv, scale, per_real)
        ctx.mark_non_differentiable(mean, var, count)
        return y, mean, var, count

    @staticmethod
    @once_differentiable
    def backward(ctx, gy, _mean, _var, _count):
        centred, keep, inv, scale, per_real = ctx.saved_tensors
        view = (1, -1) + (1,) * (gy.dim() - 2)                           # [1, F(, 1)]
        g = gy if keep is None else gy * keep                            # nothing from the masked steps
        dbias = _feature_sum(g)                                          # [F]
        dweight = _feature_sum(g * centred) * inv                        # [F]: sum of g * x_hat
        gx = None
        if ctx.needs_input_grad[0]:
            # scale * (g - dbias / n - x_hat * dweight / n), zero at the masked entries
            gx = g * scale.view(view)                                    # [N, F, T]
            gx.addcmul_(centred, (per_real * inv * dweight).view(view), value=-1.0)
            if keep is None:
                gx.sub_((per_real * dbias).view(view))
            else:
                gx.addcmul_(keep, (per_real * dbias).view(view), value=-1.0)
        return (gx, None, dweight if ctx.needs_input_grad[2] else None,
                dbias if ctx.needs_input_grad[3] else None, None)


class BatchNorm(SameShape):
    """Batch normalisation per feature over the real steps of the batch.

    ``y = gamma * (x - mean) / sqrt(var + eps) + beta`` per feature, with exact
    zeros at masked steps.

    - **Training** (``module.train()``, as in ``Sequential.fit``): ``mean`` and
      ``var`` are the batch's statistics over every example and every *real*
      step (for ``[N, F]`` input: every real row); padded steps are left out
      whatever they hold. The variance is the biased one (divided by the
      count), as Keras's. The running statistics move towards them:
      ``moving = momentum * moving + (1 - momentum) * batch``. A batch with no
      real step leaves them unchanged.
    - **Inference** (``module.eval()``, as in ``Sequential.output``): the
      running statistics. Each step is then normalised on its own, so padding
      changes nothing (the padding property test holds the layer to it).

    In training the statistics depend on the batch, so an example's output
    depends on the other examples, never on the padding: any padding (left,
    right, more or less of it) of the same examples gives the same result.

    Momentum follows Keras (and DL4J's ``decay``): ``momentum=0.99`` keeps 99 %
    of the running value. torch's ``nn.BatchNorm1d(momentum=m)`` is
    ``momentum = 1 - m`` here; torch also uses the unbiased variance for its
    running variance where Keras and seqkit use the biased one.

    Under ``torch.distributed`` each rank uses its own batch's statistics (no
    synchronisation), as torch's ``BatchNorm1d`` without ``SyncBatchNorm``.
    Float16/bfloat16 input is normalised in float32 and returned in its dtype.

    Args:
        n_in: features F; inferred when left out.
        momentum: of the running statistics, in ``[0, 1]`` (Keras's 0.99).
        eps: added to the variance (Keras's 1e-3; torch's default is 1e-5).

    Parameters and buffers: ``weight`` (gamma, ones) and ``bias`` (beta,
    zeros) ``[F]``; buffers ``running_mean`` (zeros) and ``running_var``
    (ones) ``[F]``, saved with the network. Keras's ``[gamma, beta,
    moving_mean, moving_variance]`` go through :meth:`set_keras_weights` /
    :meth:`get_keras_weights`.

    Shape:
        - x: ``[N, F, T]`` or ``[N, F]``
        - mask: optional ``[N, T]`` (or a row mask ``[N]`` for ``[N, F]``)
        - output: the input's shape, exact zeros at masked steps
    """

    input_layouts = frozenset({"vectors", "sequences"})

    def __init__(self, n_in: int | None = None, momentum: float = 0.99, eps: float = 1e-3):
        super().__init__(n_in)
        name = type(self).__name__
        if isinstance(momentum, bool) or not isinstance(momentum, (int, float, np.integer, np.floating)) \
                or not 0.0 <= float(momentum) <= 1.0:
            raise ConfigError(f"{name}: momentum must be a number in [0, 1] (Keras's convention: the "
                              f"share of the running value kept, e.g. 0.99), got {momentum!r}")
        self.momentum = float(momentum)
        self.eps = positive_float(eps, "eps", name)
        self.register_parameter("weight", None)
        self.register_parameter("bias", None)
        self.register_buffer("running_mean", None)
        self.register_buffer("running_var", None)
        self._maybe_build()

    def _build(self, n_in: int) -> None:
        self.weight = nn.Parameter(torch.empty(n_in))                       # gamma [F]
        self.bias = nn.Parameter(torch.empty(n_in))                         # beta [F]
        self.running_mean = torch.empty(n_in)
        self.running_var = torch.empty(n_in)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """gamma 1, beta 0, running mean 0, running variance 1 (Keras's initialisers)."""
        if self.weight is None:
            return
        with torch.no_grad():
            self.weight.fill_(1.0)
            self.bias.zero_()
            self.running_mean.zero_()
            self.running_var.fill_(1.0)

    def forward(self, x: torch.Tensor, mask=None) -> torch.Tensor:
        """Normalise with the batch's statistics (training) or the running ones (eval).

        Shape:
            x ``[N, F, T]`` or ``[N, F]``; mask ``[N, T]`` (``[N]``) or None;
            returns ``x``'s shape.
        """
        x, mask, xc = self._masked_input(x, mask)                         # xc: zero at masked steps
        keep = None if mask is None else keep_factor(mask, xc)              # [N, 1, T] or [N, 1] of 0/1
        weight, bias = _as(self.weight, xc.dtype), _as(self.bias, xc.dtype)  # [F]
        if self.training:
            y, mean, var, count = _BatchStatsNorm.apply(xc, keep, weight, bias, self.eps)
            self._update_running(mean, var, count)
        else:                                                  # torch's kernel with the running statistics
            y = nn.functional.batch_norm(xc, _as(self.running_mean, xc.dtype), _as(self.running_var, xc.dtype),
                                         weight, bias, training=False, eps=self.eps)
            # finite at the masked steps (xc is zero there), so the multiplication zeroes them exactly
            y = y if keep is None else y * keep
        return mark_zeroed(_as(y, x.dtype), mask)

    def _update_running(self, mean: torch.Tensor, var: torch.Tensor, count: torch.Tensor) -> None:
        """Move the running statistics towards the batch's; unchanged for a batch with no real step
        (its weight is then 0; decided on the device, no host sync).

        Shape:
            mean, var ``[F]``; count ``[]``.
        """
        with torch.no_grad():
            dtype = self.running_mean.dtype
            weight = (count > 0) * (1.0 - self.momentum)                     # [], 0 without a real step
            self.running_mean.lerp_(_as(mean, dtype), _as(weight, dtype))
            self.running_var.lerp_(_as(var, dtype), _as(weight, dtype))

    # -- Keras weights ----------------------------------------------------------------------------
    def get_keras_weights(self) -> list[np.ndarray]:
        """``[gamma, beta, moving_mean, moving_variance]``, each ``(F,)``, as Keras's
        ``BatchNormalization.get_weights()`` orders them.

        Raises:
            ConfigError: the layer is not built yet.
        """
        if not self.built:
            raise ConfigError(f"{type(self).__name__}: not built yet; pass n_in or call build() first")
        return [t.detach().cpu().numpy().copy()
                for t in (self.weight, self.bias, self.running_mean, self.running_var)]

    def set_keras_weights(self, weights) -> "BatchNorm":
        """Load a Keras ``BatchNormalization``'s ``get_weights()`` (default ``center`` and
        ``scale``): ``[gamma, beta, moving_mean, moving_variance]``, each ``(F,)``. Builds
        the layer from them when ``n_in`` is not known yet; returns ``self``.

        Raises:
            ValueError: a wrong number of arrays or a wrong shape, naming both.
        """
        arrays = check_keras_vectors(self, weights, _KERAS_NAMES)
        if not self.built:
            self.build(int(arrays[0].shape[0]))
        with torch.no_grad():
            for target, a in zip((self.weight, self.bias, self.running_mean, self.running_var), arrays):
                target.copy_(torch.as_tensor(a, dtype=target.dtype))
        return self

    def extra_repr(self) -> str:
        return f"n_in={self.n_in}, momentum={self.momentum}, eps={self.eps}"
