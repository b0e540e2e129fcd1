"""The GRU recurrence (both of Keras's ``reset_after`` modes) as autograd Functions.

torch's fused GRU applies the reset gate after the recurrent matmul; Keras's
``reset_after=False`` (the original GRU, and older TensorFlow models) applies
it before, so it needs its own loop. And on the CPU torch's GRU is itself a
per-step autograd loop, so a hand-written ``reset_after=True`` loop is faster
there too. Like the GravesLSTM kernel, each Function runs the forward without
autograd into preallocated buffers and the backward by hand, its elementwise
factors computed for all steps at once and its weight gradients as one matmul
over all steps.

Equations (σ = sigmoid, φ = tanh; torch's gate order r, z, n; ``a = xp_t =
W_ih x_t + b_ih``)::

    reset_after=True:   u = W_hh h_{t-1} + b_hh
                        r = σ(a_r + u_r) ; z = σ(a_z + u_z) ; n = φ(a_n + r ⊙ u_n)
    reset_after=False:  r = σ(a_r + W_hr h_{t-1}) ; z = σ(a_z + W_hz h_{t-1})
                        n = φ(a_n + W_hn (r ⊙ h_{t-1}))
    h_t = z ⊙ h_{t-1} + (1 - z) ⊙ n

Each returns the carried ``hs`` (``[T+1, N, H]``, index 0 the initial state)
and, with a ``real`` mask (gaps), the outputs with exact zeros at the masked
steps, where ``h`` is carried. The backward is not itself differentiable (no
second-order gradients on this path).
"""

from __future__ import annotations

import torch

from ._compiled_steps import step_function
from ._kernel_precision import in_weight_dtype
from torch.autograd.function import once_differentiable

__all__ = ["gru_reset_after_sequence", "gru_reset_before_sequence"]


def _reset_before_loop(xp, u_rz, u_n, rz_all, n_all, q_all, ys, hs, r2) -> None:
    """The ``reset_after=False`` forward loop into the buffers (``r2`` None: unmasked, ``ys`` is ``hs[1:]``)."""
    t_len, _, g3 = xp.shape
    hu = g3 // 3
    masked = r2 is not None
    addmm, mul, sub, addcmul, where = torch.addmm, torch.mul, torch.sub, torch.addcmul, torch.where
    h = hs[0]
    for x_t, rz_t, n_t, q_t, y_t, h_t, r in zip(
            xp.unbind(0), rz_all.unbind(0), n_all.unbind(0), q_all.unbind(0), ys.unbind(0),
            hs[1:].unbind(0), r2.unbind(0) if masked else [None] * t_len):
        gate_r, gate_z = addmm(x_t[:, :2 * hu], h, u_rz, out=rz_t).sigmoid_().split(hu, 1)
        cand = addmm(x_t[:, 2 * hu:], mul(gate_r, h, out=q_t), u_n, out=n_t).tanh_()
        h_new = addcmul(cand, gate_z, sub(h, cand), out=y_t)             # n + z (h - n)
        if masked:                                                       # r [N, 1]
            h = where(r, h_new, h, out=h_t)
            y_t.masked_fill_(~r, 0.0)
        else:
            h = h_new


def _compiled_reset_before_loop(step, xp, u_rz, u_n, rz_all, n_all, q_all, ys, hs, r2) -> None:
    """The same loop with :func:`~seqkit.layers._compiled_steps.gru_reset_before_step` compiled:
    each step's results go into the buffers with one multi-tensor copy."""
    for t in range(xp.shape[0]):                                         # h = hs[t]
        outs = step(xp[t], hs[t], u_rz, u_n, None if r2 is None else r2[t])
        dst = [rz_all[t], q_all[t], n_all[t]]
        if r2 is None:                                                   # ys is hs[1:]
            dst.append(ys[t])
        else:                                                            # carried h; zeroed y
            outs = outs[:3] + outs[4:]
            dst += [hs[t + 1], ys[t]]
        torch._foreach_copy_(dst, list(outs))


