# Two commands set up a fresh machine: `make chat` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: install chat ingest test lint eval bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev]'
	touch $@

install: $(VENV)/.installed

ingest: install
	$(PY) -m bot ingest

chat: ingest
	$(PY) -m bot chat

test: install
	$(PY) -m pytest -q

lint: install
	$(VENV)/bin/ruff check bot tests
	$(VENV)/bin/mypy

eval: install
	$(PY) -m bot eval --json

bench: install
	$(PY) -m bot bench --json

clean:
	rm -rf $(VENV) data .pytest_cache .mypy_cache .ruff_cache
