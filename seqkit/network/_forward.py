"""Running a network's layer stack: masks, preprocessors, input dropout, carried states.

One engine serves every mode of :class:`seqkit.Sequential`:

- plain forward (standard training, ``output``): each layer is called as
  ``layer(x, mask)``, so its flags (``return_sequences``, ``go_backwards``...)
  apply;
- carried state (TBPTT segments, ``rnn_time_step``): every recurrent layer
  runs through ``layer.run(x, mask, state)`` from the state of the previous
  segment or call and hands back its final state;
- truncated gradient window (TBPTT with ``tbptt_back_length`` shorter than
  the segment): each recurrent layer runs the first ``Tseg - back`` steps
  without autograd and the last ``back`` steps with it, starting from the
  (detached) state reached at the split. See :func:`run_recurrent`.

Masks travel as a ``StepMask`` (device values plus a CPU copy, so recurrent
layers choose their fast path without a device sync): layers that take one
(``takes_step_mask``: recurrent layers, ``LastTimeStep`` around one) get the
``StepMask``, every other layer its ``[N, T]`` values. After each layer the
mask for the next is what the layer says (its self-description, see
``seqkit.layers.Layer``): the mask its steps follow (``compute_mask``: the
same mask, or the one ``MaskZero`` derives from the data), reversed after a
layer that reverses time (``go_backwards`` with sequence output), so each
example's real steps stay where its output put them; none once the time axis
is gone (``LastTimeStep``...).

:func:`network_output` is the one place that runs the layers up to the
output layer and applies it (``forward``, ``output``, ``score``,
``evaluate``, training and streaming all go through it); :func:`loss_mask`
is the one rule for the mask the loss uses.

Preprocessors (inserted ones and those placed in the layer list, DL4J style)
get the network's *original* batch size N as ``batch_size`` (the number of
examples, not the current number of rows), and the mask follows them through
their ``forward_mask``: between ``RnnToFeedForward`` and ``FeedForwardToRnn``
it is a row mask ``[N*T]`` (wrapped the same way; only its values are used,
by the feed-forward layers on the rows), after ``FeedForwardToRnn`` the
``[N, T]`` mask again, so the layers after the chain see it in their layout.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..layers import LossHead, Preprocessor, StepMask, layer_trait
from ._shapes import carries_state, layer_name, reduces_time, reverses_time

__all__ = ["loss_mask", "make_mask", "network_output", "output_mask", "run_layers", "run_recurrent",
           "slice_mask"]


def make_mask(values: torch.Tensor | None, host: torch.Tensor | None, like: torch.Tensor) -> StepMask | None:
    """A ``StepMask`` from a device ``[N, T]`` mask and its CPU copy, checked against ``like``.

    Shape:
        values, host: ``[N, T]``; like: ``[N, F, T, ...]`` (time at dim 2).
    """
    if values is None:
        return None
    if values.dim() != 2 or like.dim() < 3 or values.shape[0] != like.shape[0] \
            or values.shape[1] != like.shape[2]:
        raise ValueError(f"features_mask must be [N, T] = [{like.shape[0]}, "
                         f"{like.shape[2] if like.dim() > 2 else '?'}] for features of shape "
                         f"{tuple(like.shape)}, got {tuple(values.shape)}")
    values = values.to(like.dtype) if values.dtype != like.dtype and like.is_floating_point() else values
    return StepMask.wrap(values, host)


def slice_mask(mask, start: int, stop: int):
    """Steps ``[start, stop)`` of ``mask`` (a ``StepMask``, an ``[N, T]`` tensor or None)."""
    if mask is None:
        return None
    if isinstance(mask, torch.Tensor):
        return mask[:, start:stop]
    return mask.slice(start, stop)


def _values(mask: StepMask | None) -> torch.Tensor | None:
    return None if mask is None else mask.values


def _mask_for(layer, mask: StepMask | None):
    """The ``StepMask`` itself for layers that take one (``takes_step_mask``: recurrent layers,
    LastTimeStep around one; they then read padding from its CPU copy, no device sync), else
    its ``[N, T]`` values."""
    if mask is None:
        return None
    return mask if layer_trait(layer, "takes_step_mask") else mask.values


def _own_mask(layer, x: torch.Tensor, mask: StepMask | None) -> StepMask | None:
    """The mask ``layer``'s steps follow for input ``x``, in input order: ``mask`` itself, or
    the one the layer derives (``compute_mask``; MaskZero), wrapped without a CPU copy."""
    values = None if mask is None else mask.values
    own = layer_trait(layer, "compute_mask")(x, values)
    if own is values:
        return mask
    return None if own is None else StepMask.wrap(own)


def _last_step(y: torch.Tensor, mask: StepMask | None, where: str) -> torch.Tensor:
    """``[N, H, T, ...] -> [N, H, ...]`` at each example's last real step."""
    if mask is None:
        return y[:, :, -1]
    idx = mask.last_index(where)                                          # [N]
    rows = torch.arange(y.shape[0], device=y.device)
    return y[rows, :, idx]


