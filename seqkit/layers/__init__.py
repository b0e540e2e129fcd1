"""seqkit.layers: recurrent, wrapper, convolutional, feed-forward and output layers.

Every layer is a ``torch.nn.Module`` taking NCL input ``[N, F, T]`` (or ``[N, F]``
for feed-forward layers) and an optional ``[N, T]`` mask. See docs/masking.md.
"""

from ._activations import ACTIVATIONS, get_activation
from ._base import Layer
from ._config import layer_from_config, layer_to_config, register_layer, registered_layers
from ._bidirectional import MERGE_MODES, Bidirectional
from ._conv import Conv2D, Subsampling2D
from ._conv1d import Conv1D
from ._convlstm import ConvLSTM1D, ConvLSTM2D, ConvLSTM3D
from ._dense import Dense
from ._last_time_step import LastTimeStep
from ._losses import LOSSES, REDUCTIONS, Loss, compute_loss, get_loss
from ._mask_zero import MaskZero
from ._output import LossHead, Output, RnnLoss, RnnOutput
from ._preprocessors import CnnToRnn, FeedForwardToRnn, Preprocessor, RnnToFeedForward
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

__all__ = sorted([
    "Bidirectional",
    "ConvLSTM1D",
    "ConvLSTM2D",
    "ConvLSTM3D",
    "LastTimeStep",
    "MaskZero",
    "MERGE_MODES",
    "CnnToRnn",
    "compute_loss",
    "Conv1D",
    "Conv2D",
    "Dense",
    "FeedForwardToRnn",
    "get_loss",
    "Loss",
    "LossHead",
    "LOSSES",
    "Output",
    "Preprocessor",
    "REDUCTIONS",
    "RnnLoss",
    "RnnOutput",
    "RnnToFeedForward",
    "Subsampling2D",
    "TimeDistributed",
    "ACTIVATIONS",
    "get_activation",
    "Layer",
    "layer_from_config",
    "layer_to_config",
    "register_layer",
    "registered_layers",
    "GRU",
    "GRUCell",
    "GravesLSTM",
    "LSTM",
    "LSTMCell",
    "RNN",
    "Recurrent",
    "SimpleRNN",
    "SimpleRNNCell",
    "StackedRNNCells",
    "StepMask",
])
