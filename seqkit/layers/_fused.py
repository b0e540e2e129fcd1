"""Fast paths on torch's fused recurrent kernels (cuDNN on CUDA), masks included.

:class:`FusedRecurrent` is the base of LSTM, GRU and SimpleRNN. Its ``_run``
takes the fused kernel (``torch.lstm``, ``torch.gru``, ``torch.rnn_tanh`` or
``torch.rnn_relu``, the ops behind ``torch.nn.LSTM``/``GRU``/``RNN``) when the
configuration allows: default activations, no recurrent dropout in training,
and no mask or a mask whose real steps form one run per example. Otherwise it
falls back to the step loop of :class:`RNN`. (GRU and SimpleRNN take their
hand-written loops instead on the CPU and for masks with gaps; LSTM takes
GravesLSTM's hand-written loop with zero peepholes for masks with gaps.)

Masked batches (one run per example) stay on the padded kernel call:

1. shift each example's run to start at t=0 with one gather (skipped when
   every run already starts at 0, i.e. right padding);
2. call the kernel on the padded ``[T, N, F]`` tensor: the recurrence is
   causal, so whatever follows a run cannot touch its outputs;
3. take each example's final ``h`` at index ``length - 1`` (the output there);
4. shift back with one gather and put exact zeros at the masked steps.

``pack_padded_sequence`` was measured 3.4x-5.8x slower than this on CPU.

torch's LSTM kernel does not return ``c`` per step, so when an LSTM's final
state is needed (``need_state``: ``return_state``, ``stateful``, TBPTT) a
masked call gets one extra input feature, 1 on the steps after each
(shifted) run, whose weights are ``-S`` into the input and output gates and
``+S`` into the forget gate, ``S = 1e4``. The sigmoid saturates to exactly 0
and 1 there (``exp`` under- or overflows), so on those steps
``c_t = 1 * c_{t-1} + 0 * g = c_{t-1}`` and ``h_t = 0 * tanh(c_t) = 0``,
exactly, and no gradient flows into or out of them other than ``c``'s,
unchanged. The kernel's last ``c`` is then each example's cell state at its
last real step, exact in float32 and float64, without
``pack_padded_sequence``, and the padded outputs are already exact zeros.
The column costs one concatenation of the input, so it is added only when
the state is needed; otherwise, as for GRU and SimpleRNN, the outputs are
zeroed by one multiplication.

No host-device sync: which path to take is decided from the CPU copy of the
mask (:class:`StepMask`); the run starts and lengths the kernels need on the
device come from it by one non-blocking copy (or are computed on the device
when there is no CPU copy), and every index built from them is built there.

cuDNN weights: cuDNN wants one flat weight buffer in its own layout; given
separate tensors it allocates and fills one on every call (and warns). On
CUDA the layer keeps its parameters as views into such a buffer, as
``torch.nn.LSTM`` does (:meth:`FusedRecurrent.flatten_parameters`, after
``.to()`` and whenever the parameters were replaced); the names, shapes and
``state_dict`` are unchanged. LSTM and SimpleRNN have one bias where torch has
two: the second, zero, is a cached tensor in the same buffer, not a
parameter. Every kernel call runs in seqkit's float32 mode (see
:mod:`seqkit.layers._float32`).
"""

from __future__ import annotations

import functools
import warnings

import torch

from ._float32 import cudnn_call
from ._recurrent import State, StepMask
from ._rnn import RNN

__all__ = ["FusedRecurrent", "fused_run", "gather_steps", "run_carried", "shift_indices"]

_SATURATE = 1e4


def _kernel(kind: str, xs: torch.Tensor, h0: torch.Tensor, c0: torch.Tensor | None,
            weights: list[torch.Tensor]):
    """One call of torch's fused single-layer kernel, time-major input ``[T, N, F]``."""
    train = torch.is_grad_enabled()            # cuDNN keeps what backward needs only with train=True
    has_bias = len(weights) == 4
    if kind == "lstm":
        return torch.lstm(xs, (h0, c0), weights, has_bias, 1, 0.0, train, False, False)
    op = {"gru": torch.gru, "rnn_tanh": torch.rnn_tanh, "rnn_relu": torch.rnn_relu}[kind]
    return op(xs, h0, weights, has_bias, 1, 0.0, train, False, False)


