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
	$(PY) -m pytest -ra -n auto --dist loadfile tests

# Grading kit: check the course's file list (modules import, notebooks run after their last change,
# autograder.py passes), then pack submission/ and submission.zip; writeup.md from the notebooks' outputs.
submit: $(STAMP)
	$(PY) -m hw4.submit

# writeup.pdf for Gradescope (and writeup.md) from the executed notebooks. The cover fields are remembered in
# writeup_cover.txt: make writeup NAME="First Last" UNIQNAME=yourid COLLABORATORS="names, or none". Only values
# given on make's command line are passed (a NAME in the environment, as WSL sets it, is not a student's name).
cover_field = $(if $(filter command line,$(origin $(1))),--$(2) '$(subst ','\'',$($(1)))')
COVER_ARGS = $(strip $(call cover_field,NAME,name) $(call cover_field,UNIQNAME,uniqname) \
	$(call cover_field,COLLABORATORS,collaborators))
writeup: $(STAMP)
	$(PY) -m hw4.writeup $(COVER_ARGS)

clean-venv:
	rm -rf $(VENV)
