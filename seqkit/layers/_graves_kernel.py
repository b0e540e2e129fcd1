"""The GravesLSTM sequence as one autograd Function with a hand-written backward.

No fused kernel has peepholes, and autograd over a Python step loop records
some twenty nodes per step. This Function runs the forward loop without
autograd, writing gate activations into preallocated buffers, and runs the
backward loop by hand. The elementwise derivative factors are computed for
all steps at once before the backward loop, so a backward step is four small
kernels and one matmul.

Equations (σ = sigmoid, φ = tanh; gate blocks i, f, g, o; peepholes p_i,
p_f on c_{t-1} and p_o on c_t, as DL4J's GravesLSTM)::

    z   = xp_t + W_hh h_{t-1}                        # xp_t = W_ih x_t + b
    i   = σ(z_i + p_i ⊙ c_{t-1}) ; f = σ(z_f + p_f ⊙ c_{t-1}) ; g = φ(z_g)
    c_t = f ⊙ c_{t-1} + i ⊙ g
    o   = σ(z_o + p_o ⊙ c_t) ;  h_t = o ⊙ φ(c_t)

The Function returns the carried sequences ``hs`` and ``cs`` (``[T+1, N, H]``,
index 0 the initial state), so a caller with one run per example can shift
the runs to t=0, run unmasked, and gather each example's final state at
``hs[length]``. With a ``real`` mask (gaps) it carries ``h`` and ``c`` over
masked steps and also returns the outputs with exact zeros there. Inside,
per-step tensors are ``[N, k, H]`` (k gate blocks) so that the peephole
products broadcast without copies. The backward is not itself differentiable
(no second-order gradients on this path; the autograd step loop, e.g. via
``reference``, has them).
"""

from __future__ import annotations

import torch

from ._compiled_steps import step_function
from ._kernel_precision import in_weight_dtype
from torch.autograd.function import once_differentiable

__all__ = ["graves_sequence"]


def _forward_loop(xp, u, p_if, p_o, s_if_all, g_all, o_all, tc_all, cn_all, ys, hs, cs, r3) -> None:
    """The forward loop into the buffers (``r3`` None: unmasked; then ``cn_all is cs[1:]`` and
    ``ys`` is ``hs[1:]``). Per step ``[N, k, H]`` views, so the peephole products broadcast."""
    t_len, n, g4 = xp.shape
    hu = g4 // 4
    masked = r3 is not None
    addmm, addcmul, mul, tanh, where = torch.addmm, torch.addcmul, torch.mul, torch.tanh, torch.where
    z2 = xp.new_empty(n, g4)                                             # this step's pre-activations
    z_if, z_g, z_o = z2.view(n, 4, hu).split((2, 1, 1), 1)               # fixed views of z2
    h, c = hs[0], cs[0]
    for x_t, sif_t, i_t, f_t, g_t, o_t, tc_t, cn_t, y_t, h_t, c_t, r in zip(
            xp.unbind(0), s_if_all.unbind(0), s_if_all[:, :, :1].unbind(0),
            s_if_all[:, :, 1:].unbind(0), g_all.unbind(0), o_all.unbind(0),
            tc_all.unbind(0), cn_all.unbind(0), ys.unbind(0), hs[1:].unbind(0),
            cs[1:].unbind(0), r3.unbind(0) if masked else [None] * t_len):
        addmm(x_t, h, u, out=z2)                                         # [N, 4H]
        addcmul(z_if, c, p_if, out=sif_t).sigmoid_()                     # i, f: [N, 2, H]
        c_new = addcmul(mul(f_t, c), i_t, tanh(z_g, out=g_t), out=cn_t)  # [N, 1, H]
        h_new = mul(addcmul(z_o, c_new, p_o, out=o_t).sigmoid_(), tanh(c_new, out=tc_t), out=y_t)
        if masked:                                                       # r [N, 1, 1]
            h = where(r, h_new, h.view(n, 1, hu), out=h_t.view(n, 1, hu)).view(n, hu)
            c = where(r, c_new, c, out=c_t)
            y_t.masked_fill_(~r, 0.0)
        else:
            h, c = h_t, c_new


