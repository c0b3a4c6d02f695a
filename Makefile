# rekflow: `make demo` runs the workflow offline on the bundled samples, `make test` runs every test.
# Both create the virtual environment in .venv on first use.

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLES := .cache/samples
LABELS_MODEL := .cache/models/efficientnet-lite0.onnx
STAGE ?= dev

.PHONY: setup demo test test-fast lint bench bench-folder build deploy clean

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt requirements-dev.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install --quiet --no-deps -e .
	# torch (the CPU wheel this machine image carries) is needed once, to convert the labels model.
	$(BIN)/pip install --quiet torch==2.13.0 onnx==1.23.2
	$(BIN)/python -m rekflow.vision.models.efficientnet_export $(LABELS_MODEL)
	touch $@

demo: setup
	$(BIN)/rekflow samples $(SAMPLES) > /dev/null
	$(BIN)/rekflow analyze $(SAMPLES)

test: setup
	$(BIN)/python -m pytest

test-fast: setup
	$(BIN)/python -m pytest -m "not models"

lint: setup
	$(BIN)/ruff check .
	$(BIN)/cfn-lint template.yaml

bench: setup
	$(BIN)/python -m rekflow.bench

# Memory of `rekflow analyze` over a folder of IMAGES photos with the real models (about 1.5 s a photo).
IMAGES ?= 1000
bench-folder: setup
	$(BIN)/python -m rekflow.bench_folder $(IMAGES) local

build:
	sam validate --lint
	sam build

deploy: build
	sam deploy --config-env $(STAGE)

clean:
	rm -rf $(VENV) .cache .aws-sam rekflow-results .pytest_cache .ruff_cache
