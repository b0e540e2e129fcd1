"""Listener state in checkpoints: a resumed run's listeners behave as in an uninterrupted run."""

import glob
import json
import os

import numpy as np
import pytest
import torch

import seqkit
from seqkit import InputType, Sequential
from seqkit.network import read_model_file
from seqkit.layers import RnnOutput

from netdata import LSTM, params_of, sequence_data

EPOCHS = 40


def make():
    return Sequential([LSTM(6), RnnOutput(2)], input_type=InputType.recurrent(3), seed=3,
                      learning_rate=0.05)


def task():
    """Random labels to memorise, and the same examples with noise added as validation data:
    the validation score improves for some epochs (best at epoch 7), then worsens."""
    x, y = sequence_data(n=8, f=3, t=6, c=2, seed=0)
    noisy = x + 0.5 * np.random.default_rng(3).standard_normal(x.shape).astype(np.float32)
    return (x, y), (noisy, y)


def _checkpoint_at(directory, epoch: int) -> str:
    found = glob.glob(os.path.join(directory, f"checkpoint-e{epoch:04d}-i*.seqkit"))
    assert len(found) == 1, found
    return found[0]


def test_early_stopping_resumed_mid_patience_stops_at_the_same_epoch(tmp_path):
    train, val = task()
    stop = seqkit.EarlyStopping(patience=3)
    scores = seqkit.ScoreListener(1, printer=None)
    full = make()
    ckpt = seqkit.Checkpoint(tmp_path / "ck", every_epochs=1, keep_last=None)
    full.fit(train, epochs=EPOCHS, batch_size=4, validation=val, listeners=[ckpt, stop, scores],
             progress=False)
    assert stop.stopped_epoch is not None and stop.stopped_epoch < EPOCHS    # it did stop early
    assert stop.stopped_epoch == stop.best_epoch + 3 and stop.best_epoch >= 2

    # resume from the checkpoint one epoch after the best: patience already counts 1
    path = _checkpoint_at(tmp_path / "ck", stop.best_epoch + 1)
    saved = read_model_file(path).training_state["listeners"]
    assert [entry["class"] for entry in saved] == ["Checkpoint", "EarlyStopping", "ScoreListener"]
    assert saved[1]["state"]["wait"] == 1                  # written after every listener's hook ran

    stop2 = seqkit.EarlyStopping(patience=3)
    scores2 = seqkit.ScoreListener(1, printer=None)
    ckpt2 = seqkit.Checkpoint(tmp_path / "ck2", every_epochs=1, keep_last=None)
    resumed = make()
    resumed.fit(train, epochs=EPOCHS, batch_size=4, validation=val, resume_from=path,
                listeners=[ckpt2, stop2, scores2], progress=False)
    assert stop2.stopped_epoch == stop.stopped_epoch and resumed.epoch == full.epoch
    assert (stop2.best, stop2.best_epoch) == (stop.best, stop.best_epoch)
    np.testing.assert_allclose(stop2.history, stop.history, rtol=0, atol=1e-6)
    assert [i for i, _ in scores2.history] == [i for i, _ in scores.history]
    np.testing.assert_allclose([v for _, v in scores2.history], [v for _, v in scores.history],
                               rtol=0, atol=1e-6)
    assert [e[0] for e in scores2.epoch_history] == list(range(1, stop.stopped_epoch + 1))
    # restore_best puts back the best epoch's parameters, saved before the interruption
    for k, v in params_of(resumed).items():
        torch.testing.assert_close(v, params_of(full)[k], atol=1e-6, rtol=0)
    # the resumed Checkpoint knows the files written before the interruption
    assert [os.path.basename(p) for p in ckpt2.saved] == [os.path.basename(p) for p in ckpt.saved]


def test_listener_states_are_json_and_round_trip():
    stop = seqkit.EarlyStopping(patience=4)
    stop.best, stop.best_epoch, stop._wait, stop.history = 0.25, 3, 2, [0.5, 0.3, 0.25, 0.26, 0.27]
    stop._best_state = {"w": torch.arange(6, dtype=torch.float32).reshape(2, 3) / 7,
                        "n": torch.tensor(5, dtype=torch.int64)}
    state = json.loads(json.dumps(stop.state_dict()))
    back = seqkit.EarlyStopping(patience=4)
    back.load_state_dict(state)
    assert (back.best, back.best_epoch, back._wait, back.history, back.stopped_epoch) == \
        (0.25, 3, 2, [0.5, 0.3, 0.25, 0.26, 0.27], None)
    assert set(back._best_state) == {"w", "n"}
    assert torch.equal(back._best_state["w"], stop._best_state["w"])     # exact, bit for bit
    assert back._best_state["n"].dtype == torch.int64 and int(back._best_state["n"]) == 5

    score = seqkit.ScoreListener(2, printer=None)
    score.history, score.epoch_history = [(2, 0.5), (4, 0.4)], [(1, 0.45, None), (2, 0.4, 0.6)]
    again = seqkit.ScoreListener(2, printer=None)
    again.load_state_dict(json.loads(json.dumps(score.state_dict())))
    assert again.history == score.history and again.epoch_history == score.epoch_history

    assert seqkit.ProgressBar().state_dict() == {}
    assert seqkit.Listener().state_dict() == {}


