"""seqkit.load_keras: whole saved Keras models against Keras itself.

Each test builds a Keras model (random weights), saves it in ``tmp_path``,
imports it and compares ``net.output(x_ncl, mask)`` with Keras on ``x_nlc``
(transposed) to 1e-5. Keras repeats the last output at padded steps and
seqkit outputs zeros there, so padded batches are compared at real steps,
and against Keras run on each example alone (seqkit's masking semantic,
independent of how a Keras version propagates masks). Keras runs on the CPU.
"""

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest
import torch

os.environ.setdefault("KERAS_BACKEND", "torch")
os.environ.setdefault("KERAS_TORCH_DEVICE", "cpu")

import seqkit  # noqa: E402
from seqkit import ConfigError, ModelFileError  # noqa: E402
from seqkit.layers import (LSTM, Bidirectional, Conv1D, ConvLSTM1D, Dense, GlobalPooling,  # noqa: E402
                           MaskZero, Output, RnnLoss, RnnOutput, SimpleRNN)
from seqkit.network._options import layer_options  # noqa: E402

keras = pytest.importorskip("keras")
pytest.importorskip("h5py")

L = keras.layers
N, T, F = 4, 7, 3
ATOL = 1e-5


@pytest.fixture(autouse=True)
def _keras_on_cpu():
    with keras.device("cpu"):
        yield


def _randomize(model, seed=0):
    rng = np.random.default_rng(seed)
    model.set_weights([(rng.normal(size=w.shape) * 0.5).astype(np.float32) for w in model.get_weights()])
    return model


def _save(model, tmp_path, name="m.keras", loss=None):
    if loss is not None:
        model.compile(loss=loss, optimizer="adam")
    path = tmp_path / name
    model.save(path)
    return path


def _x(seed=1, n=N, t=T, f=F):
    return np.random.default_rng(seed).normal(size=(n, t, f)).astype(np.float32)


def _keras(model, x_nlc):
    return np.asarray(keras.ops.convert_to_numpy(model(x_nlc, training=False)))


def _ours(net, x_nlc, mask=None):
    out = net.output(x_nlc.transpose(0, 2, 1), mask)
    return out.transpose(0, 2, 1) if out.ndim == 3 else out


def _load(path, **kw):
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return seqkit.load_keras(path, **kw)


def _rewrite(path, edit, out):
    """A copy of the .keras archive ``path`` with ``edit(config dict)`` applied to config.json."""
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w") as dst:
        for name in src.namelist():
            data = src.read(name)
            if name == "config.json":
                cfg = json.loads(data)
                edit(cfg)
                data = json.dumps(cfg).encode()
            dst.writestr(name, data)
    return out


# -- architectures -------------------------------------------------------------------------
def test_stacked_lstm_classifier(tmp_path):
    model = _randomize(keras.Sequential([keras.Input((None, F)), L.LSTM(6, return_sequences=True),
                                         L.LSTM(5), L.Dense(3, activation="softmax")]))
    net = _load(_save(model, tmp_path, loss="categorical_crossentropy"))
    assert [type(layer) for layer in net.layers] == [LSTM, LSTM, Output]
    assert net.layers[1].return_sequences is False
    assert net.head().loss_fn.name == "mcxent"
    x = _x()
    np.testing.assert_allclose(_ours(net, x), _keras(model, x), atol=ATOL, rtol=0)


def test_from_keras_takes_a_model_object_or_a_path(tmp_path):
    model = _randomize(keras.Sequential([keras.Input((None, F)), L.GRU(5, return_sequences=True),
                                         L.TimeDistributed(L.Dense(3, activation="softmax"))]))
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_object = seqkit.from_keras(model)
        from_path = seqkit.from_keras(_save(model, tmp_path))
    x = _x()
    np.testing.assert_allclose(_ours(from_object, x), _keras(model, x), atol=ATOL, rtol=0)
    np.testing.assert_allclose(_ours(from_path, x), _ours(from_object, x), atol=0, rtol=0)
    with pytest.raises(ConfigError, match="expected a Keras model or the path"):
        seqkit.from_keras(42)