def run_recurrent(layer, x: torch.Tensor, mask, state, back: int | None = None):
    """``layer.run`` from ``state``, with the gradient window limited to the last ``back`` steps.

    With ``back`` < T the first ``T - back`` steps run under ``no_grad``: their
    outputs feed the layers above (whose own parameters, the output layer's
    included, still learn from every step), but no gradient from them reaches
    this layer or anything below it. The last ``back`` steps start from the
    state reached at the split, detached, and carry the gradient.

    Shape:
        x ``[N, F, T, ...]``; mask ``[N, T]``; returns ``y [N, H, T, ...]`` and the final state.
    """
    t = x.shape[2]
    if back is None or back >= t:
        return layer.run(x, mask, state)
    k = t - back
    with torch.no_grad():
        y_head, mid = layer.run(x[:, :, :k], slice_mask(mask, 0, k), state)
    y_tail, final = layer.run(x[:, :, k:], slice_mask(mask, k, t), mid)
    return torch.cat([y_head, y_tail], dim=2), final


def _fits(mask: torch.Tensor, y: torch.Tensor) -> bool:
    """True when ``mask`` is a step mask ``[N, T]`` for ``y [N, H, T, ...]`` or a row mask ``[R]``
    for rows ``y [R, ...]`` (2-D vectors, 4-D images)."""
    if mask.dim() == 1:
        return y.dim() in (2, 4) and mask.shape[0] == y.shape[0]
    return mask.dim() == 2 and y.dim() >= 3 and tuple(mask.shape) == (y.shape[0], y.shape[2])


def _apply_preprocessor(pre: Preprocessor, x: torch.Tensor, mask: StepMask | None, batch_size: int):
    """``pre`` on ``x`` with the original batch size N; the mask carried into the output's layout.

    Shape:
        x and mask in the preprocessor's input layout (``[N, F, T]`` with
        ``[N, T]``, rows ``[N*T, F]`` with ``[N*T]``...); returns the output
        and the mask for it (a ``StepMask`` around the new values, or None).

    Raises:
        ValueError: the preprocessor's ``forward_mask`` gives a mask that does
            not fit its own output (a custom preprocessor that changes the
            layout without saying how the mask follows).
    """
    y = pre(x, _values(mask), batch_size=batch_size)
    if mask is None:
        return y, None
    values = pre.forward_mask(mask.values, batch_size=batch_size)
    if values is None:
        return y, None
    if not _fits(values, y):
        raise ValueError(f"{type(pre).__name__}: forward_mask gives a mask of shape "
                         f"{tuple(values.shape)}, which does not fit its output of shape "
                         f"{tuple(y.shape)}; it must be [N, T] for [N, F, T] output or a row mask "
                         f"[R] for [R, F] rows (override forward_mask)")
    host = None if mask.host is None else pre.forward_mask(mask.host, batch_size=batch_size)
    return y, StepMask.wrap(values, host)


def _mask_after(layer, mask: StepMask | None, x: torch.Tensor, y: torch.Tensor) -> StepMask | None:
    """The mask for a (non-preprocessor) layer's output ``y``: None once the time axis (or,
    for a row mask, the row count) is gone; else the mask the layer's steps follow
    (:func:`_own_mask`), reversed after a layer that reverses time."""
    if mask is not None and mask.values.dim() == 1:                     # row mask [R]
        return mask if _fits(mask.values, y) else None
    if x.dim() < 3 or y.dim() < 3 or y.dim() < x.dim() or y.shape[2] != x.shape[2]:
        return None                                                      # no time axis (any more)
    mask = _own_mask(layer, x, mask)
    if mask is None:
        return None
    return mask.flip() if reverses_time(layer) else mask