def test_bad_listener_state_is_a_clear_error(tmp_path):
    with pytest.raises(ValueError, match=r"EarlyStopping: cannot restore state: missing 'best_epoch'"):
        seqkit.EarlyStopping().load_state_dict({"best": 1.0})
    stop = seqkit.EarlyStopping()
    with pytest.raises(ValueError, match=r"EarlyStopping: cannot restore state: best_parameters\['w'\]"):
        stop.load_state_dict({"best": 1.0, "best_epoch": 1, "stopped_epoch": None, "wait": 0,
                              "history": [1.0], "best_parameters": {"w": {"dtype": "float32",
                                                                          "shape": [2], "data": "AAAA"}}})


def _stored(**item):
    return {"best": 1.0, "best_epoch": 1, "stopped_epoch": None, "wait": 0, "history": [1.0],
            "best_parameters": {"w": {"dtype": "float32", "shape": [2], "data": "AAAAAAAAAAA=", **item}}}


@pytest.mark.parametrize("listener,state,match", [
    (seqkit.ScoreListener(), [1, 2], r"ScoreListener: cannot restore state: expected a dict, got list"),
    (seqkit.ScoreListener(), {"history": [[1, "x"]], "epoch_history": []},
     r"ScoreListener: cannot restore state: bad history"),
    (seqkit.Checkpoint, {"saved": "a.seqkit"}, r"Checkpoint: cannot restore state: 'saved' must be a list"),
    (seqkit.EarlyStopping(), dict(_stored(), wait="many"), r"EarlyStopping: cannot restore state: bad value"),
    (seqkit.EarlyStopping(), _stored(dtype="load"), r"best_parameters\['w'\] has an unknown dtype"),
    (seqkit.EarlyStopping(), _stored(data="!!"), r"best_parameters\['w'\] is not a stored tensor"),
    (seqkit.EarlyStopping(), _stored(shape=[-1]), r"best_parameters\['w'\] has an unknown dtype or a bad shape"),
])
def test_each_bad_state_is_a_clear_error(tmp_path, listener, state, match):
    if listener is seqkit.Checkpoint:
        listener = seqkit.Checkpoint(tmp_path)
    with pytest.raises(ValueError, match=match):
        listener.load_state_dict(state)


def test_a_refused_state_on_resume_names_the_checkpoint_and_listener(tmp_path):
    train, _ = task()
    ckpt = seqkit.Checkpoint(tmp_path, every_epochs=1, keep_last=None)
    make().fit(train, epochs=1, batch_size=8, listeners=[ckpt, seqkit.ScoreListener(printer=None)],
               progress=False)

    class Strict(seqkit.Listener):
        def load_state_dict(self, state):
            raise ValueError("Strict: cannot restore state: never")

    Strict.__name__ = "ScoreListener"                                     # claims the saved state
    with pytest.raises(ValueError, match=r"resume_from .*checkpoint-e0001.*: listener 0 "
                                         r"\(ScoreListener\): Strict: cannot restore state: never"):
        make().fit(train, epochs=2, batch_size=8, resume_from=ckpt.saved[-1], listeners=[Strict()],
                   progress=False)


class Unsaveable(seqkit.Listener):
    def state_dict(self):
        return {"when": object()}


def test_unsaveable_listener_state_names_the_listener(tmp_path):
    train, _ = task()
    ckpt = seqkit.Checkpoint(tmp_path, every_epochs=1)
    with pytest.raises(seqkit.ModelFileError, match=r"training_state\['listeners'\]\[1\]\['state'\]\['when'\]"):
        make().fit(train, epochs=1, batch_size=8, listeners=[ckpt, Unsaveable()], progress=False)


def test_listeners_match_by_class_and_position(tmp_path):
    train, _ = task()
    a, b = seqkit.ScoreListener(1, printer=None), seqkit.ScoreListener(2, printer=None)
    ckpt = seqkit.Checkpoint(tmp_path / "ck", every_epochs=1, keep_last=None)
    make().fit(train, epochs=2, batch_size=4, listeners=[a, ckpt, b], progress=False)
    path = _checkpoint_at(tmp_path / "ck", 1)
    # another order, no Checkpoint, and a third ScoreListener: the k-th ScoreListener gets the
    # k-th saved one's state; one without a saved counterpart starts afresh
    a2, b2, c2 = (seqkit.ScoreListener(1, printer=None), seqkit.ScoreListener(2, printer=None),
                  seqkit.ScoreListener(1, printer=None))
    make().fit(train, epochs=2, batch_size=4, resume_from=path, progress=False, listeners=[a2, b2, c2])
    assert [i for i, _ in a2.history] == [1, 2, 3, 4] and [i for i, _ in b2.history] == [2, 4]
    np.testing.assert_allclose([v for _, v in a2.history], [v for _, v in a.history], atol=1e-6)
    assert [i for i, _ in c2.history] == [3, 4] and [e[0] for e in c2.epoch_history] == [2]
