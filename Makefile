# The two commands the README promises: `make run` (set up, then the main job) and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python

.PHONY: setup run test bench clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt -r requirements-dev.txt
	touch $@

setup: $(VENV)/.installed

# The main job: make sure a model is installed (the real one if it can be had, else the labelled
# demo model), then translate the example article.
run: setup
	$(PY) -m service model ensure --demo-fallback
	$(PY) -m service translate examples/article.txt

test: setup
	$(PY) -m pytest

bench: setup
	$(PY) bench/segmentation.py
	$(PY) bench/translate.py

clean:
	rm -rf $(VENV) data models/demo models/.downloads