@pytest.mark.parametrize("merge_mode,reset_after", [("concat", True), ("sum", False), ("mul", True),
                                                    ("ave", False)])
def test_bidirectional_gru_time_distributed(tmp_path, merge_mode, reset_after):
    model = _randomize(keras.Sequential([
        keras.Input((T, F)),
        L.Bidirectional(L.GRU(4, return_sequences=True, reset_after=reset_after), merge_mode=merge_mode),
        L.TimeDistributed(L.Dense(3, activation="softmax"))]), seed=2)
    net = _load(_save(model, tmp_path, loss="sparse_categorical_crossentropy"))
    assert isinstance(net.layers[0], Bidirectional) and isinstance(net.layers[1], RnnOutput)
    assert net.layers[0].forward_layer.reset_after is reset_after
    x = _x(3)
    np.testing.assert_allclose(_ours(net, x), _keras(model, x), atol=ATOL, rtol=0)


def test_simple_rnn_go_backwards_binary(tmp_path):
    model = _randomize(keras.Sequential([
        keras.Input((None, F)), L.SimpleRNN(5, return_sequences=True, activation="relu"),
        L.SimpleRNN(4, go_backwards=True), L.Dense(1, activation="sigmoid")]), seed=4)
    net = _load(_save(model, tmp_path, loss="binary_crossentropy"))
    assert isinstance(net.layers[1], SimpleRNN) and net.layers[1].go_backwards
    assert net.head().loss_fn.name == "xent"
    x = _x(5)
    np.testing.assert_allclose(_ours(net, x), _keras(model, x), atol=ATOL, rtol=0)


def test_conv1d_lstm_with_dropout_and_activation(tmp_path):
    model = _randomize(keras.Sequential([
        keras.Input((None, F)),
        L.Conv1D(6, 3, padding="causal", dilation_rate=2, activation="relu"),
        L.Dropout(0.3),
        L.Conv1D(5, 2, padding="same"),
        L.LSTM(4, return_sequences=True, recurrent_activation="hard_sigmoid", unit_forget_bias=False),
        L.Dense(4), L.Activation("softmax")]), seed=6)
    net = _load(_save(model, tmp_path, loss="categorical_crossentropy"))
    assert [type(layer) for layer in net.layers] == [Conv1D, Conv1D, LSTM, RnnOutput]
    assert layer_options(net.layers[1]) == {"dropout": pytest.approx(0.3)}
    assert net.head().activation.name == "softmax"
    x = _x(7, t=11)
    np.testing.assert_allclose(_ours(net, x), _keras(model, x), atol=ATOL, rtol=0)


def test_functional_chain(tmp_path):
    inp = keras.Input((None, F), name="features")
    h = L.GRU(5, return_sequences=True, name="encoder")(inp)
    h = L.Dropout(0.1, name="drop")(h)
    out = L.TimeDistributed(L.Dense(2), name="head")(h)
    model = _randomize(keras.Model(inp, out), seed=8)
    net = _load(_save(model, tmp_path, loss="mse"))
    assert isinstance(net.layers[-1], RnnOutput) and net.head().loss_fn.name == "mse"
    x = _x(9)
    np.testing.assert_allclose(_ours(net, x), _keras(model, x), atol=ATOL, rtol=0)


def test_feed_forward_model(tmp_path):
    model = _randomize(keras.Sequential([keras.Input((F,)), L.Dense(8, activation="tanh"),
                                         L.Dense(2, activation="softmax")]))
    net = _load(_save(model, tmp_path, loss="categorical_crossentropy"))
    assert [type(layer) for layer in net.layers] == [Dense, Output]
    x = _x()[:, 0, :]
    np.testing.assert_allclose(net.output(x), _keras(model, x), atol=ATOL, rtol=0)


# -- masking -------------------------------------------------------------------------------
LENGTHS = [7, 4, 2, 6]


