# One entry point for humans and CI. `make test` is the README's test command.
SHELL := /bin/bash
PYTHON ?= python3
TOOLS ?= $(HOME)/.cache/github-assets-buildpack/tools
export GITHUB_ASSETS_TOOLS := $(TOOLS)
export PATH := $(TOOLS)/bin:$(PATH)

.PHONY: test dev vendor tools lint unit integration e2e package demo bench audit audit-strict update-deps sweep clean

test: dev vendor tools lint audit
	$(PYTHON) -m pytest -q -p no:cacheprovider tests

dev:
	$(PYTHON) -m pip install --quiet --disable-pip-version-check -r requirements/dev.txt

vendor:
	./scripts/vendor.sh

tools:
	./scripts/install-tools.sh

lint:
	ruff check src tests tools scripts examples
	ruff format --check src tests tools scripts examples
	mypy
	vermin -q --no-tips --eval-annotations -t=3.10- --violations src/github_assets
	actionlint

unit: vendor
	$(PYTHON) -m pytest -q tests/unit

integration: vendor
	$(PYTHON) -m pytest -q tests/integration

e2e: vendor tools
	$(PYTHON) -m pytest -q tests/e2e

# make package LOCK=path/to/github-assets.lock: the offline package (its assets inside).
package: vendor
	LOCK="$(if $(LOCK),$(abspath $(LOCK)))" ./scripts/package.sh

# Push the buildpack as an image index for linux/amd64 and linux/arm64 (pack, no Docker engine).
.PHONY: publish
publish:
	./scripts/publish.sh "$(IMAGE)"

demo: dev vendor tools
	$(PYTHON) scripts/demo.py

# Writes docs/performance.md: the build's figures, then the probe's (scripts/bench_probe.py,
# the real lifecycle and launcher: needs root and the tools).
bench: vendor tools
	$(PYTHON) scripts/bench.py --readme
	$(PYTHON) scripts/bench_provenance.py
	$(PYTHON) scripts/bench_signatures.py

# Every index of every write-side syscall with every errno under strace (slow; make test runs a sample).
sweep: vendor
	$(PYTHON) -m pytest -q -p no:cacheprovider -m slow tests/integration/test_syscall_faults.py

audit:
	$(PYTHON) scripts/audit.py

# Release time: every pin must also be PyPI's newest.
audit-strict:
	$(PYTHON) scripts/audit.py --strict

# Maintainers: move every pin (runtime with hashes, dev tools) to the newest, re-vendor, audit.
update-deps:
	$(PYTHON) scripts/update_deps.py
	./scripts/vendor.sh
	$(PYTHON) scripts/audit.py --strict

clean:
	rm -rf vendor dist build .pytest_cache .mypy_cache .ruff_cache
