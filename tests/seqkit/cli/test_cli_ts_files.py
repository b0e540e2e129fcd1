"""`.ts` files (sktime/aeon) in `seqkit inspect`, `convert` and `train`, and `[train] validation_split`."""


import numpy as np
import pytest

import readers
from seqkit.cli import main

TS = """@problemName Tiny
@timeStamps false
@univariate false
@dimensions 2
@equalLength false
@classLabel true up down
@data
"""


def write_ts(path, n, seed):
    rng = np.random.default_rng(seed)
    lines = []
    for i in range(n):
        label = ("up", "down")[i % 2]
        steps = int(rng.integers(6, 12))
        sign = 1 if label == "up" else -1
        dims = [sign * np.linspace(0, 1, steps) + rng.normal(scale=0.1, size=steps) for _ in range(2)]
        lines.append(":".join(",".join(f"{v:.3f}" for v in d) for d in dims) + f":{label}")
    path.write_text(TS + "\n".join(lines) + "\n")
    return path


CONFIG = """
[data]
batch_size = 8
align = "align_start"

[data.train]
path = "train.ts"

[data.test]
path = "test.ts"

[[layers]]
type = "LastTimeStep"
layer = { type = "LSTM", n_out = 8 }

[[layers]]
type = "Output"
n_out = 2

[network]
seed = 0
learning_rate = 0.01

[train]
epochs = 3
validation_split = 0.25
early_stopping = {patience = 5}
"""


def test_inspect_and_convert_read_ts_files(tmp_path, cli):
    path = write_ts(tmp_path / "a.ts", 6, 0)
    result = cli("inspect", path)
    assert result.code == 0 and "dim_0, dim_1, class" in result.out and "6" in result.out
    result = cli("convert", path, tmp_path / "a.parquet")
    assert result.code == 0
    assert len(list(readers.ParquetSequenceReader(str(tmp_path / "a.parquet")))) == 6


def test_train_on_ts_files_with_a_validation_split(tmp_path):
    write_ts(tmp_path / "train.ts", 24, 1)
    write_ts(tmp_path / "test.ts", 10, 2)
    (tmp_path / "run.toml").write_text(CONFIG)
    code = main(["train", str(tmp_path / "run.toml"), "--out", str(tmp_path / "out"), "--no-progress"])
    assert code == 0
    assert (tmp_path / "out" / "model.seqkit").exists()


def test_validation_split_with_a_validation_source_is_an_error(tmp_path, cli):
    write_ts(tmp_path / "train.ts", 24, 1)
    write_ts(tmp_path / "test.ts", 10, 2)
    both = CONFIG.replace('[data.test]', '[data.validation]\npath = "test.ts"\n\n[data.test]')
    (tmp_path / "run.toml").write_text(both)
    result = cli("train", tmp_path / "run.toml", "--out", tmp_path / "out", "--no-progress")
    assert result.code != 0 and "not both" in result.err


@pytest.mark.parametrize("value", ["0", "1", "1.5", '"a"'])
def test_validation_split_must_be_between_0_and_1(tmp_path, cli, value):
    write_ts(tmp_path / "train.ts", 24, 1)
    write_ts(tmp_path / "test.ts", 10, 2)
    (tmp_path / "run.toml").write_text(CONFIG.replace("validation_split = 0.25", f"validation_split = {value}"))
    result = cli("train", tmp_path / "run.toml", "--out", tmp_path / "out", "--no-progress")
    assert result.code != 0 and "validation_split" in result.err
