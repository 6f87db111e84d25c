# The two commands the README promises: `make run` (set up, then the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
RUN_API_KEY ?= local-dev-key

.PHONY: setup run stop browser servers test test-fast lint format bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt requirements-nodeps.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	$(PY) -m pip install --quiet --no-deps -r requirements-nodeps.txt
	touch $@

setup: $(VENV)/.installed

# The main job: make sure a model is installed (the real one if it can be had, else the labelled
# demo model), translate the example article, start the local OpenSearch node, index the sample
# articles and search them in English and in Arabic. The sample keeps its human English (TICO-19,
# labelled human) while only the demo model is there, whose output is noise; a real model translates
# it (service/sample.py). The node keeps running: `make stop` stops it.
run: setup
	$(PY) -m service model ensure --demo-fallback
	$(PY) -m service translate examples/article.txt
	$(PY) -m service opensearch start
	$(PY) -m service sample examples/articles.jsonl
	$(PY) -m service search "coronavirus"
	$(PY) -m service search "الحمى"
	$(PY) -m service search "farmers drought aid"
	$(PY) -m service search "Trump"
	@echo "Web UI and API: http://127.0.0.1:8000/  (API key for writes and /signin: $(RUN_API_KEY); Ctrl-C stops the web server)"
	SECRET_KEY=$${SECRET_KEY:-$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(32))')} \
	API_KEYS=$(RUN_API_KEY) $(PY) -m service serve --port 8000

stop: setup
	$(PY) -m service opensearch stop

# Browser tests drive Debian's chromium; install it when missing (as root, as in CI).
browser:
	@command -v chromium >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq chromium >/dev/null; } \
		|| echo "warning: chromium is not installed (apt-get install chromium); the browser tests will be skipped"

# The servers the integration tests start themselves (loopback, free ports, temporary directories),
# installed from Debian when missing (as root, as in CI): Redis, PostgreSQL (run as its postgres user) and
# RabbitMQ (run as its rabbitmq user).
servers:
	@command -v redis-server >/dev/null || { [ "$$(id -u)" = 0 ] && apt-get update -qq && apt-get install -y -qq redis-server >/dev/null; } \
		|| echo "warning: redis-server is not installed (apt-get install redis-server); the shared-state tests will fail"
	@ls /usr/lib/postgresql/*/bin/postgres >/dev/null 2>&1 || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null; } \
		|| echo "warning: PostgreSQL is not installed (apt-get install postgresql); the job-store tests will fail"
	@test -x /usr/lib/rabbitmq/bin/rabbitmq-server || { [ "$$(id -u)" = 0 ] && apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq rabbitmq-server >/dev/null; } \
		|| echo "warning: RabbitMQ is not installed (apt-get install rabbitmq-server); the Celery job-fleet tests will fail"

test: setup browser servers
	$(PY) -m pytest

# The unit tier alone: no Java, no OpenSearch node, no server process, no browser; seconds, not minutes.
test-fast: setup
	$(PY) -m pytest -m "not integration"

# Lint and format settings live in pyproject.toml, and so do the import contracts (the floors and the nevers) that
# lint-imports checks; CI runs this before the tests.
lint: setup
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports

format: setup
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/ruff format .

bench: setup
	$(PY) bench/segmentation.py
	$(PY) bench/translate.py
	$(PY) bench/search.py
	$(PY) bench/api.py
	$(PY) bench/api_overhead.py
	$(PY) bench/jobs.py
	$(PY) bench/scale.py

clean:
	rm -rf $(VENV) data models/demo models/.downloads .opensearch/nodes
