"""Sequential.export: ONNX (run under onnxruntime) and torch.export programs equal net.output.

Each stack is exported once per format, then run on batches of other sizes
than the one traced (N and T dynamic) with right padding, left padding,
gaps and junk at the padded steps; the reference is ``net.output`` on the
same batch, the eager path whose padding rule the padding property test
guards (each example as if alone).
"""

import json
import os
import sys

import numpy as np
import pytest
import torch

import seqkit
from seqkit import ConfigError, InputType, Sequential
from seqkit.layers import (GRU, LSTM, Activation, BatchNorm, Bidirectional, Conv1D, Dense, GlobalPooling,
                           GravesLSTM, LastTimeStep, LayerNorm, Layer, MaskZero, Output, Residual, RnnOutput,
                           SimpleRNN, TimeDistributed)
from seqkit.network import ExportCheckError

onnx = pytest.importorskip("onnx")
ort = pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")

F = 4

STACKS = {
    "lstm_gru0_simplernn": lambda: [LSTM(6), GRU(5, reset_after=False), SimpleRNN(4), RnnOutput(3)],
    "graves_bi_concat_add_lasttimestep": lambda: [
        Bidirectional(GravesLSTM(5), mode="concat"), Bidirectional(GRU(4), mode="add"),
        LastTimeStep(LSTM(4)), Output(3)],
    "bi_mul_ave_conv_timedistributed": lambda: [
        Bidirectional(LSTM(4), mode="mul"), Bidirectional(SimpleRNN(4), mode="ave"),
        Conv1D(5, kernel_size=3, padding="causal"), TimeDistributed(Dense(5)), Dense(4), RnnOutput(2)],
    "backwards_no_sequences": lambda: [
        LSTM(5, go_backwards=True), GRU(4, go_backwards=True), GRU(4, return_sequences=False),
        Dense(6), Output(3)],
    "fcn_norm_residual_pooling": lambda: [
        Conv1D(6, kernel_size=3, padding="same"), BatchNorm(), Activation("relu"),
        Residual([Conv1D(8, kernel_size=3, padding="same"), LayerNorm(), Activation("relu")]),
        GlobalPooling("avg"), Output(3)],
    "maskzero_pooling_max": lambda: [MaskZero(LSTM(5)), GlobalPooling("max"), Output(2)],
}


def _net(name: str) -> Sequential:
    net = Sequential(STACKS[name](), input_type=InputType.recurrent(F), seed=7)
    for module in net.modules():                    # non-trivial running statistics for BatchNorm
        if isinstance(module, BatchNorm):
            with torch.no_grad():
                module.running_mean.uniform_(-0.5, 0.5)
                module.running_var.uniform_(0.5, 2.0)
    return net.eval()


def _batches():
    """(x, mask) pairs of other N and T than the traced example, padded every way, junk in padding."""
    g = torch.Generator().manual_seed(3)
    out = []
    for n, t, kind in [(5, 11, "right"), (2, 4, "left"), (4, 13, "gaps"), (1, 1, "none")]:
        x = torch.randn(n, F, t, generator=g)
        mask = torch.ones(n, t)
        if kind == "right":
            mask[0, 7:] = 0
            mask[3, 2:] = 0
        elif kind == "left":
            mask[1, :2] = 0
        elif kind == "gaps":
            mask[0, 3:5] = 0
            mask[2, ::3] = 0
        x = torch.where(mask.bool().unsqueeze(1), x, torch.full_like(x, 7.5))   # junk at padded steps
        out.append((x, mask))
    return out


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """{(stack, suffix): (net, path)}, each exported once for the module."""
    root = tmp_path_factory.mktemp("export")
    cache = {}

    def get(name, suffix):
        if (name, suffix) not in cache:
            net = _net(name)
            path = net.export(root / f"{name}{suffix}")
            cache[name, suffix] = (net, path)
        return cache[name, suffix]
    return get


def _run_onnx(path, x, mask):
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(["output"], {"features": x.numpy(), "mask": mask.numpy()})[0]


def _run_pt2(path, x, mask):
    with torch.no_grad():
        return torch.export.load(str(path)).module()(x, mask).numpy()


