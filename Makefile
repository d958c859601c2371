# Dicht de kloof: the two commands a new machine needs are `make run` and `make test`.
PYTHON ?= python3.11
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha1sum pyproject.toml | cut -c1-12)
SPECTRAL := .tools/node_modules/.bin/spectral
RULESET := ../shared/conformance/nl-api-design-rules.spectral.yaml
# The console's front-end packages (htmx, NL Design System CSS), from npm into an ignored
# folder: served by the console itself, never committed. Needs npm (see README).
CONSOLE_ASSETS_DIR := services/console/assets
CONSOLE_ASSETS := $(CONSOLE_ASSETS_DIR)/node_modules/.installed-$(shell sha1sum $(CONSOLE_ASSETS_DIR)/package.json | cut -c1-12)

.PHONY: console-assets install run test lint conformance bench soak migrate token clean asyncapi validate-deploy replay-dlq

$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV) >&2 || python3 -m venv $(VENV) >&2
	@$(PY) -m pip install --quiet --upgrade pip >&2
	@$(PY) -m pip install --quiet -e '.[dev]' >&2
	@rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP) $(CONSOLE_ASSETS)

$(CONSOLE_ASSETS): $(CONSOLE_ASSETS_DIR)/package.json
	@command -v npm >/dev/null || { echo "npm is needed for the console's assets (apt-get install npm)" >&2; exit 1; }
	@npm install --silent --no-audit --no-fund --no-package-lock --prefix $(CONSOLE_ASSETS_DIR) >&2
	@rm -f $(CONSOLE_ASSETS_DIR)/node_modules/.installed-* && touch $(CONSOLE_ASSETS)

console-assets: $(CONSOLE_ASSETS)

run: $(STAMP) $(CONSOLE_ASSETS)  ## broker, three services and the console (127.0.0.1:8000) on SQLite with demo data
	@$(PY) -m tools.devstack

# The PostgreSQL pass uses the server at DDK_TEST_POSTGRES (default 127.0.0.1:5432) or, where
# none answers, an embedded one that tests.pgserver starts for the pass and removes after it.
# Two test files at a time (TEST_WORKERS): one alone waits on brokers, processes and browsers
# and keeps two cores about half busy. A file's tests stay together, in their order.
TEST_WORKERS ?= 2
PYTEST := $(PY) -m pytest -q -p no:cacheprovider -n $(TEST_WORKERS) --dist loadfile
test: $(STAMP) $(CONSOLE_ASSETS)  ## the whole suite on SQLite, then every database test again on PostgreSQL
	$(PYTEST) --durations=10 -k "not postgresql"
	DDK_TEST_DATABASE=postgresql $(PY) -m tests.pgserver -- \
	  $(PYTEST) --durations=5 -k postgresql shared services tests

lint: $(STAMP)
	$(PY) -m ruff check .
	$(PY) -m mypy shared services tools

$(SPECTRAL):
	@npm install --silent --no-audit --no-fund --prefix .tools @stoplight/spectral-cli@6 >&2

conformance: $(STAMP) $(SPECTRAL)  ## NL API Design Rules on every service's OpenAPI document
	@$(PY) -m tools.export_openapi var/openapi
	@for s in $$($(PY) -m tools.registry); do \
	  echo "spectral: $$s"; \
	  $(SPECTRAL) lint --fail-severity error -r $(RULESET) var/openapi/$$s.json || exit 1; \
	done

bench: $(STAMP) $(CONSOLE_ASSETS)
	$(PY) -m benchmarks

SOAK_SECONDS ?= 300
soak: $(STAMP)  ## only the soak: 200 signals/s for SOAK_SECONDS, nothing lost, memory flat
	$(PY) -m benchmarks --only soak --soak-seconds $(SOAK_SECONDS)

migrate: $(STAMP)
	$(PY) -m tools.migrate

token: $(STAMP)  ## make token ROLE=field-worker ORG=demo-corp-a [SUB=user] [TEAM=wijkteam]
	@$(PY) -m tools.devtoken --role "$(ROLE)" --org "$(ORG)" $(if $(SUB),--sub "$(SUB)") $(if $(TEAM),--team "$(TEAM)")

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache

asyncapi: $(STAMP)  ## regenerate docs/asyncapi.json from the event contracts
	$(PY) -m tools.asyncapi docs/asyncapi.json

replay-dlq: $(STAMP)  ## make replay-dlq TOPIC=signals.v1: put dead letters back after a fix
	$(PY) -m tools.replay "$(TOPIC)"

validate-deploy: $(STAMP)  ## Kubernetes and compose files against their schemas
	$(PY) -m pytest -q -p no:cacheprovider tests/test_deploy.py tests/test_deploy_secrets.py
