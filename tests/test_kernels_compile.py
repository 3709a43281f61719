"""Every @triton.jit kernel in kernels/ compiles for sm_80 and sm_90 with the configs its launcher picks.

    .venv/bin/python -m pytest -q tests/test_kernels_compile.py      # the CI check, no GPU needed
    .venv/bin/python tests/test_kernels_compile.py                   # the table: registers, spills, smem

No GPU is needed: triton.compile makes PTX and, with the ptxas inside the Triton wheel, a cubin for a
GPUTarget, and ptxas -v reports registers and spill bytes. The configs are not a copy of the launchers' logic:
SWEEP calls the launchers themselves (kernels/*.py) at the benchmark shapes on meta tensors, with the Triton
JIT's `run` replaced by a recorder and the planner told which GPU it plans for (H100 for sm_90, A100 for
sm_80). Triton's own binder turns each recorded launch into the signature, constexprs, divisibility
attributes and options the JIT would compile on that GPU. Kernels are discovered by scanning the modules: a
@triton.jit function no other jit function of its module names is a kernel, and a kernel no SWEEP entry
launches fails the test.

The compile runs in a subprocess (the test session has imported the kernels under TRITON_INTERPRET=1) with a
fresh Triton cache, so ptxas really runs.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import io
import json
import os
import pkgutil
import re
import subprocess
import sys
from concurrent.futures import ProcessPoolExecutor
from multiprocessing import get_context
from pathlib import Path

import pytest

ARCHS = (80, 90)
SHARED_LIMIT = {80: 166912, 90: 232448}  # max dynamic shared memory per block, bytes (A100, H100)
H = 4096
VOCABS = (32016, 128256, 151936)
N = 16384


# ------------------------------------------------------------------------------------------------------------
# SWEEP: launcher calls at the benchmark shapes. A new kernel registers its launcher call here.


def _lm_head(dev):
    import torch

    from tl_fast.kernels import linear_cross_entropy as lce
    from tl_fast.kernels.cross_entropy import CEOptions, cross_entropy_bwd, cross_entropy_fwd

    e = lambda *s, dt=torch.float32: torch.empty(*s, dtype=dt, device=dev)
    for dtype in (torch.bfloat16, torch.float16, torch.float32):
        for V in VOCABS:
            h, w, y, vec, st = e(N, H, dt=dtype), e(V, H, dt=dtype), e(N, dt=torch.int64), e(N), e(N, 2)
            for ws in (None, 1_342_177_280):  # the default workspace and the fused-plan one
                lce.linear_cross_entropy_fwd(h, w, None, y, CEOptions(), coef=vec, need_grad=(1, 1, 0),
                                             max_workspace_bytes=ws)  # fmt: skip
            lce.linear_cross_entropy_fwd(h, w, None, y, CEOptions(), with_entropy=True)  # log-probs forward
            lce.linear_cross_entropy_bwd(h, w, None, y, st, vec, CEOptions(), need_grad=(1, 1, 0))
            lce.linear_cross_entropy_bwd(h, w, None, y, st, vec, CEOptions(), entropy=vec, dentropy=vec,
                                         need_grad=(1, 1, 0))  # fmt: skip
        logits = e(N, 128256, dt=dtype)  # the logits-level op
        cross_entropy_fwd(logits, e(N, dt=torch.int64), CEOptions())
        cross_entropy_bwd(logits, e(N, dt=torch.int64), e(N, 2), e(N), CEOptions())
    # every option switch at once (softcap adds the most registers)
    opts = CEOptions(label_smoothing=0.1, z_loss=1e-4, softcap=30.0)
    h, w = e(N, H, dt=torch.bfloat16), e(128256, H, dt=torch.bfloat16)
    lce.linear_cross_entropy_fwd(h, w, None, e(N, dt=torch.int64), opts, coef=e(N), need_grad=(1, 1, 0),
                                 max_workspace_bytes=1_342_177_280)  # fmt: skip
    lce.linear_cross_entropy_fwd(h, w, None, e(N, dt=torch.int64), opts, coef=e(N), need_grad=(1, 1, 0))


def _ppo(dev):
    import torch

    from tl_fast.kernels.ppo import gae_fwd, policy_loss_fwd, value_loss_fwd

    e = lambda *s, dt=torch.float32: torch.empty(*s, dtype=dt, device=dev)
    for T in (1024, 4096):
        gae_fwd(e(256, T), e(256, T), e(256, T, dt=torch.bool), 1.0, 0.95)
    x = e(256, 1024)
    for mask in (e(256, 1024, dt=torch.bool), x):
        policy_loss_fwd(x, x, x, mask, 0.2, 0.28, None)
        policy_loss_fwd(x, x, x, mask, 0.2, 0.2, 3.0)
        value_loss_fwd(x, x, x, mask, 0.2)
        value_loss_fwd(x, x, x, mask, None)


SWEEP = {"lm_head cross-entropy and log-probs": _lm_head, "PPO": _ppo}


# ------------------------------------------------------------------------------------------------------------
# Discovery, recording, compiling (run in the subprocess)


def discover() -> dict[str, str]:
    """{kernel name: module} for every @triton.jit function of kernels/ no other jit function there names
    (helpers are called, or passed as combine_fn)."""
    from triton.runtime.jit import JITFunction

    import tl_fast.kernels as pkg

    found: dict[str, tuple[str, JITFunction]] = {}
    for info in pkgutil.iter_modules(pkg.__path__):
        mod = importlib.import_module(f"tl_fast.kernels.{info.name}")
        jits = {
            n: f for n, f in vars(mod).items() if isinstance(f, JITFunction) and f.__module__ == mod.__name__
        }
        called = {
            n for n in jits for f in jits.values() if f is not jits[n] and re.search(rf"\b{n}\b", f.src)
        }
        found.update({n: (mod.__name__, f) for n, f in jits.items() if n not in called})
    return {n: m for n, (m, _) in found.items()}


def record(arch: int) -> list:
    """[(module, kernel name, args, kwargs)] launched by SWEEP, planning for the GPU of `arch`."""
    import torch
    from triton.runtime.jit import JITFunction

    import tl_fast.kernels.cross_entropy as ce
    import tl_fast.kernels.linear_cross_entropy as lce
    import tl_fast.kernels.ppo as ppo

    launches = []
    run = JITFunction.run
    JITFunction.run = lambda self, *a, grid, warmup, **kw: launches.append(
        (self.__module__, self.__name__, a, kw)
    )
    saved = ce.use_triton, ppo.use_triton, lce.device_spec
    ce.use_triton = ppo.use_triton = lambda t: True
    lce.device_spec = lambda d: {80: lce.A100, 90: lce.H100}[arch]
    try:
        for fn in SWEEP.values():
            fn(torch.device("meta"))
    finally:
        JITFunction.run = run
        ce.use_triton, ppo.use_triton, lce.device_spec = saved
    return launches


def specialize(launches: list, arch: int) -> dict:
    """{key: job}: Triton's binder on each launch (signature, constexprs, attributes, options), deduped."""
    from triton.backends.compiler import GPUTarget
    from triton.compiler.compiler import make_backend
    from triton.runtime.jit import create_function_from_signature

    backend = make_backend(GPUTarget("cuda", arch, 32))
    jobs = {}
    for module, name, args, kwargs in launches:
        fn = getattr(importlib.import_module(module), name)
        binder = create_function_from_signature(fn.signature, fn.params, backend)
        bound, spec, options = binder(*args, **kwargs)
        opts, sig, cons, attrs = fn._pack_args(backend, kwargs, bound, spec, options)
        key = repr(
            (
                name,
                sorted(sig.items()),
                sorted(cons.items()),
                sorted(attrs.items()),
                sorted(vars(opts).items()),
            )
        )
        jobs.setdefault(key, (module, name, sig, cons, attrs, vars(opts), "enable_fp_fusion" in kwargs))
    return jobs


