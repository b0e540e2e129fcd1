"""seqkit.load_keras on hand-made files and configs: every refusal and every note, without Keras.

The files are written here with h5py in the layout Keras 3 uses (see
seqkit/network/_keras_file.py), so these tests run where Keras is not installed.
"""

import io
import json
import re
import warnings
import zipfile

import numpy as np
import pytest
import torch

import seqkit
from seqkit import ConfigError, ModelFileError
from seqkit.layers import LSTM, Dense, MaskZero, RnnLoss, RnnOutput
from seqkit.network._keras_chain import KerasLayer, model_chain
from seqkit.network._keras_layers import translate_layer
from seqkit.network._keras_loss import seqkit_loss

h5py = pytest.importorskip("h5py")

F, H = 3, 2
RNG = np.random.default_rng(0)


# -- writing files ---------------------------------------------------------------------------
def _layer(cls, name=None, **cfg):
    return {"class_name": cls, "config": {"name": name or cls.lower(), **cfg}}


def _input(shape=(None, None, F), name="input_layer"):
    return {"class_name": "InputLayer", "config": {"batch_shape": list(shape), "name": name}}


def _sequential(*layers, shape=(None, None, F)):
    return {"class_name": "Sequential", "config": {"name": "seq", "layers": [_input(shape), *layers]}}


def _lstm_arrays(n_in=F, units=H):
    return [RNG.normal(size=s).astype(np.float32) for s in ((n_in, 4 * units), (units, 4 * units), (4 * units,))]


def _dense_arrays(n_in, units):
    return [RNG.normal(size=(n_in, units)).astype(np.float32), RNG.normal(size=units).astype(np.float32)]


def _h5(weights: dict) -> bytes:
    """An HDF5 file: ``{vars group path: (layer name or None, [arrays])}``."""
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        for path, (name, arrays) in weights.items():
            group = f.create_group(path)
            if name is not None:
                group.attrs["name"] = name
            for i, a in enumerate(arrays):
                group[str(i)] = a
    return buf.getvalue()


def _h5_with(fill) -> bytes:
    """An HDF5 file written by ``fill(h5py.File)``."""
    buf = io.BytesIO()
    with h5py.File(buf, "w") as f:
        fill(f)
    return buf.getvalue()


def _keras_file(path, model, weights=None, loss=None, members=None, version="3.15.1"):
    config = dict(model)
    if loss is not None:
        config["compile_config"] = {"loss": loss}
    out = {"config.json": json.dumps(config).encode(),
           "metadata.json": json.dumps({"keras_version": version}).encode(),
           "model.weights.h5": _h5(weights or {})}
    out.update(members or {})
    with zipfile.ZipFile(path, "w") as z:
        for name, data in out.items():
            if data is not None:
                z.writestr(name, data)
    return path


def _lstm_model(tmp_path, *after, weights_after=None, name="m.keras", loss="mse", **kw):
    """Input (None, F) -> LSTM(H, return_sequences=True) -> ``after`` layers."""
    model = _sequential(_layer("LSTM", units=H, return_sequences=True), *after)
    weights = {"layers/lstm/cell/vars": ("lstm_cell", _lstm_arrays())}
    weights["layers/lstm/vars"] = ("lstm", [])
    weights.update(weights_after or {})
    return _keras_file(tmp_path / name, model, weights, loss=loss, **kw)


