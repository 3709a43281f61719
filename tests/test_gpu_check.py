"""benchmarks/gpu_check.py without a GPU: the dry run, the refusal to run, and the summary's verdicts.

.venv/bin/python -m pytest -q tests/test_gpu_check.py
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "gpu_check.py"
sys.path.insert(0, str(ROOT / "benchmarks"))

import gpu_check  # noqa: E402
from harness import Measurement, write_results  # noqa: E402


def run(*args, env=None):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=ROOT,
                          timeout=300, env=env)  # fmt: skip


def test_dry_run_lists_every_step_and_checks_imports(tmp_path):
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    (wheels / "liger_kernel-0.8.5-py3-none-any.whl").write_bytes(b"")
    out = tmp_path / "out"
    r = run("--dry-run", "--wheels", str(wheels), "--out", str(out))
    assert r.returncode == 0, r.stdout + r.stderr
    for step in ("wheels", "tests", "ce_128k", "ce_32k", "ppo", "summary"):
        assert f"[{step}]" in r.stdout
    assert "16384,4096,128256" in r.stdout and "16384,4096,32016" in r.stdout
    assert "--workspace-mib 70,150,1280" in r.stdout  # at least two workspace settings: the curve
    assert "optional liger_kernel: installed" in r.stdout or "optional liger_kernel: wheel found" in r.stdout
    assert "import tl_fast.kernels.linear_cross_entropy: ok" in r.stdout and r.stdout.rstrip().endswith("ok")
    assert not out.exists()  # a dry run writes nothing


def test_dry_run_reports_a_missing_import(tmp_path):
    # a module that cannot be imported makes the dry run fail, naming it
    plan = gpu_check.steps(tmp_path, None)
    plan[1].imports = ("no_such_module_for_gpu_check",)
    assert gpu_check.dry_run(plan, None) == 1


def test_bad_wheels_folder_and_no_gpu_are_one_line_errors(tmp_path):
    r = run("--wheels", str(tmp_path / "missing"), "--out", str(tmp_path / "o"))
    assert r.returncode == 2 and "is not a folder" in r.stderr
    if not __import__("torch").cuda.is_available():
        r = run("--out", str(tmp_path / "o"))
        assert r.returncode == 2 and r.stderr.strip() == "gpu_check needs a CUDA device (try --dry-run)"


def _m(
    provider, mode, ms, mem_mb=None, bench="fused_linear_ce", shape="N=16384,H=4096,V=128256,bfloat16", **ex
):
    return Measurement(bench, provider, mode, shape, ms, ms, ms, mem_mb, extra=ex)


def test_summary_verdicts_against_the_targets(tmp_path):
    gb = 1e9 / 2**20  # MiB per GB
    rows = [
        _m("gemm_floor", "full", 50.0),
        _m(
            "tl_fast@70MiB", "full", 59.0, 1.25 * gb
        ),  # 1.18x floor but 1.25 GB: smallest-workspace target fails
        _m("tl_fast@150MiB", "full", 70.0, 1.34 * gb),  # 1.40x: NOT met
        _m("tl_fast@1280MiB", "full", 52.0, 1.30 * gb),  # 1.04x with 1.30 GB: met
        _m("liger", "full", 60.0),
    ]
    write_results(rows, "cross_entropy_128k", tmp_path)
    write_results([_m("tl_fast", "fwd", 0.1, bench="gae", shape="B=256,T=1024", speedup_vs_loop="1500.0"),
                   _m("tl_fast", "full", 90.0, bench="logprobs", shape="N=16384", x_gemm_floor="1.35")],
                  "ppo", tmp_path)  # fmt: skip
    text = gpu_check.summarize(tmp_path, {"tests": "ok in 10s"})
    line = lambda key: next(x for x in text.splitlines() if key in x)  # noqa: E731
    assert line("tl_fast@1280MiB |").endswith("| met |") and "1.04x floor, 1.300 GB" in line(
        "tl_fast@1280MiB |"
    )
    assert line("tl_fast@150MiB |").endswith("| NOT met |")
    assert line("smallest workspace (tl_fast@70MiB)").endswith("| NOT met |")
    assert line("tl_fast@70MiB vs liger").endswith("| met |")  # 59 < 60 ms
    assert line("tl_fast@150MiB vs liger").endswith("| NOT met |")
    assert line("tl_fast@70MiB vs cce").endswith("| missing |")  # CCE not measured
    assert line("GAE B=256,T=1024").endswith("| met |") and line("log-probs").endswith("| NOT met |")
    assert "- tests: ok in 10s" in text


@pytest.mark.parametrize("present", [True, False])
def test_wheels_folder_found_beside_the_checkout(tmp_path, monkeypatch, present):
    monkeypatch.setattr(gpu_check, "ROOT", tmp_path / "repo")
    if present:
        (tmp_path / "shared" / "wheels-gpu").mkdir(parents=True)
    found = gpu_check.find_wheels(None)
    assert found == ((tmp_path / "shared" / "wheels-gpu") if present else None)
