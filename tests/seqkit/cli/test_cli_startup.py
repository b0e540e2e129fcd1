"""Start-up: `seqkit --help`, `inspect` and `convert` never import torch; `seqkit` loads it on first use."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import VARLEN

WITHOUT_TORCH = """
import sys
from seqkit.cli import main
assert "torch" not in sys.modules, "importing seqkit.cli imported torch"
assert main(["--help"]) == 0
for command in ("inspect", "convert", "train", "evaluate", "predict", "demo"):
    assert main([command, "--help"]) == 0
assert main(["inspect", sys.argv[1], "--id-column", "series_id", "--order-column", "t",
             "--label-column", "label"]) == 0
assert main(["convert", sys.argv[1], sys.argv[2], "--id-column", "series_id", "--no-progress"]) == 0
loaded = sorted(name for name in sys.modules if name == "torch" or name.startswith("torch."))
assert not loaded, "torch was imported: " + ", ".join(loaded[:5])
print("no torch")
"""


def test_help_inspect_and_convert_never_import_torch(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "CI"}
    done = subprocess.run([sys.executable, "-c", WITHOUT_TORCH, str(VARLEN / "test.csv"),
                           str(tmp_path / "varlen.parquet")], capture_output=True, text=True, env=env,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.strip().endswith("no torch")
    assert (tmp_path / "varlen.parquet").is_file()


def test_seqkit_loads_its_torch_parts_on_first_use():
    code = ("import sys, seqkit\n"
            "assert 'torch' not in sys.modules\n"
            "from seqkit import Sequential, Evaluation, layers\n"
            "from seqkit.layers import LSTM\n"
            "assert 'torch' in sys.modules and seqkit.network.Sequential is Sequential\n"
            "assert seqkit.evaluation.Evaluation is Evaluation and seqkit.reports.FORMATS\n"
            "assert all(hasattr(seqkit, name) for name in seqkit.__all__)\n"
            "assert set(seqkit.__all__) <= set(dir(seqkit))\n"
            "try:\n"
            "    seqkit.no_such_name\n"
            "except AttributeError as err:\n"
            "    assert 'no_such_name' in str(err)\n"
            "else:\n"
            "    raise AssertionError('no AttributeError')\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
