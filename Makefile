# fenxiao — the two commands a newcomer needs: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell cat pyproject.toml | sha1sum | cut -c1-12)

.PHONY: run test install migrate lint bench clean stack stack-stop stack-test

$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[test]'
	rm -f $(VENV)/.installed-* && touch $(STAMP)

install: $(STAMP)

migrate: install
	$(PY) -m server.cli migrate

run: install
	$(PY) -m server.cli migrate
	$(PY) -m server.cli run

test: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	bash tests/run_all.sh

lint: install
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .

bench: install
	$(PY) -m bench.run_all

# The production-shaped stack on this machine (MariaDB, Redis, 2 Sanic workers, Celery worker
# and beat, WeChat stand-in) as background processes; pids and logs in var/stack/.
stack: install
	$(PY) deploy/stack.py start

stack-stop:
	$(PY) deploy/stack.py stop

# Starts the stack if it is not running, then drives the end-to-end scenario over real HTTP.
stack-test: install
	$(PY) deploy/stack.py start
	$(PY) deploy/stack.py test

clean:
	rm -rf $(VENV) var .pytest_cache .ruff_cache