def run_layers(net, x: torch.Tensor, mask: StepMask | None, *, stop: int | None = None,
               training: bool = False, states: dict | None = None, back: int | None = None,
               collect: list | None = None):
    """Run layers ``0 .. stop-1`` of ``net`` on ``x``; return ``(h, mask)``.

    Args:
        net: the ``Sequential``.
        x: the network input (features), already on the device.
        mask: the features mask as a ``StepMask``, or None.
        stop: run up to this layer index (exclusive); default all layers.
        training: apply each layer's input dropout.
        states: carried-state mode: ``{layer index: state dict}``, read and
            updated in place (new states stored detached). A time-reducing
            layer (``LastTimeStep``, ``return_sequences=False``; streaming only,
            TBPTT rejects them) runs its recurrent layer over the chunk from
            the stored state and outputs the chunk's last real step.
        back: the TBPTT gradient window (carried-state mode only).
        collect: a list that receives every layer's output (after layer i).

    Shape:
        x ``[N, F, T]`` (or the input type's layout); returns the output of
        layer ``stop - 1`` and the mask for it: ``[N, T]`` values, a row mask
        ``[N*T]`` for rows (after ``RnnToFeedForward``), or None once the
        time axis is gone.
    """
    layers = net.layers
    stop = len(layers) if stop is None else stop
    pres = net.preprocessors
    batch_size = x.shape[0]                        # N, for preprocessors that restore time (symbolic when traced)
    for i in range(stop):
        layer = layers[i]
        key = str(i)
        if key in pres:
            x, mask = _apply_preprocessor(pres[key], x, mask, batch_size)
        rate = net.dropout_rates[i]
        if training and rate > 0.0:
            x = F.dropout(x, rate, training=True)
        if isinstance(layer, Preprocessor):
            x, mask = _apply_preprocessor(layer, x, mask, batch_size)
        elif states is not None and carries_state(layer):
            x, mask = _run_carried(i, layer, x, mask, states, back)
        else:
            y = layer(x, _mask_for(layer, mask))
            if isinstance(y, (tuple, list)):                              # return_state=True
                y = y[0]
            mask = _mask_after(layer, mask, x, y)
            x = y
        if collect is not None:
            collect.append(x)
    return x, mask


def _run_carried(i: int, layer, x, mask, states: dict, back):
    """A recurrent layer (or a wrapper around one) from ``states[i]``; stores the new state.

    ``run`` goes forward in time (layers that reverse time cannot run here)
    and keeps the time axis, except ``LastTimeStep.run``.
    """
    y, final = run_recurrent(layer, x, _mask_for(layer, mask), states.get(i), back)
    states[i] = {k: v.detach() for k, v in final.items()}
    if y.dim() < x.dim():                                                # LastTimeStep.run
        return y, None
    if reduces_time(layer):
        # streaming only (TBPTT rejects it): the output at the chunk's last real step
        return _last_step(y, _own_mask(layer, x, mask), f"layer {i} ({layer_name(layer)})"), None
    return y, _own_mask(layer, x, mask)


def loss_mask(net, labels_mask: torch.Tensor | None, mask: StepMask | None, h: torch.Tensor):
    """The mask the loss (and evaluation) uses: the labels mask when there is one, else, for
    per-step output, the features mask where the output's steps hold it (:func:`output_mask`);
    None otherwise.

    A mask a layer derives from the data (``MaskZero``) steers the layers
    after it, not the loss: training (``fit``, ``Sequential.loss``) finds the
    same mask from the features mask alone, without running the layers.

    Shape:
        labels_mask ``[N, T]`` or None; mask: the features mask; h (the output
        layer's input) ``[N, H, T]`` or ``[N, H]``.
    """
    if labels_mask is not None:
        return labels_mask
    if mask is not None and h.dim() == 3:
        return output_mask(net, mask.values)
    return None


def network_output(net, x: torch.Tensor, mask: StepMask | None, *, logits: bool = False,
                   labels_mask: torch.Tensor | None = None, training: bool = False,
                   states: dict | None = None, back: int | None = None):
    """Run every layer; return ``(output, loss mask)``.

    The layers up to the output layer run through :func:`run_layers`; an
    output layer (``LossHead``) then gives its activation's output, or its
    pre-activation with ``logits=True`` (what the loss takes: stable
    log-softmax). A network without an output layer returns the last layer's
    output. The loss mask is :func:`loss_mask`'s; a per-step output is zeroed
    where it is 0.

    Shape:
        x ``[N, F, T]`` (or the input type's layout); returns ``[N, C, T]`` or
        ``[N, C]``, and ``[N, T]`` or None.
    """
    last = len(net.layers) - 1
    head = net.layers[last]
    if not isinstance(head, LossHead):
        h, m = run_layers(net, x, mask, training=training, states=states, back=back)
        return h, (None if m is None or m.values.dim() != 2 else m.values)
    h, _ = run_layers(net, x, mask, stop=last, training=training, states=states, back=back)
    lmask = loss_mask(net, labels_mask, mask, h)
    return (head.preactivation(h) if logits else head(h, lmask)), lmask


def output_mask(net, mask: torch.Tensor | None) -> torch.Tensor | None:
    """The mask of the network's output steps for features mask ``mask``, without running it.

    The features mask, reversed once for every layer that reverses time;
    None when a layer removes the time axis (the output is ``[N, C]``). A mask
    a layer derives from the data (``MaskZero``) is not in it (see :func:`loss_mask`).

    Shape:
        mask ``[N, T]`` or None; returns ``[N, T]`` or None.
    """
    if mask is None or not net.built:
        return mask
    if len(net.output_shapes[-1]) < 2:
        return None                                                       # [N, C] output
    if sum(reverses_time(layer) for layer in net.layers) % 2:
        mask = mask.flip(1)
    return mask
