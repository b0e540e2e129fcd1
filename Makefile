# seqkit developer entry points. `make demo` and `make test` are the README's
# two Quick start commands; each creates the virtual environment on first use.
# Two install stamps: `demo` (and `setup`) install seqkit and what it runs on
# (torch, numpy, pyarrow, pandas, matplotlib...); `test`, `lint` and `bench` add
# the test extras (pytest, hypothesis, keras, scikit-learn, ruff) on top.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
PIP := $(PY) -m pip install -q --disable-pip-version-check
RUNTIME := $(VENV)/.seqkit-runtime
TESTING := $(VENV)/.seqkit-test
# On a machine without an NVIDIA driver, pin the CPU build of torch so set-up
# never pulls a multi-GB CUDA build; with a GPU, let pip choose the CUDA build.
TORCH_SPEC ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo 'torch>=2.9' || echo 'torch==2.13.0')

.PHONY: setup demo test lint bench clean

setup: $(RUNTIME)

$(RUNTIME): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PIP) "$(TORCH_SPEC)"
	$(PIP) -e ".[report]"
	touch $@

$(TESTING): $(RUNTIME) pyproject.toml
	$(PIP) -e ".[test,report]"
	touch $@

demo: $(RUNTIME)
	$(VENV)/bin/seqkit demo

test: $(TESTING)
	$(PY) -m pytest -q

lint: $(TESTING)
	$(PY) -m ruff check .

bench: $(TESTING)
	$(PY) benchmarks/readers.py
	$(PY) benchmarks/layers.py
	$(PY) benchmarks/evaluation.py

clean:
	rm -rf $(VENV) build *.egg-info

# `make gpu-check`: on a CUDA machine, every GPU-only check in one command, each step under a
# time limit and none stopping the others, one summary table at the end (benchmarks/README.md).
# Without a GPU it stops at once and says so. It uses $(VENV) when there is one, else $(PYTHON)
# (a GPU machine with torch installed system-wide); seqkit runs from this tree (PYTHONPATH).
GPU_PY ?= $(shell test -x $(PY) && echo $(PY) || echo $(PYTHON))

.PHONY: gpu-check
gpu-check:
	$(GPU_PY) benchmarks/gpu_check.py
