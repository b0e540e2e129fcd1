# seqkit developer entry points. `make demo` and `make test` are the README's
# two Quick start commands; each creates the virtual environment on first use.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.seqkit-installed
# On a machine without an NVIDIA driver, pin the CPU build of torch so set-up
# never pulls a multi-GB CUDA build; with a GPU, let pip choose the CUDA build.
TORCH_SPEC ?= $(shell command -v nvidia-smi >/dev/null 2>&1 && echo 'torch>=2.3' || echo 'torch==2.13.0')

.PHONY: setup demo test lint bench clean

setup: $(STAMP)

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -c "import torch" 2>/dev/null || $(PY) -m pip install -q --disable-pip-version-check "$(TORCH_SPEC)"
	$(PY) -m pip install -q --disable-pip-version-check -e ".[test,report]"
	touch $@

demo: $(STAMP)
	$(VENV)/bin/seqkit demo

test: $(STAMP)
	$(PY) -m pytest -q

lint: $(STAMP)
	$(PY) -m ruff check .

bench: $(STAMP)
	$(PY) benchmarks/readers.py
	$(PY) benchmarks/layers.py
	$(PY) benchmarks/evaluation.py

clean:
	rm -rf $(VENV) build *.egg-info
