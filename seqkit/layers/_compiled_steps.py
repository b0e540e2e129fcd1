"""Opt-in on CUDA: the step of a hand-written recurrent loop, compiled with ``torch.compile``.

The hand-written forward loops launch about ten small kernels per step from
Python (GravesLSTM, and LSTM on masks with gaps, which runs GravesLSTM's loop
with zero peepholes; GRU ``reset_after=False``): on a GPU that is launch-bound.
Here each loop's step is written once as a plain function of tensors
(:func:`graves_step`, :func:`gru_reset_before_step`, the same equations as the
loops); compiled, its elementwise work becomes one fused kernel next to the
recurrent matmul, and the loop copies the step's results into its buffers with
one ``torch._foreach_copy_``. The backward loops are unchanged.

Off by default: compiled kernels round differently from the eager ones (not
equal by construction), and a fast path seqkit cannot test on a GPU in CI is
not made the default. Turn it on with :func:`set_compiled_steps` or
``SEQKIT_COMPILE_STEPS=1``; ``make gpu-check`` measures it. It applies only to
CUDA tensors, never while ``torch.compile`` traces seqkit itself, and if
compiling fails (no Triton, an unsupported op...) it warns once and runs the
eager loop from then on.
"""

from __future__ import annotations

import os
import warnings

import torch

__all__ = ["compiled_steps_enabled", "graves_step", "gru_reset_before_step", "set_compiled_steps", "step_function"]

ENV_VAR = "SEQKIT_COMPILE_STEPS"

_enabled: bool = os.environ.get(ENV_VAR, "").strip().lower() in ("1", "true", "yes", "on")
_compiled: dict = {}                       # name -> compiled function
_failed: set = set()                       # names whose compilation failed (eager from then on)
_succeeded: set = set()                    # names that ran compiled at least once


def compiled_steps_enabled() -> bool:
    """True when the hand-written loops run compiled steps on CUDA (see the module docstring)."""
    return _enabled


def set_compiled_steps(enabled: bool) -> None:
    """Turn the compiled loop steps on CUDA on or off (process-wide; off by default).

    Raises:
        ValueError: ``enabled`` is not a bool.
    """
    global _enabled
    if not isinstance(enabled, bool):
        raise ValueError(f"set_compiled_steps: enabled must be True or False, got {enabled!r}")
    _enabled = enabled


def graves_step(x_t, h, c, u, p_if, p_o, r):
    """One GravesLSTM step (the loop in :mod:`seqkit.layers._graves_kernel`), as new tensors.

    Shape:
        x_t ``[N, 4H]``; h ``[N, H]``; c ``[N, 1, H]``; u ``[H, 4H]``; p_if ``[1, 2, H]``;
        p_o ``[H]``; r bool ``[N, 1, 1]`` or None. Returns ``(s_if [N, 2, H], g, o, tc,
        c_new [N, 1, H], h_new [N, 1, H])`` and, with ``r``, also ``(h_carried [N, 1, H],
        c_carried [N, 1, H], y [N, 1, H])`` (y zero where ``r`` is False).
    """
    n, hu = h.shape
    z = torch.addmm(x_t, h, u).view(n, 4, hu)
    z_if, z_g, z_o = z.split((2, 1, 1), 1)
    s_if = torch.addcmul(z_if, c, p_if).sigmoid()
    g = z_g.tanh()
    c_new = torch.addcmul(s_if[:, 1:] * c, s_if[:, :1], g)
    o = torch.addcmul(z_o, c_new, p_o).sigmoid()
    tc = c_new.tanh()
    h_new = o * tc
    if r is None:
        return s_if, g, o, tc, c_new, h_new
    return (s_if, g, o, tc, c_new, h_new, torch.where(r, h_new, h.view(n, 1, hu)), torch.where(r, c_new, c),
            h_new.masked_fill(~r, 0.0))


def gru_reset_before_step(x_t, h, u_rz, u_n, r):
    """One ``reset_after=False`` GRU step (the loop in :mod:`seqkit.layers._gru_kernel`).

    Shape:
        x_t ``[N, 3H]``; h ``[N, H]``; u_rz ``[H, 2H]``; u_n ``[H, H]``; r bool ``[N, 1]`` or
        None. Returns ``(rz [N, 2H], q [N, H], n [N, H], h_new [N, H])`` and, with ``r``, also
        ``(h_carried, y)`` (y zero where ``r`` is False).
    """
    hu = h.shape[1]
    rz = torch.addmm(x_t[:, :2 * hu], h, u_rz).sigmoid()
    gate_r, gate_z = rz.split(hu, 1)
    q = gate_r * h
    cand = torch.addmm(x_t[:, 2 * hu:], q, u_n).tanh()
    h_new = torch.addcmul(cand, gate_z, h - cand)
    if r is None:
        return rz, q, cand, h_new
    return rz, q, cand, h_new, torch.where(r, h_new, h), h_new.masked_fill(~r, 0.0)


_STEPS = {"graves": graves_step, "gru_reset_before": gru_reset_before_step}


def _compile(fn):
    """``torch.compile`` of one step (a seam: tests compile on the CPU or not at all)."""
    return torch.compile(fn, dynamic=True, fullgraph=True)


def _applies(like: torch.Tensor) -> bool:
    return like.is_cuda


def step_function(name: str, like: torch.Tensor):
    """The compiled step ``name`` for tensors like ``like``, or None: not enabled, not on CUDA,
    inside ``torch.compile``, or its compilation failed before. The returned callable falls
    back to the eager step, warning once, if its first compilation fails."""
    if not _enabled or name in _failed or not _applies(like) or torch.compiler.is_compiling():
        return None
    fn = _compiled.get(name)
    if fn is None:
        fn = _compiled[name] = _compile(_STEPS[name])
    eager = _STEPS[name]

    def run(*args):
        if name in _succeeded:
            return fn(*args)
        if name in _failed:                       # failed at an earlier step of this loop
            return eager(*args)
        try:
            out = fn(*args)
        except Exception as err:                  # compile-time failure: eager from now on
            _failed.add(name)
            warnings.warn(f"seqkit: compiling the {name} step failed ({type(err).__name__}: {err}); "
                          f"running the eager loop instead", RuntimeWarning, stacklevel=2)
            return eager(*args)
        _succeeded.add(name)
        return out
    return run
