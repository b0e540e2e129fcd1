"""fit: data forms, reproducibility, clipping, schedules, NaN handling, listeners, evaluate."""

import functools
import io
import os

import numpy as np
import pytest
import torch

import readers
import seqkit
from seqkit import InputType, Sequential
from seqkit.network import default_progress
from seqkit.layers import Dense, LastTimeStep, Output, RnnOutput

from netdata import LSTM, SimpleRNN, Recorder, one_hot, params_of


def sign_task(n=16, t=8, seed=0):
    """Per-step labels: class 1 where the single feature is positive."""
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, 1, t)).astype(np.float32)
    return x, one_hot((x[:, 0, :] > 0).astype(int), 2)


def small_net(**kwargs):
    kwargs.setdefault("seed", 0)
    return Sequential([LSTM(8), RnnOutput(2)], input_type=InputType.recurrent(1), **kwargs)


def test_fit_on_arrays_learns():
    x, y = sign_task()
    net = small_net(learning_rate=0.05)
    before = net.score((x, y))
    net.fit((x, y), epochs=15, batch_size=8, progress=False)
    assert net.score((x, y)) < 0.5 * before
    assert net.iteration == 30 and net.epoch == 15
    assert (net.predict(x) == y.argmax(1)).mean() > 0.9


def test_fit_on_batches_and_on_sequence_batches(tmp_path):
    x, y = sign_task(n=8, t=5)
    for i in range(8):
        np.savetxt(tmp_path / f"f{i}.csv", x[i, 0], delimiter=",")
        np.savetxt(tmp_path / f"l{i}.csv", y[i].argmax(0), fmt="%d")
    feats = readers.CSVSequenceReader(readers.NumberedFiles(str(tmp_path / "f%d.csv"), 0, 7))
    labels = readers.CSVSequenceReader(readers.NumberedFiles(str(tmp_path / "l%d.csv"), 0, 7))
    data = readers.SequenceBatches(feats, labels, batch_size=4, num_classes=2, shuffle=True, seed=3)
    a = small_net()
    rec = Recorder()
    a.fit(data, epochs=2, listeners=[rec], progress=False)
    assert len(rec.scores) == 4 and data.epoch == 2
    batches = [readers.Batch(x[:4], y[:4], None, None, list(range(4))),
               readers.Batch(x[4:], y[4:], None, None, list(range(4, 8)))]
    b = small_net()
    b.fit(batches, epochs=2, progress=False)
    c = small_net()
    c.fit((x, y), epochs=2, batch_size=4, progress=False)
    assert all(torch.equal(p, q) for p, q in zip(b.parameters(), c.parameters()))


def test_one_shot_iterator_only_for_one_epoch():
    x, y = sign_task(n=4)
    net = small_net()
    with pytest.raises(ValueError, match="one-shot iterator.*epochs=2"):
        net.fit(iter([(x, y)]), epochs=2)
    net.fit(((x[i:i + 2], y[i:i + 2]) for i in (0, 2)), progress=False)
    assert net.iteration == 2


def test_same_seed_same_losses_with_dropout_and_global_rng_untouched():
    x, y = sign_task()

    def run(seed):
        net = small_net(dropout=0.3, seed=seed)
        rec = Recorder()
        net.fit((x, y), epochs=3, batch_size=4, shuffle=True, listeners=[rec], progress=False)
        return rec.scores, params_of(net)

    state = torch.get_rng_state()
    (s1, p1), (s2, p2) = run(11), run(11)
    assert torch.equal(torch.get_rng_state(), state)
    assert s1 == s2 and all(torch.equal(p1[k], p2[k]) for k in p1)
    assert run(12)[0] != s1


def test_grad_clip_by_value_bounds_each_step():
    x, y = sign_task(n=4)
    net = small_net(updater=functools.partial(torch.optim.SGD, lr=1.0), grad_clip=("value", 1e-3))
    before = params_of(net)
    net.fit((x, y), progress=False)
    after = params_of(net)
    assert max(float((after[k] - before[k]).abs().max()) for k in before) <= 1e-3 + 1e-7


