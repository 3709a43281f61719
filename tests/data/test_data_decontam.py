"""Decontamination: normalized exact and near-duplicate matching against the shipped evaluation sets."""

import pytest

from tl_fast.data import SAMPLE_DATA, decontaminate, load_eval_queries, load_trajectories, shipped_eval_files
from tl_fast.data.decontam import normalize_query
from tl_fast.data.types import Message, Trajectory


def _traj(i, query):
    return Trajectory(f"t{i}", [], [Message("user", query)])


def test_normalize():
    assert normalize_query("What's the  WEATHER in Paris?\nBegin!\n") == "what s the weather in paris"
    assert normalize_query("Ｐａｒｉｓ") == "paris"  # NFKC


def test_exact_and_near_rules():
    trajs = [
        _traj(0, "What is the weather in Paris today?\nBegin!\n"),
        _traj(1, "what is the weather in paris today"),
        _traj(2, "Please tell me: what is the weather in Paris today?"),
        _traj(3, "Book a flight to Rome."),
    ]
    evals = {"a": ["What is the weather in Paris today?"], "b": ["book a flight to rome!!"]}
    kept, rep = decontaminate(trajs, evals, rule="exact")
    assert [t.id for t in kept] == ["t2"] and rep.removed == 3
    assert rep.removed_by_source == {"a": 2, "b": 1} and rep.eval_hit == {"a": 1, "b": 1}
    # near: 3-gram Jaccard of t2 vs the eval query is 5/8 < 0.8, but >= 0.6
    assert decontaminate(trajs, evals, rule="near")[1].removed == 3
    assert decontaminate(trajs, evals, rule="near", threshold=0.6)[1].removed == 4
    with pytest.raises(ValueError, match="rule"):
        decontaminate(trajs, evals, rule="fuzzy")


def test_shipped_eval_sets_load_and_the_sample_is_clean():
    queries = load_eval_queries(shipped_eval_files())
    assert len(queries["rotbench/clean"]) == 105 and len(queries["toolalpaca/eval_real"]) == 114
    assert len(queries["bfcl/BFCL_v4_simple_python"]) == 400
    rotbench = {k: v for k, v in queries.items() if k.startswith("rotbench/")}
    assert len(rotbench) == 5
    trajs, _ = load_trajectories(SAMPLE_DATA)
    kept, rep = decontaminate(trajs, rotbench, rule="near")
    assert rep.removed == 0 and len(kept) == len(trajs)
    # and a RoTBench query planted in the training data is caught
    planted = trajs[:3] + [_traj(99, rotbench["rotbench/heavy"][7].upper())]
    assert [m[0] for m in decontaminate(planted, rotbench)[1].matches][:1] == ["t99"]


def test_load_eval_queries_rejects_unknown_files(tmp_path):
    bad = tmp_path / "x.json"
    bad.write_text('[{"foo": 1}]')
    with pytest.raises(ValueError, match="no evaluation queries"):
        load_eval_queries([bad])
