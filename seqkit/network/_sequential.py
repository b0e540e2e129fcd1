"""Sequential: a stack of seqkit layers as one torch module, with training, inference,
streaming and saving.

This file is the network's whole public surface. Each method is short and
hands the work to the module that does it, with the network as an argument:
:mod:`._fit` (training, one :class:`~._fit.FitRun` per call), :mod:`._inference`
(output, score, evaluate), :mod:`._streaming` (``rnn_time_step``),
:mod:`._saving` (the model file), :mod:`._forward` (running the layers) and
:mod:`._shapes` (building the stack from an input type).
"""

from __future__ import annotations

import contextlib
from typing import Mapping, Sequence

import torch
from torch import nn

from .._errors import ConfigError
from ..layers import GRUCell, LossHead, Recurrent, StepMask
from . import _export, _fit, _inference, _saving, _streaming, _summary
from ._data_description import DataDescription
from ._forward import make_mask, network_output, output_mask
from ._input_type import InputType
from ._optimization import Optimization, TrainingProgress
from ._options import check_option, resolve_option
from ._parameters import apply_weight_init
from ._random_stream import RandomStream
from ._settings import (BACKPROP, LOSS_REDUCTIONS, PRECISIONS, check_choice, check_dtype, check_grad_clip,
                        positive_int)
from ._shapes import (check_stack, check_tbptt, guess_input_type, input_type_from_features, layer_name,
                      needs_sequence, plan_stack)
from ._updaters import check_updater

__all__ = ["Sequential"]


