# Two commands for a newcomer: `make run` and `make test`. Each sets up its own virtualenv.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 5000

.PHONY: run test lint bench bench-quick clean messages catalogs

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

## Translations: `make messages` extracts every marked string into translations/messages.pot
## and merges it into each language's .po; `make catalogs` compiles the .po files into the
## .mo files the site reads (built at install, not committed: a .mo is a build product).
messages: $(VENV)/.installed
	$(BIN)/pybabel extract -F babel.cfg -k _l -k lazy_gettext --ignore-dirs ".* __pycache__ node_modules" -o translations/messages.pot --project=statuspage --no-location --sort-output .
	$(BIN)/pybabel update -i translations/messages.pot -d translations -D messages --no-fuzzy-matching --ignore-obsolete

catalogs: $(VENV)/.installed
	$(BIN)/pybabel compile --statistics -d translations -D messages

$(VENV)/.installed-test: pyproject.toml $(VENV)/.installed
	$(BIN)/pip install --quiet -e ".[test]"
	touch $@

## Start the site with demo data on the embedded SQLite database: the web server and the
## background worker (SLA checks, email) together; Ctrl-C stops both.
run: $(VENV)/.installed catalogs
	APP_ENV=development $(BIN)/flask --app app db upgrade
	APP_ENV=development $(BIN)/flask --app app seed-demo --if-empty
	APP_ENV=development $(BIN)/python scripts/dev.py --host $(HOST) --port $(PORT)

## Run the whole test suite (SQLite and PostgreSQL), with lint first.
test: $(VENV)/.installed-test catalogs
	$(BIN)/ruff check .
	$(BIN)/bandit -q -c bandit.yaml -r statuspage app.py
	$(BIN)/pytest -n auto --maxprocesses 4

lint: $(VENV)/.installed-test
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

## The public site in the documented production setup (PostgreSQL, Redis, gunicorn with
## deploy/gunicorn.conf.py, the worker, nginx), each figure beside its baseline; see
## benchmarks/README.md. 7 minutes on an idle 2-core machine (bench-quick: about 3), more on a busy one.
bench: $(VENV)/.installed
	$(BIN)/python benchmarks/production.py

bench-quick: $(VENV)/.installed
	$(BIN)/python benchmarks/production.py --quick

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache
