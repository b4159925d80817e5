# The two commands a newcomer needs (see README.md):
#   make demo   install into .venv and solve the bundled sample of every family
#   make test   install into .venv, lint, type-check and run the test suite
PYTHON ?= python3
VENV   ?= .venv
BIN     = $(VENV)/bin

.PHONY: demo test install proto clean

$(BIN)/allot: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q -e '.[test]'
	touch $(BIN)/allot

install: $(BIN)/allot

demo: install
	$(BIN)/allot solve instances/samples/*.json --time-limit 5

test: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

# Regenerate the gRPC stubs from protos/ (tests fail when they are stale).
proto: install
	$(BIN)/python -m service.protogen

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .mypy_cache .ruff_cache