def _quiet_load(path, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return seqkit.load_keras(path, **kw)


# -- the chain -------------------------------------------------------------------------------
def _node(*names, **kwargs):
    args = [{"class_name": "__keras_tensor__", "config": {"keras_history": [n, 0, 0]}} for n in names]
    return {"args": args, "kwargs": kwargs}


def _functional(layers, inputs=("in", 0, 0), outputs=("out", 0, 0)):
    return {"class_name": "Functional", "config": {"name": "f", "layers": layers,
                                                   "input_layers": list(inputs), "output_layers": list(outputs)}}


def _entry(cls, name, *nodes, **cfg):
    return {"class_name": cls, "name": name, "config": {"name": name, **cfg}, "inbound_nodes": list(nodes)}


IN = _entry("InputLayer", "in", batch_shape=[None, None, F])


def test_keras2_functional_chain_reads():
    model = {"class_name": "Model", "config": {
        "layers": [IN, _entry("LSTM", "out", [["in", 0, 0, {}]], units=H)],
        "input_layers": [["in", 0, 0]], "output_layers": [["out", 0, 0]]}}
    chain = model_chain(model, "m")
    assert chain.input_shape == (None, F) and [k.name for k in chain.layers] == ["out"]


def test_sequential_input_shape_from_the_first_layer():
    model = {"class_name": "Sequential", "config": [
        {"class_name": "LSTM", "config": {"name": "l", "units": H, "batch_input_shape": [None, 5, F]}}]}
    assert model_chain(model, "m").input_shape == (5, F)


@pytest.mark.parametrize("model,error,match", [
    ({"class_name": "MyModel", "config": {}}, ConfigError, "class 'MyModel'"),
    ({"class_name": "Sequential", "config": {"layers": "no"}}, ModelFileError, "no readable 'layers'"),
    (_sequential(_layer("LSTM", units=H), shape=(None, 4, 4, 4, F)), ConfigError, "input shape"),
    (_sequential(_layer("LSTM", units=H), shape=(None, 4, None, F)), ConfigError, "input shape"),
    (_sequential(_layer("LSTM", units=H), shape=(None, None, None)), ConfigError, "input shape"),
    ({"class_name": "Sequential", "config": {"layers": [_layer("LSTM", units=H)]}}, ConfigError,
     "does not say the model's input shape"),
    (_sequential(), ConfigError, "has no layers"),
    ({"class_name": "Sequential", "config": {"layers": [_layer("LSTM", units=H), _input()]}}, ConfigError,
     r"'input_layer' \(InputLayer\) is not first"),
    (_functional([IN], inputs=[["in", 0, 0], ["b", 0, 0]]), ConfigError, "2 inputs and 1 outputs"),
    (_functional([IN], inputs="nonsense"), ModelFileError, "input_layers cannot be read"),
    (_functional([_entry("LSTM", "in", units=H)]), ModelFileError, "is not an InputLayer"),
    (_functional([IN]), ModelFileError, "refers to layer 'out'"),
    (_functional([IN, _entry("LSTM", "out", _node("in"), _node("in"), units=H)]), ConfigError,
     "called 2 times"),
    (_functional([IN, _entry("LSTM", "out", {"args": []}, units=H)]), ConfigError, "takes 0 inputs"),
    (_functional([IN, _entry("LSTM", "out", _node("in", initial_state=[1.0]), units=H)]), ConfigError,
     "called with initial_state"),
    (_functional([IN, _entry("LSTM", "out", "?", units=H)]), ModelFileError, "inbound node cannot be read"),
    (_functional([IN, {**_entry("LSTM", "out", units=H), "inbound_nodes": {"a": 1}}]), ModelFileError,
     "inbound nodes of .* cannot be read"),
    (_functional([IN, _entry("LSTM", "out", _node("in"), units=H), _entry("GRU", "side", _node("in"), units=H)]),
     ConfigError, r"'side' \(GRU\) is not on the path"),
    (_functional([IN], outputs=("in", 0, 0)), ConfigError, "no layers between"),
    (_functional([IN, _entry("NotEqual", "ne", _node("in")), _entry("Any", "any", _node("ne")),
                  _entry("LSTM", "out", _node("in", mask=_node("any")["args"][0]), units=H)]),
     ConfigError, "without a Masking layer"),
    (_functional([IN, _entry("LSTM", "out", _node("in", mask=_node("ghost")["args"][0]), units=H)]),
     ConfigError, "mask computed by 'ghost'"),
])
def test_chain_refusals(model, error, match):
    with pytest.raises(error, match=match):
        model_chain(model, "m")


# -- one layer -------------------------------------------------------------------------------
def _kl(cls, name="k", **cfg):
    return KerasLayer(cls, name, {"name": name, **cfg}, cls.lower())


def _translate(kl, layout="sequences", major=3):
    notes = []
    return translate_layer(kl, layout, major, notes), notes


LSTM_CFG = {"units": H, "return_sequences": True}


@pytest.mark.parametrize("kl,layout,match", [
    (_kl("Sequential"), "sequences", "a model nested"),
    (_kl("InputLayer"), "sequences", "an input layer inside"),
    (_kl("Embedding", input_dim=3), "sequences", r"'k' \(Embedding\): this layer class is not supported"),
    (_kl("LSTM", **LSTM_CFG), "vectors", "works on sequences but gets feature vectors"),
    (_kl("LSTM", new_flag=True, **LSTM_CFG), "sequences", "option new_flag=True is not supported"),
    (_kl("GRU", return_state=True, units=H), "sequences", "return_state=True"),
    (_kl("LSTM", time_major=True, units=H), "sequences", "time_major=True"),
    (_kl("SimpleRNN", units=0), "sequences", "units=0"),
    (_kl("SimpleRNN", units=H, activation={"class_name": "MyAct", "config": {}}), "sequences", "activation="),
    (_kl("TimeDistributed", layer={"class_name": "Conv1D", "config": {}}), "sequences", "wraps a Conv1D"),
    (_kl("TimeDistributed", layer="Dense"), "sequences", "layer config cannot be read"),
    (_kl("Bidirectional", layer={"class_name": "LSTM", "config": {**LSTM_CFG, "go_backwards": True}}),
     "sequences", "forward layer has go_backwards=True"),
    (_kl("Bidirectional", layer={"class_name": "LSTM", "config": LSTM_CFG},
         backward_layer={"class_name": "LSTM", "config": {"units": 5, "go_backwards": True}}),
     "sequences", "backward_layer is configured differently"),
    (_kl("Conv1D", filters=2, kernel_size=[3], padding="same", groups=2), "sequences", "groups=2"),
    (_kl("Conv1D", filters=2, kernel_size=[3], padding="same", data_format="channels_first"), "sequences",
     "data_format='channels_first'"),
    (_kl("Masking", mask_value="x"), "sequences", "mask_value='x'"),
    (_kl("Dropout", rate=1.5), "sequences", "rate=1.5"),
    (_kl("Dense", units=2, kernel_regularizer={"class_name": "L2", "config": {"l2": "a lot"}}), "vectors",
     "kernel_regularizer="),
    (_kl("Dense", units=2, kernel_regularizer={"class_name": "L1", "config": {"l1": -1.0}}), "vectors",
     "coefficients >= 0"),
])
def test_layer_refusals_name_the_layer_and_option(kl, layout, match):
    with pytest.raises(ConfigError, match=match):
        _translate(kl, layout)


def test_seqkit_refusals_are_reworded_with_the_keras_layer():
    t, _ = _translate(_kl("LSTM", name="enc", units=H, dropout=1.0))
    with pytest.raises(ConfigError, match=r"Keras layer 'enc' \(LSTM\): .*dropout"):
        t.build()


@pytest.mark.parametrize("kl,match", [
    (_kl("LSTM", kernel_constraint={"class_name": "NonNeg", "config": {}}, **LSTM_CFG), "kernel_constraint"),
    (_kl("Dense", units=2, bias_regularizer={"class_name": "L2", "config": {"l2": 0.1}}), "bias_regularizer"),
    (_kl("Dense", units=2, trainable=False), "trainable=False"),
    (_kl("Dense", units=2, dtype={"class_name": "DTypePolicy", "config": {"name": "mixed_float16"}}),
     "dtype policy 'mixed_float16'"),
    (_kl("Dense", units=2, dtype="float64"), "dtype policy 'float64'"),
    (_kl("GRU", kernel_regularizer={"class_name": "L2", "config": {"l2": 0.1}}, **LSTM_CFG),
     "kernel_regularizer and recurrent_regularizer differ"),
    (_kl("Dropout", rate=0.2, noise_shape=[None, 1, F]), "noise_shape"),
])
def test_training_only_options_are_noted(kl, match):
    _, notes = _translate(kl)
    assert any(re.search(match, n) for n in notes), notes


def test_keras3_and_keras2_hard_sigmoid():
    kl = _kl("GRU", recurrent_activation="hard_sigmoid", **LSTM_CFG)
    assert _translate(kl, major=3)[0].kwargs["gate_activation"] == "hard_sigmoid"
    assert _translate(kl, major=2)[0].kwargs["gate_activation"] == "hard_sigmoid_keras2"
    kl = _kl("Dense", units=2, activation={"module": "keras.activations", "class_name": "function",
                                           "config": "relu"})
    assert _translate(kl, "vectors")[0].kwargs["activation"] == "relu"


# -- the loss --------------------------------------------------------------------------------
@pytest.mark.parametrize("stored,activation,expected,note", [
    (["categorical_crossentropy"], "softmax", ("mcxent", "softmax"), None),
    ({"out": "mse"}, "identity", ("mse", "identity"), None),
    ({"module": "keras.losses", "class_name": "function", "config": "mae"}, "identity", ("mae", "identity"), None),
    ({"class_name": "BinaryCrossentropy", "config": {"from_logits": True}}, "identity", ("xent", "sigmoid"),
     "from_logits=True"),
    ({"class_name": "CategoricalCrossentropy", "config": {"label_smoothing": 0.1}}, "softmax",
     ("mcxent", "softmax"), "label_smoothing=0.1"),
    ("huber", "identity", ("mse", "identity"), "'huber' has no seqkit equivalent"),
    (["mse", "mae"], "sigmoid", ("xent", "sigmoid"), "has no seqkit equivalent"),
    (None, "softmax", ("mcxent", "softmax"), "without a compiled loss"),
])
def test_compiled_losses(stored, activation, expected, note):
    notes = []
    assert seqkit_loss(stored, activation, "out", notes) == expected
    assert (note is None and not notes) or (note is not None and any(note in n for n in notes)), notes


# -- whole files -----------------------------------------------------------------------------
def test_hand_made_file_matches_a_hand_built_network(tmp_path):
    path = _lstm_model(tmp_path, _layer("Dense", name="d", units=4, activation="softmax"),
                       weights_after={"layers/dense/vars": ("d", _dense_arrays(H, 4))})
    net = _quiet_load(path)
    ref = seqkit.Sequential([LSTM(H), RnnOutput(4, loss="mse")], input_type=seqkit.InputType.recurrent(F))
    ref.layers[0].set_keras_weights(net.layers[0].get_keras_weights())
    ref.layers[1].set_keras_weights(net.layers[1].get_keras_weights())
    x = RNG.normal(size=(2, F, 5)).astype(np.float32)
    np.testing.assert_allclose(net.output(x), ref.output(x), atol=1e-6)


def test_weights_found_by_group_number_without_names(tmp_path):
    """Files from Keras before 3.6 do not name the groups: the n-th layer of a class is ``<class>_<n>``."""
    model = _sequential(_layer("LSTM", name="enc", units=H, return_sequences=True),
                        _layer("LSTM", name="dec", units=H), _layer("Dense", name="d", units=1))
    arrays = [_lstm_arrays(), _lstm_arrays(H, H)]
    weights = {"layers/lstm/cell/vars": (None, arrays[0]), "layers/lstm_1/cell/vars": (None, arrays[1]),
               "layers/dense/vars": (None, _dense_arrays(H, 1))}
    net = _quiet_load(_keras_file(tmp_path / "m.keras", model, weights, loss="mse"))
    for layer, expected in zip(net.layers, arrays):
        for got, want in zip(layer.get_keras_weights(), expected):
            np.testing.assert_array_equal(got, want)


def test_final_activation_after_a_recurrent_layer_becomes_rnn_loss(tmp_path):
    net = _quiet_load(_lstm_model(tmp_path, _layer("Activation", activation="softmax")))
    assert isinstance(net.layers[-1], RnnLoss) and net.head().activation.name == "softmax"
    x = torch.randn(2, F, 5)
    np.testing.assert_allclose(net.output(x), torch.softmax(net.layers[0](x), dim=1).detach(), atol=1e-6)


def test_linear_activation_and_trailing_dropout(tmp_path):
    path = _lstm_model(tmp_path, _layer("Activation", activation="linear"), _layer("Dropout", rate=0.5), loss=None)
    with pytest.warns(UserWarning, match="Dropout at the end of the model is not imported"):
        net = seqkit.load_keras(path)
    assert [type(layer) for layer in net.layers] == [LSTM]


def test_masking_right_before_the_output_layer_is_dropped(tmp_path):
    path = _lstm_model(tmp_path, _layer("Masking", mask_value=0.0), _layer("Dense", name="d", units=2),
                       weights_after={"layers/dense/vars": ("d", _dense_arrays(H, 2))})
    with pytest.warns(UserWarning, match="Masking right before it is not imported"):
        net = seqkit.load_keras(path)
    assert isinstance(net.layers[-1], RnnOutput)


def test_dropout_before_the_output_layer_is_noted(tmp_path):
    path = _lstm_model(tmp_path, _layer("Dropout", rate=0.5), _layer("Dense", name="d", units=2),
                       weights_after={"layers/dense/vars": ("d", _dense_arrays(H, 2))})
    with pytest.warns(UserWarning, match="Dropout right before it is not imported"):
        net = seqkit.load_keras(path)
    assert net.dropout_rates == [0.0, 0.0]


def test_masking_then_dropout_is_noted(tmp_path):
    model = _sequential(_layer("Masking", mask_value=0.0), _layer("Dropout", rate=0.5),
                        _layer("LSTM", units=H, return_sequences=True))
    path = _keras_file(tmp_path / "m.keras", model, {"layers/lstm/cell/vars": ("lstm_cell", _lstm_arrays()),
                                                     "layers/lstm/vars": ("lstm", [])}, loss="mse")
    with pytest.warns(UserWarning, match="it follows a Masking layer"):
        net = seqkit.load_keras(path)
    assert isinstance(net.layers[0], MaskZero) and net.dropout_rates[0] == pytest.approx(0.5)


@pytest.mark.parametrize("after,match", [
    ([_layer("Masking")], "ends with a Masking layer"),
    ([_layer("Dense", units=2, activation="relu"), _layer("Activation", name="a", activation="tanh"),
      _layer("Dense", units=2)], r"'a' \(Activation\): seqkit.load_keras imports an Activation only"),
])
def test_plan_refusals(tmp_path, after, match):
    with pytest.raises(ConfigError, match=match):
        seqkit.load_keras(_lstm_model(tmp_path, *after))


def test_nothing_to_import(tmp_path):
    path = _keras_file(tmp_path / "m.keras", _sequential(_layer("Dropout", rate=0.1)), {})
    with pytest.raises(ConfigError, match="no layer seqkit imports"):
        seqkit.load_keras(path)


def test_keras1_files_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="saved by Keras 1.2.2"):
        seqkit.load_keras(_lstm_model(tmp_path, version="1.2.2"))