def _padded(seed, left=(False, False, True, True)):
    """Zero-padded batch (N, T, F), its [N, T] mask, and each example's real steps."""
    x = _x(seed)
    mask = np.zeros((N, T), np.float32)
    for i, (n, lead) in enumerate(zip(LENGTHS, left)):
        real = slice(T - n, T) if lead else slice(0, n)
        mask[i, real] = 1.0
    x *= mask[:, :, None]
    return x, mask


def _alone(model, x, mask):
    """Keras's output for each example on its real steps only, [N, ...]."""
    return [_keras(model, x[i:i + 1, mask[i] > 0])[0] for i in range(N)]


def test_masking_stacked_lstm_padded(tmp_path):
    model = _randomize(keras.Sequential([
        keras.Input((None, F)), L.Masking(0.0), L.LSTM(5, return_sequences=True), L.LSTM(4),
        L.Dense(3, activation="softmax")]), seed=10)
    net = _load(_save(model, tmp_path, loss="categorical_crossentropy"))
    assert isinstance(net.layers[0], MaskZero) and net.layers[0].mask_value == 0.0
    x, mask = _padded(11)
    expected = np.stack(_alone(model, x, mask))
    np.testing.assert_allclose(_ours(net, x), expected, atol=ATOL, rtol=0)
    np.testing.assert_allclose(_ours(net, x, mask), expected, atol=ATOL, rtol=0)


def test_masking_bidirectional_padded_per_step(tmp_path):
    model = _randomize(keras.Sequential([
        keras.Input((None, F)), L.Masking(0.0), L.Bidirectional(L.LSTM(4, return_sequences=True)),
        L.TimeDistributed(L.Dense(3, activation="softmax"))]), seed=12)
    net = _load(_save(model, tmp_path, loss="categorical_crossentropy"))
    x, mask = _padded(13)
    ours, keras_padded = _ours(net, x), _keras(model, x)
    for i, alone in enumerate(_alone(model, x, mask)):
        real = mask[i] > 0
        np.testing.assert_allclose(ours[i, real], alone, atol=ATOL, rtol=0)
        np.testing.assert_allclose(ours[i, real], keras_padded[i, real], atol=ATOL, rtol=0)


def test_masking_in_a_functional_model(tmp_path):
    inp = keras.Input((None, F))
    h = L.Masking(0.0)(inp)                           # Keras traces its mask as ops off the chain
    h = L.GRU(4, return_sequences=True)(h)
    out = L.GRU(3)(h)
    model = _randomize(keras.Model(inp, out), seed=18)
    net = _load(_save(model, tmp_path, loss="mse"))
    x, mask = _padded(19)
    np.testing.assert_allclose(_ours(net, x), np.stack(_alone(model, x, mask)), atol=ATOL, rtol=0)


@pytest.mark.parametrize("pool,mode", [(L.GlobalAveragePooling1D, "avg"), (L.GlobalMaxPooling1D, "max")])
def test_masked_global_pooling_classifier(tmp_path, pool, mode):
    model = _randomize(keras.Sequential([
        keras.Input((None, F)), L.Masking(0.0), L.GRU(5, return_sequences=True, reset_after=True), pool(),
        L.Dense(3, activation="softmax")]), seed=20)
    net = _load(_save(model, tmp_path, loss="categorical_crossentropy"))
    assert [type(layer) for layer in net.layers] == [MaskZero, GlobalPooling, Output]
    assert net.layers[1].mode == mode
    x, mask = _padded(21)
    np.testing.assert_allclose(_ours(net, x, mask), np.stack(_alone(model, x, mask)), atol=ATOL, rtol=0)


# -- ConvLSTM1D: Keras (N, T, L, C), seqkit [N, C, T, L] -----------------------------------------
SIGNAL_L, SIGNAL_C = 9, 2


def _signals(seed, n=N, t=T):
    return np.random.default_rng(seed).normal(size=(n, t, SIGNAL_L, SIGNAL_C)).astype(np.float32)