class _GRUResetBefore(torch.autograd.Function):
    """Inputs: xp ``[T, N, 3H]``, w_hh ``[3H, H]``, h0 ``[N, H]``, real bool ``[T, N]`` or None.
    Outputs: hs ``[T+1, N, H]``; ys ``[T, N, H]`` with ``real`` (else None: ``ys = hs[1:]``)."""

    @staticmethod
    def forward(ctx, xp, w_hh, h0, real):
        ctx.set_materialize_grads(False)
        t_len, n, g3 = xp.shape
        hu = g3 // 3
        u_rz, u_n = w_hh[:2 * hu].t(), w_hh[2 * hu:].t()                 # [H, 2H], [H, H]
        new = xp.new_empty
        rz_all, n_all, q_all = new(t_len, n, 2 * hu), new(t_len, n, hu), new(t_len, n, hu)
        hs = new(t_len + 1, n, hu)
        hs[0] = h0
        masked = real is not None
        ys = new(t_len, n, hu) if masked else hs[1:]
        r2 = real.view(t_len, n, 1) if masked else None
        bufs = (rz_all, n_all, q_all, ys, hs, r2)
        step = step_function("gru_reset_before", xp)                     # opt-in, CUDA only
        if step is None:
            _reset_before_loop(xp, u_rz, u_n, *bufs)
        else:
            _compiled_reset_before_loop(step, xp, u_rz, u_n, *bufs)
        ctx.save_for_backward(w_hh, rz_all, n_all, q_all, hs, r2)
        return hs, (ys if masked else None)

    @staticmethod
    @once_differentiable
    def backward(ctx, d_hs, d_ys):
        w_hh, rz, cand, q, hs, r2 = ctx.saved_tensors
        t_len, n, hu = cand.shape
        h_prev = hs[:-1]                                                 # [T, N, H]
        gate_r, gate_z = rz[..., :hu], rz[..., hu:]
        # per step: dn_pre = dh * k_n ; dz_pre = dh * k_z ; dq = dn_pre @ W_n ;
        # dr_pre = dq * k_r ; dh_prev = dh * z + dq * r + [dr_pre, dz_pre] @ W_rz
        k_n = torch.rsub(gate_z, 1.0).mul_(torch.rsub(cand * cand, 1.0))  # (1 - z) φ'(n)
        k_z = (h_prev - cand).mul_(torch.addcmul(gate_z, gate_z, gate_z, value=-1.0))
        k_r = torch.addcmul(gate_r, gate_r, gate_r, value=-1.0).mul_(h_prev)
        w_rz, w_n = w_hh[:2 * hu], w_hh[2 * hu:]
        dxp = cand.new_empty(t_len, n, 3 * hu)
        dh = cand.new_zeros(n, hu)
        none = [None] * t_len
        d_h = d_hs[1:].unbind(0) if d_hs is not None else none
        d_y = d_ys.unbind(0) if d_ys is not None else none
        masked = r2 is not None
        keep = (r2.to(cand.dtype).unbind(0), (~r2).to(cand.dtype).unbind(0)) if masked else (none, none)
        add, addcmul, addmm, mul, mm = torch.add, torch.addcmul, torch.addmm, torch.mul, torch.mm
        steps = zip(d_h, d_y, k_n.unbind(0), k_z.unbind(0), k_r.unbind(0), gate_z.unbind(0),
                    gate_r.unbind(0), dxp.unbind(0), *keep)
        for dh_t, dy_t, kn_t, kz_t, kr_t, z_t, r_t, dx_t, m, nm in reversed(list(steps)):
            if dh_t is not None:
                dh = add(dh, dh_t)
            if masked:                                                   # m, nm [N, 1] as 0/1
                dh_new = mul(dh if dy_t is None else add(dh, dy_t), m)
                dh_keep = mul(dh, nm)
            else:
                dh_new = dh
            dn_pre = mul(dh_new, kn_t, out=dx_t[:, 2 * hu:])
            mul(dh_new, kz_t, out=dx_t[:, hu:2 * hu])
            dq = mm(dn_pre, w_n)                                         # [N, H]
            mul(dq, kr_t, out=dx_t[:, :hu])
            dh = addmm(addcmul(dh_new * z_t, dq, r_t), dx_t[:, :2 * hu], w_rz)
            if masked:
                dh = add(dh, dh_keep)
        if d_hs is not None:
            dh = add(dh, d_hs[0])
        flat = dxp.view(t_len * n, 3 * hu)
        d_w = torch.cat([flat[:, :2 * hu].t().mm(h_prev.reshape(t_len * n, hu)),
                         flat[:, 2 * hu:].t().mm(q.view(t_len * n, hu))])  # [3H, H]
        return dxp, d_w, dh, None


