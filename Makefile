# Everyday commands. `make` alone is `make run`: migrate, seed the demo, start web + worker.
# The project lives in .venv, which every target below creates on first use.

# PYTHON=python3.13 (a command or a path) picks the interpreter of .venv: Python 3.11, 3.12 or 3.13.
# Unset, scripts/install.sh takes python3 if supported, else the newest supported python3.X.
PORT ?= 8000
# Extra arguments for pytest, e.g.  make test ARGS='-k approvals -x'
ARGS ?=

VENV := .venv
VENV_PY := $(VENV)/bin/python

export PYTHON

.DEFAULT_GOAL := run
.PHONY: run test install install-run migrate worker web bench clean distclean help

help:
	@echo "make run        web server + worker on 127.0.0.1:$(PORT) with demo data (first run writes .env: DEBUG=1)"
	@echo "make test       the whole test suite (ARGS='...' goes to pytest)"
	@echo "make install    create .venv and install agentops with its test extras (PYTHON=python3.13 to choose)"
	@echo "make migrate    apply database migrations"
	@echo "make web        only the ASGI web server (daphne) on 127.0.0.1:$(PORT)"
	@echo "make worker     only the task worker (django-q2 qcluster)"
	@echo "make bench      the run engine benchmark"
	@echo "make clean      remove caches and build output"
	@echo "make distclean  also remove .venv, the SQLite databases and the demo API key (not .env)"

run:
	@scripts/run.sh

test:
	@scripts/test.sh $(ARGS)

# The script compares a fingerprint of pyproject.toml (and the interpreter) with the last install,
# so calling it costs a hash, not a reinstall, when nothing changed.
install:
	@scripts/install.sh test

# What running needs, without the test extras.
install-run:
	@scripts/install.sh run

migrate: install-run
	$(VENV_PY) manage.py migrate

web: install-run
	$(VENV)/bin/daphne -b 127.0.0.1 -p $(PORT) agentops.asgi:application

worker: install-run
	$(VENV_PY) manage.py qcluster

bench: install
	$(VENV_PY) bench/engine.py

clean:
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -rf .pytest_cache build dist *.egg-info artifacts staticfiles

distclean: clean
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm demo.sqlite3 demo.sqlite3-wal demo.sqlite3-shm .demo-api-key