def test_weights_of_the_right_size_but_wrong_shape(tmp_path):
    model = _sequential(_layer("Dense", name="d", units=3), shape=(None, None, F))
    weights = {"layers/dense/vars": ("d", _dense_arrays(2, 4))}           # (2, 4) + 4 = (3, 3) + 3 numbers
    with pytest.raises(ModelFileError, match=r"'d' \(Dense\): the file's weights do not fit its config"):
        seqkit.load_keras(_keras_file(tmp_path / "m.keras", model, weights, loss="mse"))


def _kernel_as_int(f):
    g = f.create_group("layers/lstm/cell/vars")
    for i, a in enumerate(_lstm_arrays()):
        g[str(i)] = a.astype(np.int32) if i == 0 else a


@pytest.mark.parametrize("fill,match", [
    (lambda f: f.create_group("layers"), "no weights group layers/lstm/cell/vars"),
    (lambda f: f.create_group("layers/lstm/cell/vars").create_dataset("kernel", data=np.zeros(3)),
     "unexpected entries"),
    (lambda f: f.create_group("layers/lstm/cell/vars/0"), "vars/0 is not an array"),
    (_kernel_as_int, "has dtype int32"),
])
def test_weight_groups_are_checked(tmp_path, fill, match):
    path = _keras_file(tmp_path / "m.keras", _sequential(_layer("LSTM", units=H)),
                       members={"model.weights.h5": _h5_with(fill)})
    with pytest.raises(ModelFileError, match=match):
        _quiet_load(path)


