"""python -m tl_fast.data prepare: counts in the report add up; --strict stops at the bad record."""

import json
from pathlib import Path

import datasets
import pytest

from tl_fast.data.__main__ import main
from tl_fast.data.formats import MalformedRecord

FIXTURES = Path(__file__).parent / "fixtures"


def test_prepare_writes_dataset_and_report(tmp_path, capsys):
    out = tmp_path / "prep"
    args = ["--input", str(FIXTURES / "tl_raw.json"), "--output", str(out), "--call-style", "json"]
    rc = main(["prepare", *args, "--eval-sets", "shipped", "--arg-name-keys", "--max-length", "100000"])
    assert rc == 0
    counts = json.loads((out / "report.json").read_text())["counts"]
    assert counts["load: records in"] == 3 and counts["load: dropped: bad_tool_list"] == 1
    assert counts["load: dropped: bad_call"] == 1
    assert counts["mae: dropped: error_field"] == 1 and counts["mae: samples out"] == 2
    assert counts["SFT samples out"] == 2
    ds = datasets.load_from_disk(str(out / "dataset"))
    assert len(ds) == 2 and all(n >= 2 for n in ds["num_key"])  # name + argument-name tokens
    assert "SFT samples out" in capsys.readouterr().out
    assert main(["show", "--output", str(out), "--index", "1"]) == 0
    assert "w=" in capsys.readouterr().out


def test_prepare_strict(tmp_path):
    with pytest.raises(MalformedRecord, match="record 1"):
        main(["prepare", "--input", str(FIXTURES / "tl_raw.json"), "--output", str(tmp_path), "--strict"])
