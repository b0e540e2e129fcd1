"""ConvLSTM1D, ConvLSTM2D, ConvLSTM3D: LSTMs whose matmuls are convolutions (Keras semantics).

Layout: channels first with time at dim 2, as every seqkit sequence tensor:
input ``[N, C, T, *spatial]``. From Keras's channels_last ``(N, T, *spatial, C)``
that is ``x.movedim(-1, 1)``; from its channels_first ``(N, T, C, *spatial)``,
``x.transpose(1, 2)``. Outputs and states are ``[N, F, ...]`` likewise.

The input convolutions of all T steps run as one convolution call (time
folded into the batch); only the recurrent convolution runs inside the step
loop, which is :func:`~seqkit.layers._recurrent.masked_loop` (state carried
and output zero at masked steps).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .._errors import ConfigError
from ._cell_base import check_rate, resolve_activation
from ._conv import same_pads
from ._float32 import cudnn_call
from ._recurrent import Recurrent, State, StepMask, masked_loop

__all__ = ["ConvLSTM1D", "ConvLSTM2D", "ConvLSTM3D"]

_CONV = {1: F.conv1d, 2: F.conv2d, 3: F.conv3d}
_SPATIAL = {1: "L", 2: "H, W", 3: "D, H, W"}


def _int_tuple(value, rank: int, what: str, owner: str) -> tuple[int, ...]:
    """An int or a length-``rank`` sequence of positive ints, as a tuple."""
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,) * rank
    if len(items) != rank or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0
                                 for v in items):
        raise ConfigError(f"{owner}: {what} must be a positive int or {rank} positive ints, got {value!r}")
    return tuple(int(v) for v in items)


class _ConvLSTM(Recurrent):
    """Shared implementation of ConvLSTM1D/2D/3D; subclasses set ``rank``.

    Equations (``*`` is cross-correlation as ``torch.nn.ConvNd``; σ =
    ``gate_activation``, φ = ``activation``; gate blocks i, f, g, o)::

        z   = W_x * x_t + b   (strides, padding, dilation as configured)
            + W_h * h_{t-1}   (stride 1, "same" padding, no dilation)   # [N, 4F, *S']
        i, f, o = σ(z_i), σ(z_f), σ(z_o) ;  g = φ(z_g)
        c_t = f ⊙ c_{t-1} + i ⊙ g
        h_t = o ⊙ φ(c_t)                                                # output y_t = h_t

    No peepholes; the bias is on the input convolution only.
    """

    rank: int = 0
    state_keys = ("h", "c")

    def __init__(self, filters: int, kernel_size, n_in: int | None = None, *, strides=1,
                 padding: str = "valid", dilation_rate=1, activation="tanh",
                 gate_activation="sigmoid", recurrent_activation=None, use_bias: bool = True,
                 unit_forget_bias: bool = True, dropout: float = 0.0, recurrent_dropout: float = 0.0,
                 return_sequences: bool = True, return_state: bool = False,
                 go_backwards: bool = False, stateful: bool = False):
        owner, r = type(self).__name__, self.rank
        if isinstance(filters, bool) or not isinstance(filters, (int, np.integer)) or filters <= 0:
            raise ConfigError(f"{owner}: filters must be a positive int, got {filters!r}")
        super().__init__(int(filters), n_in, return_sequences=return_sequences,
                         return_state=return_state, go_backwards=go_backwards, stateful=stateful)
        self.filters = int(filters)
        self.kernel_size = _int_tuple(kernel_size, r, "kernel_size", owner)
        self.strides = _int_tuple(strides, r, "strides", owner)
        self.dilation_rate = _int_tuple(dilation_rate, r, "dilation_rate", owner)
        if not isinstance(padding, str) or padding.lower() not in ("valid", "same"):
            raise ConfigError(f"{owner}: padding must be 'valid' or 'same', got {padding!r}")
        self.padding = padding.lower()
        if max(self.strides) > 1 and max(self.dilation_rate) > 1:
            raise ConfigError(f"{owner}: strides > 1 cannot be combined with dilation_rate > 1 "
                              f"(got strides={self.strides}, dilation_rate={self.dilation_rate})")
        if recurrent_activation is not None:
            if gate_activation not in ("sigmoid", recurrent_activation):
                raise ConfigError(f"{owner}: gate_activation={gate_activation!r} and "
                                  f"recurrent_activation={recurrent_activation!r} disagree; they "
                                  f"are the same setting (give one)")
            gate_activation = recurrent_activation
        self.activation, self.activation_name = resolve_activation(activation, "activation", owner)
        self.gate_activation, self.gate_activation_name = resolve_activation(
            gate_activation, "gate_activation", owner)
        for flag, value in (("use_bias", use_bias), ("unit_forget_bias", unit_forget_bias)):
            if not isinstance(value, bool):
                raise ConfigError(f"{owner}: {flag} must be True or False, got {value!r}")
        self.use_bias = use_bias
        self.unit_forget_bias = unit_forget_bias
        self.dropout = check_rate(dropout, "dropout", owner)
        self.recurrent_dropout = check_rate(recurrent_dropout, "recurrent_dropout", owner)
        self._spatial_in: tuple[int, ...] | None = None
        self._maybe_build()

    # -- parameters ---------------------------------------------------------------------
    def _build(self, n_in: int) -> None:
        g, k = 4 * self.filters, self.kernel_size
        self.weight_ih = nn.Parameter(torch.empty(g, n_in, *k))          # [4F, C, *k]
        self.weight_hh = nn.Parameter(torch.empty(g, self.filters, *k))  # [4F, F, *k]
        self.bias = nn.Parameter(torch.zeros(g)) if self.use_bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Keras's initialisers: Glorot-uniform kernel, orthogonal recurrent kernel, zero bias
        with the forget block at 1.0 when ``unit_forget_bias``."""
        with torch.no_grad():
            nn.init.xavier_uniform_(self.weight_ih)   # fans C*prod(k), 4F*prod(k), as Keras's
            nn.init.orthogonal_(self.weight_hh)
            if self.bias is not None:
                self.bias.zero_()
                if self.unit_forget_bias:
                    self.bias[self.filters:2 * self.filters].fill_(1.0)

    # -- shapes -------------------------------------------------------------------------
    input_layouts = frozenset({"images", "video"})

    def output_shape(self, input_shape) -> tuple[int | None, ...]:
        """``(C, T, *spatial) -> (F, T, *out_spatial)``, or ``(F, *out_spatial)`` with
        ``return_sequences=False``; T may be None."""
        shape = tuple(input_shape)
        spatial = self.output_spatial(shape[2:])
        return (self.units, shape[1], *spatial) if self.return_sequences else (self.units, *spatial)

    def output_spatial(self, spatial) -> tuple[int, ...]:
        """The spatial size of outputs and states for input spatial size ``spatial``.

        "valid": ``floor((L - d (k - 1) - 1) / s) + 1``; "same": ``ceil(L / s)``.
        """
        out = []
        for length, k, s, d in zip(spatial, self.kernel_size, self.strides, self.dilation_rate):
            if self.padding == "same":
                out.append(-(-int(length) // s))
            else:
                out.append((int(length) - d * (k - 1) - 1) // s + 1)
        return tuple(out)

    def state_shape(self, key: str) -> tuple[int, ...]:
        if self._spatial_in is None:
            raise ValueError(f"{type(self).__name__}: the state shape depends on the input's spatial "
                             f"size; pass spatial= to initial_state (or run an input first)")
        return (self.filters, *self.output_spatial(self._spatial_in))

    def initial_state(self, n: int, *, spatial=None, dtype: torch.dtype | None = None,
                      device: torch.device | str | None = None) -> State:
        """Zeros ``{"h", "c": [n, F, *S']}`` for inputs of spatial size ``spatial``
        (default: the last input's)."""
        if spatial is not None:
            self._spatial_in = tuple(int(v) for v in spatial)
        return super().initial_state(n, dtype=dtype, device=device)

    def _zero_state(self, x: torch.Tensor) -> State:
        self._spatial_in = tuple(x.shape[3:])
        return super().initial_state(x.shape[0], dtype=x.dtype, device=x.device)

    def _check_input(self, x) -> torch.Tensor:
        """A float ``[N, C, T, *spatial]`` tensor, T >= 1, spatial large enough; built lazily."""
        name, r = type(self).__name__, self.rank
        layout = f"[N, C, T, {_SPATIAL[r]}]"
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{name}: input must be a torch.Tensor {layout}, got {type(x).__name__}")
        if x.dim() != r + 3:
            raise ValueError(f"{name}: input must be {r + 3}-D {layout} (channels first, time at "
                             f"dim 2), got shape {tuple(x.shape)}")
        if not x.is_floating_point():
            raise ValueError(f"{name}: input must be a float tensor, got dtype {x.dtype}")
        if x.shape[2] == 0:
            raise ValueError(f"{name}: input has no time steps (shape {tuple(x.shape)})")
        if min(self.output_spatial(x.shape[3:])) < 1:
            raise ValueError(f"{name}: spatial size {tuple(x.shape[3:])} is smaller than the dilated "
                             f"kernel {self.kernel_size} (dilation {self.dilation_rate}) with "
                             f"padding='valid'")
        self._build_like(x)
        if self.weight_ih.dtype != x.dtype:
            raise ValueError(f"{name}: input dtype {x.dtype} differs from the weights' "
                             f"{self.weight_ih.dtype}; convert the input or the layer")
        return x

    # -- convolutions -------------------------------------------------------------------
    def _input_conv(self, frames: torch.Tensor) -> torch.Tensor:
        """``[B, C, *S] -> [B, 4F, *S']`` with the layer's strides, padding and dilation."""
        conv = _CONV[self.rank]
        padding: tuple[int, ...] | int = 0
        if self.padding == "same":
            pads = [same_pads(length, k, s, d) for length, k, s, d in
                    zip(frames.shape[2:], self.kernel_size, self.strides, self.dilation_rate)]
            if all(a == b for a, b in pads):
                padding = tuple(a for a, _ in pads)
            else:                                        # odd total: the extra pixel after (Keras, torch)
                frames = F.pad(frames, [p for a, b in reversed(pads) for p in (a, b)])
        strides, dilation = self.strides, self.dilation_rate            # seqkit's float32 mode on CUDA
        return cudnn_call(lambda v, w, b: conv(v, w, b, stride=strides, padding=padding, dilation=dilation),
                          frames, self.weight_ih, self.bias)

    def _recurrent_conv(self, h: torch.Tensor) -> torch.Tensor:
        """``[N, F, *S'] -> [N, 4F, *S']``: stride 1, "same", no dilation."""
        pads = [((k - 1) // 2, k - 1 - (k - 1) // 2) for k in self.kernel_size]
        conv = _CONV[self.rank]
        if all(a == b for a, b in pads):
            padding = tuple(a for a, _ in pads)
        else:
            h, padding = F.pad(h, [p for a, b in reversed(pads) for p in (a, b)]), 0  # even kernel: extra after
        return cudnn_call(lambda v, w: conv(v, w, None, padding=padding), h, self.weight_hh)

    # -- the step loop ------------------------------------------------------------------
    def _dropout_masks(self, x: torch.Tensor, state: State):
        """Variational keep masks ``([N, C, 1, *S] or None, [N, F, *S'] or None)``, training only."""
        if not self.training:
            return None, None

        def keep(shape, rate):
            m = torch.empty(shape, dtype=x.dtype, device=x.device).bernoulli_(1.0 - rate)
            return m / (1.0 - rate)
        n, c = x.shape[:2]
        inputs = keep((n, c, 1, *x.shape[3:]), self.dropout) if self.dropout else None
        h = state["h"]
        recurrent = keep(tuple(h.shape), self.recurrent_dropout) if self.recurrent_dropout else None
        return inputs, recurrent

    def _reference(self, x: torch.Tensor, mask: StepMask | None,
                   state: State) -> tuple[torch.Tensor, State]:
        n, c, t = x.shape[:3]
        keep_x, keep_h = self._dropout_masks(x, state)
        if keep_x is not None:
            x = x * keep_x                                               # [N, C, T, *S]
        frames = x.transpose(1, 2).reshape(n * t, c, *x.shape[3:])       # [N*T, C, *S]
        xp = self._input_conv(frames)                                    # [N*T, 4F, *S']
        xp = xp.reshape(n, t, *xp.shape[1:]).transpose(0, 1)             # [T, N, 4F, *S']
        sig, act = self.gate_activation, self.activation

        def step(xp_t: torch.Tensor, states: tuple):
            h, c_prev = states                                           # [N, F, *S'] each
            h_in = h if keep_h is None else h * keep_h
            z = xp_t + self._recurrent_conv(h_in)                        # [N, 4F, *S']
            zi, zf, zg, zo = z.chunk(4, dim=1)
            c_new = sig(zf) * c_prev + sig(zi) * act(zg)
            h_new = sig(zo) * act(c_new)
            return h_new, (h_new, c_new)

        ys, (h, c_last) = masked_loop(step, xp, mask, (state["h"], state["c"]))
        return ys.movedim(0, 2), {"h": h, "c": c_last}                   # [N, F, T, *S']

    # -- Keras weights ------------------------------------------------------------------
    def set_keras_weights(self, arrays) -> "_ConvLSTM":
        """Load Keras's ``[kernel k+(C, 4F), recurrent_kernel k+(F, 4F)(, bias (4F,))]``; returns ``self``.

        Gate order i, f, c, o is shared; each kernel is transposed to torch's
        ``[4F, C, *k]`` (no flip: both are cross-correlations). Builds an
        unbuilt layer with ``C`` from the kernel.

        Raises:
            ValueError: a wrong count or shape, naming both.
        """
        owner, r = type(self).__name__, self.rank
        if not isinstance(arrays, (list, tuple)):
            raise ValueError(f"{owner}: set_keras_weights takes a list of arrays, "
                             f"got {type(arrays).__name__}")
        arrays = [np.asarray(a.detach().cpu() if isinstance(a, torch.Tensor) else a) for a in arrays]
        n_expected = 3 if self.use_bias else 2
        if len(arrays) != n_expected:
            raise ValueError(f"{owner}: expected {n_expected} Keras arrays [kernel, recurrent_kernel"
                             f"{', bias' if self.use_bias else ''}], got {len(arrays)}")
        if arrays[0].ndim != r + 2:
            raise ValueError(f"{owner}: kernel must be {r + 2}-D kernel_size + (C, 4F), "
                             f"got shape {arrays[0].shape}")
        c = self.n_in if self.n_in is not None else int(arrays[0].shape[r])
        g, k = 4 * self.filters, self.kernel_size
        expected = [("kernel", k + (c, g)), ("recurrent_kernel", k + (self.filters, g)), ("bias", (g,))]
        for (name, shape), a in zip(expected, arrays):
            if tuple(a.shape) != shape:
                raise ValueError(f"{owner}: Keras {name} must have shape {shape}, got {tuple(a.shape)}")
        if not self.built:
            self.build(c)
        to_torch = (r + 1, r, *range(r))                                 # k+(C,4F) -> (4F,C)+k
        with torch.no_grad():
            for param, a in zip((self.weight_ih, self.weight_hh), arrays):
                param.copy_(torch.as_tensor(np.ascontiguousarray(a.transpose(to_torch)), dtype=param.dtype))
            if self.use_bias:
                self.bias.copy_(torch.as_tensor(arrays[2], dtype=self.bias.dtype))
        return self

    def get_keras_weights(self) -> list:
        """The weights as Keras's ``get_weights()`` list (numpy arrays)."""
        if not self.built:
            raise ConfigError(f"{type(self).__name__}: not built yet (n_in unknown), so it has no weights")
        to_keras = (*range(2, self.rank + 2), 1, 0)                      # (4F,C)+k -> k+(C,4F)
        out = [np.ascontiguousarray(p.detach().cpu().numpy().transpose(to_keras))
               for p in (self.weight_ih, self.weight_hh)]
        if self.use_bias:
            out.append(self.bias.detach().cpu().numpy().copy())
        return out

    def extra_repr(self) -> str:
        parts = [f"n_in={self.n_in}", f"filters={self.filters}", f"kernel_size={self.kernel_size}"]
        if max(self.strides) > 1:
            parts.append(f"strides={self.strides}")
        if self.padding != "valid":
            parts.append(f"padding={self.padding!r}")
        if max(self.dilation_rate) > 1:
            parts.append(f"dilation_rate={self.dilation_rate}")
        flags = [f for f in ("return_state", "go_backwards", "stateful") if getattr(self, f)]
        if not self.return_sequences:
            flags.append("return_sequences=False")
        return ", ".join(parts + flags)


_ARGS_DOC = """
    Equations (``*`` is cross-correlation as in ``torch.nn.Conv{rank}d``;
    σ = ``gate_activation``, φ = ``activation``; gate blocks i, f, g, o)::

        z   = W_x * x_t + b   (strides, padding, dilation as configured)
            + W_h * h_{{t-1}}   (stride 1, "same" padding, no dilation)  # [N, 4F, *S']
        i, f, o = σ(z_i), σ(z_f), σ(z_o) ;  g = φ(z_g)
        c_t = f ⊙ c_{{t-1}} + i ⊙ g
        h_t = o ⊙ φ(c_t)                                               # output y_t = h_t

    No peepholes; the bias is on the input convolution only. The input
    convolutions of all T steps run as one call (time folded into the batch);
    the step loop runs only the recurrent convolution.

    Args:
        filters: F, the number of output channels (the "units").
        kernel_size: an int or {rank} ints.
        n_in: C, the input channels, or None to infer them.
        strides: input-convolution strides (int or {rank} ints; 1).
        padding: ``"valid"`` (default) or ``"same"`` (output ``ceil(L / s)``;
            an odd total padding puts the extra pixel after, as Keras and torch).
        dilation_rate: input-convolution dilation (1); strides > 1 together
            with dilation > 1 is a :class:`seqkit.ConfigError`, as in Keras.
        activation: φ (``"tanh"``).
        gate_activation: σ (``"sigmoid"``); ``recurrent_activation`` is
            accepted as Keras's name for it.
        use_bias: a bias ``[4F]`` on the input convolution.
        unit_forget_bias: start the forget-gate bias at 1.0 (Keras's default).
        dropout, recurrent_dropout: variational dropout in training, one mask
            per sequence on the input ``[N, C, *S]`` and on ``h`` ``[N, F, *S']``
            (shared by the four gates, unlike Keras's four masks).
        return_sequences, return_state, go_backwards, stateful: see
            :class:`~seqkit.layers.Recurrent` (``return_sequences`` defaults to
            True, Keras's to False).

    Masking: a ``[N, T]`` mask with the seqkit semantic (state carried and
    output zero at masked steps; ``return_sequences=False`` and the final
    states are each example's last real step).

    Weights: ``weight_ih [4F, C, *k]``, ``weight_hh [4F, F, *k]``, ``bias [4F]``
    (gate blocks i, f, g, o); Keras's layout through ``set_keras_weights`` /
    ``get_keras_weights``. Initialisation as Keras.
"""


class ConvLSTM1D(_ConvLSTM):
    __doc__ = """Convolutional LSTM over sequences of 1-D signals (Keras's ``ConvLSTM1D``).

    Shape:
        x ``[N, C, T, L]`` (channels first, time at dim 2); mask ``[N, T]``;
        output ``[N, F, T, L']`` or ``[N, F, L']``; states h, c ``[N, F, L']``.
    """ + _ARGS_DOC.format(rank=1)
    rank = 1


class ConvLSTM2D(_ConvLSTM):
    __doc__ = """Convolutional LSTM over sequences of images (Keras's ``ConvLSTM2D``).

    Shape:
        x ``[N, C, T, H, W]`` (channels first, time at dim 2); mask ``[N, T]``;
        output ``[N, F, T, H', W']`` or ``[N, F, H', W']``; states h, c
        ``[N, F, H', W']``.
    """ + _ARGS_DOC.format(rank=2)
    rank = 2


class ConvLSTM3D(_ConvLSTM):
    __doc__ = """Convolutional LSTM over sequences of volumes (Keras's ``ConvLSTM3D``).

    Shape:
        x ``[N, C, T, D, H, W]`` (channels first, time at dim 2); mask
        ``[N, T]``; output ``[N, F, T, D', H', W']`` or ``[N, F, D', H', W']``;
        states h, c ``[N, F, D', H', W']``.
    """ + _ARGS_DOC.format(rank=3)
    rank = 3