class Sequential(nn.Module):
    """A stack of layers trained as one network (DL4J's ``MultiLayerNetwork``), and a torch module.

    ``net(x, mask)`` is its forward: usable in your own training loop with
    any ``torch.optim`` optimizer (see :meth:`forward` and :meth:`loss`),
    under ``DistributedDataParallel``, ``torch.compile`` and export.

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
        check_stack(layers)
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
        self.dtype = check_dtype(dtype)
        self.backprop = check_choice(backprop, BACKPROP, "backprop")
        self.loss_reduction = check_choice(loss_reduction, LOSS_REDUCTIONS, "loss_reduction")
        check_choice(lr_schedule_interval, ("epoch", "iteration"), "lr_schedule_interval")
        if lr_schedule is not None and not callable(lr_schedule):
            raise ConfigError("lr_schedule must be a callable optimizer -> torch.optim.lr_scheduler")
        check_choice(precision, PRECISIONS, "precision")
        self.tbptt_length = positive_int(tbptt_length, "tbptt_length")
        positive_int(tbptt_back_length, "tbptt_back_length", allow_none=True)
        if tbptt_back_length is not None and tbptt_back_length > tbptt_length:
            raise ConfigError(f"TBPTT: tbptt_back_length={tbptt_back_length} must not exceed "
                              f"tbptt_length={tbptt_length}")
        self.tbptt_back_length = tbptt_back_length
        self.seed = seed
        self.grad_clip = check_grad_clip(grad_clip)
        self.precision = None if precision == "32" else precision
        self._device = torch.device(device) if device is not None else torch.device("cpu")
        self.layers = nn.ModuleList(layers)
        self.preprocessors = nn.ModuleDict()
        self.input_type = input_type
        self.input_shape: tuple | None = None
        self.output_shapes: list[tuple] | None = None
        self.output_batches: list[str] | None = None       # "N" or "N*T" (rows), per layer
        #: Each layer's input dropout rate (the network's, or the layer's ``seqkit.options``).
        self.dropout_rates = [resolve_option(layer, "dropout", self.dropout) for layer in self.layers]
        self.progress = TrainingProgress()
        self.optimization = Optimization(updater, self.learning_rate, lr_schedule, lr_schedule_interval)
        self.random_stream = RandomStream(seed)
        self.stream = _streaming.StreamState()
        #: What the network expects of its data (columns, classes, normaliser); see DataDescription.
        self.data_description: DataDescription | None = None
        if backprop == "tbptt":
            check_tbptt(self.layers)
        guess = input_type if input_type is not None else guess_input_type(layers)
        if guess is not None:
            self.build(guess)

    # -- settings and counters kept by the helpers --------------------------------------------
    @property
    def updater(self):
        """The updater: a name or a callable ``param_groups -> torch.optim.Optimizer``."""
        return self.optimization.updater

    @property
    def lr_schedule(self):
        """The learning-rate schedule callable, or None."""
        return self.optimization.lr_schedule

    @property
    def lr_schedule_interval(self) -> str:
        """``"epoch"`` or ``"iteration"``: when the schedule steps."""
        return self.optimization.interval

    @property
    def iteration(self) -> int:
        """Minibatches trained on, over every ``fit`` call."""
        return self.progress.iteration

    @property
    def epoch(self) -> int:
        """Epochs completed, over every ``fit`` call."""
        return self.progress.epoch

    @property
    def updates(self) -> int:
        """Optimizer steps (several per minibatch under TBPTT)."""
        return self.progress.updates

    @property
    def optimizer(self) -> torch.optim.Optimizer:
        """The torch optimizer (created on first use, after the network is built)."""
        if not self.built:
            raise ConfigError("the network is not built yet, so it has no optimizer; give input_type= "
                              "or the first layer's n_in, or call fit/output once")
        return self.optimization.ensure(self.layers)

    @property
    def scheduler(self):
        """The learning-rate scheduler, or None."""
        if self.built:
            self.optimization.ensure(self.layers)
        return self.optimization.scheduler

    # -- building and placement ---------------------------------------------------------------
    @property
    def built(self) -> bool:
        """True once every layer has its parameters (``n_in`` known)."""
        return self.output_shapes is not None

    def build(self, input_type: InputType) -> None:
        """Infer shapes, insert preprocessors, build and initialise every layer for ``input_type``."""
        sequence = any(needs_sequence(layer) for layer in self.layers)
        shape = input_type.shape(sequence)
        fork = self.seed is not None
        with torch.random.fork_rng(devices=[]) if fork else contextlib.nullcontext():
            if fork:
                torch.manual_seed(self.seed)
            plan = plan_stack(list(self.layers), shape, dtype=self.dtype)
            for layer in self.layers:
                apply_weight_init(layer, self.weight_init, self.weight_init_recurrent)
        self.preprocessors = nn.ModuleDict({str(i): p for i, p in plan.preprocessors.items()})
        self.input_type = input_type
        self.input_shape = plan.input_shape
        self.output_shapes = plan.shapes
        self.output_batches = plan.batches
        self.to(device=self._device, dtype=self.dtype)

    def ensure_built(self, features_shape) -> None:
        """Build from a features batch's shape (``[N, F, T]``...) when not built yet."""
        if not self.built:
            self.build(input_type_from_features(features_shape))

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
        if "stream" in self.__dict__:                # not during nn.Module set-up
            self.stream.clear()
            self.optimization.follow_parameters()
        return out

    def autocast(self):
        """``torch.autocast`` for ``precision="bf16-mixed"``, else a no-op context."""
        if self.precision != "bf16-mixed":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)

    # -- the torch module ---------------------------------------------------------------------
    def forward(self, x: torch.Tensor, mask: torch.Tensor | StepMask | None = None, *,
                logits: bool = False, state: dict | None = None, back: int | None = None) -> torch.Tensor:
        """The network's output, with autograd, dropout as ``self.training`` says.

        In eval mode it equals :meth:`output` at every step (exact zeros at
        masked steps). It runs as called: no device or dtype conversion, no
        autocast (wrap it in :meth:`autocast` for ``precision="bf16-mixed"``).

        Args:
            x: features on the network's device, in its dtype.
            mask: the features mask ``[N, T]`` (1 = real step), or a
                ``seqkit.layers.StepMask`` carrying a CPU copy too (the fast
                paths then read padding without a device sync).
            logits: return the output layer's pre-activation (what
                :meth:`loss` takes with ``logits=True``: log-softmax, stable).
            state: carried-state mode (truncated BPTT, streaming): ``{layer
                index: state}``, read and updated in place.
            back: truncated BPTT's gradient window (with ``state``).

        Shape:
            x ``[N, F, T]`` (or the input type's layout); mask ``[N, T]``;
            returns ``[N, C, T]`` for per-step output, else ``[N, C]``.
        """
        self.ensure_built(tuple(x.shape))
        step_mask = mask if isinstance(mask, StepMask) or mask is None else make_mask(mask, None, x)
        return network_output(self, x, step_mask, logits=logits, training=self.training, states=state,
                              back=back)[0]

    def loss(self, output: torch.Tensor, labels: torch.Tensor, labels_mask: torch.Tensor | None = None, *,
             mask: torch.Tensor | None = None, logits: bool = False) -> torch.Tensor:
        """The training loss of ``output`` (from :meth:`forward`) against ``labels``, with autograd.

        The output layer's loss, reduced as ``loss_reduction`` says, plus the
        L1/L2 penalty: what ``fit`` minimises.

        Args:
            output: ``net(x, mask)``, or ``net(x, mask, logits=True)`` with
                ``logits=True`` (stabler: softmax + mcxent runs as log-softmax;
                from probabilities they are clipped to ``[1e-10, 1 - 1e-10]`` as DL4J does).
            labels: one-hot or regression targets, the shape of ``output``.
            labels_mask: ``[N, T]`` steps that count (1) for per-step output.
            mask: the features mask given to ``forward``; without a labels
                mask, per-step losses count its real steps (reversed when the
                network ends reversed in time).

        Shape:
            output, labels ``[N, C, T]`` or ``[N, C]``; masks ``[N, T]``; returns a scalar.
        """
        head = self.head()
        if labels_mask is None and output.dim() == 3:
            labels_mask = output_mask(self, mask.values if isinstance(mask, StepMask) else mask)
        return _fit.training_loss(self, head, output, labels, labels_mask, logits=logits)

    def head(self) -> LossHead:
        """The output layer, which ``fit``, ``loss``, ``score`` and ``evaluate`` need.

        Raises:
            ConfigError: the last layer is not an output layer.
        """
        last = self.layers[-1]
        if not isinstance(last, LossHead):
            raise ConfigError(f"the last layer, layer {len(self.layers) - 1} ({layer_name(last)}), is not "
                              f"an output layer; end the network with Output, RnnOutput or RnnLoss to "
                              f"train, score or evaluate it")
        return last

    # -- training -----------------------------------------------------------------------------
    def fit(self, data, epochs: int = 1, *, listeners=(), validation=None, resume_from=None,
            batch_size: int = 32, shuffle: bool = False, progress: bool | None = None,
            check_every: int = 50, nonfinite_dir=None, validation_split: float | None = None) -> "Sequential":
        """Train on ``data`` for ``epochs`` epochs; returns the network (see :mod:`seqkit.network._fit`).

        Args:
            data: a ``readers.SequenceBatches``, any iterable of ``readers.Batch``,
                one ``Batch``, or arrays ``(features, labels[, features_mask,
                labels_mask])`` (numpy or torch); labels may be integer class
                indices ``[N]`` or ``[N, T]`` for a classification head.
            epochs: passes over the data (with ``resume_from``, the same number
                as the interrupted ``fit``).
            listeners: ``seqkit`` listeners (ScoreListener, ProgressBar,
                Checkpoint, EarlyStopping, or your own ``Listener``).
            validation: data for ``state.validation_score()`` (EarlyStopping).
            validation_split: instead of ``validation``, hold out this share
                (0 < share < 1) of ``data``'s sequences as validation data:
                stratified by class, the same split for the same seed; the
                data is read into memory once (see docs/classification.md).
            resume_from: a checkpoint file to continue from exactly.
            batch_size, shuffle: for array data only (epoch e's order is a
                function of the network's seed and e).
            progress: None (default): a progress bar on a terminal outside CI, else one
                line per epoch (loss, time); True: the bar; False: silent.
            check_every: iterations between reads of the device-side NaN/inf flag.
            nonfinite_dir: where the checkpoint of a NaN/inf loss goes (default: the
                first Checkpoint listener's directory, else a new temporary directory).

        Raises:
            ConfigError: the last layer is not an output layer; a checkpoint that does not fit.
            NonFiniteLossError: a NaN or infinite loss (a checkpoint is written).
            ValueError: a one-shot iterator with ``epochs > 1``; no batch; bad data;
                ``validation_split`` not in (0, 1), given with ``validation``, or
                leaving either part empty.
        """
        _fit.fit(self, data, epochs, listeners=listeners, validation=validation, resume_from=resume_from,
                 batch_size=batch_size, shuffle=shuffle, progress=progress, check_every=check_every,
                 nonfinite_dir=nonfinite_dir, validation_split=validation_split)
        return self

    # -- inference ----------------------------------------------------------------------------
    def output(self, x, mask=None, *, labels_mask=None):
        """The network's output for ``x`` in eval mode, without autograd (numpy in, numpy out).

        Args:
            x: features ``[N, F, T]`` (or ``[N, F]``, video ``[N, C, T, H, W]``...).
            mask: the features mask ``[N, T]`` or None. Masked steps output exact zeros.
            labels_mask: for a per-step output layer, zero its output where
                this mask is 0 instead of where ``mask`` is (as DL4J does).

        Shape:
            x ``[N, F, T]``; mask ``[N, T]``; returns ``[N, C, T]`` or ``[N, C]``.
        """
        return _inference.output(self, x, mask, labels_mask=labels_mask)

    def predict(self, x, mask=None):
        """Class indices, the argmax of :meth:`output` over dim 1; ``-1`` at masked steps.

        Shape:
            returns ``[N]`` or ``[N, T]`` int64.
        """
        return _inference.predict(self, x, mask)

    def activations(self, x, mask=None) -> list:
        """Every layer's output for ``x`` (eval mode): entry i is layer i's output."""
        return _inference.activations(self, x, mask)

    def score(self, data, *, regularization: bool = True, batch_size: int = 32) -> float:
        """The loss on ``data`` (eval mode), plus the L1/L2 penalty (DL4J's score).

        Over several batches: the loss of them all taken together (total loss
        / total sequences, or / total real steps with ``loss_reduction="per_step"``).
        """
        return _inference.score(self, data, regularization=regularization, batch_size=batch_size)

    def evaluate(self, data, *, batch_size: int = 32, labels=None, top_n: int = 1):
        """``seqkit.Evaluation`` (or ``RegressionEvaluation`` for mse/mae) on ``data``.

        Per-step outputs count at the steps the labels mask marks real (DL4J's
        rule), else the features mask's; keys and sequence lengths go to the
        evaluation. ``labels``: class names; ``top_n``: top-N accuracy.
        """
        return _inference.evaluate(self, data, batch_size=batch_size, labels=labels, top_n=top_n)

    def summary(self) -> str:
        """A table of the layers: index, layer, output shape, parameter count, and totals."""
        return _summary.summary(self)

    # -- streaming ----------------------------------------------------------------------------
    def rnn_time_step(self, x, mask=None):
        """Run a chunk of steps from the stored recurrent states, and store the new ones.

        Feeding a sequence in chunks gives exactly what :meth:`output` gives
        on the whole sequence. See :mod:`seqkit.network._streaming`.

        Shape:
            x ``[N, F]`` (one step) or ``[N, F, T]``; returns ``[N, C]`` or ``[N, C, T]``.
        """
        return _streaming.time_step(self, x, mask)

    def rnn_clear_previous_state(self) -> None:
        """Forget every stored state: the next :meth:`rnn_time_step` starts from zeros."""
        self.stream.clear()

    def rnn_get_previous_state(self, i: int) -> dict:
        """Layer ``i``'s stored state (``{"h": [N, H]}``, and ``"c"`` for LSTMs); empty when none."""
        return _streaming.get_state(self, i)

    def rnn_set_previous_state(self, i: int, state: Mapping) -> None:
        """Set layer ``i``'s state for the next :meth:`rnn_time_step` (stored detached)."""
        _streaming.set_state(self, i, state)

    # -- saving -------------------------------------------------------------------------------
    def save(self, path) -> None:
        """Write the network to ``path`` atomically: config, parameters, optimizer and schedule
        state, counters and random stream. ``seqkit.load`` reads it back.

        Raises:
            ConfigError: a layer whose config cannot be stored (e.g. a callable activation).
        """
        _saving.save(self, path)

    def compile(self, *args, recurrent: str = "eager", **kwargs) -> None:
        """``torch.nn.Module.compile``: ``net(x, mask)``, ``fit`` and :meth:`output` then run compiled.

        The recurrent layers' eager fast path chooses its kernel from the mask
        read on the host, which a graph cannot do; ``recurrent`` says what they
        do instead (``docs/deploy.md`` compares the two):

        - ``"eager"`` (default; also what ``torch.compile(net)`` does): each
          recurrent layer runs outside the graph (a graph break), eagerly on its fast path
          (fused/cuDNN kernels), exactly as without compile; everything between
          them is compiled.
        - ``"scan"``: they run inside the graph on the device-only path (one
          ``scan`` over time, no host read of the mask: ``seqkit.layers._tracing``),
          the path export uses. Inductor needs dynamo's ``capture_scalar_outputs``
          to lower the scan, so calls run with it on. Refused with inductor for a
          network holding a ``GRU``: torch 2.13's inductor gives wrong gradients for
          its recurrent weights there (a test shows it); ``backend="aot_eager"`` is right.

        Results equal the eager ones to float rounding. Other arguments go to
        ``torch.compile`` (``backend=``, ``mode=``, ``dynamic=``...).
        :meth:`score`, :meth:`evaluate` and :meth:`output` with a labels mask stay eager.

        Raises:
            ConfigError: an unknown ``recurrent``, or the refused combination above.
        """
        if recurrent not in ("eager", "scan"):
            raise ConfigError(f"compile: recurrent must be 'eager' or 'scan', got {recurrent!r}")
        backend = kwargs.get("backend", "inductor")           # torch.compile takes it by keyword only
        if recurrent == "scan" and backend == "inductor":
            for i, layer in enumerate(self.layers):
                if any(isinstance(module, GRUCell) for module in layer.modules()):
                    raise ConfigError(
                        f"compile: layer {i} ({layer_name(layer)}) holds a GRU, whose gradients torch's inductor "
                        f"computes wrongly inside a scan (torch 2.13); use recurrent='eager' (the default) "
                        f"or backend='aot_eager'")
        for module in self.modules():
            if isinstance(module, Recurrent):
                module.compile_path = recurrent
        super().compile(*args, **kwargs)
        compiled = self._compiled_call_impl

        def call(*a, **k):
            with torch._dynamo.config.patch(capture_scalar_outputs=True):
                return compiled(*a, **k)
        self._compiled_call_impl = call

    @property
    def compiled(self) -> bool:
        """True after :meth:`compile`."""
        return getattr(self, "_compiled_call_impl", None) is not None

    def export(self, path, *, standardize: bool = False, logits: bool = False, check: bool = True):
        """Write the network as an ONNX model (``.onnx``) or a ``torch.export`` program (``.pt2``).

        The program's inputs are ``features`` ``[N, F, T]`` and ``mask`` ``[N, T]``
        (1 = real step; left or right padding, or gaps), N and T dynamic; its
        output ``output`` is what :meth:`output` gives. The mask stays a device
        tensor: nothing is read back to the host. Written atomically, then run
        once and compared with :meth:`forward` (1e-5; ONNX with onnxruntime).
        See ``docs/deploy.md``.

        Args:
            path: ends in ``.onnx`` or ``.pt2``.
            standardize: include the data description's ``Standardizer`` (the
                program then takes the features as the data files hold them).
            logits: output the output layer's pre-activation.
            check: run the written file once and compare (see above).

        Returns:
            The path written (a ``pathlib.Path``).

        Raises:
            ConfigError: an unknown suffix, or a layer that cannot be exported,
                named with its index (a stateful layer; what the tracer refuses).

        Shape:
            features ``[N, F, T]``; mask ``[N, T]``; output ``[N, C, T]`` or ``[N, C]``.
        """
        return _export.export_network(self, path, standardize=standardize, logits=logits, check=check)

    def extra_repr(self) -> str:
        it = repr(self.input_type) if self.input_type is not None else "None"
        return f"input_type={it}, backprop={self.backprop!r}"
