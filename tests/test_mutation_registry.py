"""The planted-bug registry cannot go stale silently: every entry of scripts/mutations/*.py still applies
(its `old` text occurs exactly once in its file) and names tests that exist.

    .venv/bin/python scripts/mutation_check.py     # the check itself (minutes; not part of the default run)
"""

import importlib.util
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def _runner():
    spec = importlib.util.spec_from_file_location("mutation_check", REPO / "scripts" / "mutation_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["mutation_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


RUNNER = _runner()
MUTATIONS = RUNNER.load_mutations()


def test_the_registry_is_large_and_spread_over_the_method():
    assert len(MUTATIONS) >= 30
    areas = {
        Path(m.file).parts[0] if m.file.startswith("csrc/") else Path(m.file).parent.name for m in MUTATIONS
    }
    assert {"csrc", "kernels", "data", "reward", "train"} <= areas, areas


@pytest.mark.parametrize("mutation", MUTATIONS, ids=[m.id for m in MUTATIONS])
def test_every_mutation_applies_and_its_tests_exist(mutation):
    assert RUNNER.registry_problems(mutation) == []


def test_the_checker_reports_what_is_wrong(tmp_path):
    (tmp_path / "a.py").write_text("x = 1\nx = 1\n")
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_a.py").write_text("def test_a():\n    pass\n")
    M = RUNNER.Mutation
    assert (
        RUNNER.registry_problems(
            M("ok", "tests/test_a.py", "pass", "x", ["tests/test_a.py::test_a"]), tmp_path
        )
        == []
    )
    problems = RUNNER.registry_problems(M("Bad_Id", "a.py", "x = 1", "x = 1", ["tests/test_b.py"]), tmp_path)
    assert any("kebab-case" in p for p in problems)
    assert any("occurs 2 times" in p for p in problems)
    assert any("equals" in p for p in problems)
    assert any("test_b.py does not exist" in p for p in problems)
    problems = RUNNER.registry_problems(M("gone", "a.py", "y", "z", ["tests/test_a.py::test_gone"]), tmp_path)
    assert any("occurs 0 times" in p for p in problems) and any("test_gone" in p for p in problems)
