"""Build script: the `tl_fast` package (+ `kernels/` as `tl_fast.kernels`) and the module `tl_fast._native`.

pip install .                      # builds the C++ extension
TL_FAST_NO_NATIVE=1 pip install .  # no compiler needed; the pure-Python twins are used
"""

import os
from pathlib import Path

from setuptools import find_namespace_packages, setup
from setuptools.command.build_py import build_py

ROOT = Path(__file__).parent
NO_NATIVE = os.environ.get("TL_FAST_NO_NATIVE", "0") not in ("", "0")


def native_extensions():
    if NO_NATIVE:
        return [], {}
    from pybind11.setup_helpers import Pybind11Extension, build_ext

    # Every csrc/**/*.cpp but the C++ tests goes into the module (bindings.cpp and python/ are the glue);
    # CMakeLists.txt globs the same.
    cpp = (ROOT / "csrc").rglob("*.cpp")
    sources = sorted(str(p.relative_to(ROOT)) for p in cpp if "tests" not in p.relative_to(ROOT).parts)
    ext = Pybind11Extension(
        "tl_fast._native",
        sources,
        include_dirs=["csrc"],
        cxx_std=17,
        extra_compile_args=["-O3", "-fvisibility=hidden"],
    )
    return [ext], {"build_ext": build_ext}


class build_py_marking(build_py):
    """With TL_FAST_NO_NATIVE, leaves tl_fast/_native_skipped in the installed copy, so the run-time notice
    can say that the variable chose the Python fallback (instead of reporting a failed import)."""

    def run(self):
        super().run()
        if NO_NATIVE:
            marker = Path(self.build_lib) / "tl_fast" / "_native_skipped"
            marker.write_text("built with TL_FAST_NO_NATIVE set: no C++ extension\n")


ext_modules, cmdclass = native_extensions()
cmdclass = {**cmdclass, "build_py": build_py_marking}
# Asset folders (tokenizer, vendored data, benchmarks) are data-only namespace packages.
packages = find_namespace_packages(include=["tl_fast*"], exclude=["tl_fast.kernels*", "*__pycache__*"])
packages.append("tl_fast.kernels")

setup(
    packages=sorted(set(packages)),
    # The Triton kernels live at the top level (kernels/) and ship inside the wheel as tl_fast.kernels.
    # tl_fast/kernels is a symlink to ../kernels so a source checkout imports the very same files.
    package_dir={"tl_fast.kernels": "kernels"},
    package_data={"tl_fast.assets": ["**/*"]},
    include_package_data=True,
    ext_modules=ext_modules,
    cmdclass=cmdclass,
    zip_safe=False,
)
