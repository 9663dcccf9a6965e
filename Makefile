# keras_waveglow: `make test` installs and runs everything; `make demo` runs the main job.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DEMO_STAMP := $(VENV)/.installed-demo
PYTEST_ARGS ?=

.PHONY: install test test-tf test-jax test-notebooks test-slow lint format demo clean

install: $(STAMP)

$(STAMP): setup.py pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	# CPU build of torch first, so the torch extra resolves to it: from this machine's wheel
	# store (its pip config); elsewhere, install it first from PyTorch's CPU index
	# (`.venv/bin/pip install torch --index-url https://download.pytorch.org/whl/cpu`).
	$(BIN)/python -c "import torch" 2>/dev/null || $(BIN)/pip install -q "torch==2.13.0"
	$(BIN)/pip install -q -e ".[jax,tfp,torch,onnx,eval,dev]"
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 >/dev/null
	# Headless Chromium for the evaluation report's browser test (Debian's package), as root only.
	command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null \
		&& apt-get update && apt-get install -y chromium; } \
		|| echo "note: chromium not installed (needs root and apt-get); the report's browser test is skipped outside CI"
	touch $(STAMP)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: $(STAMP)
	$(BIN)/ruff format .
	$(BIN)/ruff check --fix .

# Each suite keeps its own numba cache: librosa's cached gufuncs (pyin) compiled by two
# processes at once can pair one process's kernel with the other's wrapper and segfault
# (numba/numba#10128; seen once here, test-jax, 2026-12-06).
NUMBA_CACHE := $(CURDIR)/$(VENV)/numba-cache

# Without PYTEST_ARGS each backend's suite runs as two processes, the training tests in their
# own: a process keeps what it traced (TensorFlow above all), and one process for the whole
# TensorFlow suite grew to 14.6 GB beside the JAX suite's 7 GB and was killed for memory on
# the 24 GiB CI machine (benchmarks/results/ci_oom_2026-12-07.txt); test_training.py alone
# peaks at 8.5 GB (benchmarks/suite_memory.py, results/suite_memory_tf_training_2026-12-07.jsonl).
SPLIT := tests/test_training.py
TF_TESTS := NUMBA_CACHE_DIR=$(NUMBA_CACHE)/tf KERAS_BACKEND=tensorflow \
	$(BIN)/pytest -q --durations=25 -m "not slow"
JAX_TESTS := NUMBA_CACHE_DIR=$(NUMBA_CACHE)/jax KERAS_BACKEND=jax \
	$(BIN)/pytest -q --durations=25 -m "not slow and not tensorflow_only"

test-tf: $(STAMP)
	$(TF_TESTS) $(or $(PYTEST_ARGS),--ignore=$(SPLIT))
	$(if $(PYTEST_ARGS),,$(TF_TESTS) $(SPLIT))

test-jax: $(STAMP)
	$(JAX_TESTS) $(or $(PYTEST_ARGS),--ignore=$(SPLIT))
	$(if $(PYTEST_ARGS),,$(JAX_TESTS) $(SPLIT))

# The notebooks run end to end (FAST parameters) on TensorFlow, each ending in assertions.
test-notebooks: $(STAMP)
	NUMBA_CACHE_DIR=$(NUMBA_CACHE)/notebooks KERAS_BACKEND=tensorflow KERAS_WAVEGLOW_FAST=1 \
		$(BIN)/pytest -q --nbmake notebooks/

# The three suites are independent processes (tests write only under tmp_path, notebooks under
# notebooks/outputs): run them side by side so both cores stay busy while one suite compiles.
test: lint
	$(MAKE) -j3 --output-sync=target test-tf test-jax test-notebooks

# Slow tests (data-parallel on 2 virtual devices, bf16/fp16 GAN steps, CLI kill-and-resume in
# fresh processes, ...): not in CI's budget; run before a release.
test-slow: $(STAMP)
	KERAS_BACKEND=tensorflow $(BIN)/pytest -q -m slow $(PYTEST_ARGS)
	KERAS_BACKEND=jax $(BIN)/pytest -q -m "slow and not tensorflow_only" $(PYTEST_ARGS)

# The demo needs the package and its metrics only (no torch, JAX or test tools, no Chromium).
$(DEMO_STAMP): setup.py pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[eval]"
	touch $(DEMO_STAMP)

demo: $(DEMO_STAMP)
	KERAS_BACKEND=tensorflow $(BIN)/python -m keras_waveglow.demo --out demo_out --overwrite

clean:
	rm -rf $(VENV) demo_out .pytest_cache notebooks/outputs build dist *.egg-info