def test_grad_clip_by_norm():
    x, y = sign_task(n=4)
    net = small_net(updater=functools.partial(torch.optim.SGD, lr=1.0), grad_clip=0.01)
    before = params_of(net)
    net.fit((x, y), progress=False)
    step = torch.cat([(params_of(net)[k] - before[k]).flatten() for k in before])
    assert float(step.norm()) <= 0.01 + 1e-6


def test_lr_schedule_per_epoch_and_per_iteration():
    x, y = sign_task(n=4)
    step = functools.partial(torch.optim.lr_scheduler.StepLR, step_size=1, gamma=0.5)
    net = small_net(learning_rate=0.1, lr_schedule=step)
    net.fit((x, y), epochs=3, batch_size=2, progress=False)
    assert net.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 3)
    net = small_net(learning_rate=0.1, lr_schedule=step, lr_schedule_interval="iteration")
    net.fit((x, y), epochs=1, batch_size=2, progress=False)
    assert net.optimizer.param_groups[0]["lr"] == pytest.approx(0.1 * 0.5 ** 2)


def test_nan_loss_stops_with_the_iteration_and_a_checkpoint(tmp_path):
    x, y = sign_task(n=12)
    x[8, 0, 3] = np.nan                                         # batch 3 of 4 examples
    net = small_net()
    ckpt = seqkit.Checkpoint(tmp_path / "ck", every_epochs=1)
    with pytest.raises(seqkit.NonFiniteLossError, match=r"NaN or infinite at iteration 3 .*"
                                                        r"written to .*nonfinite-iteration3\.seqkit") as err:
        net.fit((x, y), epochs=2, batch_size=4, listeners=[ckpt], progress=False)
    assert err.value.iteration == 3
    assert os.path.dirname(err.value.checkpoint) == str(tmp_path / "ck")
    assert os.path.exists(err.value.checkpoint)
    # without a Checkpoint listener it goes where nonfinite_dir says
    net = small_net()
    with pytest.raises(seqkit.NonFiniteLossError) as err:
        net.fit((x, y), batch_size=4, check_every=1, progress=False, nonfinite_dir=tmp_path / "bad")
    assert err.value.iteration == 3 and net.iteration == 3 and os.path.exists(err.value.checkpoint)
    assert os.path.dirname(err.value.checkpoint) == str(tmp_path / "bad")


def test_fit_on_data_with_no_batch_is_an_error():
    x, y = sign_task(n=4)
    net = small_net()
    net.fit((x, y), batch_size=4, progress=False)                         # built
    with pytest.raises(ValueError, match="fit: epoch 2 got no batch: the data is empty"):
        net.fit([], progress=False)


def test_progress_is_one_line_per_epoch_off_a_terminal(capsys):
    x, y = sign_task(n=8)
    small_net().fit((x, y), epochs=2, batch_size=4)                        # pytest's stdout is no terminal
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 2 and lines[0].startswith("epoch 1/2 - loss ") and lines[1].endswith(" s")
    small_net().fit((x, y), epochs=2, batch_size=4, progress=False)
    assert capsys.readouterr().out == ""


def test_score_listener_prints_every_n():
    x, y = sign_task(n=8)
    lines = []
    listener = seqkit.ScoreListener(2, printer=lines.append)
    small_net().fit((x, y), epochs=2, batch_size=2, listeners=[listener], progress=False)
    its = [it for it, _ in listener.history]
    assert its == [2, 4, 6, 8]
    assert lines[0].startswith("iteration 2 (epoch 1, batch 2): score ")
    assert any(line.startswith("epoch 2: mean score") for line in lines)


def test_checkpoint_keeps_the_last_k(tmp_path):
    x, y = sign_task(n=8)
    ckpt = seqkit.Checkpoint(tmp_path, every_iterations=1, every_epochs=None, keep_last=2)
    small_net().fit((x, y), epochs=2, batch_size=2, listeners=[ckpt], progress=False)
    files = sorted(os.listdir(tmp_path))
    assert files == ["checkpoint-e0001-i000000007.seqkit", "checkpoint-e0001-i000000008.seqkit"]
    assert seqkit.Checkpoint.latest(tmp_path).endswith("i000000008.seqkit")
    loaded = seqkit.load(seqkit.Checkpoint.latest(tmp_path))
    assert loaded.iteration == 8


