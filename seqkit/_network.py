"""Sequential: a stack of seqkit layers with training, inference, streaming and save/load.

The class is assembled from mixins, one concern per module:
:mod:`seqkit._inference` (``output``, ``predict``, ``score``, ``evaluate``,
``summary``), :mod:`seqkit._training` (``fit``, TBPTT), :mod:`seqkit._streaming`
(``rnn_time_step`` and stored states) and :mod:`seqkit._persist` (``save``).
This module holds construction: settings, checks, shape inference and
weight initialisation.
"""

from __future__ import annotations

import contextlib
import math
from typing import Sequence

import torch
from torch import nn

from ._errors import ConfigError
from ._inference import InferenceMixin
from ._input_type import InputType
from ._options import check_option, resolve_option
from ._parameters import apply_weight_init
from ._persist import PersistMixin
from ._forward import carries_state
from ._shapes import (check_supported, core_layer, guess_input_type, layer_name, needs_sequence,
                      plan_stack, reduces_time, stepwise_obstacle)
from ._streaming import StreamingMixin
from ._training import TrainingMixin
from ._updaters import check_updater
from .layers._output import LossHead, RnnLoss, RnnOutput
from .layers._recurrent import Recurrent
from .layers._losses import REDUCTIONS

__all__ = ["BACKPROP", "PRECISIONS", "Sequential"]

#: How truncated BPTT words each obstacle of seqkit._shapes.stepwise_obstacle.
_TBPTT_REFUSALS = {
    "bidirectional": "TBPTT cannot train a Bidirectional layer (its backward direction needs the "
                     "whole sequence)",
    "go_backwards": "TBPTT cannot carry the state of a go_backwards layer from one segment to the next",
    "mixes_steps": "TBPTT cannot train a Conv1D with kernel_size > 1: each segment would be "
                   "convolved on its own, without the steps just before it",
}

#: Backpropagation modes.
BACKPROP: tuple[str, ...] = ("standard", "tbptt")
#: Precision settings.
PRECISIONS: tuple = (None, "32", "bf16-mixed")