def _call(kind, xs, h0, c0, weights, flat: bool = True):
    """The kernel in seqkit's float32 mode; ``flat``: the weights are one cuDNN buffer (if not,
    cuDNN copies them into one and warns, which is expected then and silenced)."""
    h0 = h0.contiguous()                       # cuDNN wants contiguous states (a user's may be views)
    c0 = c0.contiguous() if c0 is not None else None

    def call(xs_, h0_, c0_, *w):
        return _kernel(kind, xs_, h0_, c0_, list(w))
    if xs.is_cuda and not flat:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message=".*contiguous chunk of memory.*")
            return cudnn_call(call, xs, h0, c0, *weights)
    return cudnn_call(call, xs, h0, c0, *weights)


def _saturating_weights(weights: list[torch.Tensor], units: int) -> list[torch.Tensor]:
    """LSTM weights with one more input column: -S to the input and output gates, +S to forget."""
    w_ih = weights[0]                                                    # [4H, F]
    col = _saturating_column(units, w_ih.dtype, w_ih.device)             # [4H, 1]
    return [torch.cat([w_ih, col], dim=1)] + list(weights[1:])           # [4H, F+1]


@functools.lru_cache(maxsize=32)
def _saturating_column(units: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """``[4H, 1]``: -S (gate i), +S (f), 0 (g), -S (o); built on ``device`` (no host copy)."""
    with torch.inference_mode(False), torch.no_grad():                  # a plain, shareable constant
        col = torch.full((4, units), -_SATURATE, dtype=dtype, device=device)   # gates i, f, g, o
        col[1] = _SATURATE
        col[2] = 0.0
        return col.reshape(4 * units, 1)


def gather_steps(xs: torch.Tensor, idx: torch.Tensor) -> torch.Tensor:
    """``out[t, n] = xs[idx[t, n], n]``.

    Shape:
        xs ``[T, N, K]``; idx int64 ``[T, N]``; returns ``[T, N, K]``.
    """
    return xs.gather(0, idx.unsqueeze(2).expand(-1, -1, xs.shape[2]))


def shift_indices(mask: StepMask) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """Gather indices moving each one-run example to start at t=0, and back.

    Returns ``(None, None)`` when every run already starts at 0. Built on the
    mask's device from :meth:`StepMask.device_runs` (no host-device sync).

    Shape:
        returns two int64 ``[T, N]``: ``to_start[t, n] = (t + start_n) mod T`` and
        ``back[t, n] = (t - start_n) mod T``.
    """
    if not mask.shifted:
        return None, None
    starts = mask.device_runs()[0]                                       # [N] on the device
    t = mask.values.shape[1]
    steps = torch.arange(t, device=starts.device)[:, None]               # [T, 1]
    return (steps + starts) % t, (steps - starts) % t


def fused_run(kind: str, x: torch.Tensor, mask: StepMask | None, state: State,
              weights: list[torch.Tensor], need_state: bool, *,
              flat: bool = True) -> tuple[torch.Tensor, State | None]:
    """Run a fused kernel over ``x`` with the masking semantic (see the module docstring).

    Args:
        kind: ``"lstm"``, ``"gru"``, ``"rnn_tanh"`` or ``"rnn_relu"``.
        x: ``[N, F, T]``.
        mask: None, or a :class:`StepMask` whose real steps form one run per example.
        state: ``{"h": [N, H]}`` (and ``"c"`` for LSTM).
        weights: ``[weight_ih, weight_hh(, bias_ih, bias_hh)]`` in torch's layout.
        need_state: compute the final states (else None is returned for them).
        flat: the weights are views of one cuDNN buffer (see :class:`FusedRecurrent`).

    Returns:
        ``(y [N, H, T], final_state or None)``.
    """
    n, f, t = x.shape
    xs = x.permute(2, 0, 1)                                              # [T, N, F]
    h0 = state["h"]
    c0 = state["c"].unsqueeze(0) if kind == "lstm" else None
    if mask is None:
        out = _call(kind, xs, h0.unsqueeze(0), c0, weights, flat)
        final = None
        if need_state:
            final = {"h": out[1][0]}
            if kind == "lstm":
                final["c"] = out[2][0]
        return out[0].permute(1, 2, 0), final                            # [N, H, T]

    if not mask.padded:                                                  # every step is real
        return fused_run(kind, x, None, state, weights, need_state, flat=flat)
    to_start, back = shift_indices(mask)
    if to_start is not None:                                             # run n begins at t=0
        xs = gather_steps(xs, to_start)
    lstm = kind == "lstm"
    saturate = lstm and need_state                                       # the final c is needed
    dev = x.device
    if saturate:                                                         # i=0, f=1, o=0 after the run
        lengths = mask.device_runs()[1]                                  # [N] on the device
        after = (torch.arange(t, device=dev)[:, None] >= lengths[None, :]).to(x.dtype)  # [T, N]
        xs = torch.cat([xs, after.unsqueeze(2)], dim=2)                  # [T, N, F+1]
        weights = _saturating_weights(weights, h0.shape[1])
        flat = False                                                     # a new w_ih: cuDNN copies
    out = _call(kind, xs, h0.unsqueeze(0), c0, weights, flat)
    ys = out[0]                                                          # [T, N, H], shifted
    final = None
    if need_state:
        lengths = mask.device_runs()[1]                                  # [N] on the device
        last = (lengths - 1).clamp(min=0)                                # [N]
        h = ys[last, torch.arange(n, device=dev)]                        # [N, H]
        final = {"h": torch.where((lengths > 0).unsqueeze(1), h, h0)}
        if lstm:
            final["c"] = out[2][0]
    if back is not None:
        ys = gather_steps(ys, back)
    if not saturate:                                                     # (saturated: already 0)
        ys = mask.zero_masked(ys)
    return ys.permute(1, 2, 0), final                                    # [N, H, T]


def run_carried(kernel, project, x: torch.Tensor, mask: StepMask | None, keys: tuple[str, ...],
                need_state: bool) -> tuple[torch.Tensor, State | None]:
    """Masking around a hand-written kernel that returns its carried state sequences.

    ``kernel(xp, real)`` returns ``(seqs, ys)``: one ``[T+1, N, H]`` sequence per
    state in ``keys`` order (index 0 the initial state; ``seqs[0]`` is h) and, when
    given a ``real`` mask, the outputs with zeros at masked steps. Masks with
    gaps go to the kernel's masked loop; otherwise the runs are shifted to t=0
    as for the fused kernels, the kernel runs unmasked, and each example's final
    state is ``seq[length]``.

    Shape:
        x ``[N, F, T]``; ``project`` maps ``[T, N, F]`` to ``[T, N, G]``; returns
        ``(y [N, H, T], {key: [N, H]} or None)``.
    """
    xs = x.permute(2, 0, 1)                                              # [T, N, F]
    if mask is not None and not mask.runs()[2]:                          # gaps
        seqs, ys = kernel(project(xs), mask.real)
        return ys.permute(1, 2, 0), {k: s[-1] for k, s in zip(keys, seqs)}
    to_start, back = shift_indices(mask) if mask is not None else (None, None)
    if to_start is not None:
        xs = gather_steps(xs, to_start)
    seqs, _ = kernel(project(xs), None)                                  # [T+1, N, H] each
    if mask is None:
        return seqs[0][1:].permute(1, 2, 0), {k: s[-1] for k, s in zip(keys, seqs)}
    ys = seqs[0][1:] if back is None else gather_steps(seqs[0][1:], back)
    ys = mask.zero_masked(ys)                                            # [T, N, H]
    final = None
    if need_state:
        lengths = mask.device_runs()[1]                                  # [N] on the device
        rows = torch.arange(x.shape[0], device=x.device)
        final = {k: s[lengths, rows] for k, s in zip(keys, seqs)}       # state after `length` steps
    return ys.permute(1, 2, 0), final


class FusedRecurrent(RNN):
    """An :class:`RNN` over a built-in cell whose ``_run`` takes the fused kernel when it can.

    Subclasses implement ``_kernel_kind()`` (None when the configuration has
    no kernel) and ``_kernel_weights()`` (torch's ``[w_ih, w_hh(, b_ih, b_hh)]``;
    a zero ``b_hh`` from :meth:`_second_bias`).

    On CUDA the kernel's weights are views of one cuDNN buffer
    (:meth:`flatten_parameters`, run after ``.to()`` and again whenever a
    parameter was replaced), so cuDNN uses them in place.
    """

    #: torch's cuDNN mode name for each kernel kind.
    _CUDNN_MODES = {"lstm": "LSTM", "gru": "GRU", "rnn_tanh": "RNN_TANH", "rnn_relu": "RNN_RELU"}
    #: Devices whose weights are kept flat (a seam: the tests emulate flattening on the CPU).
    _flat_devices: tuple[str, ...] = ("cuda",)

    def _kernel_kind(self) -> str | None:
        raise NotImplementedError

    def _kernel_weights(self) -> list[torch.Tensor]:
        raise NotImplementedError

    def _second_bias(self, bias: torch.Tensor) -> torch.Tensor:
        """A zero tensor like ``bias`` for torch's second bias, cached (not a parameter, not saved)."""
        zero = self.__dict__.get("_zero_bias_hh")
        if zero is None or zero.shape != bias.shape or zero.device != bias.device or zero.dtype != bias.dtype:
            with torch.inference_mode(False), torch.no_grad():
                zero = torch.zeros(bias.shape, dtype=bias.dtype, device=bias.device)
            self.__dict__["_zero_bias_hh"] = zero
        return zero

    # -- one cuDNN weight buffer ------------------------------------------------------
    def _flattenable(self, weights: list[torch.Tensor]) -> bool:
        """True when ``weights`` can be views of one cuDNN buffer now (the checks of
        ``torch.nn.RNNBase.flatten_parameters``, and not under inference mode or compile)."""
        first = weights[0]
        return (first.is_cuda and torch._use_cudnn_rnn_flatten_weight()
                and not torch.is_inference_mode_enabled() and not torch.compiler.is_compiling()
                and all(w.is_cuda and w.dtype == first.dtype and torch.backends.cudnn.is_acceptable(w)
                        for w in weights)
                and len({w.data_ptr() for w in weights}) == len(weights))

    def flatten_parameters(self) -> bool:
        """Make the kernel's weights views of one cuDNN buffer; returns True when they are.

        Values, parameter objects, names and ``state_dict`` stay as they were;
        only the storage moves (as ``torch.nn.RNNBase.flatten_parameters``). A
        no-op returning False on the CPU, before the layer is built, or for a
        configuration without a fused kernel.
        """
        kind = self._kernel_kind() if self.built else None
        if kind is None:
            return False
        weights = self._kernel_weights()
        if not self._flattenable(weights):
            return False
        from torch.backends.cudnn import rnn as cudnn_rnn         # deferred: only on CUDA
        with torch.cuda.device_of(weights[0]), torch.no_grad():
            torch._cudnn_rnn_flatten_weight(weights, len(weights), self.cell.n_in,
                                            cudnn_rnn.get_cudnn_mode(self._CUDNN_MODES[kind]),
                                            self.units, 0, 1, False, False)
        self.__dict__["_flat_ptrs"] = tuple(w.data_ptr() for w in weights)
        return True

    def _fused_weights(self) -> tuple[list[torch.Tensor], bool]:
        """The kernel's weights and whether cuDNN can use them in place: re-flattened when they
        were moved or replaced since the last flattening (on the CPU: always True, nothing to do)."""
        weights = self._kernel_weights()
        if weights[0].device.type not in self._flat_devices or torch.compiler.is_compiling():
            return weights, True                                         # CPU (nothing to do), or traced
        if tuple(w.data_ptr() for w in weights) == self.__dict__.get("_flat_ptrs"):
            return weights, True                                         # no sync: pointers only
        if self.flatten_parameters():
            return self._kernel_weights(), True
        return weights, False

    def _apply(self, fn, *args, **kwargs):
        out = super()._apply(fn, *args, **kwargs)
        self.__dict__.pop("_flat_ptrs", None)
        self.flatten_parameters()                                        # after .to("cuda"), .double()...
        return out

    # -- the fast path ----------------------------------------------------------------
    def _fused_applies(self, mask: StepMask | None) -> str | None:
        kind = self._kernel_kind()
        if kind is None or (self.training and self.cell.recurrent_dropout > 0.0):
            return None
        if mask is not None and not mask.runs()[2]:
            return None                                                  # gaps: step loop
        return kind

    def _run(self, x: torch.Tensor, mask: StepMask | None, state: State,
             need_state: bool) -> tuple[torch.Tensor, State | None]:
        kind = self._fused_applies(mask)
        if kind is None:
            return self._loop(x, mask, state)
        ctx = self.cell._dropout_ctx(x.shape[0], x)
        if ctx is not None and ctx.inputs is not None:
            x = x * ctx.inputs.unsqueeze(2)                              # [N, F, T] variational
        weights, flat = self._fused_weights()
        return fused_run(kind, x, mask, state, weights, need_state, flat=flat)

    # -- Keras weights ----------------------------------------------------------------
    def set_keras_weights(self, arrays) -> None:
        """Load a Keras 3 layer's ``get_weights()`` list (see the cell's method)."""
        self.cell.set_keras_weights(arrays)
        if not self.built:
            self.build(self.cell.n_in)

    def get_keras_weights(self) -> list:
        """The weights as the Keras 3 layer's ``get_weights()`` list."""
        return self.cell.get_keras_weights()