def test_early_stopping_stops_and_restores_the_best():
    x, y = sign_task(n=8)
    stop = seqkit.EarlyStopping(patience=2)
    net = small_net(updater=functools.partial(torch.optim.SGD, lr=0.0))   # nothing improves
    net.fit((x, y), epochs=20, batch_size=4, validation=(x, y), listeners=[stop], progress=False)
    assert stop.best_epoch == 1 and stop.stopped_epoch == 3 and net.epoch == 3
    with pytest.raises(ValueError, match="EarlyStopping needs validation data"):
        small_net().fit((x, y), listeners=[seqkit.EarlyStopping()])


def test_early_stopping_on_accuracy_keeps_going_while_it_improves():
    x, y = sign_task()
    stop = seqkit.EarlyStopping(patience=3, metric="accuracy")
    small_net(learning_rate=0.05).fit((x, y), epochs=4, batch_size=8, validation=(x, y),
                                      listeners=[stop], progress=False)
    assert len(stop.history) == 4 and max(stop.history) > 0.6


def test_progress_bar_default_and_explicit(monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    monkeypatch.delenv("CI", raising=False)
    assert default_progress()
    monkeypatch.setenv("CI", "true")
    assert not default_progress()
    out = io.StringIO()
    x, y = sign_task(n=4)
    small_net().fit((x, y), epochs=2, batch_size=2, listeners=[seqkit.ProgressBar(1, file=out)])
    assert "epoch 2/2" in out.getvalue() and "score" in out.getvalue()


def test_evaluate_classification_uses_labels_mask_and_keys():
    x, y = sign_task(n=6, t=5)
    lm = np.ones((6, 5), np.float32)
    lm[:, :2] = 0
    net = small_net()
    ev = net.evaluate(readers.Batch(x, y, None, lm, [f"s{i}" for i in range(6)]))
    assert isinstance(ev, seqkit.Evaluation)
    pred = net.output(x).argmax(1)
    expected = (pred[:, 2:] == y.argmax(1)[:, 2:]).mean()
    assert ev.accuracy() == pytest.approx(expected)


def test_evaluate_regression_network():
    rng = np.random.default_rng(0)
    x = rng.standard_normal((5, 2, 4)).astype(np.float32)
    y = rng.standard_normal((5, 1, 4)).astype(np.float32)
    net = Sequential([LSTM(3), RnnOutput(1, activation="identity", loss="mse")],
                     input_type=InputType.recurrent(2), seed=0)
    ev = net.evaluate((x, y))
    assert isinstance(ev, seqkit.RegressionEvaluation)
    mse = float(((net.output(x) - y) ** 2).mean())
    assert ev.mean_squared_error(0) == pytest.approx(mse, rel=1e-5)


def test_predict_marks_masked_steps_minus_one():
    x, _ = sign_task(n=2, t=4)
    mask = np.array([[1, 1, 1, 0], [1, 1, 0, 0]], np.float32)
    pred = small_net().predict(x, mask)
    assert pred.shape == (2, 4) and pred.dtype == np.int64
    assert (pred[mask == 0] == -1).all() and (pred[mask == 1] >= 0).all()
    assert small_net().predict(torch.from_numpy(x)).dtype == torch.int64


def test_score_over_batches_is_the_score_of_all_together():
    x, y = sign_task(n=8)
    net = small_net()
    whole = net.score((x, y), batch_size=8)
    assert net.score((x, y), batch_size=3) == pytest.approx(whole, rel=1e-6)
    per_step = small_net(loss_reduction="per_step")
    assert per_step.score((x, y), batch_size=3) == pytest.approx(per_step.score((x, y), batch_size=8),
                                                                 rel=1e-6)


def test_many_to_one_with_last_time_step():
    x, _ = sign_task(n=8, t=6)
    y = one_hot((x[:, 0, -1] > 0).astype(int), 2)
    net = Sequential([LSTM(8), LastTimeStep(SimpleRNN(6)), Dense(6, activation="relu"), Output(2)],
                     input_type=InputType.recurrent(1), seed=0, learning_rate=0.02)
    net.fit((x, y), epochs=3, batch_size=4, progress=False)
    assert net.output(x).shape == (8, 2)


def test_fit_needs_labels():
    x, _ = sign_task(n=2)
    with pytest.raises(ValueError, match="fit needs labels"):
        small_net().fit((x,), progress=False)
