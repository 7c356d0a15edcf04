# hydrawatch — everything installs into .venv from the project's own files.
SHELL := /bin/bash
PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
RUN_STAMP := $(VENV)/.installed-run
DEV_STAMP := $(VENV)/.installed-dev
PIP := $(BIN)/python -m pip --disable-pip-version-check -q

.PHONY: demo test test-unit test-integration lint bench bench-producer bench-memory bench-floor bench-invariance schemas examples constraints sizing clean help promtool chromium

help:
	@echo "make demo   - create .venv, install, run the live demo (DEMO_ARGS='--duration 60')"
	@echo "make test   - create .venv with the [dev] extra, run the whole suite (PYTEST_ARGS=...)"
	@echo "make lint   - ruff + format check + mypy + pip-audit (AUDIT=skip where PyPI's vulnerability API is unreachable)"
	@echo "make bench  - throughput + latency benchmark on the embedded broker (BENCH_ARGS=...)"
	@echo "make bench-producer - producer settings (envelope size, linger, batch, CRC, codecs) one at a time"
	@echo "make bench-memory - memory per active account (RSS slope; BENCH_ARGS='--trace' for the heap)"
	@echo "make bench-floor  - per-event cost of decode, validation and windows alone (the shape's floor)"
	@echo "make bench-invariance - one labelled scenario offline and through 1/2/4 workers: the same table?"
	@echo "make constraints - freeze the tested venv into deploy/docker/constraints.txt (the image's versions)"
	@echo "make sizing - rewrite deploy/README.md's sizing block from the newest benchmarks/results/bench-*.json"

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "hydrawatch needs Python >= 3.11, found " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip setuptools wheel

$(RUN_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e .
	@touch $@

$(DEV_STAMP): pyproject.toml | $(BIN)/python
	$(PIP) install -e '.[dev]'
	@touch $@ $(RUN_STAMP)

demo: $(RUN_STAMP)
	$(BIN)/hydrawatch demo $(DEMO_ARGS)

test: $(DEV_STAMP)
	@# prometheus for the dashboard/rules test; where it cannot be installed that test
	@# is skipped (and says so in the summary) instead of failing the whole run
	-@$(MAKE) --no-print-directory promtool
	@# chromium + chromedriver for the console's browser test; skipped (with the reason in
	@# the summary) where they cannot be installed
	-@$(MAKE) --no-print-directory chromium
	$(BIN)/python -m pytest $(PYTEST_ARGS)

test-unit: $(DEV_STAMP)
	$(BIN)/python -m pytest -m "not integration and not reliability" $(PYTEST_ARGS)

test-integration: $(DEV_STAMP)
	-@$(MAKE) --no-print-directory promtool
	-@$(MAKE) --no-print-directory chromium
	$(BIN)/python -m pytest -m "integration or reliability" $(PYTEST_ARGS)

# Debian's prometheus package provides prometheus + promtool (rule checks and the
# dashboard/rules integration test); installed here when missing, without starting
# its service.
promtool:
	@command -v promtool >/dev/null 2>&1 || { \
	  echo "installing Debian's prometheus package (promtool)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  printf '#!/bin/sh\nexit 101\n' | $$SUDO tee /usr/sbin/policy-rc.d >/dev/null; \
	  $$SUDO chmod +x /usr/sbin/policy-rc.d; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends prometheus >/dev/null; \
	  rc=$$?; $$SUDO rm -f /usr/sbin/policy-rc.d; exit $$rc; }

# Debian's chromium and chromium-driver: the console's browser test (Selenium drives them);
# installed when missing.
chromium:
	@{ command -v chromium && command -v chromedriver; } >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium and chromium-driver (console browser test)"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null; }

lint: $(DEV_STAMP) promtool
	promtool check config deploy/prometheus/prometheus.yml
	promtool check rules deploy/prometheus/rules/*.yml
	promtool test rules deploy/prometheus/tests/*.test.yml
	$(BIN)/ruff check app tests benchmarks
	$(BIN)/ruff format --check app tests benchmarks
	$(BIN)/mypy app
ifneq ($(AUDIT),skip)
	@# --strict: a dependency that could not be checked fails the audit (no silent pass
	@# where the vulnerability service is unreachable; skip explicitly with AUDIT=skip).
	$(BIN)/pip-audit --strict --skip-editable --progress-spinner off
else
	@echo "pip-audit skipped (AUDIT=skip)"
endif

bench: $(RUN_STAMP)
	$(BIN)/python benchmarks/run.py $(BENCH_ARGS)

bench-producer: $(RUN_STAMP)
	$(BIN)/python benchmarks/producer.py $(BENCH_ARGS)

bench-memory: $(RUN_STAMP)
	$(BIN)/python benchmarks/memory.py $(BENCH_ARGS)

bench-floor: $(RUN_STAMP)
	$(BIN)/python benchmarks/floor.py $(BENCH_ARGS)

bench-invariance: $(RUN_STAMP)
	$(BIN)/python -m benchmarks.invariance $(BENCH_ARGS)

schemas: $(RUN_STAMP)
	$(BIN)/hydrawatch schemas --out-dir schemas

examples: $(RUN_STAMP)
	$(BIN)/python -c "from app.tools.simulate.basic import example_lines; open('schemas/examples/request_events.jsonl', 'wb').write(example_lines())"

# The image installs these versions (pip install -c): the venv the tests ran in.
constraints: $(DEV_STAMP)
	@{ echo "# Versions the image installs (pip install -c): the dev venv the tests ran in, frozen."; \
	  echo "# Regenerate with: make constraints   (pip freeze of .venv, without hydrawatch itself)"; \
	  $(PIP) freeze --exclude hydrawatch; } > deploy/docker/constraints.txt
	@echo "wrote deploy/docker/constraints.txt"

sizing: $(RUN_STAMP)
	$(BIN)/python benchmarks/sizing.py --write

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache *.egg-info
