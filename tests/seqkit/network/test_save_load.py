"""save / load / resume: same outputs, stored updater state, exact resume, damaged files."""

import functools
import os

import numpy as np
import pytest
import torch

import readers
import seqkit
from seqkit import ConfigError, InputType, Sequential
from seqkit.layers import Dense, LastTimeStep, Output, RnnOutput

from netdata import GRU, LSTM, SimpleRNN, Recorder, params_of, sequence_data

STEP_LR = functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.7)


def make(**kwargs):
    kwargs.setdefault("lr_schedule", STEP_LR)
    return Sequential([LSTM(6), seqkit.options(Dense(4, activation="tanh"), dropout=0.2, l2=1e-3),
                       GRU(4), RnnOutput(2)], input_type=InputType.recurrent(3), seed=9,
                      learning_rate=0.01, **kwargs)


def test_save_load_same_output_settings_and_counters(tmp_path):
    net = Sequential([LSTM(5), LastTimeStep(SimpleRNN(4)), seqkit.options(Dense(3), l1=0.5), Output(2)],
                     input_type=InputType.recurrent(3), seed=1, l2=1e-4, dtype=torch.float64,
                     updater=functools.partial(torch.optim.SGD, lr=0.05, momentum=0.9))
    x, y = sequence_data(n=4, f=3, t=6, c=2, per_step=False)
    net.fit((x.astype(np.float64), y), epochs=2, batch_size=2, progress=False)
    path = tmp_path / "net.seqkit"
    net.save(path)
    loaded = seqkit.load(path)
    np.testing.assert_array_equal(loaded.output(x), net.output(x))
    assert loaded.summary() == net.summary()
    assert (loaded.iteration, loaded.epoch, loaded.dtype, loaded.l2) == (4, 2, torch.float64, 1e-4)
    assert seqkit.options(loaded.layers[2]) is loaded.layers[2]
    from seqkit.network._options import layer_options
    assert layer_options(loaded.layers[2]) == {"l1": 0.5}
    assert loaded.updater.func is torch.optim.SGD and loaded.updater.keywords == {"lr": 0.05, "momentum": 0.9}
    assert loaded.optimizer.state_dict()["state"].keys() == net.optimizer.state_dict()["state"].keys()


def test_training_continues_identically_after_save_and_load(tmp_path):
    x, y = sequence_data(n=8, f=3, t=5, c=2)
    a = make()
    a.fit((x, y), epochs=1, batch_size=4, shuffle=True, progress=False)
    a.save(tmp_path / "a.seqkit")
    b = seqkit.load(tmp_path / "a.seqkit")
    ra, rb = Recorder(), Recorder()
    a.fit((x, y), epochs=2, batch_size=4, shuffle=True, listeners=[ra], progress=False)
    b.fit((x, y), epochs=2, batch_size=4, shuffle=True, listeners=[rb], progress=False)
    assert ra.scores == rb.scores
    pa, pb = params_of(a), params_of(b)
    assert all(torch.equal(pa[k], pb[k]) for k in pa)


class Crash(seqkit.Listener):
    def __init__(self, at):
        self.at = at

    def on_iteration_end(self, state):
        if state.iteration == self.at:
            raise KeyboardInterrupt("simulated crash")


def _csv_data(tmp_path, x, y):
    for i in range(len(x)):
        np.savetxt(tmp_path / f"f{i}.csv", x[i].T, delimiter=",")
        np.savetxt(tmp_path / f"l{i}.csv", y[i].argmax(0), fmt="%d")
    n = len(x) - 1
    feats = readers.CSVSequenceReader(readers.NumberedFiles(str(tmp_path / "f%d.csv"), 0, n))
    labels = readers.CSVSequenceReader(readers.NumberedFiles(str(tmp_path / "l%d.csv"), 0, n))
    return lambda: readers.SequenceBatches(feats, labels, batch_size=4, num_classes=2, shuffle=True,
                                           seed=5, align="align_start")


@pytest.mark.parametrize("kind, crash_at", [("sequence_batches", 5),   # mid-epoch (batch 2 of 3)
                                             ("arrays", 6)])            # at an epoch end
def test_resume_gives_the_losses_of_an_uninterrupted_run(tmp_path, kind, crash_at):
    x, y = sequence_data(n=12, f=3, t=5, c=2)
    if kind == "arrays":
        def data():
            return (x, y)
        fit_args = {"batch_size": 4, "shuffle": True}
    else:
        data, fit_args = _csv_data(tmp_path, x, y), {}
    full = Recorder()
    make().fit(data(), epochs=3, listeners=[full], progress=False, **fit_args)
    assert len(full.scores) == 9

    ckpt = seqkit.Checkpoint(tmp_path / "ck", every_iterations=1, every_epochs=None, keep_last=None)
    with pytest.raises(KeyboardInterrupt):
        make().fit(data(), epochs=3, listeners=[ckpt, Crash(crash_at)], progress=False, **fit_args)
    path = seqkit.Checkpoint.latest(tmp_path / "ck")
    assert path.endswith(f"i{crash_at:09d}.seqkit")

    resumed = Recorder()
    net = make()
    net.fit(data(), epochs=3, resume_from=path, listeners=[resumed], progress=False, **fit_args)
    assert resumed.iterations == list(range(crash_at + 1, 10))
    np.testing.assert_allclose(resumed.scores, full.scores[crash_at:], rtol=0, atol=1e-6)
    assert net.epoch == 3 and net.iteration == 9


def test_custom_updater_is_not_stored_and_must_be_given_to_train(tmp_path):
    net = Sequential([LSTM(3), RnnOutput(2)], input_type=InputType.recurrent(2), seed=0,
                     updater=lambda params: torch.optim.SGD(params, lr=0.1))
    x, y = sequence_data(n=2, f=2, t=3, c=2)
    net.fit((x, y), progress=False)
    net.save(tmp_path / "n.seqkit")
    loaded = seqkit.load(tmp_path / "n.seqkit")
    np.testing.assert_array_equal(loaded.output(x), net.output(x))
    with pytest.raises(ConfigError, match="custom updater.*pass updater= to seqkit.load"):
        loaded.fit((x, y), progress=False)
    again = seqkit.load(tmp_path / "n.seqkit", updater=lambda params: torch.optim.SGD(params, lr=0.1))
    again.fit((x, y), progress=False)
    assert again.iteration == 2


def test_damaged_files_are_clear_errors(tmp_path):
    net = Sequential([LSTM(3), RnnOutput(2)], input_type=InputType.recurrent(2))
    path = tmp_path / "n.seqkit"
    net.save(path)
    data = path.read_bytes()
    (tmp_path / "cut.seqkit").write_bytes(data[: len(data) // 2])
    with pytest.raises(seqkit.ModelFileError):
        seqkit.load(tmp_path / "cut.seqkit")
    with pytest.raises(FileNotFoundError):
        seqkit.load(tmp_path / "missing.seqkit")


def test_resume_into_another_architecture_is_refused(tmp_path):
    net = Sequential([LSTM(3), RnnOutput(2)], input_type=InputType.recurrent(2))
    net.save(tmp_path / "n.seqkit")
    other = Sequential([GRU(3), RnnOutput(2)], input_type=InputType.recurrent(2))
    x, y = sequence_data(n=2, f=2, t=3, c=2)
    with pytest.raises(ValueError, match=r"checkpoint holds layers \['LSTM', 'RnnOutput'\] but this "
                                         r"network has \['GRU', 'RnnOutput'\]"):
        other.fit((x, y), resume_from=tmp_path / "n.seqkit")
    assert os.path.exists(tmp_path / "n.seqkit")
