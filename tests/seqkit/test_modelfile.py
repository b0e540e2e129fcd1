"""The seqkit model file: round trip, atomic write, and refusal of bad files."""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import zipfile

import pytest
import torch

import seqkit
from seqkit.network._modelfile import (FORMAT_VERSION, ModelFile, ModelFileError, read_model_file,
                               write_model_file)

CONFIG = {"layers": [{"class": "LSTM", "config": {"n_out": 4, "n_in": 3}}], "seed": 7,
          "learning_rate": 1e-3, "dropout": None, "name": "net"}

# Set by _marker; a refused file must never call it.
TRIGGERED = []


def _marker(*args):
    TRIGGERED.append(args)
    return None


class _Malicious:
    """Unpickling this calls _marker (a harmless stand-in for os.system)."""

    def __reduce__(self):
        return (_marker, ("unpickled",))


def _trained():
    """A small model and an Adam optimizer after one step, and a scheduler after one step."""
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
    model(torch.randn(5, 3)).square().sum().backward()
    opt.step()
    sched.step()
    return model, opt, sched


def _write_full(path, **overrides):
    model, opt, sched = _trained()
    kwargs = dict(config=CONFIG, parameters=model.state_dict(), optimizer_state=opt.state_dict(),
                  scheduler_state=sched.state_dict(),
                  training_state={"iteration": 12, "epoch": 2, "batch_in_epoch": 3,
                                  "listeners": [{"best": math.inf, "history": [0.5, 0.25]}]},
                  rng_state={"torch": torch.get_rng_state()})
    kwargs.update(overrides)
    write_model_file(path, **kwargs)
    return model, opt, sched


def _rewrite(path, name, data: bytes, *, update_checksum: bool) -> None:
    """Replace member ``name``; with ``update_checksum`` also fix the manifest (a careful forger)."""
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    members[name] = data
    if update_checksum:
        manifest = json.loads(members["manifest.json"])
        manifest["members"][name] = {"sha256": hashlib.sha256(data).hexdigest(), "size": len(data)}
        members["manifest.json"] = json.dumps(manifest).encode()
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)


def _saved(obj) -> bytes:
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


# -- round trip --------------------------------------------------------------------
def test_round_trip_of_every_field(tmp_path):
    path = tmp_path / "model.seqkit"
    model, opt, sched = _write_full(path)
    got = read_model_file(path)
    assert isinstance(got, ModelFile)
    assert got.config == CONFIG
    assert got.parameters.keys() == model.state_dict().keys()
    for k, v in model.state_dict().items():
        assert torch.equal(got.parameters[k], v)
    assert got.training_state["iteration"] == 12 and got.training_state["epoch"] == 2
    assert got.training_state["listeners"][0]["best"] == math.inf
    assert torch.equal(got.rng_state["torch"], torch.get_rng_state())
    assert got.scheduler_state == sched.state_dict()
    assert got.manifest["format"] == "seqkit-model" and got.manifest["format_version"] == FORMAT_VERSION
    assert set(got.manifest["members"]) == {"config.json", "training.json", "parameters.pt",
                                           "optimizer.pt", "scheduler.pt", "rng.pt"}
    assert got.manifest["created"].endswith("+00:00")

    # The optimizer state restores into a fresh Adam, which then steps exactly as the original.
    saved = opt.state_dict()
    assert got.optimizer_state["param_groups"] == saved["param_groups"]
    for idx, state in saved["state"].items():
        for key, value in state.items():
            assert torch.equal(got.optimizer_state["state"][idx][key], value)
    twin = torch.nn.Linear(3, 2)
    twin.load_state_dict(got.parameters)
    twin_opt = torch.optim.Adam(twin.parameters(), lr=0.5)
    twin_opt.load_state_dict(got.optimizer_state)
    x = torch.randn(4, 3)
    for m, o in ((model, opt), (twin, twin_opt)):
        o.zero_grad()
        m(x).square().sum().backward()
        o.step()
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.equal(a, b)


def test_rng_state_restores_the_same_draws(tmp_path):
    path = tmp_path / "m.seqkit"
    torch.manual_seed(3)
    write_model_file(path, config={}, parameters={}, rng_state={"torch": torch.get_rng_state()})
    expected = torch.rand(5)
    torch.set_rng_state(read_model_file(path).rng_state["torch"])
    assert torch.equal(torch.rand(5), expected)


def test_optional_members_are_left_out(tmp_path):
    path = tmp_path / "m.seqkit"
    write_model_file(path, config={"a": 1}, parameters={"w": torch.ones(2)})
    got = read_model_file(path)
    assert got.optimizer_state is None and got.scheduler_state is None
    assert got.training_state is None and got.rng_state is None
    with zipfile.ZipFile(path) as zf:
        assert sorted(zf.namelist()) == ["config.json", "manifest.json", "parameters.pt"]