def test_arrays_larger_than_their_stored_bytes_are_refused(tmp_path):
    units = 1024                                   # kernel (3, 4096), recurrent (1024, 4096): 16 MiB

    def fill(f):
        g = f.create_group("layers/lstm/cell/vars")
        g["0"] = np.zeros((F, 4 * units), np.float32)
        g.create_dataset("1", shape=(units, 4 * units), dtype=np.float32)     # declared, never written
        g["2"] = np.zeros(4 * units, np.float32)
    path = _keras_file(tmp_path / "m.keras", _sequential(_layer("LSTM", units=units)),
                       members={"model.weights.h5": _h5_with(fill)})
    with pytest.raises(ModelFileError, match="declares 16777216 bytes but the file stores 0"):
        _quiet_load(path)


def test_archive_refusals(tmp_path):
    model = _sequential(_layer("LSTM", units=H))
    with pytest.raises(ModelFileError, match="no model.weights.h5 in the archive"):
        seqkit.load_keras(_keras_file(tmp_path / "a.keras", model, members={"model.weights.h5": None}))
    with pytest.raises(ModelFileError, match="does not hold a serialized Keras model"):
        seqkit.load_keras(_keras_file(tmp_path / "b.keras", model, members={"config.json": b"[1, 2]"}))
    with pytest.raises(ModelFileError, match="metadata.json is not valid JSON"):
        seqkit.load_keras(_keras_file(tmp_path / "c.keras", model, members={"metadata.json": b"{"}))