@pytest.mark.parametrize("suffix", [".onnx", ".pt2"])
@pytest.mark.parametrize("name", sorted(STACKS))
def test_exported_program_equals_output(exported, name, suffix):
    net, path = exported(name, suffix)
    run = _run_onnx if suffix == ".onnx" else _run_pt2
    for x, mask in _batches():
        if name.startswith("maskzero") or name.startswith("fcn"):
            x = x * mask.unsqueeze(1)                  # MaskZero reads padding from the values: zeros
        expected = net.output(x, mask).numpy()
        got = run(path, x, mask)
        assert got.shape == expected.shape
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-5)
        if expected.ndim == 3:                         # per-step output: exact zeros where seqkit has them
            assert np.all(got[expected == 0] == 0)


def test_onnx_inputs_are_named_and_dynamic(exported):
    _, path = exported("lstm_gru0_simplernn", ".onnx")
    model = onnx.load(str(path))
    inputs = {i.name: i for i in model.graph.input}
    assert list(inputs) == ["features", "mask"]
    assert [o.name for o in model.graph.output] == ["output"]
    features = [d.dim_param or d.dim_value for d in inputs["features"].type.tensor_type.shape.dim]
    mask = [d.dim_param or d.dim_value for d in inputs["mask"].type.tensor_type.shape.dim]
    assert isinstance(features[0], str) and features[1] == F and isinstance(features[2], str)
    assert mask == [features[0], features[2]]          # the same symbols: N and T
    assert inputs["mask"].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    ops = {node.op_type for node in model.graph.node}
    assert "Scan" in ops                               # the step loop, T steps at run time


def test_masked_path_reads_nothing_on_the_host(exported):
    """The program runs with the mask as data: a mask it never saw while tracing (gaps, one
    example all padding but one step) gives the eager result, so nothing was baked in."""
    net, path = exported("lstm_gru0_simplernn", ".pt2")
    program = torch.export.load(str(path))
    targets = {str(node.target) for node in program.graph.nodes if node.op == "call_function"}
    host_reads = {"aten._local_scalar_dense.default", "aten.item.default", "aten.nonzero.default",
                  "aten.to.dtype_layout"}                                # none reads data back
    assert targets and not targets & host_reads
    assert "scan" in targets
    x = torch.randn(3, F, 9)
    mask = torch.zeros(3, 9)
    mask[0, 4] = 1
    mask[1] = 1
    mask[2, 1:8:2] = 1
    np.testing.assert_allclose(_run_pt2(path, x * mask.unsqueeze(1), mask),
                               net.output(x * mask.unsqueeze(1), mask).numpy(), atol=1e-5)


def test_feed_forward_network_exports_features_only(tmp_path):
    net = Sequential([Dense(5), Output(3)], input_type=InputType.feed_forward(F), seed=1).eval()
    path = net.export(tmp_path / "ff.onnx")
    x = torch.randn(6, F)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    assert [i.name for i in session.get_inputs()] == ["features"]
    np.testing.assert_allclose(session.run(None, {"features": x.numpy()})[0], net.output(x).numpy(), atol=1e-6)


def test_onnx_without_onnxscript_says_what_to_install(tmp_path, monkeypatch):
    net = Sequential([Dense(5), Output(3)], input_type=InputType.feed_forward(F), seed=1)
    monkeypatch.setitem(sys.modules, "onnxscript", None)            # import onnxscript -> ImportError
    with pytest.raises(ImportError, match=r"onnx and onnxscript.*pip install 'seqkit\[export\]'"):
        net.export(tmp_path / "ff.onnx")
    assert not list(tmp_path.iterdir())


def test_onnx_without_onnxruntime_is_written_unchecked_with_a_warning(tmp_path, monkeypatch):
    net = Sequential([Dense(5), Output(3)], input_type=InputType.feed_forward(F), seed=1)
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    with pytest.warns(UserWarning, match="onnxruntime is not installed, so the written .onnx file was not checked"):
        path = net.export(tmp_path / "ff.onnx")
    monkeypatch.undo()
    x = torch.randn(4, F)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"features": x.numpy()})[0], net.output(x).numpy(), atol=1e-6)


def test_logits_option(tmp_path):
    net = _net("lstm_gru0_simplernn")
    path = net.export(tmp_path / "logits.pt2", logits=True)
    x, mask = _batches()[0]
    with torch.no_grad():
        expected = net(x, mask, logits=True).numpy()
    np.testing.assert_allclose(_run_pt2(path, x, mask), expected, atol=1e-5)


