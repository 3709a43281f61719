"""The package imports from anywhere, exposes its API lazily, and falls back without the native core."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

import tl_fast

REPO = Path(__file__).resolve().parents[1]


def run_python(code: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_native_core_is_built():
    assert tl_fast.native_available(), "the test environment installs the package with its native core"
    from tl_fast import _native

    assert _native.build_info().startswith("tl_fast native core")


@pytest.mark.parametrize("cwd", [REPO, Path("/")], ids=["repo-root", "filesystem-root"])
def test_imports_from_any_directory(cwd):
    out = run_python(
        "import tl_fast, tl_fast._native, tl_fast.kernels, tl_fast.kernels as k; print(k.__file__)", cwd
    )
    assert out.returncode == 0, out.stderr
    # the kernels imported are the repository's own files, whatever the working directory
    assert Path(out.stdout.strip()).resolve().parent == (REPO / "kernels").resolve()


def test_fallback_when_native_disabled():
    code = (
        "import warnings, tl_fast._native_glue as g\n"
        "with warnings.catch_warnings(record=True) as w:\n"
        "    warnings.simplefilter('always')\n"
        "    assert g.native_module() is None and g.native_module() is None\n"
        "print(g.native_available(), len(w), w[0].message)"
    )
    out = run_python(code, REPO, TL_FAST_NO_NATIVE="1")
    assert out.returncode == 0, out.stderr
    available, n_warnings, message = out.stdout.strip().split(" ", 2)
    assert available == "False"
    assert n_warnings == "1", "the fallback is announced exactly once"
    assert "TL_FAST_NO_NATIVE" in message


def test_unknown_attribute_is_an_error():
    with pytest.raises(AttributeError, match="no attribute 'not_a_thing'"):
        tl_fast.not_a_thing  # noqa: B018


def test_train_help_describes_the_stages_and_every_field():
    """README: `--help` lists every field of every config section; --stages names the pipeline's stages."""
    import re
    from dataclasses import fields

    from tl_fast.train import config

    out = subprocess.run(
        [sys.executable, "-m", "tl_fast.train", "--help"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr

    def flat(s: str) -> str:  # argparse wraps lines, also after a hyphen: compare with whitespace collapsed
        return re.sub(r"-\s+", "-", " ".join(s.split()))

    text = flat(out.stdout)
    stages = re.search(r"--stages [A-Z]+ (.*?)\(default: ([^)]*)\)", text)
    assert stages, "no --stages entry"
    assert all(s in stages.group(1) for s in ("mae", "sft", "ppo")) and stages.group(2) == "mae,sft,ppo"
    not_flags = getattr(config, "_NOT_FLAGS", set())
    missing = []
    for section, klass, prefix, *_ in config.SECTIONS:
        for f in fields(klass):
            if (section, f.name) in not_flags:
                continue
            flag = (prefix + f.name).replace("_", "[-_]")
            described = flat(str(f.metadata.get("help", "")))
            if not described or not re.search(rf"--{flag}\b", text) or described not in text:
                missing.append(f"{section}.{f.name}")
    assert not missing, f"fields without a flag or help text in --help: {missing}"
