"""The run-time notice of the pure-Python fallback says when TL_FAST_NO_NATIVE chose it, at run time or at
install time (setup.py leaves a marker in a copy built without the extension)."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
NOTICE = (
    "import warnings, tl_fast._native_glue as g\n"
    "with warnings.catch_warnings(record=True) as w:\n"
    "    warnings.simplefilter('always')\n"
    "    g.native_module()\n"
    "print(g.native_available(), w[0].message)"
)


def python(args, **env):
    return subprocess.run(
        [sys.executable, *args],
        cwd=REPO,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_run_time_variable_is_named():
    out = python(["-c", NOTICE], TL_FAST_NO_NATIVE="1")
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "False tl_fast: using the pure-Python parser/categorizer as chosen: TL_FAST_NO_NATIVE=1 is set"
    )


def test_install_time_variable_is_named(tmp_path):
    """A copy built with TL_FAST_NO_NATIVE=1 (setup.py build_py, as pip runs it) carries the marker, and its
    notice names the variable instead of a failed import; a normal build carries no marker."""
    env = {k: v for k, v in os.environ.items() if k != "TL_FAST_NO_NATIVE"}
    build = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path / "lib")],
        cwd=REPO, env={**env, "TL_FAST_NO_NATIVE": "1"}, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-2000:]
    assert (tmp_path / "lib/tl_fast/_native_skipped").is_file()
    # -S: only the built copy is importable (no site-packages, no editable install with the extension)
    out = subprocess.run(
        [sys.executable, "-S", "-c", NOTICE], cwd=tmp_path, env={**env, "PYTHONPATH": str(tmp_path / "lib")},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == (
        "False tl_fast: using the pure-Python parser/categorizer as chosen: tl_fast was installed with "
        "TL_FAST_NO_NATIVE=1 (no C++ extension built)"
    )
    normal = subprocess.run(
        [sys.executable, "setup.py", "-q", "build_py", "--build-lib", str(tmp_path / "lib2")],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert normal.returncode == 0, normal.stderr[-2000:]
    assert not (tmp_path / "lib2/tl_fast/_native_skipped").exists()
