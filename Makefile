# Two commands do all the set-up on a fresh machine:
#   make demo   creates .venv if missing, installs tl_fast into it, runs `python -m tl_fast.train`
#   make test   same set-up, then the C++ unit tests under ASan+UBSan, ruff, and pytest
#
# TORCH_SPEC pins the CPU torch this project is tested with; override it for another platform, e.g.
#   make test TORCH_SPEC='torch==2.11.0 --index-url https://download.pytorch.org/whl/cu130'

PYTHON     ?= python3
VENV       ?= .venv
TORCH_SPEC ?= torch==2.13.0
PY         := $(VENV)/bin/python
STAMP      := $(VENV)/.tl_fast-installed
NATIVE_SRC := $(wildcard csrc/*.cpp csrc/*.h csrc/*/*.cpp csrc/*/*.h)
ASAN_BUILD := build/asan

.PHONY: demo test install ctest lint pytest bench clean gpu-check

demo: $(STAMP)
	$(PY) -m tl_fast.train $(ARGS)

test: ctest lint pytest

install: $(STAMP)

$(STAMP): pyproject.toml setup.py $(NATIVE_SRC)
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q $(TORCH_SPEC)
	$(PY) -m pip install -q -e '.[dev]'
	touch $@

ctest: $(STAMP)
	cmake -S . -B $(ASAN_BUILD) -G Ninja -DTL_FAST_SANITIZE=ON -DTL_FAST_BUILD_PYTHON=OFF > /dev/null
	cmake --build $(ASAN_BUILD)
	ctest --test-dir $(ASAN_BUILD) --output-on-failure

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

pytest: $(STAMP)
	$(PY) -m pytest -q $(PYTEST_ARGS)

# On a GPU machine, with its own python (no venv, no network): gpu-marked tests and the kernel benchmarks,
# rows + plots + summary.md in GPU_OUT. Wheels it lacks (Liger, CCE) come from GPU_WHEELS when present.
GPU_PY     ?= python3
GPU_OUT    ?= benchmarks/results/gpu_check
GPU_WHEELS ?= $(firstword $(wildcard shared/wheels-gpu ../shared/wheels-gpu))

gpu-check:
	$(GPU_PY) benchmarks/gpu_check.py --out $(GPU_OUT) $(if $(GPU_WHEELS),--wheels $(GPU_WHEELS))

clean:
	rm -rf build dist *.egg-info tl_fast/*.so
