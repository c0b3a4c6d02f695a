# rekflow: `make demo` runs the workflow offline on the bundled samples, `make test` runs every test.
# Both create the virtual environment in .venv on first use; `make test`, `make lint`, `make build` and
# `make deploy` also install the deploy tools (`make deploy-tools`: .venv-deploy, .venv-checkov, .cache/node).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
SAMPLES := .cache/samples
LABELS_MODEL := .cache/models/efficientnet-lite0.onnx
STAGE ?= dev
# Deploy-readiness gate: SAM CLI, cfn-lint + serverless rules and parliament in one environment, checkov in its
# own (its boto3 pin conflicts with SAM CLI's), asl-validator from npm.
DEPLOY_VENV := .venv-deploy
DEPLOY_BIN := $(DEPLOY_VENV)/bin
CHECKOV_VENV := .venv-checkov
NODE_PREFIX := .cache/node
ASL_VALIDATOR_VERSION := 4.0.0
DEPLOY_STAMPS := $(DEPLOY_VENV)/.installed $(CHECKOV_VENV)/.installed $(NODE_PREFIX)/.installed-$(ASL_VALIDATOR_VERSION)
# The AWS CLI tools need a region; the checks never call AWS (dummy credentials, and an endpoint nobody listens on).
OFFLINE_AWS := AWS_DEFAULT_REGION=us-east-1 AWS_ACCESS_KEY_ID=offline AWS_SECRET_ACCESS_KEY=offline \
	AWS_ENDPOINT_URL=http://127.0.0.1:9 AWS_EC2_METADATA_DISABLED=true SAM_CLI_TELEMETRY=0

.PHONY: setup deploy-tools demo test test-fast lint bench bench-folder build deploy clean asl docs corpora corpus

setup: $(STAMP)

$(STAMP): requirements.txt requirements-nodeps.txt requirements-dev.txt pyproject.toml \
		rekflow/vision/models/efficientnet_export.py
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(BIN)/pip install --quiet --no-deps -r requirements-nodeps.txt
	$(BIN)/pip install --quiet --no-deps -e .
	# The labels checkpoint is converted to ONNX with numpy and onnx (no torch).
	$(BIN)/python -m rekflow.vision.models.efficientnet_export $(LABELS_MODEL)
	touch $@

deploy-tools: $(DEPLOY_STAMPS)

$(DEPLOY_VENV)/.installed: requirements-deploy.txt
	rm -rf $(DEPLOY_VENV)
	$(PYTHON) -m venv $(DEPLOY_VENV)
	$(DEPLOY_BIN)/pip install --quiet --upgrade pip
	$(DEPLOY_BIN)/pip install --quiet -r requirements-deploy.txt
	touch $@

$(CHECKOV_VENV)/.installed: requirements-checkov.txt
	rm -rf $(CHECKOV_VENV)
	$(PYTHON) -m venv $(CHECKOV_VENV)
	$(CHECKOV_VENV)/bin/pip install --quiet --upgrade pip
	$(CHECKOV_VENV)/bin/pip install --quiet -r requirements-checkov.txt
	touch $@

$(NODE_PREFIX)/.installed-$(ASL_VALIDATOR_VERSION):
	rm -rf $(NODE_PREFIX)
	npm install --silent --no-audit --no-fund --prefix $(NODE_PREFIX) asl-validator@$(ASL_VALIDATOR_VERSION)
	touch $@

demo: setup
	$(BIN)/rekflow samples $(SAMPLES) > /dev/null
	$(BIN)/rekflow analyze $(SAMPLES)

# Chromium and its WebDriver for the report's browser test (tests/functional/test_report.py), Debian's packages:
# installed where missing and apt-get runs as root; elsewhere nothing happens, and that test skips, saying why.
.PHONY: browser
browser:
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then :; \
	elif command -v apt-get >/dev/null && [ "$$(id -u)" = 0 ]; then \
		apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver; \
	else echo "make browser: no chromium and chromedriver, and no apt-get as root: the report's browser test skips"; fi

