# Two commands: `make run` (data + every notebook executed in place + summary) and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.requirements-installed

.PHONY: run test venv data clean-venv submit writeup

venv: $(STAMP)

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet -r requirements.txt
	touch $(STAMP)

# Each step uses the real data when present or downloadable, else builds its offline default.
data: $(STAMP)
	$(PY) -m hw4.data

run: data
	$(PY) -m hw4.notebooks

test: $(STAMP)
	$(PY) -m pytest

# Grading kit: check the course's file list (modules import, notebooks run after their last change,
# autograder.py passes), then pack submission/ and submission.zip; writeup.md from the notebooks' outputs.
submit: $(STAMP)
	$(PY) -m hw4.submit

writeup: $(STAMP)
	$(PY) writeup.py

clean-venv:
	rm -rf $(VENV)