def _positive_int(value, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ConfigError(f"{what} must be a positive int, got {value!r}")
    return value


def _check_grad_clip(value):
    if value is None:
        return None
    if isinstance(value, (tuple, list)) and len(value) == 2 and value[0] in ("norm", "value"):
        kind, limit = value
    else:
        kind, limit = "norm", value
    if isinstance(limit, bool) or not isinstance(limit, (int, float)) or not math.isfinite(limit) \
            or limit <= 0:
        raise ConfigError(f"grad_clip must be a positive number (clip the global norm), "
                          f"('norm', v) or ('value', v), got {value!r}")
    return (kind, float(limit))


class Sequential(TrainingMixin, StreamingMixin, InferenceMixin, PersistMixin, nn.Module):
    """A stack of layers trained as one network (DL4J's ``MultiLayerNetwork``).

    Args:
        layers: seqkit layers in order; the last is an output layer
            (``Output``, ``RnnOutput`` or ``RnnLoss``) for training.
        input_type: an :class:`InputType`; with it (or with the first
            layer's ``n_in``) every ``n_in`` is inferred and the network is
            built now. Otherwise it is built from the first batch it sees.
        seed: seeds parameter initialisation and the network's own random
            stream (dropout), and the shuffle of array data: the same seed
            gives identical parameters and identical training losses. The
            network's random stream is separate from torch's global one.
        updater: a name (``"adam"``, ``"adamw"``, ``"sgd"``, ``"rmsprop"``,
            ``"nadam"``, ``"adagrad"``, ``"adadelta"``, ``"adamax"``) used with
            ``learning_rate``, or a callable ``param_groups -> torch.optim.Optimizer``.
        learning_rate: for a named updater; a layer's ``seqkit.options(...,
            learning_rate=)`` overrides it for that layer (its own param group).
        lr_schedule: a callable ``optimizer -> torch.optim.lr_scheduler`` scheduler.
        lr_schedule_interval: ``"epoch"`` (default: ``scheduler.step()`` after
            every epoch) or ``"iteration"`` (after every minibatch).
        weight_init: ``"xavier"`` (Glorot uniform, default), ``"xavier_normal"``,
            ``"he"``/``"kaiming"`` (He normal, fan in), ``"orthogonal"``,
            ``"zeros"``, or ``"keras"`` (each layer's own initialisers). Applies
            to kernels; biases keep the layer's values (LSTM forget bias 1.0).
            It runs when the network is built, on every layer (layers built
            before included): load pretrained weights into ``net.layers[i]``
            after constructing the network.
        weight_init_recurrent: for recurrent kernels (``weight_hh``);
            ``"orthogonal"`` by default, as Keras.
        l1, l2: weight penalties added to the loss: ``l1 * sum|w|`` and
            ``0.5 * l2 * sum(w^2)`` over kernels, recurrent kernels and
            peepholes, never biases (DL4J's).
        dropout: drop rate (not DL4J's retain probability) applied to every
            layer's input in training, the first layer's included (DL4J's
            ``dropOut`` semantics). Override per layer with ``seqkit.options``.
        dtype: parameter dtype (float32 or float64).
        backprop: ``"standard"`` or ``"tbptt"`` (truncated BPTT).
        tbptt_length: TBPTT segment length (forward length).
        tbptt_back_length: TBPTT gradient window (<= tbptt_length; None = the same).
        loss_reduction: ``"per_sequence"`` (DL4J: sum over real steps / N) or
            ``"per_step"`` (mean over real steps).
        grad_clip: None, a float (clip the global gradient norm), ``("norm", v)``
            or ``("value", v)`` (clip each gradient element to ``[-v, v]``).
        device: where parameters and batches live (``"cpu"``, ``"cuda"``...).
        precision: None / ``"32"`` (full precision) or ``"bf16-mixed"``
            (``torch.autocast`` with bfloat16; CUDA, or CPU where supported).

    Raises:
        ConfigError: at construction, for a stack that cannot connect (naming
            the layer index and class and both sizes), unknown names (listing
            the allowed ones), and TBPTT with a layer it cannot train.
    """

    def __init__(self, layers: Sequence[nn.Module], *, input_type: InputType | None = None,
                 seed: int | None = None, updater="adam", learning_rate: float = 1e-3,
                 lr_schedule=None, lr_schedule_interval: str = "epoch", weight_init: str = "xavier",
                 weight_init_recurrent: str = "orthogonal", l1: float = 0.0, l2: float = 0.0,
                 dropout: float = 0.0, dtype: torch.dtype = torch.float32, backprop: str = "standard",
                 tbptt_length: int = 20, tbptt_back_length: int | None = None,
                 loss_reduction: str = "per_sequence", grad_clip=None, device=None, precision=None):
        super().__init__()
        layers = list(layers)
        if not layers:
            raise ConfigError("Sequential needs at least one layer")
        for i, layer in enumerate(layers):
            if not isinstance(layer, nn.Module):
                raise ConfigError(f"layer {i}: expected a seqkit layer (torch.nn.Module), got "
                                  f"{type(layer).__name__}")
            check_supported(i, layer)
            if isinstance(layer, LossHead) and i != len(layers) - 1:
                raise ConfigError(f"layer {i} ({layer_name(layer)}) is an output layer but is not last; "
                                  f"output layers end the network")
        if input_type is not None and not isinstance(input_type, InputType):
            raise ConfigError(f"input_type must be an InputType (e.g. InputType.recurrent(F)), got "
                              f"{type(input_type).__name__}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ConfigError(f"seed must be an int or None, got {seed!r}")
        check_updater(updater)
        owner = "Sequential"
        self.learning_rate = check_option("learning_rate", learning_rate, owner)
        self.weight_init = check_option("weight_init", weight_init, owner)
        self.weight_init_recurrent = check_option("weight_init_recurrent", weight_init_recurrent, owner)
        self.l1 = check_option("l1", l1, owner)
        self.l2 = check_option("l2", l2, owner)
        self.dropout = check_option("dropout", dropout, owner)
        if dtype not in (torch.float32, torch.float64):
            raise ConfigError(f"dtype must be torch.float32 or torch.float64, got {dtype!r}")
        if backprop not in BACKPROP:
            raise ConfigError(f"unknown backprop {backprop!r}; allowed: {', '.join(BACKPROP)}")
        if loss_reduction not in ("per_sequence", "per_step"):
            raise ConfigError(f"unknown loss_reduction {loss_reduction!r}; allowed: per_sequence, "
                              f"per_step (see seqkit.layers.REDUCTIONS {list(REDUCTIONS)})")
        if lr_schedule_interval not in ("epoch", "iteration"):
            raise ConfigError(f"lr_schedule_interval must be 'epoch' or 'iteration', got "
                              f"{lr_schedule_interval!r}")
        if lr_schedule is not None and not callable(lr_schedule):
            raise ConfigError("lr_schedule must be a callable optimizer -> torch.optim.lr_scheduler")
        if precision not in PRECISIONS:
            raise ConfigError(f"unknown precision {precision!r}; allowed: None, '32', 'bf16-mixed'")
        self.tbptt_length = _positive_int(tbptt_length, "tbptt_length")
        if tbptt_back_length is not None:
            _positive_int(tbptt_back_length, "tbptt_back_length")
            if tbptt_back_length > tbptt_length:
                raise ConfigError(f"TBPTT: tbptt_back_length={tbptt_back_length} must not exceed "
                                  f"tbptt_length={tbptt_length}")
        self.tbptt_back_length = tbptt_back_length
        self.seed, self.updater, self.lr_schedule = seed, updater, lr_schedule
        self.lr_schedule_interval = lr_schedule_interval
        self.dtype, self.backprop, self.loss_reduction = dtype, backprop, loss_reduction
        self.grad_clip = _check_grad_clip(grad_clip)
        self.precision = None if precision == "32" else precision
        self._device = torch.device(device) if device is not None else torch.device("cpu")
        self.layers = nn.ModuleList(layers)
        self.preprocessors = nn.ModuleDict()
        self.input_type = input_type
        self.output_shapes: list[tuple] | None = None
        self._output_batches: list[str] | None = None      # "N" or "N*T" (rows), per layer
        self._init_state()
        if backprop == "tbptt":
            self._check_tbptt()
        guess = input_type if input_type is not None else guess_input_type(layers)
        if guess is not None:
            self._build(guess)

    # -- state --------------------------------------------------------------------------------
    def _init_state(self) -> None:
        self.iteration = 0                 # minibatches trained on, over every fit call
        self.epoch = 0                     # epochs completed
        self.updates = 0                   # optimizer steps (several per minibatch under TBPTT)
        self._batch_in_epoch = 0
        self._fit_start_epoch = 0
        self._optimizer = None
        self._scheduler = None
        self._pending = {}                 # optimizer / scheduler state waiting for the optimizer
        self._rng_state: dict = {}
        self._stream_state: dict[int, dict] = {}
        self._fit_listeners = None         # during fit: the listeners, whose states checkpoints hold
        if self.seed is not None:
            self._stream_seed = self.seed
        else:
            self._stream_seed = int(torch.randint(0, 2 ** 62, ()).item())
        self._dropout_rates = [resolve_option(layer, "dropout", self.dropout) for layer in self.layers]

    @property
    def built(self) -> bool:
        """True once every layer has its parameters (``n_in`` known)."""
        return self.output_shapes is not None

    @property
    def device(self) -> torch.device:
        """The device of the parameters (or the one asked for, before any exist)."""
        p = next(self.parameters(), None)
        return p.device if p is not None else self._device

    def to(self, *args, **kwargs):
        """``torch.nn.Module.to``; also remembered for a network not built yet."""
        device, dtype, _, _ = torch._C._nn._parse_to(*args, **kwargs)
        if device is not None:
            self._device = torch.device(device)
        if dtype in (torch.float32, torch.float64):
            self.dtype = dtype
        return super().to(*args, **kwargs)

    def _apply(self, fn, *args, **kwargs):
        out = super()._apply(fn, *args, **kwargs)
        p = next(self.parameters(), None)
        if p is not None:
            self._device = p.device
            if p.dtype in (torch.float32, torch.float64):
                self.dtype = p.dtype
        self._stream_state = {}
        if getattr(self, "_optimizer", None) is not None:      # keep the updater state with its params
            for param, state in self._optimizer.state.items():
                for key, value in state.items():
                    if isinstance(value, torch.Tensor) and value.dim() > 0 and value.device != param.device:
                        state[key] = value.to(param.device)
        return out

    # -- checks -------------------------------------------------------------------------------
    def _check_tbptt(self) -> None:
        for i, layer in enumerate(self.layers):
            name = f"layer {i} ({layer_name(layer)})"
            obstacle = stepwise_obstacle(layer)
            if obstacle == "bidirectional":
                raise ConfigError(f"{name}: {_TBPTT_REFUSALS[obstacle]}; use backprop='standard'")
            if reduces_time(layer):
                raise ConfigError(f"{name} removes the time axis (LastTimeStep or return_sequences="
                                  f"False), which TBPTT cannot train: every segment needs per-step "
                                  f"outputs and labels; use backprop='standard'")
            if obstacle is not None:
                raise ConfigError(f"{name}: {_TBPTT_REFUSALS[obstacle]}; use backprop='standard'")
            if isinstance(core_layer(layer), Recurrent) and not carries_state(layer):
                raise ConfigError(f"{name}: TBPTT cannot carry state through this wrapper "
                                  f"(it has no run(x, mask, state)); use backprop='standard'")
        last = self.layers[-1]
        if isinstance(last, LossHead) and not isinstance(last, (RnnOutput, RnnLoss)):
            raise ConfigError(f"layer {len(self.layers) - 1} ({layer_name(last)}): TBPTT needs a "
                              f"per-step output layer (RnnOutput or RnnLoss)")

    def _check_trainable(self) -> LossHead:
        last = self.layers[-1]
        if not isinstance(last, LossHead):
            raise ConfigError(f"cannot fit: the last layer, layer {len(self.layers) - 1} "
                              f"({layer_name(last)}), is not an output layer; end the network with "
                              f"Output, RnnOutput or RnnLoss")
        return last

    # -- building -----------------------------------------------------------------------------
    def _build(self, input_type: InputType) -> None:
        """Infer shapes, insert preprocessors, build and initialise every layer."""
        sequence = any(needs_sequence(layer) for layer in self.layers)
        shape = input_type.shape(sequence)
        fork = self.seed is not None
        ctx = torch.random.fork_rng(devices=[]) if fork else contextlib.nullcontext()
        with ctx:
            if fork:
                torch.manual_seed(self.seed)
            plan = plan_stack(list(self.layers), shape, dtype=self.dtype)
            for layer in self.layers:
                apply_weight_init(layer, self.weight_init, self.weight_init_recurrent)
        self.preprocessors = nn.ModuleDict({str(i): p for i, p in plan.preprocessors.items()})
        self.input_type = input_type
        self.input_shape = plan.input_shape
        self.output_shapes = plan.shapes
        self._output_batches = plan.batches
        self.to(device=self._device, dtype=self.dtype)

    def _ensure_built(self, features_shape) -> None:
        """Build from the first features batch when the input size was not known earlier."""
        if self.built:
            return
        from ._shapes import input_type_from_features

        self._build(input_type_from_features(features_shape))

    def _autocast(self):
        """``torch.autocast`` for ``precision="bf16-mixed"``, else a no-op context."""
        if self.precision != "bf16-mixed":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    def extra_repr(self) -> str:
        it = repr(self.input_type) if self.input_type is not None else "None"
        return f"input_type={it}, backprop={self.backprop!r}"
