# Two commands: `make run` (data + every notebook executed in place + summary) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed

.PHONY: run test venv data clean-venv

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

data: $(STAMP)
	$(PY) data_utils.py

run: data
	$(PY) run_notebooks.py

test: $(STAMP)
	$(PY) -m pytest

clean-venv:
	rm -rf $(VENV)