def test_values_that_cannot_be_stored_are_named(tmp_path):
    path = tmp_path / "m.seqkit"
    with pytest.raises(ModelFileError, match=r"training_state\['listeners'\]\[0\].*set"):
        write_model_file(path, config={}, parameters={}, training_state={"listeners": [{1, 2}]})
    with pytest.raises(ModelFileError, match="JSON keys must be str"):
        write_model_file(path, config={1: "a"}, parameters={})
    with pytest.raises(ModelFileError, match="parameters must map str names to tensors"):
        write_model_file(path, config={}, parameters={"w": [1.0]})
    with pytest.raises(ModelFileError, match=r"optimizer_state\['state'\].*_Malicious"):
        write_model_file(path, config={}, parameters={}, optimizer_state={"state": _Malicious()})
    assert not path.exists() and not TRIGGERED


# -- atomic write ------------------------------------------------------------------
def test_a_failure_mid_write_leaves_the_previous_file_intact(tmp_path, monkeypatch):
    path = tmp_path / "model.seqkit"
    write_model_file(path, config={"version": "old"}, parameters={"w": torch.zeros(3)})
    before = path.read_bytes()

    real_save = torch.save

    def failing_save(obj, f, *args, **kwargs):
        f.write(b"\x00" * 100)                          # part of the data, then the disk fills
        raise OSError("no space left on device")

    monkeypatch.setattr(torch, "save", failing_save)
    with pytest.raises(OSError, match="no space left"):
        write_model_file(path, config={"version": "new"}, parameters={"w": torch.ones(3)})
    monkeypatch.setattr(torch, "save", real_save)

    assert path.read_bytes() == before
    assert read_model_file(path).config == {"version": "old"}
    assert sorted(os.listdir(tmp_path)) == ["model.seqkit"]      # no temporary file left behind


def test_a_failure_while_writing_the_archive_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "model.seqkit"
    write_model_file(path, config={"version": "old"}, parameters={})
    before = path.read_bytes()
    real_writestr = zipfile.ZipFile.writestr
    calls = []

    def failing_writestr(self, info, data, *args, **kwargs):
        calls.append(info)
        if len(calls) == 3:                             # after two members are on disk
            raise OSError("I/O error")
        return real_writestr(self, info, data, *args, **kwargs)

    monkeypatch.setattr(zipfile.ZipFile, "writestr", failing_writestr)
    with pytest.raises(OSError, match="I/O error"):
        write_model_file(path, config={"version": "new"}, parameters={"w": torch.ones(3)})
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["model.seqkit"]


def test_overwrite_replaces_the_file(tmp_path):
    path = tmp_path / "model.seqkit"
    write_model_file(path, config={"version": 1}, parameters={})
    write_model_file(str(path), config={"version": 2}, parameters={})
    assert read_model_file(str(path)).config == {"version": 2}


# -- bad files ---------------------------------------------------------------------
@pytest.mark.parametrize("keep", [0.5, 0.9, 0.999])
def test_truncated_file_is_a_clear_error(tmp_path, keep):
    path = tmp_path / "model.seqkit"
    _write_full(path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)])
    with pytest.raises(ModelFileError, match="truncated or corrupted"):
        read_model_file(path)


def test_every_cut_and_flipped_byte_is_a_clean_result(tmp_path):
    """Damage anywhere gives a ModelFileError (or, in unchecked zip fields, the same contents)."""
    path = tmp_path / "model.seqkit"
    write_model_file(path, config={"a": [1, 2]}, parameters={"w": torch.arange(6.0)},
                     training_state={"iteration": 1}, rng_state={"torch": torch.get_rng_state()})
    data = path.read_bytes()
    for cut in range(4, len(data), 97):
        path.write_bytes(data[:cut])
        with pytest.raises(ModelFileError, match="truncated or corrupted"):
            read_model_file(path)
    for at in range(0, len(data), 41):
        damaged = bytearray(data)
        damaged[at] ^= 0x5A
        path.write_bytes(bytes(damaged))
        try:
            got = read_model_file(path)
        except ModelFileError:
            continue
        assert got.config == {"a": [1, 2]} and torch.equal(got.parameters["w"], torch.arange(6.0))


@pytest.mark.parametrize("same_size", [True, False])
def test_tampered_member_is_a_clear_error(tmp_path, same_size):
    path = tmp_path / "model.seqkit"
    _write_full(path)
    with zipfile.ZipFile(path) as zf:
        original = zf.read("config.json")
    forged = (original.replace(b'"net"', b'"NET"') if same_size
              else json.dumps({**CONFIG, "learning_rate": 10.0}).encode())
    assert forged != original and (len(forged) == len(original)) == same_size
    _rewrite(path, "config.json", forged, update_checksum=False)
    detail = "does not match its SHA-256" if same_size else "bytes, the manifest says"
    with pytest.raises(ModelFileError, match=f"tampered or corrupted: member config.json.*{detail}"):
        read_model_file(path)


