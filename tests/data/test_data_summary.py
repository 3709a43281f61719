"""The data summary both CLIs print: counts per step, a warning past a tenth dropped that names the flag
keeping it, a one-line error when a step leaves nothing; without the MAE stage every turn is a sample."""

from collections import Counter

import pytest

from tl_fast._cli import UserError
from tl_fast.data import SAMPLE_DATA, DataConfig, LoadReport, MAEConfig
from tl_fast.data.pipeline import read_samples
from tl_fast.data.summary import DataSummary


def test_over_length_counts_and_warns_past_a_tenth():
    s = DataSummary("x")
    s.over_length([5] * 9 + [6], max_length=5)  # 1 of 10 over: exactly a tenth, no warning; 5 == limit kept
    assert s.counts["SFT samples over --max-length 5"] == 1 and s.counts["SFT samples kept"] == 9
    assert s.warnings == []
    s = DataSummary("x")
    s.over_length([5] * 8 + [6, 40], max_length=5)
    assert s.warnings == [
        "warning: 2 of 10 SFT samples (20%) are longer than --max-length 5 tokens and are dropped; "
        "--max-length 40 keeps all of them (0 = no limit)"
    ]
    s = DataSummary("x")
    s.over_length([50, 60], max_length=0)  # 0 = no limit
    assert s.counts["SFT samples kept"] == 2 and not s.warnings
    with pytest.raises(UserError, match="0 SFT samples: all 2 are longer than --max-length 10 tokens"):
        DataSummary("x").over_length([50, 60], max_length=10)


def test_malformed_records_warn_and_none_usable_is_an_error():
    report = LoadReport(records_in=10, trajectories_out=8, dropped=Counter(bad_call=2))
    s = DataSummary("x")
    s.loaded(report, "auto")
    assert s.counts["malformed: bad_call"] == 2 and s.counts["trajectories"] == 8
    assert len(s.warnings) == 1 and "2 of 10 records (20%) are malformed" in s.warnings[0]
    assert "check --data-format" in s.warnings[0]
    none = LoadReport(records_in=3, trajectories_out=0, dropped=Counter(unknown_format=3))
    with pytest.raises(UserError, match="^0 usable trajectories: 3 records, unknown_format 3 — check --data"):
        DataSummary("x").loaded(none, "auto")


def test_without_mae_every_assistant_turn_is_a_sample():
    from tl_fast.data import load_trajectories

    _, report = load_trajectories(str(SAMPLE_DATA))
    off = DataConfig(eval_sets=None)
    every = read_samples(off, MAEConfig(), DataSummary("x"), mae_enabled=False)
    assert len(every) == report.assistant_turns  # counted at load, independently of the MAE split
    summary = DataSummary("x")
    kept = read_samples(off, MAEConfig(), summary, mae_enabled=True)
    dropped = sum(v for k, v in summary.counts.items() if k.startswith("MAE dropped"))
    assert dropped > 0 and len(kept) == report.assistant_turns - dropped
    assert summary.counts["MAE dropped: unanswered"] > 0  # the turns plain SFT used to lose as well
