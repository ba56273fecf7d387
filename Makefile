# visionpipe: `make demo` runs the whole story locally; `make test` is what CI runs.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV := .venv
BIN := $(VENV)/bin
# Lambda's python3.13: on PATH, else pyenv's 3.13 (the development and CI machines have 3.13.0).
PYTHON313 ?= $(shell command -v python3.13 >/dev/null 2>&1 && python3.13 -c 'import sys; print(sys.executable)' 2>/dev/null \
	|| ls -d $$HOME/.pyenv/versions/3.13*/bin/python3.13 2>/dev/null | tail -n 1)
# The venv's bin first: sam build then finds python3.13 (the venv's) with pip.
export PATH := $(abspath $(BIN)):$(PATH)
export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= us-east-1
MAX_FUNCTION_MB ?= 200

.PHONY: help install lock lint unit validate build sizes docs test demo local bench clean backbone-venv export-backbone torch-venv test-ssd

# The anomaly backbone's export (torch) lives in its own Python 3.11 venv, never in .venv or a Lambda.
BACKBONE_VENV := .venv-backbone
PYTHON311 ?= $(shell command -v python3.11 2>/dev/null || ls -d $$HOME/.pyenv/versions/3.11*/bin/python3.11 2>/dev/null | tail -n 1)
BACKBONE_ONNX := tools/visionpipe/anomaly_model/backbones/efficientnet_lite0_s8_s16.onnx

help:
	@echo "make demo   - run every flow locally against moto's server (installs first)"
	@echo "make test   - lint, all tests, sam validate --lint, sam build, size check"
	@echo "make local  - the local stack on 127.0.0.1:4599 until Ctrl-C (visionpipe local up)"
	@echo "make docs   - build the docs site strictly into site/"
	@echo "make bench  - benchmarks: figures with their anchors and ratios, then cost per million images (QUICK=1: short)"
	@echo "make export-backbone - re-export the anomaly backbone ONNX (own Python 3.11 venv with torch)"

$(BIN)/visionpipe: pyproject.toml constraints.txt
	@test -n "$(PYTHON313)" || { echo "python3.13 is required (sam build targets the python3.13 runtime)"; exit 1; }
	test -x $(BIN)/python || $(PYTHON313) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -c constraints.txt -e '.[dev]'
	@touch $@

install: $(BIN)/visionpipe

lock: install
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	( head -n 2 constraints.txt; $(BIN)/python -m pip freeze --exclude-editable ) > constraints.txt.new
	mv constraints.txt.new constraints.txt

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	@# the device components run on the camera's Python (3.9+), not Lambda's: stdlib members and syntax
	$(BIN)/vermin --target=3.9- --violations --no-tips device/

unit: install
	$(BIN)/python -m pytest -n 2 --dist loadgroup

validate: install
	$(BIN)/sam validate --lint

build: install
	$(BIN)/sam build --parallel --cached

sizes: build
	$(BIN)/python tools/check_sizes.py --limit-mb $(MAX_FUNCTION_MB)

docs: install
	NO_MKDOCS_2_WARNING=1 $(BIN)/mkdocs build --strict --quiet

test: lint unit docs validate sizes

demo: install
	$(BIN)/visionpipe demo

local: install
	$(BIN)/visionpipe local up

# `make bench QUICK=1`: every benchmark in its short form (about 6 min instead of about 12).
bench: install
	@for bench in benchmarks/bench_*.py; do echo "== $$bench"; $(BIN)/python $$bench $(if $(QUICK),--quick) || exit 1; done
	@echo "== benchmarks/cost_per_million.py"; $(BIN)/python benchmarks/cost_per_million.py

$(BACKBONE_VENV)/bin/python: tools/backbone/requirements.txt
	@test -n "$(PYTHON311)" || { echo "python3.11 is required for the backbone export venv"; exit 1; }
	test -x $@ || $(PYTHON311) -m venv $(BACKBONE_VENV)
	$@ -m pip install --quiet -r tools/backbone/requirements.txt
	@touch $@

backbone-venv: $(BACKBONE_VENV)/bin/python

# Rewrites the shipped backbone (byte-identical when nothing changed; see BACKBONE.md beside it).
export-backbone: backbone-venv
	$(BACKBONE_VENV)/bin/python tools/backbone/export_backbone.py --out $(BACKBONE_ONNX)
	sha256sum $(BACKBONE_ONNX)

clean:
	rm -rf .aws-sam .demo .bench .pytest_cache .ruff_cache site

# The ssd training script's own venv (Python 3.11, CPU torch from the pinned wheels; never in .venv
# or a Lambda package). The local SageMaker engine runs train_ssd.py with it.
TORCH_VENV := .venv-torch
torch-venv: $(TORCH_VENV)/bin/python
$(TORCH_VENV)/bin/python:
	@test -n "$(PYTHON311)" || { echo "python3.11 is required for the torch venv"; exit 1; }
	$(PYTHON311) -m venv $(TORCH_VENV)
	$(TORCH_VENV)/bin/python -m pip install --quiet torch==2.14.1 torchvision==0.29.1 'opencv-python-headless<5' numpy onnx

test-ssd: install torch-venv
	VISIONPIPE_TEST_SSD=1 $(BIN)/python -m pytest tests/integration/test_ssd_round.py -q
