"""all_reduce_evaluation over a real 2-process gloo group: every rank ends with the merged figures."""

import json

import pytest
import torch.distributed as dist
import torch.multiprocessing as mp
from evaluation_data import make_batch, same_dict

from seqkit import (ROC, Evaluation, EvaluationBinary, RegressionEvaluation, ROCMultiClass,
                    all_reduce_evaluation)
from seqkit.reports._document import plain

WORLD = 2


def _evaluations(batches, rank_batches):
    """The five evaluations over ``rank_batches`` (indices into ``batches``); two stay empty on rank 1."""
    ev = Evaluation(top_n=2, worst_k=6)
    reg = RegressionEvaluation(columns=["a", "b", "c", "d"])
    roc, rocm, binary = ROC(), ROCMultiClass(), EvaluationBinary([0.3, 0.4, 0.5, 0.6])
    only_first, only_first_roc = Evaluation(), ROCMultiClass()
    for i in rank_batches:
        b = batches[i]
        ev.eval(b.labels, b.predictions, b.mask, keys=b.keys)
        reg.eval(b.labels, b.predictions, b.mask)
        roc.eval(b.labels.argmax(1) == 1, b.predictions[:, 1:2], b.mask)
        rocm.eval(b.labels, b.predictions, b.mask)
        binary.eval(b.labels, b.predictions, b.mask)
        if i == 0:
            only_first.eval(b.labels, b.predictions, b.mask, keys=b.keys)
            only_first_roc.eval(b.labels, b.predictions, b.mask)
    return {"ev": ev, "reg": reg, "roc": roc, "rocm": rocm, "binary": binary, "only_first": only_first,
            "only_first_roc": only_first_roc}


def _worker(rank: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=WORLD)
    try:
        batches = [make_batch(seed=10 + i, n=9 + i) for i in range(WORLD)]
        evaluations = _evaluations(batches, [rank])
        result = {}
        for name, evaluation in evaluations.items():
            assert all_reduce_evaluation(evaluation) is evaluation
            result[name] = plain(evaluation.to_dict())
        try:
            all_reduce_evaluation(object())
        except ValueError as err:
            result["error"] = str(err)
        with open(f"{out_dir}/rank{rank}.json", "w") as fh:
            json.dump(result, fh)
    finally:
        dist.destroy_process_group()


def test_all_reduce_over_two_gloo_processes(tmp_path):
    mp.spawn(_worker, args=(str(tmp_path / "init"), str(tmp_path)), nprocs=WORLD, join=True)
    batches = [make_batch(seed=10 + i, n=9 + i) for i in range(WORLD)]
    expected = {name: plain(ev.to_dict()) for name, ev in _evaluations(batches, range(WORLD)).items()}
    for rank in range(WORLD):
        result = json.loads((tmp_path / f"rank{rank}.json").read_text())
        assert result.pop("error") == "all_reduce_evaluation: cannot reduce a object"
        for name in expected:
            assert same_dict(result[name], expected[name], rel=1e-12), (rank, name)
    assert len(expected["ev"]["worst_sequences"]) == 6
    assert expected["ev"]["num_steps"] == sum(int(b.mask.sum()) for b in batches)


def test_needs_an_initialised_process_group():
    if dist.is_available() and dist.is_initialized():
        pytest.skip("a process group is already initialised in this process")
    with pytest.raises(RuntimeError, match="torch.distributed is not initialised"):
        all_reduce_evaluation(Evaluation())


def test_same_dict_helper_sees_differences():
    assert same_dict({"a": [1.0, float("nan")]}, {"a": [1.0, float("nan")]})
    assert not same_dict({"a": [1.0]}, {"a": [1.1]}) and not same_dict({"a": None}, {"a": 0.0})
    assert not same_dict({"a": [1, 2]}, {"a": [1]}) and not same_dict({"a": 1}, {"b": 1})
