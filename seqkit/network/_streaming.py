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

from .._errors import ConfigError
from ._forward import network_output
from ._inference import as_tensor, eval_mode, like_input, prepare_input
from ._shapes import carries_state, layer_name, stepwise_obstacle

__all__ = ["StreamState", "get_state", "set_state", "time_step"]

#: How rnn_time_step words each obstacle of seqkit.network._shapes.stepwise_obstacle.
_STREAM_REFUSALS = {
    "bidirectional": "is Bidirectional; its backward direction needs the whole sequence, so it "
                     "cannot run step by step (use output() on the whole sequence)",
    "go_backwards": "has go_backwards=True and cannot run step by step",
    "mixes_steps": "is a Conv1D with kernel_size > 1; it keeps no state between calls, so each "
                   "chunk would be convolved without the steps before it (use output() on the "
                   "whole sequence)",
}


class StreamState:
    """The recurrent states ``rnn_time_step`` carries from one call to the next.

    Attributes:
        layers: ``{layer index: {key: tensor [N, ...]}}``, detached.
    """

    def __init__(self):
        self.layers: dict[int, dict] = {}

    def clear(self) -> None:
        """Forget every state: the next call starts from zeros."""
        self.layers = {}


def _check_streamable(net) -> None:
    for i, layer in enumerate(net.layers):
        obstacle = stepwise_obstacle(layer)
        if obstacle is not None:
            raise ValueError(f"rnn_time_step: layer {i} ({layer_name(layer)}) {_STREAM_REFUSALS[obstacle]}")


def time_step(net, x, mask=None):
    """``net.rnn_time_step`` (see the module docstring).

    Raises:
        ValueError: a Bidirectional or go_backwards layer; a batch size other
            than the stored states' (clear them first).
        ConfigError: the network is not built yet.
    """
    _check_streamable(net)
    xt = as_tensor(x, "x")
    if not net.built:
        raise ConfigError("rnn_time_step: the network is not built yet; give input_type= or "
                         "the first layer's n_in, or run output() once")
    single = xt.dim() == len(net.input_shape)                     # one step without a time axis
    if single:
        xt = xt.unsqueeze(2)
        if mask is not None:
            mask = as_tensor(mask, "mask").reshape(-1, 1)
    n = xt.shape[0]
    for i, state in net.stream.layers.items():
        held = next(iter(state.values())).shape[0]
        if held != n:
            raise ValueError(
                f"rnn_time_step: layer {i} ({layer_name(net.layers[i])}) holds state for a batch "
                f"of {held} but got a batch of {n}; call rnn_clear_previous_state() before "
                f"starting new sequences with a different batch size (or set states of the new "
                f"size with rnn_set_previous_state)")
    with eval_mode(net):
        xt, step_mask = prepare_input(net, xt, mask)
        with net.autocast():
            out = network_output(net, xt, step_mask, states=net.stream.layers)[0]
    if out.dtype == torch.bfloat16:
        out = out.float()
    if single and out.dim() == 3 and out.shape[2] == 1:
        out = out[:, :, 0]
    return like_input(out, x)


def _check_state_index(net, i) -> None:
    valid = [k for k, layer in enumerate(net.layers) if carries_state(layer)]
    if isinstance(i, bool) or not isinstance(i, int) or i not in valid:
        names = ", ".join(f"{k} ({layer_name(net.layers[k])})" for k in valid) or "none"
        raise ValueError(f"layer index {i!r} has no recurrent state; layers with state: {names}")


def get_state(net, i: int) -> dict:
    """Layer ``i``'s stored state: ``{"h": [N, H]}`` (and ``"c"`` for LSTMs); empty when none.

    The dict is a copy; the tensors are the stored (detached) ones.
    """
    _check_state_index(net, i)
    return dict(net.stream.layers.get(i, {}))


def set_state(net, i: int, state: Mapping) -> None:
    """Set layer ``i``'s state for the next ``rnn_time_step`` (stored detached).

    Args:
        i: the layer index.
        state: ``{key: tensor}`` with exactly the layer's state keys
            (``"h"``, and ``"c"`` for LSTMs), each ``[N, H]`` (numpy or torch).

    Raises:
        ValueError: wrong keys, shapes, or batch sizes that disagree.
    """
    _check_state_index(net, i)
    layer = net.layers[i]
    keys = tuple(getattr(layer, "state_keys", ("h",)))
    if not isinstance(state, Mapping) or set(state) != set(keys):
        got = sorted(state) if isinstance(state, Mapping) else type(state).__name__
        raise ValueError(f"layer {i} ({layer_name(layer)}): state must be a dict with keys "
                         f"{list(keys)}, got {got}")
    out = {k: as_tensor(state[k], f"state {k!r}").detach().to(device=net.device, dtype=net.dtype)
           for k in keys}
    sizes = {tuple(t.shape) for t in out.values()}
    if len({s[0] for s in sizes}) != 1:
        raise ValueError(f"layer {i} ({layer_name(layer)}): the states disagree on the batch "
                         f"size: {sorted(sizes)}")
    units = getattr(layer, "n_out", None)
    for k, t in out.items():
        if t.dim() < 2 or (units is not None and t.shape[1] != units):
            raise ValueError(f"layer {i} ({layer_name(layer)}): state {k!r} must be [N, {units}], "
                             f"got {tuple(t.shape)}")
    net.stream.layers[i] = out
