# Two entry points: `make demo` (set up, then run the demo sweep) and `make test` (set up, then
# run the test suite). Both create .venv on first use; torch is installed first, with PyTorch's
# CPU index beside PyPI, so that the CPU build (2.13.0+cpu, the highest 2.13.0 on Linux) is used
# instead of PyPI's Linux wheel and its multi-GB CUDA libraries (pip's resolution checked
# 2026-12-01: nvidia-cublas, nvidia-cudnn-cu13, triton...). Torch alone: its dependencies come
# with the project's, from PyPI. A machine that cannot reach that index (a local wheel mirror)
# warns, retries for a few seconds, and uses the wheels it has.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
TORCH_INDEX ?= https://download.pytorch.org/whl/cpu
export MLFLOW_DISABLE_TELEMETRY ?= true
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup system-deps demo test lint bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q --no-deps torch==2.13.0 --extra-index-url $(TORCH_INDEX)
	$(BIN)/pip install -q -e '.[dev]'
	touch $@

setup: $(BIN)/.installed

# PostgreSQL and Chromium for the service tests (a real database server and a real browser).
system-deps:
	bash scripts/install-system-deps.sh

# The sweep, then its HTML report with PNG plots under reports/20ng-demo/ (also logged to MLflow).
demo: setup
	HF_HUB_OFFLINE=1 $(BIN)/tuner run grids/demo.json --max-workers 2; status=$$?; \
	  $(BIN)/tuner report 20ng-demo && exit $$status

test: setup system-deps
	HF_HUB_OFFLINE=1 $(BIN)/pytest -q

lint: setup
	$(BIN)/ruff check tuner trainers tests bench
	$(BIN)/mypy
	$(BIN)/lint-imports

bench: setup
	cd bench && for script in embedding_cache parallel_efficiency fit_pairs overhead npmi_speed npmi_reference umap_cache \
	    worker_rss worker_start grid_refusal serve_warm redaction; do echo "== $$script"; HF_HUB_OFFLINE=1 ../$(BIN)/python $$script.py; done