def _ours_signals(net, x_ntlc, mask=None):
    """seqkit's output for Keras-layout signals, back in Keras's layout (channels last)."""
    out = net.output(x_ntlc.transpose(0, 3, 1, 2), mask)                  # [N, C, T, L] in
    return np.moveaxis(out, 1, -1)                                        # [N, F, ...] -> (N, ..., F)


def test_convlstm1d_stack_with_pooling_head(tmp_path):
    model = _randomize(keras.Sequential([
        keras.Input((None, SIGNAL_L, SIGNAL_C)),
        L.ConvLSTM1D(4, 3, padding="same", return_sequences=True, recurrent_activation="hard_sigmoid"),
        L.Dropout(0.2),
        L.ConvLSTM1D(3, 2, strides=2, return_sequences=False, unit_forget_bias=False),
        L.GlobalMaxPooling1D(), L.Dense(3, activation="softmax")]), seed=30)
    net = _load(_save(model, tmp_path, loss="categorical_crossentropy"))
    assert [type(layer) for layer in net.layers] == [ConvLSTM1D, ConvLSTM1D, GlobalPooling, Output]
    assert net.input_type == seqkit.InputType.signals(SIGNAL_L, SIGNAL_C)
    assert net.layers[0].gate_activation_name == "hard_sigmoid" and net.layers[1].strides == (2,)
    assert layer_options(net.layers[1]) == {"dropout": pytest.approx(0.2)}
    x = _signals(31)
    np.testing.assert_allclose(net.output(x.transpose(0, 3, 1, 2)), _keras(model, x), atol=ATOL, rtol=0)
    # padded in time (right and left) with junk there: each example as Keras gives it alone
    mask = np.zeros((N, T), np.float32)
    for i, (n, lead) in enumerate(zip(LENGTHS, (False, True, False, True))):
        mask[i, slice(T - n, T) if lead else slice(0, n)] = 1.0
    junk = x + 5.0 * (1.0 - mask)[:, :, None, None]
    alone = np.stack([_keras(model, x[i:i + 1, mask[i] > 0])[0] for i in range(N)])
    np.testing.assert_allclose(net.output(junk.transpose(0, 3, 1, 2), mask), alone, atol=ATOL, rtol=0)


@pytest.mark.parametrize("go_backwards", [False, True])
def test_convlstm1d_sequences_out_and_a_dense_over_the_signal(tmp_path, go_backwards):
    seq = _randomize(keras.Sequential([
        keras.Input((None, SIGNAL_L, SIGNAL_C)),
        L.ConvLSTM1D(3, 3, dilation_rate=2, activation="relu", return_sequences=True,
                     go_backwards=go_backwards)]), seed=32)
    net = _load(_save(seq, tmp_path, "seq.keras"))
    assert net.layers[0].go_backwards is go_backwards
    x = _signals(33)
    np.testing.assert_allclose(_ours_signals(net, x), _keras(seq, x), atol=ATOL, rtol=0)
    # return_sequences=False leaves (L', F): the Dense after it is per point, Keras's Dense on (N, L', F)
    last = _randomize(keras.Sequential([
        keras.Input((None, SIGNAL_L, SIGNAL_C)), L.ConvLSTM1D(4, 3, go_backwards=go_backwards),
        L.Dense(2, activation="sigmoid")]), seed=34)
    net = _load(_save(last, tmp_path, "last.keras", loss="binary_crossentropy"))
    assert [type(layer) for layer in net.layers] == [ConvLSTM1D, RnnOutput]
    np.testing.assert_allclose(_ours_signals(net, x), _keras(last, x), atol=ATOL, rtol=0)


