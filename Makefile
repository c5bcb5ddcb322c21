# Two entry points: `make demo` (set up, then run the demo sweep) and `make test` (set up, then
# run the test suite). Both create .venv on first use; torch is installed first so that the CPU
# build is used instead of a multi-GB CUDA build.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export MLFLOW_DISABLE_TELEMETRY ?= true
export TOKENIZERS_PARALLELISM ?= false

.PHONY: setup system-deps demo test lint bench

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q torch==2.13.0
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
