"""BatchNorm: batch normalisation over the real steps of a padded batch (Keras's conventions)."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from .._errors import ConfigError
from ._same_shape import SameShape, check_keras_vectors, positive_float
from ._zeroing import zero_masked

__all__ = ["BatchNorm", "masked_moments"]

_KERAS_NAMES = ("gamma", "beta", "moving_mean", "moving_variance")


def masked_moments(x: torch.Tensor, keep: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Per-feature mean and (biased) variance over the real entries of ``x``, and their count.

    Masked entries are left out by selection (``torch.where``), so whatever
    they hold (NaN included) changes neither the statistics nor their
    gradient. With no real entry at all the count is 0 and the mean and
    variance are 0 (no division by zero, no device sync).

    Shape:
        x ``[N, F]`` with keep ``[N, 1]``, or ``[N, F, T]`` with keep ``[N, 1, T]``
        (bool), or keep None; returns mean ``[F]``, variance ``[F]``, count ``[]``.
    """
    dims = (0,) if x.dim() == 2 else (0, 2)
    zero = torch.zeros((), dtype=x.dtype, device=x.device)
    if keep is None:
        count = torch.tensor(float(x.numel() // x.shape[1]), dtype=x.dtype, device=x.device)
        mean = x.mean(dims)
        var = (x - mean.view(1, -1, *([1] * (x.dim() - 2)))).square().mean(dims)
        return mean, var, count
    count = keep.sum(dtype=x.dtype)                                      # real steps (rows) in all
    denom = count.clamp_min(1.0)
    mean = torch.where(keep, x, zero).sum(dims) / denom                  # [F]
    centred = torch.where(keep, x - mean.view(1, -1, *([1] * (x.dim() - 2))), zero)
    var = centred.square().sum(dims) / denom                             # [F]
    return mean, var, count


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
        x, mask, xc = self._masked_input(x, mask)
        view = (1, -1) + (1,) * (x.dim() - 2)                              # [1, F(, 1)]
        if self.training:
            keep = None if mask is None else (mask != 0).unsqueeze(1)       # [N, 1, T] or [N, 1]
            mean, var, count = masked_moments(xc, keep)
            self._update_running(mean, var, count)
        else:
            mean, var = self.running_mean.to(xc.dtype), self.running_var.to(xc.dtype)
        scale = torch.rsqrt(var + self.eps) * self.weight.to(xc.dtype)      # [F]
        y = (xc - mean.view(view)) * scale.view(view) + self.bias.to(xc.dtype).view(view)
        return zero_masked(y, mask).to(x.dtype)

    def _update_running(self, mean: torch.Tensor, var: torch.Tensor, count: torch.Tensor) -> None:
        """Move the running statistics towards the batch's; unchanged for a batch with no real step."""
        with torch.no_grad():
            m = self.momentum
            any_real = count > 0                                            # no host sync
            for buf, batch in ((self.running_mean, mean), (self.running_var, var)):
                moved = buf * m + batch.detach().to(buf.dtype) * (1.0 - m)
                buf.copy_(torch.where(any_real, moved, buf))

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
