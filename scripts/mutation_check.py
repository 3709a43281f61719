"""Plant each registered bug, run the tests that should catch it, report caught / missed.

    .venv/bin/python scripts/mutation_check.py                  # every mutation in scripts/mutations/*.py
    .venv/bin/python scripts/mutation_check.py --list           # what is registered, and its tests
    .venv/bin/python scripts/mutation_check.py --only pkt- --jobs 2

Every mutation is an exact-once string replacement in one file (format: scripts/mutations/__init__.py). The
checks run in scratch copies of the working tree (tracked and untracked-but-not-ignored files plus the built
extension), one per job, so the tree you work in is never written; inside a copy the file is restored after
each mutation, whatever happens. `native=True` rebuilds tl_fast._native in the copy (and runs the C++ unit
tests first when `ctest=True`); the original extension is put back afterwards.

A mutation is *caught* when its tests fail (pytest exit 1, a failing ctest, or a timeout). It is *missed*
when they pass, and *broken* when pytest could not run them (collection error, no tests): the registry entry
needs fixing. Before planting anything, the selected tests run once unmutated (--no-baseline skips that):
a test that already fails would catch everything. Exit status: 0 when every mutation was caught, 1 otherwise,
2 for a bad registry or command line.
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from queue import Queue

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # registry modules import `scripts.mutations` (or `from . import`)
    sys.path.insert(0, str(REPO))

from scripts.mutations import Mutation  # noqa: E402

PYTEST = ["-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-rfE"]
_FAILED = re.compile(r"^(?:FAILED|ERROR) (.+?)(?: - .*)?$", re.M)  # node ids may hold spaces


class RegistryError(Exception):
    pass


# ---------------------------------------------------------------------------------------------- the registry


def load_mutations(folder: Path = REPO / "scripts" / "mutations") -> list[Mutation]:
    """Every MUTATIONS list of folder/*.py, in file order; ids must be unique."""
    found: list[Mutation] = []
    for path in sorted(folder.glob("*.py")):
        if path.name == "__init__.py":
            continue
        spec = importlib.util.spec_from_file_location(f"scripts.mutations.{path.stem}", path)
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        entries = getattr(module, "MUTATIONS", None)
        if not isinstance(entries, list) or not all(isinstance(m, Mutation) for m in entries):
            raise RegistryError(f"{path.relative_to(REPO)}: MUTATIONS must be a list of Mutation")
        found.extend(entries)
    seen: set[str] = set()
    for m in found:
        if m.id in seen:
            raise RegistryError(f"mutation id {m.id!r} is registered twice")
        seen.add(m.id)
    return found


def registry_problems(m: Mutation, root: Path = REPO) -> list[str]:
    """What is wrong with one entry (empty when it can be applied and its tests exist)."""
    problems = []
    if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", m.id):
        problems.append("id is not kebab-case")
    path = root / m.file
    if not path.is_file():
        return problems + [f"{m.file} does not exist"]
    count = path.read_text(encoding="utf-8").count(m.old)
    if count != 1:
        problems.append(f"`old` occurs {count} times in {m.file}, expected exactly once")
    if m.old == m.new:
        problems.append("`new` equals `old`")
    if m.native != m.file.startswith("csrc/"):
        problems.append("native=True goes with a file under csrc/ (and only there)")
    if m.ctest and not m.native:
        problems.append("ctest=True needs native=True")
    if not m.tests:
        problems.append("no tests")
    for test in m.tests:
        file, _, node = test.partition("::")
        if not (root / file).is_file():
            problems.append(f"test file {file} does not exist")
        elif node and f"def {node.split('::')[-1].split('[')[0]}(" not in (root / file).read_text(
            encoding="utf-8"
        ):
            problems.append(f"test {test} does not exist")
    return problems


# ------------------------------------------------------------------------------------------- scratch copies


def tree_files(root: Path) -> list[str]:
    out = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=root, capture_output=True, check=True
    ).stdout
    return [p for p in out.decode().split("\0") if p]


def native_artifacts(root: Path) -> list[Path]:
    return sorted((root / "tl_fast").glob("_native*.so")) + sorted((root / "tl_fast").glob("_native*.pyd"))


def make_copy(root: Path, dest: Path) -> Path:
    """dest holds the working tree as it is now (symlinks kept) plus the built extension."""
    for rel in tree_files(root):
        src, dst = root / rel, dest / rel
        if not src.exists() and not src.is_symlink():
            continue  # deleted in the tree but not yet in git
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_symlink():
            os.symlink(os.readlink(src), dst)
        elif src.is_file():
            shutil.copy2(src, dst)
    for so in native_artifacts(root):
        shutil.copy2(so, dest / so.relative_to(root))
    return dest


# ---------------------------------------------------------------------------------------------- running


@dataclass
class Outcome:
    mutation: Mutation
    status: str  # caught | missed | broken | stale
    seconds: float
    detail: str = ""


def _env(copy: Path) -> dict[str, str]:
    env = dict(os.environ)
    # The copy's package wins over the editable install; subprocesses the tests start inherit it too.
    env["PYTHONPATH"] = str(copy) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # no .pyc of a mutated source survives the restore
    return env


def _run(cmd: list[str], cwd: Path, env: dict, timeout: float) -> tuple[int | None, str]:
    try:
        p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        out = (exc.stdout or b"").decode(errors="replace") if isinstance(exc.stdout, bytes) else exc.stdout
        return None, out or ""
    return p.returncode, p.stdout + p.stderr


def build_native(copy: Path, env: dict, timeout: float) -> tuple[bool, str]:
    with tempfile.TemporaryDirectory(prefix="tl_fast_mut_build_") as build_temp:  # never reuse objects
        code, out = _run(
            [sys.executable, "setup.py", "-q", "build_ext", "--inplace", "--build-temp", build_temp],
            copy,
            env,
            timeout,
        )
    return code == 0, out


def run_ctest(copy: Path, env: dict, timeout: float) -> tuple[str, str]:
    """("pass" | "fail" | "broken", detail): only failing C++ tests count as a catch, not a failed build."""
    build = copy / "build" / "mutation"
    for cmd in (
        ["cmake", "-S", ".", "-B", str(build), "-G", "Ninja", "-DTL_FAST_BUILD_PYTHON=OFF"],
        ["cmake", "--build", str(build)],
    ):
        code, out = _run(cmd, copy, env, timeout)
        if code != 0:
            return "broken", f"{cmd[0]} failed: " + out.strip()[-300:]
    code, out = _run(["ctest", "--test-dir", str(build), "--output-on-failure"], copy, env, timeout)
    if code == 0:
        return "pass", ""
    failed = re.findall(r"^\s*\d+ - (\S+)", out, re.M)  # ctest's list of failed tests
    return "fail", "ctest: " + (", ".join(failed) if failed else "failed")


def run_tests(copy: Path, tests: list[str], env: dict, timeout: float) -> tuple[int | None, str]:
    return _run([sys.executable, *PYTEST, *tests], copy, env, timeout)


def check_one(m: Mutation, copy: Path, timeout: float) -> Outcome:
    start = time.monotonic()
    path = copy / m.file
    original = path.read_bytes()
    text = original.decode("utf-8")
    if text.count(m.old) != 1:
        return Outcome(m, "stale", 0.0, f"`old` occurs {text.count(m.old)} times in {m.file}")
    env = _env(copy)
    saved_so = [(so, so.read_bytes()) for so in native_artifacts(copy)] if m.native else []
    try:
        path.write_bytes(text.replace(m.old, m.new, 1).encode())
        if m.native:
            if m.ctest:
                result, detail = run_ctest(copy, env, timeout)
                if result != "pass":
                    status = "caught" if result == "fail" else "broken"
                    return Outcome(m, status, time.monotonic() - start, detail)
            ok, out = build_native(copy, env, timeout)
            if not ok:
                return Outcome(m, "broken", time.monotonic() - start, "native build failed: " + out[-300:])
        code, out = run_tests(copy, m.tests, env, timeout)
    finally:
        path.write_bytes(original)  # a fresh mtime, so incremental C++ builds recompile the restored file
        for so, data in saved_so:
            so.write_bytes(data)
    seconds = time.monotonic() - start
    if code is None:
        return Outcome(m, "caught", seconds, f"timeout after {timeout:.0f} s")
    if code == 1:
        failed = _FAILED.findall(out)
        return Outcome(m, "caught", seconds, failed[0] if failed else "pytest exit 1")
    if code == 0:
        return Outcome(m, "missed", seconds, "all tests passed")
    tail = out.strip().splitlines()[-1] if out.strip() else ""
    return Outcome(m, "broken", seconds, f"pytest exit {code}: {tail}")


def baseline(copy: Path, mutations: list[Mutation], timeout: float) -> tuple[bool, str]:
    tests = sorted({t for m in mutations for t in m.tests})
    code, out = run_tests(copy, tests, _env(copy), timeout * 4)
    failed = _FAILED.findall(out)
    return code == 0, (", ".join(failed[:5]) if failed else out.strip()[-500:])


# ---------------------------------------------------------------------------------------------- report


def table(outcomes: list[Outcome]) -> str:
    w = max([len(o.mutation.id) for o in outcomes] + [8])
    lines = [f"{'mutation':<{w}}  {'result':<7}  {'time':>6}  caught by / why"]
    for o in outcomes:
        lines.append(f"{o.mutation.id:<{w}}  {o.status:<7}  {o.seconds:5.0f}s  {o.detail}")
    counts = {s: sum(o.status == s for o in outcomes) for s in ("caught", "missed", "broken", "stale")}
    lines.append(
        f"{len(outcomes)} mutations: {counts['caught']} caught, {counts['missed']} missed"
        + "".join(f", {counts[s]} {s}" for s in ("broken", "stale") if counts[s])
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--list", action="store_true", help="print the registered mutations and exit")
    ap.add_argument(
        "--only",
        metavar="SUBSTR",
        action="append",
        help="only mutations whose id or file contains SUBSTR (repeatable)",
    )
    ap.add_argument("--jobs", type=int, default=1, help="mutations checked in parallel (one copy each)")
    ap.add_argument(
        "--timeout", type=float, default=900, help="seconds per mutation before it counts as caught"
    )
    ap.add_argument("--no-baseline", action="store_true", help="skip the unmutated run of the selected tests")
    args = ap.parse_args(argv)
    if args.jobs < 1:
        print(f"mutation_check: --jobs {args.jobs}: expected at least 1", file=sys.stderr)
        return 2
    try:
        mutations = load_mutations()
    except RegistryError as exc:
        print(f"mutation_check: {exc}", file=sys.stderr)
        return 2
    if args.only:
        mutations = [m for m in mutations if any(s in m.id or s in m.file for s in args.only)]
        if not mutations:
            print(
                f"mutation_check: --only {' '.join(args.only)} selects no mutation (see --list)",
                file=sys.stderr,
            )
            return 2
    if args.list:
        for m in mutations:
            flags = " [native]" if m.native else ""
            print(f"{m.id}{flags}\n    {m.file}: {m.why}\n    tests: {' '.join(m.tests)}")
        print(f"{len(mutations)} mutations")
        return 0
    bad = [(m, p) for m in mutations for p in registry_problems(m)]
    if bad:
        for m, p in bad:
            print(f"mutation_check: {m.id}: {p}", file=sys.stderr)
        return 2

    with tempfile.TemporaryDirectory(prefix="tl_fast_mutations_") as tmp:
        jobs = min(args.jobs, len(mutations))
        print(f"copying the working tree for {jobs} job(s) ...", flush=True)
        copies: Queue[Path] = Queue()
        for k in range(jobs):
            copies.put(make_copy(REPO, Path(tmp) / f"copy{k}"))
        if not args.no_baseline:
            print("baseline: the selected tests, unmutated ...", flush=True)
            ok, detail = baseline(copies.queue[0], mutations, args.timeout)
            if not ok:
                print(f"mutation_check: the tests fail without any mutation: {detail}", file=sys.stderr)
                return 1
        lock, done, outcomes = threading.Lock(), [0], {}

        def work(m: Mutation) -> None:
            copy = copies.get()
            try:
                o = check_one(m, copy, args.timeout)
            finally:
                copies.put(copy)
            with lock:
                done[0] += 1
                outcomes[m.id] = o
                print(f"[{done[0]}/{len(mutations)}] {o.status:<7} {m.id} ({o.seconds:.0f} s)", flush=True)

        with ThreadPoolExecutor(jobs) as pool:
            list(pool.map(work, mutations))
    ordered = [outcomes[m.id] for m in mutations]
    print()
    print(table(ordered))
    return 0 if all(o.status == "caught" for o in ordered) else 1


if __name__ == "__main__":
    sys.exit(main())