def compile_one(job: tuple, arch: int) -> dict:
    import triton
    from triton import knobs
    from triton.backends.compiler import GPUTarget
    from triton.compiler import ASTSource

    module, name, sig, cons, attrs, opts, fusion_explicit = job
    fn = getattr(importlib.import_module(module), name)
    knobs.nvidia.dump_ptxas_log = True  # Triton runs ptxas -v and prints its log
    log = io.StringIO()
    with contextlib.redirect_stdout(log):
        k = triton.compile(ASTSource(fn, sig, cons, attrs), target=GPUTarget("cuda", arch, 32), options=opts)
    text = log.getvalue()
    grab = lambda pat: sum(int(x) for x in re.findall(pat, text))
    ttir = k.asm["ttir"]
    return {
        "kernel": name,
        "arch": arch,
        "constexprs": {str(k_): v for k_, v in cons.items()},
        "dtypes": sorted({v for v in sig.values() if v.startswith("*")}),
        "num_warps": opts["num_warps"],
        "fp_fusion_explicit": fusion_explicit,
        "registers": max((int(x) for x in re.findall(r"Used (\d+) registers", text)), default=-1),
        "spill_stores": grab(r"(\d+) bytes spill stores"),
        "spill_loads": grab(r"(\d+) bytes spill loads"),
        "ptxas_seen": "spill stores" in text,
        "shared": k.metadata.shared,
        "i64_tensor_compares": len(re.findall(r"arith\.cmpi eq, [^\n]*: tensor<[^>\n]*xi64>", ttir)),
        "reverse_scans": len(re.findall(r"reverse = true", ttir)),
    }


