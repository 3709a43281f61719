"""Loading: the three formats give the same trajectory; bad records are counted, or stop --strict."""

import gzip
import json
from pathlib import Path

import datasets
import pytest

from tl_fast.data import SAMPLE_DATA, MalformedRecord, load_trajectories
from tl_fast.data.types import Call

FIXTURES = Path(__file__).parent / "fixtures"


def test_vendored_rotllama_sample_counts_every_record():
    trajs, report = load_trajectories(SAMPLE_DATA)
    with gzip.open(SAMPLE_DATA, "rt") as f:
        n_lines = sum(1 for line in f if line.strip())
    assert report.records_in == n_lines == 303
    # the 3 records kept on purpose have a final answer that is not JSON (unescaped quotes)
    assert report.dropped == {"bad_call": 3}
    assert report.trajectories_out == len(trajs) == 300
    assert report.assistant_turns == sum(m.role == "assistant" for t in trajs for m in t.messages)
    first = trajs[0]
    assert first.tools[-1].name == "finish" and all(t.description for t in first.tools)
    assert not first.query.endswith("Begin!") and first.query
    assert first.messages[-1].calls[0].name == "finish"
    # RoTLLaMA puts "required" beside "parameters"; it must land on the tool
    assert any(t.required for traj in trajs for t in traj.tools)


def test_tl_raw_and_openai_give_the_same_trajectory():
    raw, raw_report = load_trajectories(FIXTURES / "tl_raw.json")
    oa, oa_report = load_trajectories(FIXTURES / "openai.jsonl")
    assert raw_report.dropped == {"bad_tool_list": 1, "bad_call": 1}
    assert oa_report.dropped == {"bad_json": 1, "no_user_turn": 1}
    assert oa_report.records_in == 4 and raw_report.records_in == 3
    a, b = raw[0], next(t for t in oa if t.id == "oa0")
    assert [t.to_schema() for t in a.tools] == [t.to_schema() for t in b.tools]
    assert [m.to_dict() for m in a.messages] == [m.to_dict() for m in b.messages]
    assert a.messages[1].calls == (Call("search_advice", {"query": "love"}),)
    plain = next(t for t in oa if t.id == "oa1")  # a text answer and no tools offered is fine
    assert plain.messages[-1].content == "hello" and not plain.messages[-1].calls


def test_strict_names_the_first_bad_record():
    with pytest.raises(MalformedRecord) as info:
        load_trajectories(FIXTURES / "tl_raw.json", strict=True)
    assert info.value.index == 1 and info.value.reason == "bad_tool_list"
    assert "record 1" in str(info.value)


def test_sources_gz_json_list_and_hf_dataset(tmp_path):
    records = [json.loads(line) for line in (FIXTURES / "openai.jsonl").read_text().splitlines()[:2]]
    gz = tmp_path / "x.json.gz"
    with gzip.open(gz, "wt") as f:
        json.dump(records, f)
    from_gz, _ = load_trajectories(gz)
    from_list, _ = load_trajectories(records)
    assert [t.id for t in from_gz] == [t.id for t in from_list] == ["oa0", "oa1"]
    with gzip.open(SAMPLE_DATA, "rt") as f:
        rot = [json.loads(next(f)) for _ in range(5)]
    ds = datasets.Dataset.from_list(rot)  # an HF dataset with nested columns
    from_ds, _ = load_trajectories(ds)
    ds.save_to_disk(str(tmp_path / "saved"))
    from_dir, _ = load_trajectories(tmp_path / "saved")
    expected, _ = load_trajectories(rot)
    assert [m.to_dict() for t in from_ds for m in t.messages] == [
        m.to_dict() for t in expected for m in t.messages
    ]
    assert [t.id for t in from_dir] == [t.id for t in expected]
    with pytest.raises(FileNotFoundError):
        load_trajectories(tmp_path / "missing.jsonl")
    with pytest.raises(ValueError, match="unknown trajectory format"):
        load_trajectories(records, format="sharegpt")
