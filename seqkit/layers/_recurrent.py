"""The recurrent base class and the generic masked step loop.

API in brief (for authors of wrappers, TBPTT and step-by-step inference)::

    layer.units == layer.n_out                 # H
    layer.state_keys                           # ("h", "c") LSTM/GravesLSTM, ("h",) GRU/SimpleRNN
    layer.initial_state(n, dtype=, device=)    # {key: zeros [n, H]}
    y, state = layer.run(x, mask, state)       # core: forward in time, no flags applied
    y, state = layer.reference(x, mask, state) # same numbers through the plain step loop
    layer(x, mask=None, initial_state=None)    # applies go_backwards, stateful, return_*
    layer.reset_state(states=None)             # stateful layers: zero or set the stored state

A new recurrent layer derives from :class:`Recurrent`, sets ``state_keys``,
implements ``_reference(x, mask, state)`` (usually with :func:`masked_loop`)
and, when it has a faster route, ``_run(x, mask, state, need_state)``. Both
receive an input already checked and built, a :class:`StepMask` or None, and
a complete state dict. Layers whose input or state is not ``[N, F, T]`` /
``[N, H]`` (ConvLSTM) override ``_check_input`` and ``_zero_state``.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import torch

from .._errors import ConfigError
from ._base import Layer
from ._kernel_precision import layer_in_weight_dtype
from ._step_mask import StepMask
from ._tracing import tracing

__all__ = ["Recurrent", "StepMask", "flat_tensors", "masked_loop"]

State = dict[str, torch.Tensor]
Step = Callable[[torch.Tensor, tuple], tuple]


def masked_loop(step: Step, xs: torch.Tensor, mask: StepMask | None,
                states: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """Run ``step`` over time; at a masked step carry every state and output zero.

    This is the reference semantics of every recurrent layer: an example's
    outputs at its real steps and its final state do not depend on where its
    padding is (left, right or gaps).

    Args:
        step: ``(x_t, states) -> (out_t, new_states)``; ``states`` a tuple of tensors.
        xs: time-major inputs (or input projections) ``[T, N, ...]``.
        mask: a :class:`StepMask`, or None when every step is real.
        states: the initial states, a tuple of ``[N, ...]`` tensors.

    Returns:
        ``(ys, states)``: ``ys`` ``[T, N, ...]`` stacked outputs with exact zeros at
        masked steps; the states after each example's last real step (the
        initial ones for an example with no real step).

    While tracing (:mod:`seqkit.layers._tracing`) the loop is one ``scan``, so an
    exported program keeps the number of steps dynamic.
    """
    if tracing():
        return _scanned_loop(step, xs, mask, states)
    real = mask.real if mask is not None else None                      # [T, N] bool
    ys = []
    for t in range(xs.shape[0]):
        out, new = step(xs[t], states)
        if real is None:
            states = tuple(new)
            ys.append(out)
            continue
        r = real[t]                                                     # [N]
        states = tuple(torch.where(_bcast(r, s), n, s) for n, s in zip(new, states))
        ys.append(torch.where(_bcast(r, out), out, 0.0))
    return torch.stack(ys), states


def _scanned_loop(step: Step, xs: torch.Tensor, mask: StepMask | None,
                  states: tuple[torch.Tensor, ...]) -> tuple[torch.Tensor, tuple[torch.Tensor, ...]]:
    """:func:`masked_loop` as one ``torch`` ``scan`` over time (same arguments and results)."""
    from torch._higher_order_ops.scan import scan                       # deferred: only when tracing

    def combine(carry, inputs):
        x_t, r = inputs if mask is not None else (inputs, None)         # [N, ...], [N] bool
        out, new = step(x_t, carry)
        new = tuple(new)
        if r is None:                                                    # scan's outputs may not alias
            return tuple(n.clone() for n in new), out.clone()
        kept = tuple(torch.where(_bcast(r, s), n, s) for n, s in zip(new, carry))
        return kept, torch.where(_bcast(r, out), out, torch.zeros_like(out))

    inputs = (xs, mask.real) if mask is not None else xs                 # [T, N, ...], [T, N]
    final, ys = scan(combine, tuple(states), inputs)
    return ys, tuple(final)


def _bcast(r: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``r`` ``[N]`` reshaped to broadcast over ``like`` ``[N, ...]``."""
    return r.view((-1,) + (1,) * (like.dim() - 1))


