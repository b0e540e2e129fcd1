"""Each example script of examples/ runs in its --smoke mode and prints what it should.

The scripts run in a subprocess, as a user runs them (``python examples/X.py
--smoke`` from the repository root); a failure shows the script's output.
uci_sequence_classification.py has its own test in tests/seqkit/network/.
"""

import os
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TIMEOUT = 180          # seconds; a smoke run takes a few seconds on an idle 2-core machine


def run_example(name: str, *args: str) -> str:
    env = dict(os.environ, CI="1")                          # no progress bars
    proc = subprocess.run([sys.executable, os.path.join("examples", name), "--smoke", *args],
                          cwd=ROOT, env=env, capture_output=True, text=True, timeout=TIMEOUT)
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0, f"{name} exited with {proc.returncode}:\n{output[-4000:]}"
    return proc.stdout


def test_variable_length_masking():
    out = run_example("variable_length_masking.py")
    assert "label mask 1 only at t =" in out                 # one labelled step per series (ALIGN_END)
    assert "Evaluation Metrics" in out
    assert "evaluated steps: 32 (one per test series" in out
    assert "test accuracy" in out


def test_tbptt_long_sequences():
    out = run_example("tbptt_long_sequences.py")
    assert "backprop=tbptt (segments of 50" in out
    assert "20 optimizer steps: 1 minibatches x 20 segments of 50 steps" in out
    assert "one epoch: TBPTT(50)" in out and "full BPTT" in out


def test_streaming_inference():
    out = run_example("streaming_inference.py")               # exits non-zero if the outputs differ
    assert "whole stream: max |streamed - output()|" in out
    assert "identical" in out and "DIFFERENT" not in out
    assert "layer 0 state: h (4, 24), c (4, 24)" in out


def test_cnn_rnn_video():
    out = run_example("cnn_rnn_video.py")
    assert "CnnToRnn (inserted)" in out
    assert "[N, 1, T, 16, 16] from InputType.convolutional(16, 16, 1)" in out
    assert "accuracy by frame: 0:" in out and "Evaluation Metrics" in out


def test_bidirectional_tagging():
    out = run_example("bidirectional_tagging.py")
    assert "per-step masked accuracy on the test set" in out
    assert "Bidirectional(LSTM(24))" in out and "LSTM(48), forward only" in out


@pytest.mark.parametrize("mode", [[], ["--no-keras"]], ids=["keras-if-installed", "no-keras"])
def test_keras_style_layers(mode):
    out = run_example("keras_style_layers.py", *mode)         # exits non-zero if a comparison differs
    assert "largest difference overall" in out and "DIFFERENT" not in out
    assert "StackedRNNCells" in out
    if mode:
        assert "--no-keras: generated Keras-layout arrays" in out
    else:
        assert "set_keras_weights" in out or "keras is not installed" in out


def test_prepare_dataset(tmp_path):
    out = run_example("prepare_dataset.py", "--out", str(tmp_path))
    assert out.count("data error:") == 2                      # the mistyped number and the repeated row
    assert "column 'ay': non-numeric value" in out
    assert "order value repeats within id" in out
    assert out.count("values identical to the raw file") == 2
    for name in ("train.parquet", "test.parquet", "classes.json", "raw/rejected.csv"):
        assert (tmp_path / name).exists(), name
    assert len((tmp_path / "raw" / "rejected.csv").read_text().splitlines()) == 3   # header + 2 rows


def test_uea_classification():
    out = run_example("uea_classification.py")
    assert "Tiny: 60 train / 30 test series, 2 dimension(s), classes ['up', 'down', 'flat']" in out
    assert "fcn test accuracy on Tiny:" in out


def test_export_and_serve():
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    out = run_example("export_and_serve.py")                 # exits non-zero if the outputs differ
    assert "exported model.onnx" in out and "standardisation inside" in out
    assert "served 8 raw series" in out
    assert "identical to 1e-5" in out