class _GRUResetAfter(torch.autograd.Function):
    """Inputs: xp ``[T, N, 3H]``, w_hh ``[3H, H]``, b_hh ``[3H]``, h0 ``[N, H]``, real bool
    ``[T, N]`` or None. Outputs as :class:`_GRUResetBefore`."""

    @staticmethod
    def forward(ctx, xp, w_hh, b_hh, h0, real):
        ctx.set_materialize_grads(False)
        t_len, n, g3 = xp.shape
        hu = g3 // 3
        u_t_w = w_hh.t()                                                 # [H, 3H]
        new = xp.new_empty
        rz_all, n_all, u_all = new(t_len, n, 2 * hu), new(t_len, n, hu), new(t_len, n, g3)
        hs = new(t_len + 1, n, hu)
        hs[0] = h0
        masked = real is not None
        ys = new(t_len, n, hu) if masked else hs[1:]
        r2 = real.view(t_len, n, 1) if masked else xp.new_ones(t_len, 1, 1, dtype=torch.bool)
        addmm, add, sub, addcmul, where = torch.addmm, torch.add, torch.sub, torch.addcmul, torch.where
        h = hs[0]
        for x_t, rz_t, r_t, z_t, n_t, u_t, urz_t, un_t, y_t, h_t, r in zip(
                xp.unbind(0), rz_all.unbind(0), rz_all[:, :, :hu].unbind(0),
                rz_all[:, :, hu:].unbind(0), n_all.unbind(0), u_all.unbind(0),
                u_all[:, :, :2 * hu].unbind(0), u_all[:, :, 2 * hu:].unbind(0), ys.unbind(0),
                hs[1:].unbind(0), r2.unbind(0)):
            addmm(b_hh, h, u_t_w, out=u_t)                               # u = W_hh h + b_hh [N, 3H]
            add(x_t[:, :2 * hu], urz_t, out=rz_t).sigmoid_()             # r, z
            cand = addcmul(x_t[:, 2 * hu:], r_t, un_t, out=n_t).tanh_()  # n
            h_new = addcmul(cand, z_t, sub(h, cand), out=y_t)            # n + z (h - n)
            if masked:                                                   # r [N, 1]
                h = where(r, h_new, h, out=h_t)
                y_t.masked_fill_(~r, 0.0)
            else:
                h = h_new
        ctx.save_for_backward(w_hh, rz_all, n_all, u_all[:, :, 2 * hu:], hs, r2 if masked else None)
        return hs, (ys if masked else None)

    @staticmethod
    @once_differentiable
    def backward(ctx, d_hs, d_ys):
        w_hh, rz, cand, u_n, hs, r2 = ctx.saved_tensors
        t_len, n, hu = cand.shape
        h_prev = hs[:-1]                                                 # [T, N, H]
        gate_r, gate_z = rz[..., :hu], rz[..., hu:]
        # per step: da_n = dh * k_n ; da_z = dh * k_z ; da_r = da_n * k_r ; du_n = da_n * r ;
        # dh_prev = dh * z + [da_r, da_z] @ W_rz + du_n @ W_n   (u = W_hh h + b_hh)
        k_n = torch.rsub(gate_z, 1.0).mul_(torch.rsub(cand * cand, 1.0))  # (1 - z) φ'(n)
        k_z = (h_prev - cand).mul_(torch.addcmul(gate_z, gate_z, gate_z, value=-1.0))
        k_r = torch.addcmul(gate_r, gate_r, gate_r, value=-1.0).mul_(u_n)
        w_rz, w_n = w_hh[:2 * hu], w_hh[2 * hu:]
        dxp = cand.new_empty(t_len, n, 3 * hu)                           # = du for r and z
        du_n = cand.new_empty(t_len, n, hu)
        none = [None] * t_len
        d_h = d_hs.unbind(0) if d_hs is not None else [None] * (t_len + 1)
        d_y = d_ys.unbind(0) if d_ys is not None else none
        dh = d_h[-1] if d_h[-1] is not None else cand.new_zeros(n, hu)   # d carried h_t
        masked = r2 is not None
        keep = (r2.to(cand.dtype).unbind(0), (~r2).to(cand.dtype).unbind(0)) if masked else (none, none)
        add, addcmul, addmm, mul = torch.add, torch.addcmul, torch.addmm, torch.mul
        steps = zip(d_h[:-1], d_y, k_n.unbind(0), k_z.unbind(0), k_r.unbind(0), gate_z.unbind(0),
                    gate_r.unbind(0), dxp.unbind(0), du_n.unbind(0), *keep)
        for dh_in, dy_t, kn_t, kz_t, kr_t, z_t, r_t, dx_t, dun_t, m, nm in reversed(list(steps)):
            if masked:                                                   # m, nm [N, 1] as 0/1
                dh_new = mul(dh if dy_t is None else add(dh, dy_t), m)
                dh_keep = mul(dh, nm)
            else:
                dh_new = dh
            da_n = mul(dh_new, kn_t, out=dx_t[:, 2 * hu:])
            mul(dh_new, kz_t, out=dx_t[:, hu:2 * hu])
            mul(da_n, kr_t, out=dx_t[:, :hu])
            mul(da_n, r_t, out=dun_t)
            direct = mul(dh_new, z_t) if dh_in is None else addcmul(dh_in, dh_new, z_t)
            dh = addmm(addmm(direct, dx_t[:, :2 * hu], w_rz), dun_t, w_n)  # d carried h_{t-1}
            if masked:
                dh = add(dh, dh_keep)
        flat = dxp.view(t_len * n, 3 * hu)
        h_flat = h_prev.reshape(t_len * n, hu)
        dun_flat = du_n.view(t_len * n, hu)
        d_w = torch.cat([flat[:, :2 * hu].t().mm(h_flat), dun_flat.t().mm(h_flat)])  # [3H, H]
        d_b = torch.cat([flat[:, :2 * hu].sum(0), dun_flat.sum(0)])      # [3H]
        return dxp, d_w, d_b, dh, None