def test_imported_convlstm1d_saves_and_loads(tmp_path):
    model = _randomize(keras.Sequential([keras.Input((None, SIGNAL_L, SIGNAL_C)), L.ConvLSTM1D(3, 3),
                                         L.GlobalAveragePooling1D(), L.Dense(2, activation="softmax")]), seed=35)
    net = _load(_save(model, tmp_path, loss="categorical_crossentropy"))
    net.save(tmp_path / "net.seqkit")
    back = seqkit.load(tmp_path / "net.seqkit")
    assert back.input_type == seqkit.InputType.signals(SIGNAL_L, SIGNAL_C)
    x = _signals(36).transpose(0, 3, 1, 2)
    np.testing.assert_allclose(back.output(x), net.output(x), atol=0, rtol=0)


@pytest.mark.parametrize("layers,match", [
    (lambda: [L.Masking(0.0, name="bad"), L.ConvLSTM1D(3, 3)], r"'bad' \(Masking\): Masking on sequences of 1-D"),
    (lambda: [L.ConvLSTM1D(3, 3, return_sequences=True), L.Dense(2, name="bad")],
     r"'bad' \(Dense\) gets sequences of 1-D signals"),
    (lambda: [L.ConvLSTM1D(3, 3, return_state=True, name="bad")], r"'bad' \(ConvLSTM1D\): return_state=True"),
    (lambda: [L.ConvLSTM1D(3, 3, padding="same", return_sequences=True), L.Activation("relu", name="bad")],
     r"'bad' \(Activation\) gets sequences of 1-D signals"),
])
def test_convlstm1d_refusals_are_named(tmp_path, layers, match):
    built = layers()
    if isinstance(built[-1], L.ConvLSTM1D) and built[-1].return_state:
        inp = keras.Input((None, SIGNAL_L, SIGNAL_C))
        model = keras.Model(inp, built[-1](inp)[0])
    else:
        model = keras.Sequential([keras.Input((None, SIGNAL_L, SIGNAL_C)), *built])
    with pytest.raises(ConfigError, match=match):
        seqkit.load_keras(_save(model, tmp_path))


@pytest.mark.parametrize("pool,match", [
    (lambda: L.GlobalAveragePooling1D(keepdims=True, name="bad"), r"'bad' \(GlobalAveragePooling1D\): keepdims"),
    (lambda: L.GlobalMaxPooling1D(data_format="channels_first", name="bad"),
     r"'bad' \(GlobalMaxPooling1D\): data_format='channels_first'"),
])
def test_pooling_refusals_are_named(tmp_path, pool, match):
    model = keras.Sequential([keras.Input((None, F)), L.LSTM(3, return_sequences=True), pool()])
    with pytest.raises(ConfigError, match=match):
        seqkit.load_keras(_save(model, tmp_path))


def test_convlstm1d_channels_first_is_refused(tmp_path):
    model = keras.Sequential([keras.Input((None, SIGNAL_L, SIGNAL_C)), L.ConvLSTM1D(3, 3, name="c")])

    def channels_first(cfg):
        cfg["config"]["layers"][1]["config"]["data_format"] = "channels_first"
    with pytest.raises(ConfigError, match=r"'c' \(ConvLSTM1D\): data_format='channels_first'.*\(N, T, L, C\)"):
        seqkit.load_keras(_rewrite(_save(model, tmp_path), channels_first, tmp_path / "edited.keras"))


def test_convlstm1d_on_plain_sequences_is_refused(tmp_path):
    model = keras.Sequential([keras.Input((None, SIGNAL_L, SIGNAL_C)), L.ConvLSTM1D(3, 3, name="c")])
    path = _save(model, tmp_path)

    def as_sequences(cfg):                      # claim a (T, F) input, as a hand-edited config might
        layers = cfg["config"]["layers"]
        layers[0]["config"]["batch_shape"] = [None, None, SIGNAL_C]
    with pytest.raises(ConfigError, match=r"'c' \(ConvLSTM1D\) works on sequences of 1-D signals"):
        seqkit.load_keras(_rewrite(path, as_sequences, tmp_path / "edited.keras"))


def test_a_mask_computed_without_masking_is_refused(tmp_path):
    inp = keras.Input((None, F))
    mask = keras.ops.any(keras.ops.greater(inp, 0.5), axis=-1)
    model = keras.Model(inp, L.LSTM(3)(inp, mask=mask))
    with pytest.raises(ConfigError, match=r"mask computed by Keras layer '.*' \(Greater\)"):
        seqkit.load_keras(_save(model, tmp_path))


