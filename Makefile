# The two commands the README promises: `make run` (set up, then the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup run stop test bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

# The main job: make sure a model is installed (the real one if it can be had, else the labelled
# demo model), translate the example article, start the local OpenSearch node, ingest the sample
# articles and search them in English and in Arabic. The node keeps running: `make stop` stops it.
run: setup
	$(PY) -m service model ensure --demo-fallback
	$(PY) -m service translate examples/article.txt
	$(PY) -m service opensearch start
	$(PY) -m service ingest examples/articles.jsonl
	$(PY) -m service search "testing"
	$(PY) -m service search "الحمى"

stop: setup
	$(PY) -m service opensearch stop

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) bench/segmentation.py
	$(PY) bench/translate.py
	$(PY) bench/search.py

clean:
	rm -rf $(VENV) data models/demo models/.downloads .opensearch/nodes
