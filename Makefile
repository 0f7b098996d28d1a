# Everyday commands. `make` alone is `make run`: migrate, seed the demo, start web + worker.
# The project lives in .venv, which every target below creates on first use.

PYTHON ?= python3
PORT ?= 8000
# Extra arguments for pytest, e.g.  make test ARGS='-k approvals -x'
ARGS ?=

VENV := .venv
VENV_PY := $(VENV)/bin/python
# Touched by scripts/install.sh after every successful check or install.
STAMP := $(VENV)/.install-stamp

export PYTHON

.DEFAULT_GOAL := run
.PHONY: run test install migrate worker web bench clean distclean help

help:
	@echo "make run        web server + worker on 127.0.0.1:$(PORT) with demo data (first run writes .env: DEBUG=1)"
	@echo "make test       the whole test suite (ARGS='...' goes to pytest)"
	@echo "make install    create .venv and install agentops with its dev extras"
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

install: $(STAMP)

# The script compares a fingerprint of pyproject.toml (and the interpreter) with the last install,
# so a touched but unchanged pyproject.toml costs a hash, not a reinstall.
$(STAMP): pyproject.toml
	scripts/install.sh

migrate: install
	$(VENV_PY) manage.py migrate

web: install
	$(VENV)/bin/daphne -b 127.0.0.1 -p $(PORT) agentops.asgi:application

worker: install
	$(VENV_PY) manage.py qcluster

bench: install
	$(VENV_PY) bench/engine.py

clean:
	find . -path ./$(VENV) -prune -o -name __pycache__ -type d -prune -exec rm -rf {} +
	rm -rf .pytest_cache build dist *.egg-info artifacts staticfiles

distclean: clean
	rm -rf $(VENV) db.sqlite3 db.sqlite3-wal db.sqlite3-shm demo.sqlite3 demo.sqlite3-wal demo.sqlite3-shm .demo-api-key
