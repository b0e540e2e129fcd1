"""The TOML run configuration: the shipped example validates; mistakes name the key and the allowed values."""

from __future__ import annotations

import pytest

from conftest import REPO, TRAIN_FEATURES, write_tiny_config
from seqkit import ConfigError
from seqkit.cli._config import load_config
from seqkit.cli._errors import ConfigFileError
from seqkit.layers import ACTIVATIONS, LOSSES

EXAMPLE = REPO / "examples" / "configs" / "synthetic_control.toml"


def test_example_config_validates(cli):
    config = load_config(EXAMPLE)
    assert [spec.cls.__name__ for spec in config.layers] == ["LSTM", "LSTM", "LastTimeStep", "Dense",
                                                             "Output"]
    assert config.batch.num_classes == 6 and config.batch.sequence_labels
    assert config.splits["train"].end == 449
    assert (REPO / "datasets" / "synthetic_control" / "train" / "labels" / "0.csv").samefile(
        config.splits["train"].labels.replace("%d", "0"))
    result = cli("train", EXAMPLE, "--check")
    assert result.code == 0 and "valid" in result.out


def _error(tmp_path, old: str, new: str) -> str:
    path = write_tiny_config(tmp_path, **{old: new})
    with pytest.raises(ConfigFileError) as caught:
        load_config(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ")
    return message


def test_unknown_layer_argument_names_key_and_allowed(tmp_path):
    message = _error(tmp_path, 'type = "LSTM"\nn_out = 6', 'type = "LSTM"\nunits = 6')
    assert "layers[0].units" in message
    assert "allowed: n_out, n_in, activation" in message


def test_unknown_activation_lists_activations(tmp_path):
    message = _error(tmp_path, 'activation = "softmax"', 'activation = "softmaxx"')
    assert "layers[2].activation: unknown value 'softmaxx'" in message
    assert ", ".join(ACTIVATIONS) in message


def test_unknown_loss_lists_losses(tmp_path):
    message = _error(tmp_path, 'loss = "mcxent"', 'loss = "crossentropy"')
    assert "layers[2].loss" in message and ", ".join(LOSSES) in message


def test_nested_layer_error_has_full_path(tmp_path):
    message = _error(tmp_path, 'type = "SimpleRNN", n_out = 6', 'type = "SimpleRNN", n_out = 6, '
                                                                'activation = "tanhh"')
    assert "layers[1].layer.activation: unknown value 'tanhh'" in message


def test_unknown_layer_type_lists_types(tmp_path):
    message = _error(tmp_path, 'type = "LSTM"', 'type = "LTSM"')
    assert "layers[0].type: unknown layer type 'LTSM'" in message
    assert "GRU" in message and "LastTimeStep" in message and "SimpleRNN" in message


def test_bad_align_lists_alignments(tmp_path):
    message = _error(tmp_path, 'align = "align_end"', 'align = "end"')
    assert "data.align: unknown value 'end'; allowed: equal_length, align_start, align_end" in message


def test_bad_updater_lists_updaters(tmp_path):
    message = _error(tmp_path, "seed = 7", 'seed = 7\nupdater = "adamm"')
    assert "network.updater: unknown value 'adamm'; allowed: adam, adamw, sgd" in message


def test_unknown_key_lists_the_tables_keys(tmp_path):
    message = _error(tmp_path, "batch_size = 16", "batchsize = 16")
    assert "data.batchsize: unknown key; allowed keys in [data]:" in message
    assert "batch_size" in message and "sequence_labels" in message
    message = _error(tmp_path, "[train]\nepochs = 1", "[training]\nepochs = 1")
    assert "training: unknown key; allowed keys in the top level: data, layers, network, output, train" \
        in message


def test_wrong_types_are_named(tmp_path):
    assert "train.epochs: expected a positive integer, got 'one' (a string)" in \
        _error(tmp_path, "epochs = 1", 'epochs = "one"')
    assert "layers[0].n_out: LSTM takes an integer here, got 6.5 (a float)" in \
        _error(tmp_path, "n_out = 6\n", "n_out = 6.5\n")
    assert "network.learning_rate: expected a number > 0, got -1" in \
        _error(tmp_path, "learning_rate = 0.01", "learning_rate = -1")


def test_missing_keys_are_named(tmp_path):
    assert "layers[0].n_out: missing; LSTM needs n_out" in _error(tmp_path, "n_out = 6\n", "\n")
    assert "data.train.path: missing; this key is required" in \
        _error(tmp_path, f'path = "{TRAIN_FEATURES}"\n', "")
    assert "data.num_classes: missing" in _error(tmp_path, "num_classes = 6\nclass_names = "
                                                 '["normal", "cyclic", "up", "down", "shift up", '
                                                 '"shift down"]', "")


def test_cross_field_errors(tmp_path):
    assert "data.class_names: 6 names but num_classes = 5" in \
        _error(tmp_path, "num_classes = 6", "num_classes = 5")
    message = _error(tmp_path, "seed = 7", 'seed = 7\nbackprop = "tbptt"')
    assert message.split(": ")[1] == "network" and "TBPTT" in message
    message = _error(tmp_path, 'type = "Output"\nactivation = "softmax"\nloss = "mcxent"',
                     'type = "Dense"\nn_out = 6')
    assert "layers[2].type" in message and "output layer" in message


def test_not_toml_gives_line(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text("[data]\nbatch_size = = 3\n")
    with pytest.raises(ConfigFileError, match=r"broken.toml: not valid TOML: .*line 2"):
        load_config(path)


def test_config_error_through_the_command(cli, tmp_path):
    path = write_tiny_config(tmp_path, **{'align = "align_end"': 'align = "left"'})
    result = cli("train", path)
    assert result.code == 1
    assert result.err.strip().splitlines() == [
        f"seqkit: error: {path}: data.align: unknown value 'left'; allowed: equal_length, align_start, "
        f"align_end"]
    assert issubclass(ConfigFileError, ConfigError)


def test_updater_and_schedule_tables(tmp_path):
    good = write_tiny_config(tmp_path, **{"seed = 7": 'seed = 7\nupdater = { type = "sgd", momentum = 0.9, '
                                                     'nesterov = true }\nlr_schedule = { type = "StepLR", '
                                                     'step_size = 2 }'})
    kwargs = load_config(good).sequential_kwargs()
    assert kwargs["updater"].keywords == {"momentum": 0.9, "nesterov": True, "lr": 0.01}
    assert kwargs["lr_schedule"].keywords == {"step_size": 2}
    assert "network.lr_schedule: the schedule cannot be made" in \
        _error(tmp_path, "seed = 7", 'seed = 7\nlr_schedule = "StepLR"')
    assert "network.updater.momentom: SGD has no argument 'momentom'; allowed: lr, momentum" in \
        _error(tmp_path, "seed = 7", 'seed = 7\nupdater = { type = "sgd", momentom = 0.9 }')
    assert "network.updater: the updater cannot be made" in \
        _error(tmp_path, "seed = 7", 'seed = 7\nupdater = { type = "sgd", momentum = -1.0 }')
