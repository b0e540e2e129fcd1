"""seqkit.network: the network as a torch module, and everything around it.

- :class:`Sequential`: a stack of layers; ``net(x, mask)`` is its forward;
  ``fit`` (standard or truncated BPTT), ``output``, ``score``, ``evaluate``,
  ``rnn_time_step`` and ``save``;
- :func:`load`: a network back from its model file; :func:`read_model_file`
  reads the file's parts without building a network; :func:`load_keras`: a
  saved Keras model (``.keras`` or ``.h5``) as a network, weights included;
- :class:`InputType` and :func:`options` (per-layer settings);
- listeners for ``fit`` (:class:`Listener`, :class:`ScoreListener`,
  :class:`ProgressBar`, :class:`Checkpoint`, :class:`EarlyStopping`) and the
  :class:`FitState` they see;
- :class:`SequenceDataset`: ``readers.SequenceBatches`` as a torch
  ``IterableDataset``, split between DataLoader workers;
- the names the settings accept (:data:`BACKPROP`, :data:`UPDATERS`...).

The public names are also importable from ``seqkit`` itself.
"""

from ._data_description import DataDescription
from ._dataset import SequenceDataset
from ._distributed import distributed_world, is_main_process
from ._fit_state import FitState, NonFiniteLossError, default_progress
from ._input_type import InputType
from ._keras_import import from_keras, load_keras
from ._listeners import Checkpoint, EarlyStopping, EpochLog, Listener, ProgressBar, ScoreListener
from ._export import EXPORT_FORMATS, ExportCheckError
from ._load import load
from ._modelfile import ModelFile, ModelFileError, read_model_file
from ._options import OPTION_NAMES, WEIGHT_INITS, options
from ._sequential import Sequential
from ._settings import BACKPROP, LOSS_REDUCTIONS, PRECISIONS
from ._updaters import SCHEDULES, UPDATERS, make_optimizer, make_schedule
from ._validation_split import stratified_split

__all__ = [
    "BACKPROP",
    "Checkpoint",
    "DataDescription",
    "EXPORT_FORMATS",
    "EarlyStopping",
    "EpochLog",
    "ExportCheckError",
    "FitState",
    "InputType",
    "LOSS_REDUCTIONS",
    "Listener",
    "ModelFile",
    "ModelFileError",
    "NonFiniteLossError",
    "OPTION_NAMES",
    "PRECISIONS",
    "ProgressBar",
    "SCHEDULES",
    "ScoreListener",
    "SequenceDataset",
    "Sequential",
    "UPDATERS",
    "WEIGHT_INITS",
    "default_progress",
    "distributed_world",
    "from_keras",
    "is_main_process",
    "load",
    "load_keras",
    "make_optimizer",
    "make_schedule",
    "options",
    "read_model_file",
    "stratified_split",
]
