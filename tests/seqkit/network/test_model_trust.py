"""Model files that carry what the network needs, and crafted files refused before they cost memory.

- the data description (feature columns, classes, normaliser, alignment) goes into the model
  file and comes back with ``seqkit.load``;
- data is matched to the network by column name: reordered columns give the same results,
  a missing or extra column is an error naming it;
- a config that asks for layers far larger than the stored parameters is refused before any
  allocation, and a member that inflates far past its stored bytes is refused while reading.
"""

from __future__ import annotations

import copy
import hashlib
import json
import resource
import zipfile
import zlib

import numpy as np
import pytest

import readers
import seqkit
from seqkit import ConfigError, InputType, ModelFileError, Sequential
from seqkit.layers import LSTM, GRU, LastTimeStep, Output, RnnOutput


def _write_long_csv(path, columns, rows):
    with open(path, "w") as handle:
        handle.write(",".join(columns) + "\n")
        for row in rows:
            handle.write(",".join(str(v) for v in row) + "\n")


def _dataset(tmp_path, order=("d0", "d1", "d2"), n=12, t=6, seed=0):
    """A long table with ids, an order column and three feature columns written in ``order``;
    labels (per sequence) from the sign of d0's mean. The same values whatever the order."""
    rng = np.random.default_rng(seed)
    values = {f"d{k}": rng.normal(size=(n, t)) * (k + 1) for k in range(3)}
    feats, labels = [], []
    for i in range(n):
        for step in range(t):
            feats.append([f"s{i}", step] + [round(float(values[c][i, step]), 6) for c in order])
        labels.append([f"s{i}", 0, int(values["d0"][i].mean() > 0)])
    fpath, lpath = tmp_path / f"features-{'-'.join(order)}.csv", tmp_path / "labels.csv"
    _write_long_csv(fpath, ["id", "t", *order], feats)
    _write_long_csv(lpath, ["id", "t", "label"], labels)
    return fpath, lpath


def _batches(fpath, lpath, **kwargs):
    feats = readers.CSVSequenceReader(str(fpath), skip_lines=1, id_column="id", order_column="t")
    labels = readers.CSVSequenceReader(str(lpath), skip_lines=1, id_column="id", order_column="t")
    return readers.SequenceBatches(feats, labels, batch_size=4, num_classes=2, align="align_end",
                                   sequence_labels=True, **kwargs)


def _net():
    return Sequential([LSTM(5), LastTimeStep(GRU(4)), Output(2)], input_type=InputType.recurrent(3), seed=0)


def test_the_model_file_carries_the_data_description(tmp_path):
    fpath, lpath = _dataset(tmp_path)
    train = _batches(fpath, lpath)
    scale = readers.Standardizer.fit(train)
    net = _net().fit(scale(train), epochs=1, progress=False)
    desc = net.data_description
    assert desc.feature_columns == ["d0", "d1", "d2"] and desc.align == "align_end" and desc.sequence_labels
    net.save(tmp_path / "m.seqkit")
    back = seqkit.load(tmp_path / "m.seqkit").data_description
    assert back.feature_columns == ["d0", "d1", "d2"] and back.align == "align_end"
    assert back.sequence_labels is True and back.num_outputs == 2
    np.testing.assert_array_equal(back.standardizer.mean, scale.mean)
    np.testing.assert_array_equal(back.standardizer.std, scale.std)


def test_columns_in_another_order_are_matched_by_name(tmp_path):
    fpath, lpath = _dataset(tmp_path)
    net = _net().fit(_batches(fpath, lpath), epochs=2, progress=False)
    rpath, _ = _dataset(tmp_path, order=("d2", "d0", "d1"))
    straight = net.evaluate(_batches(fpath, lpath))
    shuffled = net.evaluate(_batches(rpath, lpath))
    np.testing.assert_array_equal(straight.confusion_matrix(), shuffled.confusion_matrix())
    assert net.score(_batches(fpath, lpath)) == pytest.approx(net.score(_batches(rpath, lpath)), rel=1e-6)
    # without matching by name the reordered file gives other outputs: the check can fail
    by_position = [b.features for b in _batches(rpath, lpath)]
    by_name = [b.features for b in _batches(fpath, lpath)]
    assert any(not np.allclose(a, b) for a, b in zip(by_position, by_name))


def test_a_missing_or_extra_column_is_an_error_naming_it(tmp_path):
    fpath, lpath = _dataset(tmp_path)
    net = _net().fit(_batches(fpath, lpath), epochs=1, progress=False)
    other = tmp_path / "other.csv"
    text = fpath.read_text().replace("d1", "speed")
    other.write_text(text)
    with pytest.raises(readers.SequenceDataError, match=r"missing 'd1'; extra 'speed'"):
        net.evaluate(_batches(other, lpath))


def test_other_class_names_are_refused():
    desc = seqkit.network.DataDescription(feature_columns=["a"], class_names=["no", "yes"])
    desc.check_classes(["no", "yes"], "evaluate")
    desc.check_classes(None, "evaluate")
    with pytest.raises(ConfigError, match=r"evaluate: the data's classes \['yes', 'no'\] differ from the "
                                          r"network's \['no', 'yes'\]"):
        desc.check_classes(["yes", "no"], "evaluate")


def test_a_bad_data_description_in_a_file_is_a_config_error():
    with pytest.raises(ConfigError, match="unknown align 'sideways'"):
        seqkit.network.DataDescription.from_dict({"align": "sideways"})
    with pytest.raises(ConfigError, match="num_outputs must be a positive int"):
        seqkit.network.DataDescription.from_dict({"num_outputs": 0})


