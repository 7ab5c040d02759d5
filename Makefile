# Two commands: `make demo` (the offline tour) and `make test` (everything CI runs).
# Both create ./.venv on first use and reuse it; it is rebuilt when pyproject.toml changes.

PYTHON ?= $(shell command -v python3.11 2>/dev/null || command -v python3)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11 or newer is needed")'
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	AE_DATA_DIR=$${AE_DATA_DIR:-$(CURDIR)/.demo-data} $(BIN)/ae demo

lint: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(STAMP)
	$(BIN)/mypy

# The Minecraft bridge's Node dependencies (npm ci from the lockfile; Node 20+).
NODE_BRIDGE := minecraft_plugin_bridge
NODE_STAMP := $(NODE_BRIDGE)/node_modules/.installed

$(NODE_STAMP): $(NODE_BRIDGE)/package.json $(NODE_BRIDGE)/package-lock.json
	@command -v node >/dev/null && command -v npm >/dev/null || { echo "Node.js 20+ and npm are needed for minecraft_plugin_bridge"; exit 1; }
	npm ci --prefix $(NODE_BRIDGE) --no-audit --no-fund
	touch $(NODE_STAMP)

pytest: $(STAMP) $(NODE_STAMP)
	$(BIN)/pytest -q

test: lint typecheck pytest

bench: $(STAMP)
	$(BIN)/python benchmarks/bench_procedural.py
	$(BIN)/python benchmarks/bench_store.py
	$(BIN)/python benchmarks/bench_moderation.py
	$(BIN)/python benchmarks/bench_providers.py
	$(BIN)/python benchmarks/bench_bridge.py
	$(BIN)/python benchmarks/bench_memory.py
	$(BIN)/python benchmarks/bench_analytics.py

clean:
	rm -rf $(VENV) .demo-data .pytest_cache .mypy_cache .ruff_cache $(NODE_BRIDGE)/node_modules