# The peer corpora: Pillow's and pillow-heif's test images from their sdists (sha256 pinned), unpacked into
# .cache/corpora once (scripts/peer_corpora.py). make test analyses a subset of them (tests/functional/
# test_peer_corpora.py); make corpus analyses every file, with the fixture and the local backends (about 10 min).
corpora: setup
	$(BIN)/python scripts/peer_corpora.py .cache/corpora

corpus: corpora
	REKFLOW_CORPUS=whole REKFLOW_DEPLOY_GATE=1 $(BIN)/python -m pytest -p no:cacheprovider -q -s \
		tests/functional/test_peer_corpora.py

# REKFLOW_DEPLOY_GATE=1: a missing deploy tool or corpus fails its tests instead of skipping them. -n auto: a
# pytest-xdist worker per core (the suite is CPU-bound, and one Python process uses one core at a time), at most 8 (each
# worker imports everything and deploys its own local stacks, and holds the models in memory).
XDIST := -n auto --maxprocesses 8
test: setup deploy-tools browser corpora
	REKFLOW_DEPLOY_GATE=1 $(BIN)/python -m pytest $(XDIST)

test-fast: setup
	$(BIN)/python -m pytest $(XDIST) -m "not models"

# Mutation check (scripts/mutate.py): targeted edits of template.yaml and the ASL, each in a worktree of HEAD, must
# each turn the tests red; prints killed/survived per edit and the kill rate (docs/development/tests.md).
.PHONY: mutate
mutate: setup deploy-tools
	nice -n 19 $(BIN)/python scripts/mutate.py

# statemachines/*.asl.json are generated from rekflow/asl and schemas/features.json (a test checks they are current).
asl: setup
	$(BIN)/python -m rekflow.asl

# The documentation site: the generated pages (CLI, parameters, schemas, workflow diagrams) rewritten, then
# mkdocs.yml built into site/ with --strict (tests/unit/test_docs.py checks both inside make test).
docs: setup
	$(BIN)/python -m rekflow.docs && $(BIN)/mkdocs build --strict

lint: setup deploy-tools
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/lint-imports
	scripts/typecheck
	$(DEPLOY_BIN)/cfn-lint template.yaml --append-rules cfn_lint_serverless.rules
	$(OFFLINE_AWS) $(DEPLOY_BIN)/sam validate --lint --template-file template.yaml
	$(CHECKOV_VENV)/bin/checkov --file template.yaml --framework cloudformation --skip-download --compact --quiet

bench: setup
	$(BIN)/python -m rekflow.bench models
	$(BIN)/python -m rekflow.bench first-photo 3
	$(BIN)/python -m rekflow.bench throughput 10 60 120
	$(BIN)/python -m rekflow.bench backfill 1000
	$(BIN)/python -m rekflow.bench overhead 24 4
	$(BIN)/python -m rekflow.bench cost
	$(BIN)/python -m rekflow.bench throttling 20 20
	$(BIN)/python -m rekflow.bench conversion
	$(BIN)/python -m rekflow.bench search 1000000
	$(BIN)/python -m rekflow.bench history 1000
	$(BIN)/python -m rekflow.bench review 10000

# Memory of `rekflow analyze` over a folder of IMAGES photos with the real models (about 1.5 s a photo).
IMAGES ?= 1000
# SIZE=12mp makes 4000x3000 phone photos instead of 320-1024 px crops.
SIZE ?= small
bench-folder: setup
	$(BIN)/python -m rekflow.bench folder $(IMAGES) local $(SIZE)

build: deploy-tools
	$(OFFLINE_AWS) $(DEPLOY_BIN)/sam validate --lint --template-file template.yaml
	$(DEPLOY_BIN)/sam build

deploy: build
	$(DEPLOY_BIN)/sam deploy --config-env $(STAGE)

clean:
	rm -rf $(VENV) $(DEPLOY_VENV) $(CHECKOV_VENV) .cache .aws-sam rekflow-results .pytest_cache .ruff_cache site