@in_weight_dtype
def gru_reset_after_sequence(xp: torch.Tensor, w_hh: torch.Tensor, b_hh: torch.Tensor | None,
                             h0: torch.Tensor, real: torch.Tensor | None = None):
    """Run the ``reset_after=True`` GRU recurrence over projected inputs (torch's GRU).

    Shape:
        xp ``[T, N, 3H]`` (``W_ih x + b_ih``, gates r, z, n), w_hh ``[3H, H]``,
        b_hh ``[3H]`` or None, h0 ``[N, H]``, real bool ``[T, N]`` or None.
        Returns ``(hs, ys)`` as :func:`gru_reset_before_sequence`.
    """
    if b_hh is None:
        b_hh = w_hh.new_zeros(w_hh.shape[0])
    return _GRUResetAfter.apply(xp, w_hh, b_hh, h0, real)


@in_weight_dtype
def gru_reset_before_sequence(xp: torch.Tensor, w_hh: torch.Tensor, h0: torch.Tensor,
                              real: torch.Tensor | None = None):
    """Run the ``reset_after=False`` GRU recurrence over projected inputs.

    Shape:
        xp ``[T, N, 3H]`` (``W_ih x + b_ih``, gates r, z, n), w_hh ``[3H, H]``,
        h0 ``[N, H]``, real bool ``[T, N]`` or None. Returns ``(hs, ys)``:
        ``hs`` ``[T+1, N, H]`` (index 0 is ``h0``) and, with ``real``, the outputs
        ``[T, N, H]`` with exact zeros at masked steps (else None).
    """
    return _GRUResetBefore.apply(xp, w_hh, h0, real)
