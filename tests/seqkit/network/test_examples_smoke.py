"""A short run of examples/uci_sequence_classification.py (the full run is the example itself)."""

import importlib.util
import os

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))))
EXAMPLE = os.path.join(ROOT, "examples", "uci_sequence_classification.py")
DATA = os.path.join(ROOT, "datasets", "synthetic_control", "train", "features", "0.csv")


def _load(path):
    spec = importlib.util.spec_from_file_location("uci_sequence_classification", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.skipif(not os.path.exists(DATA), reason="bundled synthetic_control data not present")
def test_uci_example_smoke_run(capsys):
    import torch

    example = _load(EXAMPLE)
    threads = torch.get_num_threads()
    try:
        accuracy = example.main(["--smoke"])
    finally:
        torch.set_num_threads(threads)                  # the example sets one thread
    out = capsys.readouterr().out
    assert 0.0 <= accuracy <= 1.0
    assert "LastTimeStep(SimpleRNN(32 -> 32, tanh))" in out
    assert "Evaluation Metrics" in out and "test accuracy" in out