def test_inflating_members_are_refused(tmp_path):
    path = tmp_path / "bomb.keras"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("config.json", b" " * (8 * 2 ** 20))
        z.writestr("model.weights.h5", _h5({}))
    with pytest.raises(ModelFileError, match=r"config\.json: it inflates past"):
        seqkit.load_keras(path)


def test_damaged_members_are_refused(tmp_path):
    path = _keras_file(tmp_path / "m.keras", _sequential(_layer("LSTM", units=H)))
    data = bytearray(path.read_bytes())
    at = data.index(b'"Sequential"')                 # config.json is stored uncompressed
    data[at + 1] = ord("X")
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match=r"member config\.json cannot be read"):
        seqkit.load_keras(path)


def _legacy(path, model=None, weights=None):
    with h5py.File(path, "w") as f:
        if model is not None:
            f.attrs["model_config"] = json.dumps(model)
        f.attrs["keras_version"] = "2.15.0"
        mw = f.create_group("model_weights")
        for name, arrays in (weights or {}).items():
            g = mw.create_group(name)
            names = [f"{name}/{name}/w{i}:0" for i in range(len(arrays))]
            g.attrs["weight_names"] = [n.encode() for n in names]
            for n, a in zip(names, arrays):
                g[n] = a
    return path


def test_legacy_files(tmp_path):
    model = _sequential(_layer("LSTM", units=H))
    net = _quiet_load(_legacy(tmp_path / "ok.h5", model, {"lstm": _lstm_arrays()}), loss="mse")
    assert isinstance(net.layers[0], LSTM)
    with pytest.raises(ModelFileError, match="model_config does not hold a serialized Keras model"):
        seqkit.load_keras(_legacy(tmp_path / "a.h5", [1]))
    with pytest.raises(ModelFileError, match="no weights group model_weights/lstm"):
        _quiet_load(_legacy(tmp_path / "b.h5", model))
    path = _legacy(tmp_path / "c.h5", model, {"lstm": _lstm_arrays()})
    with h5py.File(path, "a") as f:
        del f["model_weights/lstm/lstm/lstm/w1:0"]
    with pytest.raises(ModelFileError, match="is listed but missing"):
        _quiet_load(path)
    dense = _sequential(_layer("Dense", units=2), shape=(None, F))
    assert isinstance(_quiet_load(_legacy(tmp_path / "d.h5", dense, {"dense": _dense_arrays(F, 2)})).layers[0],
                      Dense)