def test_corrupted_bytes_inside_a_member_are_a_clear_error(tmp_path):
    path = tmp_path / "model.seqkit"
    write_model_file(path, config={}, parameters={"w": torch.arange(1000.0)})
    with zipfile.ZipFile(path) as zf:
        info = zf.getinfo("parameters.pt")
    data = bytearray(path.read_bytes())
    start = info.header_offset + 30 + len(info.filename.encode()) + len(info.extra)
    data[start + info.compress_size // 2] ^= 0xFF      # flip a byte inside parameters.pt
    path.write_bytes(bytes(data))
    with pytest.raises(ModelFileError, match="corrupted: member parameters.pt"):
        read_model_file(path)


def test_pickled_malicious_object_is_refused_and_never_run(tmp_path):
    path = tmp_path / "model.seqkit"
    _write_full(path)
    payload = _saved({"w": torch.zeros(1), "evil": _Malicious()})
    _rewrite(path, "parameters.pt", payload, update_checksum=True)   # checksums are no defence
    with pytest.raises(ModelFileError, match="refused member parameters.pt.*never runs pickled code"):
        read_model_file(path)
    assert TRIGGERED == []


def test_malicious_object_in_optimizer_state_is_refused(tmp_path):
    path = tmp_path / "model.seqkit"
    _write_full(path)
    _rewrite(path, "optimizer.pt", _saved({"state": {0: _Malicious()}}), update_checksum=True)
    with pytest.raises(ModelFileError, match="refused member optimizer.pt"):
        read_model_file(path)
    assert TRIGGERED == []


def test_not_a_zip_is_a_clear_error(tmp_path):
    path = tmp_path / "model.seqkit"
    path.write_bytes(b"just some text, not a model\n")
    with pytest.raises(ModelFileError, match="not a seqkit model file \\(not a zip archive\\)"):
        read_model_file(path)
    path.write_bytes(b"")
    with pytest.raises(ModelFileError, match="not a seqkit model file \\(the file is empty\\)"):
        read_model_file(path)


def test_a_plain_torch_save_file_is_not_a_model_file(tmp_path):
    path = tmp_path / "weights.pt"
    torch.save({"w": torch.ones(2)}, path)             # a zip archive too, but not ours
    with pytest.raises(ModelFileError, match="not a seqkit model file \\(no manifest.json"):
        read_model_file(path)


def test_not_a_file(tmp_path):
    with pytest.raises(ModelFileError, match="not a file"):
        read_model_file(tmp_path)
    with pytest.raises(FileNotFoundError, match="no model file"):
        read_model_file(tmp_path / "missing.seqkit")


def test_missing_member_is_a_clear_error(tmp_path):
    path = tmp_path / "model.seqkit"
    _write_full(path)
    with zipfile.ZipFile(path) as zf:
        members = {n: zf.read(n) for n in zf.namelist() if n != "rng.pt"}
    with zipfile.ZipFile(path, "w") as zf:
        for n, d in members.items():
            zf.writestr(n, d)
    with pytest.raises(ModelFileError, match="missing member rng.pt"):
        read_model_file(path)


def test_unlisted_member_is_a_clear_error(tmp_path):
    path = tmp_path / "model.seqkit"
    _write_full(path)
    with zipfile.ZipFile(path, "a") as zf:
        zf.writestr("extra.pt", b"x")
    with pytest.raises(ModelFileError, match="member extra.pt is not in the manifest"):
        read_model_file(path)


@pytest.mark.parametrize("version, hint", [(2, "newer seqkit"), ("1", "unknown"), (None, "unknown")])
def test_unknown_format_version_is_a_clear_error(tmp_path, version, hint):
    path = tmp_path / "model.seqkit"
    _write_full(path)
    with zipfile.ZipFile(path) as zf:
        manifest = json.loads(zf.read("manifest.json"))
    manifest["format_version"] = version
    _rewrite(path, "manifest.json", json.dumps(manifest).encode(), update_checksum=False)
    with pytest.raises(ModelFileError, match=f"format version.*{hint}|{hint}.*format version"):
        read_model_file(path)


def test_model_file_error_is_exported_and_a_value_error():
    assert seqkit.ModelFileError is ModelFileError
    assert "ModelFileError" in seqkit.__all__
    assert issubclass(ModelFileError, ValueError)


def test_map_location(tmp_path):
    path = tmp_path / "m.seqkit"
    write_model_file(path, config={}, parameters={"w": torch.ones(2, dtype=torch.float64)})
    got = read_model_file(path, map_location=torch.device("cpu"))
    assert got.parameters["w"].device.type == "cpu" and got.parameters["w"].dtype == torch.float64


@pytest.mark.cuda
def test_cuda_tensors_load_on_the_cpu(tmp_path):
    path = tmp_path / "m.seqkit"
    write_model_file(path, config={}, parameters={"w": torch.ones(2, device="cuda")})
    assert read_model_file(path).parameters["w"].device.type == "cpu"
    assert read_model_file(path, map_location="cuda").parameters["w"].device.type == "cuda"
