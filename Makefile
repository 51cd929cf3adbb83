# stockwire: `make demo` and `make test` are all a fresh machine needs (Python 3.11+).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: install demo serve test test-sqlite lint typecheck bench clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	STOCKWIRE_ALLOW_PRIVATE_TARGETS=1 $(BIN)/stockwire demo $(DEMO_ARGS)

serve: $(STAMP)
	$(BIN)/stockwire serve

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)
	@$(BIN)/python -c "from tests.support import postgres_available as p; import sys; \
	  sys.stdout.write('' if p() else '\nNOTE: PostgreSQL was not reachable, so the PostgreSQL tests were SKIPPED.\n' \
	  'Start PostgreSQL or set STOCKWIRE_TEST_POSTGRES_URL=postgresql://user@host:5432/db and run make test again.\n')"

lint: $(STAMP)
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy

bench: $(STAMP)
	$(BIN)/python bench/ingest.py
	$(BIN)/python bench/deliver.py
	$(BIN)/python bench/feed.py

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache stockwire.db stockwire.db-*
