"""seqkit.layers: recurrent, wrapper, convolutional, pooling, normalisation, feed-forward and output layers.

Every layer is a ``torch.nn.Module`` taking NCL input ``[N, F, T]`` (or ``[N, F]``
for feed-forward layers) and an optional ``[N, T]`` mask. See docs/masking.md.
"""

from ._activations import ACTIVATIONS, activation_name, get_activation
from ._base import LAYOUTS, Layer, layer_trait
from ._config import layer_from_config, layer_to_config, register_layer, registered_layers
from ._bidirectional import MERGE_MODES, Bidirectional
from ._compiled_steps import compiled_steps_enabled, set_compiled_steps
from ._conv import Conv2D, Subsampling2D
from ._conv1d import Conv1D
from ._convlstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from ._dense import Dense
from ._float32 import FLOAT32_PRECISIONS, float32_precision, get_float32_precision, set_float32_precision
from ._last_time_step import LastTimeStep
from ._losses import LOSSES, REDUCTIONS, Loss, compute_loss, get_loss
from ._mask_zero import MaskZero
from ._output import LossHead, Output, RnnLoss, RnnOutput
from ._preprocessors import CnnToFeedForward, CnnToRnn, FeedForwardToRnn, Preprocessor, RnnToFeedForward
from ._time_distributed import TimeDistributed
from ._cells import GRUCell, LSTMCell, SimpleRNNCell
from ._graves import GravesLSTM
from ._gru import GRU
from ._lstm import LSTM
from ._recurrent import Recurrent
from ._step_mask import StepMask
from ._rnn import RNN
from ._simple_rnn import SimpleRNN
from ._stacked import StackedRNNCells
from ._activation_layer import Activation
from ._batch_norm import BatchNorm
from ._global_pooling import POOLING_MODES, GlobalPooling
from ._layer_norm import LayerNorm
from ._residual import PROJECTIONS, Residual

__all__ = [
    "ACTIVATIONS",
    "Activation",
    "BatchNorm",
    "Bidirectional",
    "CnnToFeedForward",
    "CnnToRnn",
    "Conv1D",
    "Conv2D",
    "ConvLSTM1D",
    "ConvLSTM2D",
    "ConvLSTM3D",
    "Dense",
    "FLOAT32_PRECISIONS",
    "FeedForwardToRnn",
    "GRU",
    "GRUCell",
    "GlobalPooling",
    "GravesLSTM",
    "LAYOUTS",
    "LOSSES",
    "LSTM",
    "LSTMCell",
    "LastTimeStep",
    "Layer",
    "LayerNorm",
    "Loss",
    "LossHead",
    "MERGE_MODES",
    "MaskZero",
    "Output",
    "POOLING_MODES",
    "PROJECTIONS",
    "Preprocessor",
    "REDUCTIONS",
    "RNN",
    "Recurrent",
    "Residual",
    "RnnLoss",
    "RnnOutput",
    "RnnToFeedForward",
    "SimpleRNN",
    "SimpleRNNCell",
    "StackedRNNCells",
    "StepMask",
    "Subsampling2D",
    "TimeDistributed",
    "activation_name",
    "compiled_steps_enabled",
    "compute_loss",
    "float32_precision",
    "get_activation",
    "get_float32_precision",
    "get_loss",
    "layer_from_config",
    "layer_to_config",
    "layer_trait",
    "register_layer",
    "registered_layers",
    "set_compiled_steps",
    "set_float32_precision",
]