def _compiled_forward_loop(step, xp, u, p_if, p_o, s_if_all, g_all, o_all, tc_all, cn_all, ys, hs, cs,
                           r3) -> None:
    """The same loop with :func:`~seqkit.layers._compiled_steps.graves_step` compiled: each step's
    results go into the buffers with one multi-tensor copy."""
    n, hu = hs.shape[1:]
    for t in range(xp.shape[0]):                                         # h = hs[t], c = cs[t]
        outs = step(xp[t], hs[t], cs[t], u, p_if, p_o, None if r3 is None else r3[t])
        dst = [s_if_all[t], g_all[t], o_all[t], tc_all[t], cn_all[t]]
        if r3 is None:                                                   # cn_all is cs[1:], ys is hs[1:]
            dst.append(ys[t])
        else:                                                            # carried h, c; zeroed y
            outs = outs[:5] + outs[6:]
            dst += [hs[t + 1].view(n, 1, hu), cs[t + 1], ys[t]]
        torch._foreach_copy_(dst, list(outs))


class _GravesSequence(torch.autograd.Function):
    """Inputs: xp ``[T, N, 4H]``, w_hh ``[4H, H]``, peep ``[3, H]`` (i, f, o),
    h0, c0 ``[N, H]``, real bool ``[T, N]`` or None.
    Outputs: hs, cs ``[T+1, N, H]`` and ys ``[T, N, H]`` (zeros at masked
    steps; None without ``real``, where ``ys = hs[1:]``)."""

    @staticmethod
    def forward(ctx, xp, w_hh, peep, h0, c0, real):
        ctx.set_materialize_grads(False)
        t_len, n, g4 = xp.shape
        hu = g4 // 4
        u = w_hh.t()                                                     # [H, 4H]
        p_if = peep[:2].unsqueeze(0)                                     # [1, 2, H]
        p_o = peep[2]                                                    # [H]
        new = xp.new_empty
        s_if_all = new(t_len, n, 2, hu)                                  # σ(i), σ(f)
        g_all, o_all, tc_all = new(t_len, n, 1, hu), new(t_len, n, 1, hu), new(t_len, n, 1, hu)
        hs = new(t_len + 1, n, hu)                                       # carried h; hs[0] = h0
        cs = new(t_len + 1, n, 1, hu)                                    # carried c; cs[0] = c0
        hs[0] = h0
        cs[0] = c0.view(n, 1, hu)
        masked = real is not None
        cn_all = new(t_len, n, 1, hu) if masked else cs[1:]              # c_t before carrying
        ys = new(t_len, n, 1, hu) if masked else hs[1:].view(t_len, n, 1, hu)
        r3 = real.view(t_len, n, 1, 1) if masked else None
        bufs = (s_if_all, g_all, o_all, tc_all, cn_all, ys, hs, cs, r3)
        step = step_function("graves", xp)                               # opt-in, CUDA only
        if step is None:
            _forward_loop(xp, u, p_if, p_o, *bufs)
        else:
            _compiled_forward_loop(step, xp, u, p_if, p_o, *bufs)
        ctx.save_for_backward(w_hh, peep, s_if_all, g_all, o_all, cn_all, tc_all, hs, cs, r3)
        cs_out = cs.view(t_len + 1, n, hu)
        if masked:
            return hs, cs_out, ys.view(t_len, n, hu)
        return hs, cs_out, None

    @staticmethod
    @once_differentiable
    def backward(ctx, d_hs, d_cs, d_ys):
        w_hh, peep, s_if, g, o, c_new, tc, hs, cs, r3 = ctx.saved_tensors
        t_len, n = g.shape[:2]
        hu = w_hh.shape[1]
        c_prev = cs[:-1]                                                 # [T, N, 1, H]
        i, f = s_if[:, :, :1], s_if[:, :, 1:]                            # [T, N, 1, H]
        mul, addcmul = torch.mul, torch.addcmul
        # per step: dz_o = dh_new * b ; dc_new = dc + dh_new * a ; dz_{i,f,g} = dc_new * k ;
        # dc_prev = dc_new * m. The factors, for every step at once (σ' = s - s², φ' = 1 - φ²):
        d_if = addcmul(s_if, s_if, s_if, value=-1.0)                     # [T, N, 2, H]
        k = g.new_empty(t_len, n, 3, hu)
        mul(g, d_if[:, :, :1], out=k[:, :, :1])                          # dz_i / dc_new
        mul(c_prev, d_if[:, :, 1:], out=k[:, :, 1:2])                    # dz_f / dc_new
        mul(i, torch.rsub(g * g, 1.0), out=k[:, :, 2:])                  # dz_g / dc_new
        b = mul(tc, addcmul(o, o, o, value=-1.0))                        # dz_o / dh_new [T, N, 1, H]
        a = addcmul(mul(o, torch.rsub(tc * tc, 1.0)), b, peep[2])       # dc_new / dh_new
        m = addcmul(mul(k[:, :, :1], peep[0]), k[:, :, 1:2], peep[1]).add_(f)  # dc_prev / dc_new
        dz = g.new_empty(t_len, n, 4, hu)
        dh_2d = g.new_zeros(n, hu)                                       # d carried h_t
        dc = g.new_zeros(n, 1, hu)                                       # d carried c_t
        none = [None] * t_len
        # d_hs[t] (the gradient reaching h_t from outside) is added where dh is made
        d_h = d_hs.unbind(0) if d_hs is not None else [None] * (t_len + 1)
        if d_h[-1] is not None:
            dh_2d.copy_(d_h[-1])
        d_c = d_cs[1:].reshape(t_len, n, 1, hu).unbind(0) if d_cs is not None else none
        d_y = d_ys.reshape(t_len, n, 1, hu).unbind(0) if d_ys is not None else none
        masked = r3 is not None
        keep = (r3.to(g.dtype).unbind(0), (~r3).to(g.dtype).unbind(0)) if masked else (none, none)
        add, addmm, mm = torch.add, torch.addmm, torch.mm
        steps = zip(d_h[:-1], d_c, d_y, k.unbind(0), b.unbind(0), a.unbind(0), m.unbind(0),
                    dz[:, :, :3].unbind(0), dz[:, :, 3:].unbind(0),
                    dz.view(t_len, n, 4 * hu).unbind(0), *keep)
        for dh_in, dc_t, dy_t, k_t, b_t, a_t, m_t, dzifg_t, dzo_t, dz_t, r, nr in reversed(list(steps)):
            dh = dh_2d.view(n, 1, hu)
            if dc_t is not None:
                dc = add(dc, dc_t)
            if masked:                                                   # r, nr [N, 1, 1] as 0/1
                dh_new = mul(dh if dy_t is None else add(dh, dy_t), r)
                dc_new = mul(dc, r)
                dh_keep, dc_keep = mul(dh, nr), mul(dc, nr)
            else:
                dh_new, dc_new = dh, dc
            mul(dh_new, b_t, out=dzo_t)
            dc_new = addcmul(dc_new, dh_new, a_t)
            mul(dc_new, k_t, out=dzifg_t)
            dc = mul(dc_new, m_t)
            if dh_in is None:                                            # d carried h_{t-1}
                mm(dz_t, w_hh, out=dh_2d)
            else:
                addmm(dh_in, dz_t, w_hh, out=dh_2d)
            if masked:
                dh_2d = add(dh_2d, dh_keep.view(n, hu))
                dc = add(dc, dc_keep)
        dh = dh_2d
        if d_cs is not None:
            dc = add(dc, d_cs[0].view(n, 1, hu))
        flat = dz.view(t_len * n, 4 * hu)
        d_w = flat.t().mm(hs[:-1].reshape(t_len * n, hu))                # [4H, H]
        d_p_if = (dz[:, :, :2] * c_prev).sum((0, 1))                     # [2, H]
        d_p_o = (dz[:, :, 3] * c_new[:, :, 0]).sum((0, 1))               # [H]
        d_peep = torch.cat([d_p_if, d_p_o.unsqueeze(0)])                 # [3, H]
        return flat.view(t_len, n, 4 * hu), d_w, d_peep, dh, dc.view(n, hu), None


@in_weight_dtype
def graves_sequence(xp: torch.Tensor, w_hh: torch.Tensor, peep: torch.Tensor, h0: torch.Tensor,
                    c0: torch.Tensor, real: torch.Tensor | None = None):
    """Run the GravesLSTM recurrence over projected inputs.

    Shape:
        xp ``[T, N, 4H]`` (``W_ih x + b``), w_hh ``[4H, H]``, peep ``[3, H]``
        (rows i, f, o), h0/c0 ``[N, H]``, real bool ``[T, N]`` or None.
        Returns ``(hs, cs, ys)``: the carried states ``[T+1, N, H]`` (index 0 is
        the initial state) and, with ``real``, the outputs ``[T, N, H]`` with
        exact zeros at masked steps (None without ``real``: the outputs are ``hs[1:]``).
    """
    return _GravesSequence.apply(xp, w_hh, peep, h0, c0, real)