@pytest.mark.cuda
def test_imported_network_on_cuda(tmp_path):
    """On CUDA (fused cuDNN kernels where they apply) against Keras on the CPU; cuDNN's float32
    sums differ from the CPU's in the last bits, hence the tolerance of the CPU/GPU network tests."""
    model = _randomize(keras.Sequential([
        keras.Input((None, F)), L.Masking(0.0), L.Bidirectional(L.LSTM(4, return_sequences=True)),
        L.GRU(5), L.Dense(3, activation="softmax")]), seed=20)
    net = _load(_save(model, tmp_path, loss="categorical_crossentropy"), device="cuda")
    assert next(net.parameters()).is_cuda
    x, mask = _padded(21)
    np.testing.assert_allclose(_ours(net, x), np.stack(_alone(model, x, mask)), atol=1e-4, rtol=0)


# -- losses and heads ------------------------------------------------------------------------
def test_uncompiled_model_gets_a_default_loss_with_a_warning(tmp_path):
    model = keras.Sequential([keras.Input((None, F)), L.LSTM(3), L.Dense(2, activation="softmax")])
    path = _save(model, tmp_path)
    with pytest.warns(UserWarning, match="without a compiled loss.*'mcxent'"):
        net = seqkit.load_keras(path)
    assert net.head().loss_fn.name == "mcxent"
    assert _load(path, loss="mse").head().loss_fn.name == "mse"


