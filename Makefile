# The two commands of the README:  `make book`  and  `make test`.
# Both first install the pinned environment into $(VENV) (once, and again whenever requirements change).
PYTHON  ?= python3
VENV    ?= .venv
PROFILE ?= quick
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed

# Kernels started by papermill must find this environment's python first.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: book test browser-test lint clean install

install: $(STAMP)

$(STAMP): requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	$(PY) -c "import torch; v = torch.__version__; assert v.startswith('2.13.0'), f'torch {v} installed, want 2.13.0'"
	touch $@

## Execute every chapter with profile $(PROFILE) (re-running only what changed) and render the book.
book: $(STAMP)
	$(PY) -m lib.batch --profile $(PROFILE) --build --no-progress

## The library's test suite.
test: $(STAMP)
	$(PY) -m pytest $(PYTEST_ARGS)

## Open every page of a built book in headless Chromium (installed with apt-get when missing).
BOOK_HTML ?= _build/html
browser-test: $(STAMP)
	$(PY) -m pytest tests/test_book_in_browser.py --book-html $(BOOK_HTML) -p no:cacheprovider

lint: $(STAMP)
	$(PY) -m ruff check lib tests benchmarks

clean:
	rm -rf _build