def run_all(archs=ARCHS, workers: int = 2) -> dict:
    kernels = discover()
    launched, jobs = {}, []
    for arch in archs:
        found = specialize(record(arch), arch)
        launched[arch] = sorted({j[1] for j in found.values()})
        jobs += [(j, arch) for j in found.values()]
    with ProcessPoolExecutor(max_workers=workers, mp_context=get_context("fork")) as pool:
        results = list(pool.map(compile_one, [j for j, _ in jobs], [a for _, a in jobs]))
    return {"kernels": kernels, "launched": {str(a): v for a, v in launched.items()}, "results": results}


# ------------------------------------------------------------------------------------------------------------
# The test


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    pytest.importorskip("triton.backends.nvidia")
    out = tmp_path_factory.mktemp("aot") / "report.json"
    env = {**os.environ, "TRITON_INTERPRET": "0", "TRITON_CACHE_DIR": str(out.parent / "cache")}
    cmd = [sys.executable, __file__, "--json", str(out)]
    root = Path(__file__).resolve().parents[1]
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600, cwd=root)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return json.loads(out.read_text())


def test_every_kernel_has_a_config_for_each_arch(report):
    for arch in ARCHS:
        missing = sorted(set(report["kernels"]) - set(report["launched"][str(arch)]))
        assert not missing, (
            f"kernels with no compile config for sm_{arch}: {missing} ({report['kernels']}); add a call of "
            "their launcher at the benchmark shapes to SWEEP in tests/test_kernels_compile.py"
        )


def test_no_spills_and_shared_memory_within_the_limit(report):
    assert report["results"]
    for r in report["results"]:
        where = f"{r['kernel']} sm_{r['arch']} {r['dtypes']} {r['constexprs']} warps={r['num_warps']}"
        assert r["ptxas_seen"], f"no ptxas log for {where}"
        assert r["spill_stores"] == 0 and r["spill_loads"] == 0, f"register spills in {where}: {r}"
        assert 0 <= r["shared"] <= SHARED_LIMIT[r["arch"]], f"shared memory {r['shared']} B in {where}"


def test_ir_properties(report):
    """Label compares in the cross-entropy loops are int32 and every launch sets FP fusion (defect 6); GAE
    scans forward (defect 2)."""
    for r in report["results"]:
        assert r["fp_fusion_explicit"], f"{r['kernel']} is launched without enable_fp_fusion="
        if r["kernel"].startswith("cross_entropy"):
            assert r["i64_tensor_compares"] == 0, f"int64 tensor compare in {r['kernel']} {r['constexprs']}"
        if r["kernel"].startswith("gae"):
            assert r["reverse_scans"] == 0, "gae_fwd_kernel uses tl.associative_scan(reverse=True)"


def _table(rep: dict) -> str:
    lines = [f"{'kernel':<28}{'arch':<6}{'dtypes':<26}{'warps':>5}{'regs':>6}{'spill':>7}{'smem':>8}"]
    for r in sorted(rep["results"], key=lambda r: (r["kernel"], r["arch"], r["dtypes"])):
        lines.append(
            f"{r['kernel']:<28}sm_{r['arch']:<3}{','.join(r['dtypes']):<26}{r['num_warps']:>5}{r['registers']:>6}"
            f"{r['spill_stores'] + r['spill_loads']:>7}{r['shared']:>8}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--json", type=Path, help="write the report here instead of printing the table")
    ap.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    a = ap.parse_args()
    os.environ.setdefault("TRITON_INTERPRET", "0")
    rep = run_all(workers=a.workers)
    if a.json:
        a.json.write_text(json.dumps(rep))
    else:
        print(_table(rep))
