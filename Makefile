# Every target installs what it needs first, so each works on a fresh machine.
# uv comes from PyPI into .tools/; the project and its dev tools go into .venv/ from uv.lock.

SHELL := /bin/bash
PYTHON ?= python3
UV_VERSION := 0.13.8
UV := .tools/bin/uv
VENV := .venv
BIN := $(VENV)/bin
export UV_PYTHON_DOWNLOADS := never
export UV_PROJECT_ENVIRONMENT := $(VENV)

HOST ?= 127.0.0.1
PORT ?= 8000
DEMO_ENTERPRISES ?= 20000
DEMO_SEED ?= 20260101
# The synthetic province is dated as of this day; collection metrics are computed for the months before.
DEMO_AS_OF ?= 2026-10-31
DEMO_METRICS_MONTH ?= 2026-09

.PHONY: install demo serve test test-fast audit-security check format lint typecheck bench assets browser fonts clean

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(BIN)/.installed: $(UV) pyproject.toml uv.lock package.json package-lock.json
	$(UV) sync --frozen --python $(PYTHON)
	$(MAKE) --no-print-directory assets
	@touch $@

install: $(BIN)/.installed

# Front-end assets (htmx, ECharts, Bootstrap) from the npm registry, copied into static/vendor.
assets:
	npm ci --no-audit --no-fund --loglevel=error
	node scripts/vendor-assets.mjs

browser:
	bash scripts/ensure-chromium

# PDF reports embed a CJK font (Debian's fonts-noto-cjk) subset by HarfBuzz.
fonts:
	bash scripts/ensure-fonts

demo: install fonts
	$(BIN)/creditbridge db upgrade
	$(BIN)/creditbridge demo ensure --enterprises $(DEMO_ENTERPRISES) --seed $(DEMO_SEED) --as-of $(DEMO_AS_OF)
	$(BIN)/creditbridge collection compute --month $(DEMO_METRICS_MONTH) --last 3 --as-of $(DEMO_AS_OF)
	$(BIN)/creditbridge scoring snapshot --as-of $(DEMO_AS_OF)
	$(BIN)/creditbridge scoring train --kind expert
	@# A small province (under about 5,000 enterprises) holds too few defaults for the statistical
	@# scorecard: its training is refused with the counts, and the demo scores with the expert card.
	$(BIN)/creditbridge scoring train --kind scorecard || echo "警告 warning: 统计评分卡未训练（违约样本不足），演示以专家评分卡评分 the statistical scorecard was not trained (too few defaults); the demo scores with the expert scorecard" >&2
	$(BIN)/creditbridge scoring validate
	$(BIN)/creditbridge scoring approve --kind expert
	@# The trained scorecard is approved only if it passes its validation thresholds; when it does
	@# not, the demo still scores every enterprise with the approved expert scorecard.
	-$(BIN)/creditbridge scoring approve --kind scorecard
	$(BIN)/creditbridge scoring run
	$(BIN)/creditbridge report aggregates
	$(BIN)/creditbridge access demo-logins
	@# The worker runs beside the server (jobs and webhooks) and stops with it; loopback
	@# webhook receivers are allowed (CREDITBRIDGE_WEBHOOKS_ALLOW_LOOPBACK=1), as only a demo may.
	BIN=$(BIN) bash scripts/demo-serve --host $(HOST) --port $(PORT)

serve: install fonts
	$(BIN)/creditbridge db upgrade
	$(BIN)/creditbridge serve --host $(HOST) --port $(PORT)

# Coverage of src/creditbridge; the floor (fail_under) is in pyproject.toml.
test: install browser fonts
	CREDITBRIDGE_REQUIRE_BROWSER=1 $(BIN)/pytest --cov=creditbridge --cov-report=term:skip-covered

# Everything but the browser, on SQLite only, in parallel. PostgreSQL is left out on purpose:
# every xdist worker would drop and recreate the schema of the one test database.
test-fast: install
	env -u CREDITBRIDGE_TEST_DATABASE_URL -u CREDITBRIDGE_REQUIRE_POSTGRES \
		$(BIN)/pytest -m "not browser" -n auto

# The security audit of issue 21: the role matrix and every @pytest.mark.security trial, as one
# suite, then a table (trial, expected, observed) on screen and in var/audit-security.md.
audit-security: install
	$(BIN)/python scripts/audit-security

format: install
	$(BIN)/ruff format src tests benchmarks
	$(BIN)/ruff check --fix src tests benchmarks

lint: install
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/lint-imports --no-cache

typecheck: install
	$(BIN)/mypy

check: lint typecheck test

bench: install fonts
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf .venv .tools node_modules src/creditbridge/presentation/static/vendor var