@pytest.mark.parametrize("per_sequence", [False, True])
def test_standardize_puts_the_standardizer_in_front(tmp_path, per_sequence):
    import readers

    net = Sequential([LSTM(5), RnnOutput(2)], input_type=InputType.recurrent(3), seed=2).eval()
    rng = np.random.default_rng(0)
    if per_sequence:
        scaler = readers.Standardizer(per_sequence=True)
    else:
        scaler = readers.Standardizer(rng.normal(size=3), rng.uniform(0.5, 2.0, size=3), ["a", "b", "c"])
    net.data_description = seqkit.network.DataDescription(feature_columns=["a", "b", "c"], standardizer=scaler)
    path = net.export(tmp_path / "std.onnx", standardize=True)
    x = rng.normal(3.0, 4.0, size=(4, 3, 9)).astype(np.float32)
    mask = np.ones((4, 9), np.float32)
    mask[1, 6:] = 0
    mask[2, :3] = 0
    x *= mask[:, None, :]
    batch = readers.Batch(features=x, labels=None, features_mask=mask, labels_mask=None, keys=list(range(4)))
    expected = net.output(torch.from_numpy(scaler.transform(batch).features), torch.from_numpy(mask)).numpy()
    np.testing.assert_allclose(_run_onnx(path, torch.from_numpy(x), torch.from_numpy(mask)), expected, atol=1e-5)
    meta = {p.key: p.value for p in onnx.load(str(path)).metadata_props}
    assert json.loads(meta["seqkit.feature_columns"]) == ["a", "b", "c"]
    assert json.loads(meta["seqkit.standardized_inside"]) is True


def test_standardize_without_a_standardizer_is_an_error(tmp_path):
    net = _net("lstm_gru0_simplernn")
    with pytest.raises(ConfigError, match="no Standardizer"):
        net.export(tmp_path / "x.pt2", standardize=True)
    assert not list(tmp_path.iterdir())


def test_a_network_not_built_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="not built yet"):
        Sequential([LSTM(4), RnnOutput(2)]).export(tmp_path / "x.onnx")
    assert not list(tmp_path.iterdir())


def test_unknown_suffix_names_the_formats(tmp_path):
    with pytest.raises(ConfigError, match=r"\.onnx or \.pt2"):
        _net("lstm_gru0_simplernn").export(tmp_path / "model.zip")


def test_stateful_layer_is_refused_naming_it(tmp_path):
    net = Sequential([Dense(4), Bidirectional(LSTM(5, stateful=True)), RnnOutput(2)],
                     input_type=InputType.recurrent(F), seed=0)
    with pytest.raises(ConfigError, match=r"layer 1 \(Bidirectional\) cannot be exported: it is stateful"):
        net.export(tmp_path / "s.onnx")
    assert not list(tmp_path.iterdir())


class _HostReading(Layer):
    """A user layer that reads a tensor's value on the host: the tracer refuses it."""

    def _build(self, n_in):
        pass

    @property
    def n_out(self):
        return self.n_in

    def output_shape(self, input_shape):
        return tuple(input_shape)

    def forward(self, x, mask=None):
        if float(x.abs().max()) > 1e6:
            return x * 0
        return x


def test_untraceable_layer_is_named_with_its_index(tmp_path):
    net = Sequential([LSTM(4), _HostReading(), RnnOutput(2)], input_type=InputType.recurrent(F), seed=0)
    with pytest.raises(ConfigError, match=r"export: layer 1 \(_HostReading\) cannot be exported"):
        net.export(tmp_path / "h.pt2")
    assert not list(tmp_path.iterdir())


def test_failed_check_writes_nothing_and_keeps_the_old_file(tmp_path, monkeypatch):
    from seqkit.network import _export

    net = _net("lstm_gru0_simplernn")
    target = tmp_path / "m.pt2"
    target.write_bytes(b"old")
    real = _export._run_written
    monkeypatch.setattr(_export, "_run_written", lambda *a: real(*a) + 1e-3)
    with pytest.raises(ExportCheckError, match="differs"):
        net.export(target)
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["m.pt2"]           # no temporary file left


def test_export_restores_training_mode(tmp_path):
    net = _net("lstm_gru0_simplernn").train()
    net.export(tmp_path / "m.pt2", check=False)
    assert net.training
    assert os.path.getsize(tmp_path / "m.pt2") > 0
