"""seqkit.models: the FCN and LSTM recipes build, save their schedule, and learn a tiny separable task."""

import numpy as np
import pytest

import seqkit
from seqkit import ConfigError, models


def separable(n=48, f=2, t=16, seed=0):
    """Two classes: a rising or a falling ramp plus noise, variable lengths, right padded."""
    rng = np.random.default_rng(seed)
    x = np.zeros((n, f, t), np.float32)
    mask = np.zeros((n, t), np.float32)
    y = np.arange(n) % 2
    for i in range(n):
        length = rng.integers(8, t + 1)
        ramp = np.linspace(-1, 1, length) * (1 if y[i] else -1)
        x[i, :, :length] = ramp + rng.normal(scale=0.2, size=(f, length))
        mask[i, :length] = 1
    return x, y, mask


@pytest.mark.parametrize("make, epochs", [
    (lambda: models.fcn(2, 2, filters=(16, 32, 16), epochs=15, seed=0), 15),
    (lambda: models.lstm_classifier(2, 2, units=16, epochs=30, seed=0, learning_rate=1e-2), 30),
    (lambda: models.lstm_classifier(2, 2, units=8, layers=2, pooling="avg", epochs=30, seed=0,
                                    learning_rate=1e-2), 30),
])
def test_recipes_learn_a_separable_task(make, epochs):
    x, y, mask = separable()
    net = make()
    net.fit((x, y, mask, None), epochs=epochs, batch_size=16, shuffle=True, progress=False)
    tx, ty, tmask = separable(seed=1)
    assert (net.predict(tx, tmask) == ty).mean() >= 0.9


def test_fcn_has_the_papers_layers_and_saves_its_schedule(tmp_path):
    net = models.fcn(3, 4, seed=0)
    assert net.output_shapes[-2:] == [(128,), (4,)]
    assert [type(layer).__name__ for layer in net.layers][:3] == ["Conv1D", "BatchNorm", "Activation"]
    assert net.grad_clip == ("norm", 1.0) and net.learning_rate == 1e-3
    net.save(tmp_path / "fcn.seqkit")
    loaded = seqkit.load(tmp_path / "fcn.seqkit")
    x = np.random.default_rng(0).normal(size=(2, 3, 10)).astype(np.float32)
    np.testing.assert_array_equal(loaded.output(x), net.output(x))


def test_fcn_batch_norm_momentum():
    norms = [layer for layer in models.fcn(3, 4).layers if type(layer).__name__ == "BatchNorm"]
    assert len(norms) == 3 and {layer.momentum for layer in norms} == {0.9}
    assert {layer.momentum for layer in models.fcn(3, 4, bn_momentum=0.99).layers
            if type(layer).__name__ == "BatchNorm"} == {0.99}


def test_lstm_classifier_last_step_layout():
    net = models.lstm_classifier(5, 3, units=7, layers=2)
    assert [type(layer).__name__ for layer in net.layers] == ["LSTM", "LastTimeStep", "Output"]
    assert net.output_shapes[-1] == (3,)


@pytest.mark.parametrize("call, match", [
    (lambda: models.fcn(0, 2), "n_in"),
    (lambda: models.fcn(2, 2.5), "n_classes"),
    (lambda: models.fcn(2, 2, epochs=0), "epochs"),
    (lambda: models.fcn(2, 2, filters=(8, 8), kernels=(3,)), "as many"),
    (lambda: models.fcn(2, 2, filters=(8, -1, 8)), "filters"),
    (lambda: models.fcn(2, 2, bn_momentum=1.5), "momentum"),
    (lambda: models.lstm_classifier(2, 2, units=0), "units"),
    (lambda: models.lstm_classifier(2, 2, layers=True), "layers"),
    (lambda: models.lstm_classifier(2, 2, pooling="sum"), "pooling"),
])
def test_bad_arguments_are_config_errors(call, match):
    with pytest.raises(ConfigError, match=match):
        call()
