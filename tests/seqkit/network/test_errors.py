"""Error paths of the network helpers: input types, data, updaters, listeners, streaming."""

import functools

import numpy as np
import pytest
import torch

import seqkit
from seqkit import ConfigError, InputType, Sequential
from seqkit.network._data import ArrayBatches, as_source
from seqkit.network._updaters import SCHEDULES, describe_callable, make_optimizer, restore_callable
from seqkit.layers import Dense, RnnOutput

from netdata import LSTM, sequence_data


def test_input_type_checks_and_round_trip():
    for it in (InputType.recurrent(3), InputType.feed_forward(5),
               InputType.convolutional(8, 6, 3, sequence=True)):
        assert InputType.from_dict(it.to_dict()) == it
    assert repr(InputType.convolutional(8, 6, 3)) == "InputType.convolutional(8, 6, 3)"
    assert InputType.convolutional(8, 6, 3).shape(sequence=True) == (3, None, 8, 6)
    with pytest.raises(ConfigError, match="n_features must be a positive int, got 0"):
        InputType.recurrent(0)
    with pytest.raises(ConfigError, match="cannot read"):
        InputType.from_dict({"kind": "graph"})
    with pytest.raises(ConfigError, match="input_type must be an InputType"):
        Sequential([LSTM(2), RnnOutput(2)], input_type=3)


def test_data_errors():
    with pytest.raises(ValueError, match="labels has 3 examples .* but features has 4"):
        ArrayBatches(np.zeros((4, 2, 3)), np.zeros((3, 2, 3)))
    with pytest.raises(ValueError, match="batch_size must be a positive int"):
        ArrayBatches(np.zeros((4, 2, 3)), batch_size=0)
    with pytest.raises(TypeError, match="pass arrays as a tuple"):
        as_source(np.zeros((2, 3, 4)))
    with pytest.raises(TypeError, match="data must be a readers.SequenceBatches"):
        as_source(42)
    net = Sequential([LSTM(3), RnnOutput(2)], input_type=InputType.recurrent(2))
    with pytest.raises(TypeError, match="expected a readers.Batch or a tuple"):
        net.fit(["not a batch"], progress=False)
    with pytest.raises(ValueError, match="score needs labels"):
        net.score((np.zeros((2, 2, 3), np.float32),))
    with pytest.raises(ValueError, match="epochs must be a positive int"):
        net.fit((np.zeros((2, 2, 3), np.float32),), epochs=0)
    with pytest.raises(ValueError, match=r"features_mask must be \[N, T\] = \[2, 3\]"):
        net.output(np.zeros((2, 2, 3), np.float32), mask=np.ones((2, 4), np.float32))


def test_updater_and_schedule_errors():
    params = [{"params": [torch.nn.Parameter(torch.zeros(2))]}]
    with pytest.raises(ConfigError, match="must return a torch.optim.Optimizer"):
        make_optimizer(lambda groups: "sgd", params, 0.1)
    with pytest.raises(ConfigError, match="updater must be a name"):
        Sequential([LSTM(2), RnnOutput(2)], updater=3)
    with pytest.raises(ConfigError, match="lr_schedule must be a callable"):
        Sequential([LSTM(2), RnnOutput(2)], lr_schedule="step")
    with pytest.raises(ConfigError, match="unknown lr_schedule_interval 'batch'; allowed: epoch, iteration"):
        Sequential([LSTM(2), RnnOutput(2)], lr_schedule_interval="batch")
    # only allow-listed classes with JSON arguments are described; nothing else is imported
    step = functools.partial(torch.optim.lr_scheduler.StepLR, step_size=2)
    assert describe_callable(step, SCHEDULES) == {"class": "StepLR", "kwargs": {"step_size": 2}}
    assert describe_callable(functools.partial(torch.optim.lr_scheduler.LambdaLR, lr_lambda=abs),
                             SCHEDULES) is None
    with pytest.raises(ConfigError, match="'os.system' is not one seqkit loads"):
        restore_callable({"class": "os.system", "kwargs": {}}, SCHEDULES, "lr_schedule")


def test_listener_argument_errors(tmp_path):
    with pytest.raises(ValueError, match="every must be a positive int"):
        seqkit.ScoreListener(0)
    with pytest.raises(ValueError, match="give every_iterations, every_epochs or both"):
        seqkit.Checkpoint(tmp_path, every_epochs=None)
    with pytest.raises(ValueError, match="metric must be 'score' or 'accuracy'"):
        seqkit.EarlyStopping(metric="f1")
    net = Sequential([LSTM(3), RnnOutput(2)], input_type=InputType.recurrent(2))
    x, y = sequence_data(n=2, f=2, t=3, c=2)
    with pytest.raises(TypeError, match="listeners must be seqkit Listener objects"):
        net.fit((x, y), listeners=[print])


def test_streaming_needs_a_built_network():
    net = Sequential([LSTM(3), Dense(2), RnnOutput(2)])
    with pytest.raises(ValueError, match="rnn_time_step: the network is not built yet"):
        net.rnn_time_step(np.zeros((1, 2), np.float32))


def test_the_prefetch_stream_waits_for_batches_already_on_the_gpu(monkeypatch):
    """A batch already on the GPU (e.g. written by a shuffle's index_select on the current stream) is
    read on the prefetch stream only after that stream's work, and recorded there (CPU-checkable)."""
    from seqkit.network._data import guard_side_stream

    calls = []

    class FakeStream:
        def wait_stream(self, other):
            calls.append(("wait", other))

    class FakeTensor:
        def __init__(self, kind):
            self.device = torch.device(kind) if kind == "cpu" else type("D", (), {"type": kind})()

        def record_stream(self, stream):
            calls.append(("record", self))

    current = object()
    monkeypatch.setattr(torch.cuda, "current_stream", lambda device=None: current)
    side = FakeStream()
    on_gpu, on_cpu = FakeTensor("cuda"), FakeTensor("cpu")
    guard_side_stream(side, torch.device("cpu"), (on_gpu, None, on_cpu))
    assert calls == [("wait", current), ("record", on_gpu)]
    calls.clear()
    guard_side_stream(side, torch.device("cpu"), (on_cpu, None))
    assert calls == []                                   # host batches need no wait: the copy orders itself