def _rewrite_config(path, change) -> None:
    """Edit config.json and re-hash it in the manifest, as a careful forger would."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    config = json.loads(members["config.json"])
    change(config)
    data = json.dumps(config).encode()
    members["config.json"] = data
    manifest = json.loads(members["manifest.json"])
    manifest["members"]["config.json"] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in members.items():
            zf.writestr(name, value, compress_type=zipfile.ZIP_DEFLATED if name.endswith(".json")
                        else zipfile.ZIP_STORED)


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@pytest.mark.parametrize("n_out", [2_000_000_000, 200_000])
def test_a_config_far_larger_than_its_parameters_is_refused_before_allocating(tmp_path, n_out):
    net = Sequential([LSTM(4), RnnOutput(2)], input_type=InputType.recurrent(3), seed=0)
    path = tmp_path / "m.seqkit"
    net.save(path)

    def grow(config):                                                   # a consistent, huge config
        config["layers"][0]["config"]["n_out"] = n_out
        if "n_in" in config["layers"][1]["config"]:
            config["layers"][1]["config"]["n_in"] = n_out
    _rewrite_config(path, grow)
    before = _peak_rss_mb()
    with pytest.raises(ConfigError, match=r"m\.seqkit: the stored config (makes parameter|cannot be built)"):
        seqkit.load(path)
    assert _peak_rss_mb() - before < 500                                  # LSTM(200k) alone is 640 GB


def test_a_config_naming_other_parameters_is_refused(tmp_path):
    net = Sequential([LSTM(4), RnnOutput(2)], input_type=InputType.recurrent(3), seed=0)
    path = tmp_path / "m.seqkit"
    net.save(path)

    def add_layer(config):
        layer = copy.deepcopy(config["layers"][0])
        layer["config"].pop("n_in", None)
        config["layers"].insert(1, layer)
        config["layer_options"].insert(1, {})
    _rewrite_config(path, add_layer)
    with pytest.raises(ConfigError, match=r"the stored config (makes|has) parameter layers\.1"):
        seqkit.load(path)


def test_a_member_that_inflates_far_past_its_stored_bytes_is_refused(tmp_path):
    net = Sequential([LSTM(4), RnnOutput(2)], input_type=InputType.recurrent(3), seed=0)
    path = tmp_path / "m.seqkit"
    net.save(path)
    bomb = b'{"pad": "' + b" " * (200 * 2 ** 20) + b'"}'              # 200 MB of spaces, ~200 KB deflated

    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members["config.json"] = bomb
    manifest = json.loads(members["manifest.json"])
    manifest["members"]["config.json"] = {"sha256": hashlib.sha256(bomb).hexdigest(), "size": len(bomb)}
    members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for name, value in members.items():
            zf.writestr(name, value, compress_type=zipfile.ZIP_DEFLATED)
    assert path.stat().st_size < 2 * 2 ** 20
    before = _peak_rss_mb()
    with pytest.raises(ModelFileError, match=r"refused member config\.json: it inflates past"):
        seqkit.load(path)
    assert _peak_rss_mb() - before < 150
    assert len(zlib.compress(b" " * 2 ** 20)) < 2 ** 12                   # the ratio this relies on


def test_the_standardizer_matches_columns_by_name(tmp_path):
    """Statistics fitted on d0, d1, d2 standardise a file with columns d2, d0, d1 channel by name."""
    fpath, lpath = _dataset(tmp_path)
    rpath, _ = _dataset(tmp_path, order=("d2", "d0", "d1"))
    scale = readers.Standardizer.fit(_batches(fpath, lpath))
    straight = [b.features for b in scale(_batches(fpath, lpath))]
    shuffled = [b.features for b in scale(_batches(rpath, lpath))]
    for a, b in zip(straight, shuffled):
        np.testing.assert_allclose(b, a[:, [2, 0, 1]], rtol=1e-6, atol=1e-6)
    other = tmp_path / "other.csv"
    other.write_text(fpath.read_text().replace("d1", "speed"))
    with pytest.raises(readers.SequenceDataError, match=r"missing: \['d1'\]; extra: \['speed'\]"):
        next(iter(scale(_batches(other, lpath))))


def test_evaluate_with_a_standardizer_on_reordered_columns_equals_the_original(tmp_path):
    fpath, lpath = _dataset(tmp_path)
    rpath, _ = _dataset(tmp_path, order=("d2", "d0", "d1"))
    scale = readers.Standardizer.fit(_batches(fpath, lpath))
    net = _net().fit(scale(_batches(fpath, lpath)), epochs=2, progress=False)
    a = net.evaluate(scale(_batches(fpath, lpath)))
    b = net.evaluate(scale(_batches(rpath, lpath)))
    np.testing.assert_array_equal(a.confusion_matrix(), b.confusion_matrix())
    assert net.score(scale(_batches(fpath, lpath))) == pytest.approx(net.score(scale(_batches(rpath, lpath))),
                                                                      rel=1e-6)


def test_evaluate_states_its_provenance_and_the_model_file_keeps_training_time(tmp_path):
    fpath, lpath = _dataset(tmp_path)
    net = _net().fit(_batches(fpath, lpath), epochs=2, progress=False)
    assert net.progress.seconds > 0
    ev = net.evaluate(_batches(fpath, lpath))
    assert ev.provenance["epochs"] == 2 and ev.provenance["iterations"] == 6
    assert ev.provenance["training_time_s"] > 0 and "features-d0-d1-d2.csv" in ev.provenance["data_source"]
    net.save(tmp_path / "m.seqkit")
    assert seqkit.load(tmp_path / "m.seqkit").progress.seconds == pytest.approx(net.progress.seconds)
    ev.report(tmp_path / "r.json")
    assert json.loads((tmp_path / "r.json").read_text())["provenance"]["epochs"] == 2