def flat_tensors(value) -> list[torch.Tensor]:
    """A possibly nested list/tuple of tensors, flattened in order."""
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in flat_tensors(v)]
    raise ValueError(f"a state must be a tensor, got {type(value).__name__}")


class Recurrent(Layer):
    """Base class of every recurrent layer: state handling, masking, flags.

    The contract (wrappers, TBPTT and inference rely on it):

    - ``units`` (== ``n_out``, H) and ``state_keys``, the names of the states
      in order: ``("h", "c")`` for LSTM and GravesLSTM, ``("h",)`` for GRU and
      SimpleRNN; ``RNN(cell)`` takes them from its cell.
    - :meth:`initial_state` gives zeros of each state's shape, ``[N, H]``.
    - :meth:`run` is the core, forward in time only: no ``go_backwards``,
      ``stateful`` or ``return_sequences``. It returns the outputs ``[N, H, T]``
      with exact zeros at masked steps and each example's state after its last
      real step (carried unchanged over masked steps; an example with no real
      step keeps its initial state).
    - :meth:`reference` gives the same through the plain step loop; every fast
      path is tested against it.
    - :meth:`forward` applies the flags (below) around :meth:`run`.

    Masking semantic: at a masked step the layer carries its state unchanged
    and outputs zero, so each example of a padded batch (padding at either end,
    or gaps) gets exactly what it gets alone on its real steps. Fast paths may
    compute on padded steps and discard the result, so padding values must be
    finite (zeros, as the readers write, are fine).

    Flags:
        return_sequences: True (the default, as DL4J; Keras defaults to False)
            gives ``[N, H, T]``; False gives ``[N, H]``, each example's output at
            its last real step in processing order (an example with no real
            step is an error naming it).
        return_state: return ``(y, *states)`` in ``state_keys`` order, like Keras.
        go_backwards: flip the input and mask along time first (the whole padded
            tensor, as Keras). The output stays in processing order, i.e.
            reversed; with ``return_sequences=False`` it is the output at the
            first real step of the original order.
        stateful: start from the state stored by the previous call (zeros at
            first) and store the final state, detached. The stored state is a
            non-persistent buffer: not a parameter and not saved. A changed
            batch size is an error until :meth:`reset_state`. An explicit
            ``initial_state`` is used instead of the stored state.

    Input and dtype: ``x`` must be 3-D ``[N, F, T]`` (a single step is
    ``x.unsqueeze(2)``); float32 and float64 both work, the weights follow the
    module's dtype; ``n_in`` may be left out and is then taken from ``x``.
    Under ``torch.autocast`` (``precision="bf16-mixed"``) the layer runs with
    autocast off in its weights' dtype: a bfloat16/float16 input is cast up,
    state and output are float32 (see :mod:`seqkit.layers._kernel_precision`).
    ``initial_state`` may be a dict or a list/tuple in ``state_keys`` order.

    Shape:
        x: ``[N, F, T]``; mask: ``[N, T]`` (1 = real step) or None;
        states: ``[N, H]`` each; output ``[N, H, T]`` or ``[N, H]``.
    """

    state_keys: tuple[str, ...] = ("h",)

    def __init__(self, units: int, n_in: int | None = None, *, return_sequences: bool = True,
                 return_state: bool = False, go_backwards: bool = False, stateful: bool = False):
        super().__init__(n_in)
        if isinstance(units, bool) or not isinstance(units, int) or units <= 0:
            raise ConfigError(f"{type(self).__name__}: units (n_out) must be a positive int, got {units!r}")
        for flag, value in (("return_sequences", return_sequences), ("return_state", return_state),
                            ("go_backwards", go_backwards), ("stateful", stateful)):
            if not isinstance(value, bool):
                raise ConfigError(f"{type(self).__name__}: {flag} must be True or False, got {value!r}")
        self.units = units
        self.return_sequences = return_sequences
        self.return_state = return_state
        self.go_backwards = go_backwards
        self.stateful = stateful

    @property
    def n_out(self) -> int:
        return self.units

    # -- self-description (see Layer) ---------------------------------------------
    input_layouts = frozenset({"sequences"})
    needs_time = True
    carries_state = True
    takes_step_mask = True

    @property
    def reduces_time(self) -> bool:
        """True with ``return_sequences=False``."""
        return not self.return_sequences

    @property
    def reverses_time(self) -> bool:
        """True with ``go_backwards=True`` and ``return_sequences=True``."""
        return self.go_backwards and self.return_sequences

    @property
    def stepwise_obstacle(self) -> str | None:
        """``"go_backwards"`` with ``go_backwards=True`` (its state runs the other way), else None."""
        return "go_backwards" if self.go_backwards else super().stepwise_obstacle

    def output_shape(self, input_shape: Sequence[int | None]) -> tuple[int | None, ...]:
        """``(F, T) -> (H, T)``, or ``(H,)`` with ``return_sequences=False``; T may be None.

        Raises:
            ConfigError: input other than sequences ``(F, T)``.
        """
        shape = tuple(input_shape)
        if len(shape) != 2:
            raise ConfigError(f"{type(self).__name__}: expected sequences (N, F, T), got "
                              f"(N, {', '.join(map(str, shape))})")
        return (self.units, shape[1]) if self.return_sequences else (self.units,)

    # -- states -------------------------------------------------------------------
    def state_shape(self, key: str) -> tuple[int, ...]:
        """The per-example shape of state ``key`` (``(H,)`` unless overridden)."""
        return (self.units,)

    def initial_state(self, n: int, *, dtype: torch.dtype | None = None,
                      device: torch.device | str | None = None) -> State:
        """Zeros for every state: ``{key: [n, *state_shape(key)]}`` in ``state_keys`` order.

        ``dtype`` and ``device`` default to the weights' (or torch's defaults).
        """
        p = self._a_weight()
        dtype = dtype if dtype is not None else (p.dtype if p is not None else torch.get_default_dtype())
        device = device if device is not None else (p.device if p is not None else None)
        return {k: torch.zeros((n,) + tuple(self.state_shape(k)), dtype=dtype, device=device)
                for k in self.state_keys}

    def _a_weight(self) -> torch.Tensor | None:
        """Any parameter (for the module's dtype and device), or None."""
        return next(self.parameters(), None)

    def _zero_state(self, x: torch.Tensor) -> State:
        """Zero states for input ``x``; override when the state shape depends on ``x``."""
        n = x.shape[0]
        return {k: x.new_zeros((n,) + tuple(self.state_shape(k))) for k in self.state_keys}

    def _as_state(self, state, x: torch.Tensor) -> State:
        """A complete state dict for ``x`` from None, a dict, or a list/tuple in key order."""
        zeros = self._zero_state(x)
        if state is None:
            return zeros
        name = type(self).__name__
        if isinstance(state, Mapping):
            unknown = sorted(set(state) - set(self.state_keys))
            missing = [k for k in self.state_keys if k not in state]
            if unknown or missing:
                raise ValueError(f"{name}: state keys must be {list(self.state_keys)}; "
                                 f"missing {missing}, unknown {unknown}")
            values = [state[k] for k in self.state_keys]
        else:
            values = flat_tensors(state)
            if len(values) != len(self.state_keys):
                raise ValueError(f"{name}: expected {len(self.state_keys)} state tensors "
                                 f"{list(self.state_keys)}, got {len(values)}")
        out = {}
        for k, v in zip(self.state_keys, values):
            if not isinstance(v, torch.Tensor):
                raise ValueError(f"{name}: state {k!r} must be a tensor, got {type(v).__name__}")
            if tuple(v.shape) != tuple(zeros[k].shape):
                raise ValueError(f"{name}: state {k!r} must have shape {tuple(zeros[k].shape)} "
                                 f"for input of shape {tuple(x.shape)}, got {tuple(v.shape)}")
            out[k] = v.to(device=x.device, dtype=x.dtype)
        return out

    # -- input --------------------------------------------------------------------
    def _check_input(self, x) -> torch.Tensor:
        """Check ``x`` is a float ``[N, F, T]`` tensor with T >= 1; build lazily; return it."""
        name = type(self).__name__
        if not isinstance(x, torch.Tensor):
            raise ValueError(f"{name}: input must be a torch.Tensor [N, F, T], got {type(x).__name__}")
        if x.dim() != 3:
            hint = " (for one step use x.unsqueeze(2))" if x.dim() == 2 else ""
            raise ValueError(f"{name}: input must be 3-D [N, F, T], got shape {tuple(x.shape)}{hint}")
        if not x.is_floating_point():
            raise ValueError(f"{name}: input must be a float tensor, got dtype {x.dtype}")
        if x.shape[2] == 0:
            raise ValueError(f"{name}: input has no time steps (shape {tuple(x.shape)})")
        self._build_like(x)
        p = self._a_weight()
        if p is not None and p.dtype != x.dtype:
            raise ValueError(f"{name}: input dtype {x.dtype} differs from the weights' {p.dtype}; "
                             f"convert the input or the layer (e.g. layer.to(torch.float64))")
        return x

    def _step_mask(self, mask, x: torch.Tensor) -> StepMask | None:
        if mask is None:
            return None
        if not isinstance(mask, StepMask):
            return StepMask(mask, x, type(self).__name__)
        if tuple(mask.values.shape) != (x.shape[0], x.shape[2]):
            raise ValueError(f"{type(self).__name__}: mask must be [N, T] = [{x.shape[0]}, "
                             f"{x.shape[2]}] for input of shape {tuple(x.shape)}, got mask of "
                             f"shape {tuple(mask.values.shape)}")
        return mask

    # -- core ---------------------------------------------------------------------
    @layer_in_weight_dtype
    def run(self, x: torch.Tensor, mask=None, state=None, *,
            need_state: bool = True) -> tuple[torch.Tensor, State | None]:
        """Run forward in time over ``x``: the outputs and the final states.

        Args:
            x: ``[N, F, T]``.
            mask: ``[N, T]`` (nonzero = real step), or None.
            state: initial states (dict or list in ``state_keys`` order); None = zeros.
            need_state: when False the final state is not returned (None), which
                lets a fast path skip the work of finding it.

        Returns:
            ``(y, final_state)``: ``y`` ``[N, H, T]`` with exact zeros at masked
            steps; ``final_state`` ``{key: [N, H]}``, each example's state after
            its last real step (None when ``need_state`` is False).
        """
        x = self._check_input(x)
        y, final = self._route(x, self._step_mask(mask, x), self._as_state(state, x), need_state)
        return y, (final if need_state else None)

    @layer_in_weight_dtype
    def reference(self, x: torch.Tensor, mask=None, state=None) -> tuple[torch.Tensor, State]:
        """Same as :meth:`run` through the plain step loop over the cell (no fast path)."""
        x = self._check_input(x)
        return self._reference(x, self._step_mask(mask, x), self._as_state(state, x))

    #: What the layer does while ``torch.compile`` traces it (``Sequential.compile(recurrent=)``
    #: sets it): ``"eager"`` runs :meth:`_run` outside the graph, ``"scan"`` the reference loop
    #: inside it. Export always takes the reference loop.
    compile_path = "eager"

    def _route(self, x: torch.Tensor, mask: StepMask | None, state: State,
               need_state: bool) -> tuple[torch.Tensor, State | None]:
        """:meth:`_run` in eager mode. While tracing (see :mod:`seqkit.layers._tracing`): the
        reference loop (one ``scan``, nothing read on the host) for export and for
        ``compile_path="scan"``; else :meth:`_run` eagerly, outside the graph."""
        if not tracing():
            return self._run(x, mask, state, need_state)
        if self.compile_path == "scan" or torch.compiler.is_exporting():
            return self._reference(x, mask, state)
        values = None if mask is None else mask.values
        return torch.compiler.disable(self._run_outside_graph)(x, values, state, need_state)

    def _run_outside_graph(self, x: torch.Tensor, values: torch.Tensor | None, state: State,
                           need_state: bool) -> tuple[torch.Tensor, State | None]:
        """:meth:`_run` called from a traced graph: the mask analysed anew, eagerly."""
        return self._run(x, self._step_mask(values, x), state, need_state)

    def _run(self, x: torch.Tensor, mask: StepMask | None, state: State,
             need_state: bool) -> tuple[torch.Tensor, State | None]:
        """The fastest route for this configuration; the reference by default."""
        return self._reference(x, mask, state)

    def _reference(self, x: torch.Tensor, mask: StepMask | None,
                   state: State) -> tuple[torch.Tensor, State]:
        raise NotImplementedError

    # -- the layer ----------------------------------------------------------------
    @layer_in_weight_dtype
    def forward(self, x: torch.Tensor, mask=None, initial_state=None):
        """Apply the layer with its flags; see the class docstring.

        Returns:
            ``y`` (``[N, H, T]``, or ``[N, H]`` with ``return_sequences=False``),
            or ``(y, *states)`` with ``return_state=True``.
        """
        x = self._check_input(x)
        step_mask = self._step_mask(mask, x)
        if initial_state is None and self.stateful:
            initial_state = self._stored_state(x)
        state = self._as_state(initial_state, x)
        if self.go_backwards:
            x = x.flip(2)
            step_mask = step_mask.flip() if step_mask is not None else None
        need_state = self.return_state or self.stateful
        y, final = self._route(x, step_mask, state, need_state)
        if self.stateful:
            self._store_state(final)
        if not self.return_sequences:
            y = self._last_output(y, step_mask)
        if self.return_state:
            return (y, *self._returned_states(final))
        return y

    def _returned_states(self, final: State) -> tuple:
        """The states as ``return_state`` gives them (flat, in ``state_keys`` order)."""
        return tuple(final[k] for k in self.state_keys)

    def _last_output(self, y: torch.Tensor, mask: StepMask | None) -> torch.Tensor:
        """``[N, H, T, ...]`` -> ``[N, H, ...]`` at each example's last real step."""
        if mask is None:
            return y[:, :, -1]
        idx = mask.last_index(type(self).__name__)                       # [N]
        rows = torch.arange(y.shape[0], device=y.device)
        return y[rows, :, idx]                                           # [N, H, ...]

    # -- stateful -----------------------------------------------------------------
    def _stored_state(self, x: torch.Tensor) -> State | None:
        stored = {k: self._buffers.get("_state_" + k) for k in self.state_keys}
        if any(v is None for v in stored.values()):
            return None
        n = next(iter(stored.values())).shape[0]
        if n != x.shape[0]:
            raise ValueError(
                f"{type(self).__name__}: the stateful layer holds state for a batch of {n} but got "
                f"a batch of {x.shape[0]}; call reset_state() before changing the batch size")
        return stored

    def _store_state(self, state: State | None) -> None:
        for k in self.state_keys:
            value = None if state is None else state[k].detach()
            name = "_state_" + k
            if name in self._buffers:
                self._buffers[name] = value
            else:
                self.register_buffer(name, value, persistent=False)

    def reset_state(self, states=None) -> None:
        """Zero the stored state (next call starts from zeros, any batch size) or set ``states``.

        Args:
            states: None, or a dict / list in ``state_keys`` order of ``[N, H]``
                tensors, stored detached. Only a stateful layer takes states.
        """
        if states is None:
            self._store_state(None)
            return
        name = type(self).__name__
        if not self.stateful:
            raise ValueError(f"{name}: reset_state(states) needs stateful=True")
        if isinstance(states, Mapping):
            values = [states.get(k) for k in self.state_keys]
        else:
            values = flat_tensors(states)
        if len(values) != len(self.state_keys) or any(not isinstance(v, torch.Tensor) for v in values):
            raise ValueError(f"{name}: reset_state expects tensors for {list(self.state_keys)}")
        if len({v.shape[0] for v in values}) != 1:
            raise ValueError(f"{name}: the states disagree on the batch size: "
                             f"{[tuple(v.shape) for v in values]}")
        self._store_state(dict(zip(self.state_keys, values)))

    reset_states = reset_state

    def extra_repr(self) -> str:
        flags = [f for f in ("return_state", "go_backwards", "stateful") if getattr(self, f)]
        if not self.return_sequences:
            flags.append("return_sequences=False")
        return ", ".join([super().extra_repr()] + flags)
