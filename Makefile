# Two commands: `make demo` (the offline tour) and `make test` (everything CI runs).
# Both create ./.venv on first use and reuse it. The venv is installed from the lock,
# requirements.lock (every package pinned, Python 3.11 on Linux), and built afresh when
# the lock or pyproject.toml changes. `make lock` resolves the newest versions
# pyproject.toml allows and writes the lock again.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
LOCK := requirements.lock
LOCK_VENV := .venv-lock
# The build backend and what it needs for an editable build are installed from the lock
# too: the editable install runs without build isolation, so nothing unpinned is fetched.
BUILD_REQUIRES = $(shell $(PYTHON) -c 'import shlex, tomllib; print(*map(shlex.quote, tomllib.load(open("pyproject.toml", "rb"))["build-system"]["requires"]))')
EDITABLE_REQUIRES = import importlib, tomllib; \
	backend = tomllib.load(open("pyproject.toml", "rb"))["build-system"]["build-backend"]; \
	print(*importlib.import_module(backend).get_requires_for_build_editable(), sep="\n")

.PHONY: demo test lint typecheck pytest bench clean lock web catalogs

# The built studio (see `web` below); named here because rules read their prerequisites
# where they are written.
STUDIO := bridge/encounters_bridge/studio_dist/index.html

$(STAMP): pyproject.toml $(LOCK)
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	rm -rf $(VENV)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade -c $(LOCK) pip
	$(BIN)/python -m pip install --quiet -c $(LOCK) $(BUILD_REQUIRES)
	$(BIN)/python -c '$(EDITABLE_REQUIRES)' | $(BIN)/python -m pip install --quiet -c $(LOCK) -r /dev/stdin
	$(BIN)/python -m pip install --quiet --no-build-isolation -c $(LOCK) -e '.[all,dev]'
	$(BIN)/python -m pip check
	@grep -v -e '^#' -e '^$$' -e '^pip==' $(LOCK) | LC_ALL=C sort -f > $(VENV)/lock.txt
	@$(BIN)/python -m pip freeze --exclude-editable | LC_ALL=C sort -f > $(VENV)/installed.txt
	@diff $(VENV)/lock.txt $(VENV)/installed.txt || { \
		echo "$(LOCK) does not match what pyproject.toml needs (above: < locked, > installed): run make lock"; \
		exit 1; }
	touch $(STAMP)

# Resolve the newest versions pyproject.toml allows, in a throwaway venv, and pin them all.
lock:
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else "the lock is for Python 3.11")'
	rm -rf $(LOCK_VENV)
	$(PYTHON) -m venv $(LOCK_VENV)
	$(LOCK_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(LOCK_VENV)/bin/python -m pip install --quiet $(BUILD_REQUIRES)
	$(LOCK_VENV)/bin/python -c '$(EDITABLE_REQUIRES)' | $(LOCK_VENV)/bin/python -m pip install --quiet -r /dev/stdin
	$(LOCK_VENV)/bin/python -m pip install --quiet --no-build-isolation -e '.[all,dev]'
	$(LOCK_VENV)/bin/python -m pip check
	{ echo "# Every package ai-encounters installs for development (.[all,dev]) and its build backend,"; \
	  echo "# pinned: Python 3.11 on Linux. make and CI install with it as a constraint file."; \
	  echo "# Do not edit: run make lock (it resolves the newest versions pyproject.toml allows)."; \
	  $(LOCK_VENV)/bin/python -m pip freeze --all --exclude-editable | grep '^pip=='; \
	  $(LOCK_VENV)/bin/python -m pip freeze --exclude-editable; } > $(LOCK).new
	mv $(LOCK).new $(LOCK)
	rm -rf $(LOCK_VENV)

# `make demo WEB=1` then leaves a companion in the web world (ae demo --web): open the
# URL it prints in a browser; Ctrl-C stops it.
demo: $(STAMP) $(STUDIO)
	AE_DATA_DIR=$${AE_DATA_DIR:-$(CURDIR)/.demo-data} $(BIN)/ae demo $(if $(WEB),--web)

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

# mypy --strict over the packages, their tests and the benchmarks (pyproject's
# [tool.mypy] files), so the tests are held to the package code's standard.
typecheck: $(STAMP)
	$(BIN)/mypy

# The Minecraft bridge's Node dependencies (npm ci from the lockfile). Mineflayer needs
# Node 22+: the lock brings Node 22 itself (the `node` dev package, node_modules/.bin/node),
# which the tests run on; any Node with npm can run the install.
NODE_BRIDGE := minecraft_plugin_bridge
NODE_STAMP := $(NODE_BRIDGE)/node_modules/.installed

$(NODE_STAMP): $(NODE_BRIDGE)/package.json $(NODE_BRIDGE)/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "Node.js and npm are needed for minecraft_plugin_bridge (npm ci brings Node 22)"; exit 1; }
	npm ci --prefix $(NODE_BRIDGE) --no-audit --no-fund
	touch $(NODE_STAMP)

