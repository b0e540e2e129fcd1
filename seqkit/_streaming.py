"""Step-by-step inference: ``rnn_time_step`` and the stored recurrent states.

``net.rnn_time_step(x)`` runs a chunk of steps (``[N, F]`` for one step, or
``[N, F, T]``) through the network in eval mode, starting every recurrent
layer from the state the previous call left, and stores the new states
(detached). Feeding a sequence in chunks therefore gives exactly what
``net.output`` gives on the whole sequence.

- States are kept per layer index (the index in the layer list given to
  ``Sequential``): ``{"h": [N, H]}`` for GRU and SimpleRNN, ``{"h", "c"}`` for
  LSTM and GravesLSTM, ConvLSTM's ``[N, F, *spatial]``.
- A layer that reduces time (``LastTimeStep``, or ``return_sequences=False``)
  runs its recurrent layer over the chunk from the stored state and outputs
  the chunk's last step: after each chunk the output is what ``output`` gives
  for the whole sequence so far. (DL4J bypasses such wrappers and returns the
  whole sequence; seqkit keeps the layer's meaning.)
- Bidirectional layers, ``go_backwards`` layers and ``Conv1D`` layers with
  ``kernel_size > 1`` (no carried state: a chunk would miss the steps before
  it) cannot run step by step: an error.
- A chunk whose batch size differs from the stored state's is an error until
  :meth:`rnn_clear_previous_state` (or a new state is set).
"""

from __future__ import annotations

from typing import Mapping

import torch

from ._forward import carries_state, run_layers
from ._inference import _as_tensor, _eval_mode
from ._shapes import layer_name, stepwise_obstacle
from .layers._output import LossHead

__all__ = ["StreamingMixin"]

#: How rnn_time_step words each obstacle of seqkit._shapes.stepwise_obstacle.
_STREAM_REFUSALS = {
    "bidirectional": "is Bidirectional; its backward direction needs the whole sequence, so it "
                     "cannot run step by step (use output() on the whole sequence)",
    "go_backwards": "has go_backwards=True and cannot run step by step",
    "mixes_steps": "is a Conv1D with kernel_size > 1; it keeps no state between calls, so each "
                   "chunk would be convolved without the steps before it (use output() on the "
                   "whole sequence)",
}


class StreamingMixin:
    """``rnn_time_step``, ``rnn_clear_previous_state``, ``rnn_get/set_previous_state``."""

    def _stream_layers(self) -> list[int]:
        return [i for i, layer in enumerate(self.layers) if carries_state(layer)]

    def _check_streamable(self) -> None:
        for i, layer in enumerate(self.layers):
            name = f"layer {i} ({layer_name(layer)})"
            obstacle = stepwise_obstacle(layer)
            if obstacle is not None:
                raise ValueError(f"rnn_time_step: {name} {_STREAM_REFUSALS[obstacle]}")

    def rnn_time_step(self, x, mask=None):
        """Run a chunk of steps from the stored states; store the new ones.

        Args:
            x: ``[N, F]`` (one step) or ``[N, F, T]`` (T steps); video networks
                take ``[N, C, H, W]`` or ``[N, C, T, H, W]``. numpy or torch.
            mask: optional ``[N, T]`` mask for the chunk (state carried over
                masked steps).

        Returns:
            ``[N, C]`` for a one-step input (or when a layer reduces time),
            else ``[N, C, T]``; numpy for numpy input.

        Raises:
            ValueError: a Bidirectional or go_backwards layer; a batch size
                other than the stored states' (clear them first).
        """
        self._check_streamable()
        xt = _as_tensor(x, "x")
        if not self.built:
            raise ValueError("rnn_time_step: the network is not built yet; give input_type= or "
                             "the first layer's n_in, or run output() once")
        single = xt.dim() == len(self.input_shape)                   # one step without a time axis
        if single:
            xt = xt.unsqueeze(2)
            if mask is not None:
                mask = _as_tensor(mask, "mask").reshape(-1, 1)
        n = xt.shape[0]
        for i, state in self._stream_state.items():
            held = next(iter(state.values())).shape[0]
            if held != n:
                raise ValueError(
                    f"rnn_time_step: layer {i} ({layer_name(self.layers[i])}) holds state for a batch "
                    f"of {held} but got a batch of {n}; call rnn_clear_previous_state() before "
                    f"starting new sequences with a different batch size (or set states of the new "
                    f"size with rnn_set_previous_state)")
        with _eval_mode(self):
            xt, step_mask = self._prepare_input(xt, mask)
            with self._autocast():
                last = len(self.layers) - 1
                head = self.layers[last]
                stop = last if isinstance(head, LossHead) else None
                h, m = run_layers(self, xt, step_mask, stop=stop, states=self._stream_state)
                out = head(h, None if m is None else m.values) if stop is not None else h
        if out.dtype == torch.bfloat16:
            out = out.float()
        if single and out.dim() == 3 and out.shape[2] == 1:
            out = out[:, :, 0]
        return self._like_input(out, x)

    def rnn_clear_previous_state(self) -> None:
        """Forget every stored state: the next :meth:`rnn_time_step` starts from zeros."""
        self._stream_state = {}

    def _check_state_index(self, i) -> None:
        valid = self._stream_layers()
        if isinstance(i, bool) or not isinstance(i, int) or i not in valid:
            names = ", ".join(f"{k} ({layer_name(self.layers[k])})" for k in valid) or "none"
            raise ValueError(f"layer index {i!r} has no recurrent state; layers with state: {names}")

    def rnn_get_previous_state(self, i: int) -> dict:
        """Layer ``i``'s stored state: ``{"h": [N, H]}`` (and ``"c"`` for LSTMs); empty when none.

        The dict is a copy; the tensors are the stored (detached) ones.
        """
        self._check_state_index(i)
        return dict(self._stream_state.get(i, {}))

    def rnn_set_previous_state(self, i: int, state: Mapping) -> None:
        """Set layer ``i``'s state for the next :meth:`rnn_time_step` (stored detached).

        Args:
            i: the layer index.
            state: ``{key: tensor}`` with exactly the layer's state keys
                (``"h"``, and ``"c"`` for LSTMs), each ``[N, H]`` (numpy or torch).

        Raises:
            ValueError: wrong keys, shapes, or batch sizes that disagree.
        """
        self._check_state_index(i)
        layer = self.layers[i]
        keys = tuple(getattr(layer, "state_keys", ("h",)))
        if not isinstance(state, Mapping) or set(state) != set(keys):
            got = sorted(state) if isinstance(state, Mapping) else type(state).__name__
            raise ValueError(f"layer {i} ({layer_name(layer)}): state must be a dict with keys "
                             f"{list(keys)}, got {got}")
        out = {}
        for k in keys:
            t = _as_tensor(state[k], f"state {k!r}").detach().to(device=self.device, dtype=self.dtype)
            out[k] = t
        sizes = {tuple(t.shape) for t in out.values()}
        if len({s[0] for s in sizes}) != 1:
            raise ValueError(f"layer {i} ({layer_name(layer)}): the states disagree on the batch "
                             f"size: {sorted(sizes)}")
        units = getattr(layer, "n_out", None)
        for k, t in out.items():
            if t.dim() < 2 or (units is not None and t.shape[1] != units):
                raise ValueError(f"layer {i} ({layer_name(layer)}): state {k!r} must be [N, {units}], "
                                 f"got {tuple(t.shape)}")
        self._stream_state[i] = out