def test_from_logits_loss_gives_probabilities(tmp_path):
    model = _randomize(keras.Sequential([keras.Input((None, F)), L.LSTM(3), L.Dense(4)]))
    path = _save(model, tmp_path, loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    with pytest.warns(UserWarning, match="from_logits=True"):
        net = seqkit.load_keras(path)
    x = _x()
    expected = torch.softmax(torch.from_numpy(_keras(model, x)), dim=1).numpy()
    np.testing.assert_allclose(_ours(net, x), expected, atol=ATOL, rtol=0)


def test_model_ending_in_a_recurrent_layer(tmp_path):
    model = _randomize(keras.Sequential([keras.Input((None, F)), L.GRU(3, return_sequences=True)]))
    with pytest.warns(UserWarning, match="not with an output layer"):
        net = seqkit.load_keras(_save(model, tmp_path))
    x = _x()
    np.testing.assert_allclose(_ours(net, x), _keras(model, x), atol=ATOL, rtol=0)
    net = _load(_save(model, tmp_path, "c.keras", loss="mse"))
    assert isinstance(net.layers[-1], RnnLoss) and net.head().loss_fn.name == "mse"
    np.testing.assert_allclose(_ours(net, x), _keras(model, x), atol=ATOL, rtol=0)


def test_regularizers_become_options(tmp_path):
    reg = keras.regularizers.L2(1e-3)
    model = keras.Sequential([keras.Input((None, F)),
                              L.LSTM(3, kernel_regularizer=reg, recurrent_regularizer=reg),
                              L.Dense(2, kernel_regularizer=keras.regularizers.L1(1e-4))])
    net = _load(_save(model, tmp_path, loss="mse"))
    assert layer_options(net.layers[0]) == {"l2": pytest.approx(2e-3)}
    assert layer_options(net.layers[1]) == {"l1": pytest.approx(1e-4)}


def test_imported_network_saves_and_loads(tmp_path):
    model = _randomize(keras.Sequential([keras.Input((None, F)), L.Masking(0.0), L.Dropout(0.2),
                                         L.GRU(4), L.Dense(2, activation="softmax")]), seed=14)
    net = _load(_save(model, tmp_path, loss="categorical_crossentropy"))
    net.save(tmp_path / "net.seqkit")
    again = seqkit.load(tmp_path / "net.seqkit")
    x, _ = _padded(15)
    np.testing.assert_allclose(_ours(again, x), _ours(net, x), atol=0, rtol=0)


# -- legacy .h5 -------------------------------------------------------------------------------
def test_legacy_h5_full_model(tmp_path):
    model = _randomize(keras.Sequential([
        keras.Input((None, F)), L.LSTM(5, return_sequences=True),
        L.Bidirectional(L.GRU(3, return_sequences=True, reset_after=False)),
        L.TimeDistributed(L.Dense(2, activation="softmax"))]), seed=16)
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = _save(model, tmp_path, "m.h5", loss="categorical_crossentropy")
    net = _load(path)
    x = _x(17)
    np.testing.assert_allclose(_ours(net, x), _keras(model, x), atol=ATOL, rtol=0)


def test_keras2_h5_hard_sigmoid_is_keras2s(tmp_path):
    import h5py
    import warnings
    model = keras.Sequential([keras.Input((None, F)), L.LSTM(3, recurrent_activation="hard_sigmoid"),
                              L.Dense(2)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        path = _save(model, tmp_path, "m.h5", loss="mse")
    with h5py.File(path, "a") as f:
        f.attrs["keras_version"] = "2.15.0"
    net = _load(path)
    assert net.layers[0].cell.gate_activation_name == "hard_sigmoid_dl4j"      # clip(0.2 x + 0.5, 0, 1)


# -- errors ------------------------------------------------------------------------------------
def test_unsupported_layer_is_named(tmp_path):
    model = keras.Sequential([keras.Input((8, F)), L.LSTM(3, return_sequences=True),
                              L.Flatten(name="flat"), L.Dense(2)])
    with pytest.raises(ConfigError, match=r"Keras layer 'flat' \(Flatten\).*not supported.*ConvLSTM1D"):
        seqkit.load_keras(_save(model, tmp_path))


@pytest.mark.parametrize("layer,match", [
    (lambda: L.LSTM(3, activation="leaky_relu", name="bad"), r"'bad' \(LSTM\): activation='leaky_relu'"),
    (lambda: L.Conv1D(3, 2, padding="valid", name="bad"), r"'bad' \(Conv1D\): padding='valid'"),
    (lambda: L.Conv1D(3, 2, strides=2, padding="same", name="bad"), r"'bad' \(Conv1D\): strides="),
    (lambda: L.Bidirectional(L.GRU(3), merge_mode=None, name="bad"), r"'bad' \(Bidirectional\): merge_mode=None"),
    (lambda: L.LSTM(3, stateful=False, return_sequences=True, name="x", use_bias=True,
                    kernel_regularizer=keras.regularizers.OrthogonalRegularizer()),
     r"'x' \(LSTM\): kernel_regularizer"),
])
def test_unsupported_option_is_named(tmp_path, layer, match):
    model = keras.Sequential([keras.Input((8, F)), layer()])
    with pytest.raises(ConfigError, match=match):
        seqkit.load_keras(_save(model, tmp_path))


def test_activation_after_a_recurrent_layer_is_refused(tmp_path):
    model = keras.Sequential([keras.Input((None, F)), L.LSTM(3, return_sequences=True),
                              L.Activation("relu", name="act"), L.Dense(2)])
    with pytest.raises(ConfigError, match=r"'act' \(Activation\): seqkit.load_keras imports an Activation only"):
        seqkit.load_keras(_save(model, tmp_path))


def test_branching_functional_model_is_refused(tmp_path):
    inp = keras.Input((None, F))
    a = L.LSTM(3, return_sequences=True, name="a")(inp)
    b = L.GRU(3, return_sequences=True, name="b")(inp)
    model = keras.Model(inp, L.Add(name="add")([a, b]))
    with pytest.raises(ConfigError, match=r"'add' \(Add\) takes 2 inputs"):
        seqkit.load_keras(_save(model, tmp_path))


@pytest.fixture
def saved(tmp_path):
    model = keras.Sequential([keras.Input((None, F)), L.LSTM(3, name="rnn"),
                              L.Dense(2, activation="softmax", name="out")])
    return _save(model, tmp_path, loss="categorical_crossentropy")


def test_corrupt_files_give_clear_errors(tmp_path, saved):
    junk = tmp_path / "junk.keras"
    junk.write_bytes(b"not a model at all" * 10)
    with pytest.raises(ModelFileError, match="not a Keras model file"):
        seqkit.load_keras(junk)
    cut = tmp_path / "cut.keras"
    cut.write_bytes(saved.read_bytes()[: saved.stat().st_size // 2])
    with pytest.raises(ModelFileError, match="damaged or truncated"):
        seqkit.load_keras(cut)
    with pytest.raises(FileNotFoundError):
        seqkit.load_keras(tmp_path / "missing.keras")
    with pytest.raises(ModelFileError, match="a directory"):
        seqkit.load_keras(tmp_path)


def test_archive_members_are_checked(tmp_path, saved):
    def rebuild(name, members):
        out = tmp_path / name
        with zipfile.ZipFile(saved) as src, zipfile.ZipFile(out, "w") as dst:
            for member, data in members(src).items():
                dst.writestr(member, data)
        return out

    no_config = rebuild("a.keras", lambda z: {n: z.read(n) for n in z.namelist() if n != "config.json"})
    with pytest.raises(ModelFileError, match="no config.json"):
        seqkit.load_keras(no_config)
    bad_json = rebuild("b.keras", lambda z: {**{n: z.read(n) for n in z.namelist()}, "config.json": b"{oops"})
    with pytest.raises(ModelFileError, match="config.json is not valid JSON"):
        seqkit.load_keras(bad_json)
    npz = rebuild("c.keras", lambda z: {("model.weights.npz" if n == "model.weights.h5" else n): z.read(n)
                                        for n in z.namelist()})
    with pytest.raises(ModelFileError, match="weights_format='npz'"):
        seqkit.load_keras(npz)
    bad_h5 = rebuild("d.keras", lambda z: {**{n: z.read(n) for n in z.namelist()},
                                          "model.weights.h5": b"\x89HDF\r\n\x1a\n" + b"\0" * 64})
    with pytest.raises(ModelFileError, match="model.weights.h5 is not a readable HDF5 file"):
        seqkit.load_keras(bad_h5)


def test_weights_that_do_not_fit_the_config(tmp_path, saved):
    def grow(cfg):
        cfg["config"]["layers"][1]["config"]["units"] = 50_000          # ~10^10 parameters if built
    with pytest.raises(ModelFileError, match=r"'rnn' \(LSTM\): its config makes 10000800000 parameters "
                                             r"but the file holds 84 numbers"):
        seqkit.load_keras(_rewrite(saved, grow, tmp_path / "big.keras"))


def test_h5_without_model_config(tmp_path):
    import h5py
    path = tmp_path / "w.h5"
    with h5py.File(path, "w") as f:
        f.create_dataset("x", data=np.zeros(3))
    with pytest.raises(ModelFileError, match="without a model_config"):
        seqkit.load_keras(path)


def test_missing_h5py_says_how_to_install(saved, monkeypatch):
    monkeypatch.setitem(sys.modules, "h5py", None)
    with pytest.raises(ImportError, match="pip install h5py"):
        seqkit.load_keras(saved)


def test_settings_reach_the_network_but_not_input_type(saved):
    net = _load(saved, learning_rate=0.01, dtype=torch.float64)
    assert net.learning_rate == 0.01 and net.dtype == torch.float64
    with pytest.raises(ConfigError, match="input_type comes from the Keras model"):
        seqkit.load_keras(saved, input_type=seqkit.InputType.recurrent(F))


def test_loading_does_not_import_keras(saved):
    code = ("import sys, warnings; warnings.simplefilter('ignore'); import seqkit; "
            f"net = seqkit.load_keras({str(saved)!r}); "
            "assert 'keras' not in sys.modules, 'keras was imported'; print(type(net).__name__)")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=root, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Sequential"