# The studio (web/): npm ci from its lockfile, then `npm run build` (tsc --noEmit, then
# vite) into bridge/encounters_bridge/studio_dist/, which the daemon serves at /studio and
# the wheel ships. Rebuilt when web/'s sources or lock change.
WEB := web
WEB_STAMP := $(WEB)/node_modules/.installed
# every file under web/ but node_modules and dotfiles: the same set hatch_build.py checks
WEB_SOURCES := $(shell find $(WEB) \( -name node_modules -o -name '.*' \) -prune -o -type f -print 2>/dev/null)

$(WEB_STAMP): $(WEB)/package.json $(WEB)/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "Node.js 20+ and npm are needed to build the studio (web/)"; exit 1; }
	npm ci --prefix $(WEB) --no-audit --no-fund
	touch $(WEB_STAMP)

$(STUDIO): $(WEB_STAMP) $(WEB_SOURCES)
	npm run --prefix $(WEB) build
	touch $(STUDIO)

# The CLI's and the web world's message catalogs: compile every <ll>/LC_MESSAGES/*.po into
# the .mo committed next to it (tests/sdk/test_cli_catalogs.py and
# tests/adapters/web/test_catalogs.py fail when one is out of date). The studio's .po
# files (web/src/i18n/locale) are read by its build (web/vite-plugin-po.ts).
catalogs: $(STAMP)
	$(BIN)/pybabel compile --domain ae --directory sdk/encounters/i18n/locale --statistics
	$(BIN)/pybabel compile --domain play --directory bridge/encounters_bridge/play_locale --statistics

web: $(STUDIO)

pytest: $(STAMP) $(NODE_STAMP) $(STUDIO)
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: $(STAMP) $(NODE_STAMP)
	$(BIN)/python benchmarks/bench_procedural.py
	$(BIN)/python benchmarks/bench_store.py
	$(BIN)/python benchmarks/bench_moderation.py
	$(BIN)/python benchmarks/bench_providers.py
	$(BIN)/python benchmarks/bench_bridge.py
	$(BIN)/python benchmarks/bench_bridge_attacks.py
	$(BIN)/python benchmarks/bench_memory.py
	$(BIN)/python benchmarks/bench_analytics.py
	$(BIN)/python benchmarks/bench_market.py
	$(BIN)/python benchmarks/bench_voice.py
	$(BIN)/python benchmarks/bench_cluster.py
	$(NODE_BRIDGE)/node_modules/.bin/node benchmarks/bench_minecraft_state.js

clean:
	rm -rf $(VENV) $(LOCK_VENV) .demo-data .pytest_cache .mypy_cache .ruff_cache $(NODE_BRIDGE)/node_modules \
		$(WEB)/node_modules bridge/encounters_bridge/studio_dist
