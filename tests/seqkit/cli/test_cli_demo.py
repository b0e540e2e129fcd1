"""``seqkit demo --quick``: the main job end to end in a few iterations."""

from __future__ import annotations

from pathlib import Path


def test_demo_quick_writes_the_report(cli, tmp_path):
    import torch

    threads = torch.get_num_threads()
    out = tmp_path / "demo"
    result = cli("demo", "--quick", "--out", out, "--no-progress", "--device", "cpu")
    assert result.code == 0, result.err
    assert torch.get_num_threads() == threads                     # --threads 1 is undone afterwards
    report = out / "report.html"
    assert report.is_file() and report.stat().st_size > 1000
    assert f"Open the report: {report}" in result.out
    assert "test accuracy:" in result.out and "Confusion Matrix" in result.out
    assert "epoch 1/1 (iteration 2," in result.out                # 64 series, batch 32
    assert (out / "model.seqkit").is_file()


def test_demo_without_the_data_set_says_where_it_looked(cli, tmp_path, monkeypatch):
    from seqkit.cli import _demo

    monkeypatch.setattr(_demo, "_repo", lambda: Path(tmp_path))
    result = cli("demo", "--quick", "--out", tmp_path / "demo")
    assert result.code == 1
    assert f"the bundled data set is not at {tmp_path / 'datasets' / 'synthetic_control'}" in result.err
