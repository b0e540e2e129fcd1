"""SimpleRNN (Elman) as one autograd Function with a hand-written backward.

torch's CPU ``rnn_tanh``/``rnn_relu`` run a per-step autograd loop, recording
a matmul and an activation per step and multiplying the weight gradients step
by step. This Function runs the forward loop without autograd, and the
backward as two small kernels per step; the weight gradient is one matmul
over all steps at the end. On CUDA the layer keeps torch's fused kernel.

Equation (φ = tanh or relu)::

    h_t = φ(xp_t + W_hh h_{t-1})                 # xp_t = W_ih x_t + b

It returns the carried ``hs`` (``[T+1, N, H]``, index 0 the initial state)
and, with a ``real`` mask (gaps), the outputs with exact zeros at the masked
steps, where ``h`` is carried. The backward is not itself differentiable.
"""

from __future__ import annotations

import torch

from ._kernel_precision import in_weight_dtype
from torch.autograd.function import once_differentiable

__all__ = ["elman_sequence"]


class _ElmanSequence(torch.autograd.Function):
    """Inputs: xp ``[T, N, H]``, w_hh ``[H, H]``, h0 ``[N, H]``, real bool ``[T, N]`` or None,
    relu (bool). Outputs: hs ``[T+1, N, H]``; ys ``[T, N, H]`` with ``real`` (else None)."""

    @staticmethod
    def forward(ctx, xp, w_hh, h0, real, relu):
        ctx.set_materialize_grads(False)
        t_len, n, hu = xp.shape
        u = w_hh.t()
        hs = xp.new_empty(t_len + 1, n, hu)
        hs[0] = h0
        masked = real is not None
        ys = xp.new_empty(t_len, n, hu) if masked else hs[1:]            # h_t before carrying
        r2 = real.view(t_len, n, 1) if masked else xp.new_ones(t_len, 1, 1, dtype=torch.bool)
        addmm, where = torch.addmm, torch.where
        h = hs[0]
        for x_t, y_t, h_t, r in zip(xp.unbind(0), ys.unbind(0), hs[1:].unbind(0), r2.unbind(0)):
            h_new = addmm(x_t, h, u, out=y_t)
            h_new.relu_() if relu else h_new.tanh_()
            h = where(r, h_new, h, out=h_t) if masked else h_new         # r [N, 1]
        ctx.relu = relu
        ctx.save_for_backward(w_hh, hs, ys if masked else None, r2 if masked else None)
        if masked:
            return hs, ys.masked_fill(~r2, 0.0)
        return hs, None

    @staticmethod
    @once_differentiable
    def backward(ctx, d_hs, d_ys):
        w_hh, hs, h_new, r2 = ctx.saved_tensors
        if h_new is None:                                                # unmasked: h_t = hs[t+1]
            h_new = hs[1:]
        t_len, n, hu = h_new.shape
        k = (h_new > 0).to(h_new.dtype) if ctx.relu else 1.0 - h_new * h_new   # φ' [T, N, H]
        d_pre = torch.empty_like(h_new)
        none = [None] * t_len
        d_h = d_hs.unbind(0) if d_hs is not None else [None] * (t_len + 1)
        d_y = d_ys.unbind(0) if d_ys is not None else none
        masked = r2 is not None
        keep = (r2.to(k.dtype).unbind(0), (~r2).to(k.dtype).unbind(0)) if masked else (none, none)
        dh = d_h[-1] if d_h[-1] is not None else h_new.new_zeros(n, hu)  # d carried h_t
        add, addmm, mm, mul = torch.add, torch.addmm, torch.mm, torch.mul
        steps = zip(d_h[:-1], d_y, k.unbind(0), d_pre.unbind(0), *keep)
        for dh_in, dy_t, k_t, dp_t, m, nm in reversed(list(steps)):
            if masked:                                                   # m, nm [N, 1] as 0/1
                dh_new = mul(dh if dy_t is None else add(dh, dy_t), m)
                dh_keep = mul(dh, nm)
            else:
                dh_new = dh
            mul(dh_new, k_t, out=dp_t)
            dh = mm(dp_t, w_hh) if dh_in is None else addmm(dh_in, dp_t, w_hh)  # d h_{t-1}
            if masked:
                dh = add(dh, dh_keep)
        d_w = d_pre.view(t_len * n, hu).t().mm(hs[:-1].reshape(t_len * n, hu))  # [H, H]
        return d_pre, d_w, dh, None, None


@in_weight_dtype
def elman_sequence(xp: torch.Tensor, w_hh: torch.Tensor, h0: torch.Tensor,
                   real: torch.Tensor | None = None, *, relu: bool = False):
    """Run ``h_t = φ(xp_t + W_hh h_{t-1})`` (φ tanh, or relu) over projected inputs.

    Shape:
        xp ``[T, N, H]`` (``W_ih x + b``), w_hh ``[H, H]``, h0 ``[N, H]``, real
        bool ``[T, N]`` or None. Returns ``(hs, ys)``: ``hs`` ``[T+1, N, H]``
        (index 0 is ``h0``) and, with ``real``, the outputs ``[T, N, H]`` with
        exact zeros at masked steps (else None: the outputs are ``hs[1:]``).
    """
    return _ElmanSequence.apply(xp, w_hh, h0, real, relu)
