# The three commands of the README:  `make book`,  `make test`  and  `make lab`.
# Each first installs the pinned environment into $(VENV) (once, and again whenever requirements change).
PYTHON  ?= python3
VENV    ?= .venv
PROFILE ?= quick
PY      := $(VENV)/bin/python
STAMP   := $(VENV)/.installed

# Kernels started by papermill must find this environment's python first.
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: book test lab browser-test lab-test lint clean install

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

## The library's test suite (the JupyterLab browser test runs on its own: `make lab-test`).
test: $(STAMP)
	$(PY) -m pytest --ignore=tests/test_lab_in_browser.py $(PYTEST_ARGS)

## JupyterLab on http://127.0.0.1:$(LAB_PORT) with the chapters open, on this environment's kernel.
# The kernel is registered into $(VENV) (--sys-prefix) under the chapters' kernelspec name `python3`, so it is this
# environment's python. PYTHONPATH puts this checkout first, so the kernel imports this `lib` and, through it, uses
# the book build's cache (.cache/ here, or $$RMT_CACHE). Kernels run with a fixed thread count (RMT_THREADS and
# OMP_NUM_THREADS, 1 by default): `make lab THREADS=4`. A busy port is an error, not a silent move:
# `make lab LAB_PORT=8890`. The random token goes in the environment (JUPYTER_TOKEN), not on the command line where
# `ps` would show it to other users.
THREADS  ?= 1
LAB_PORT ?= 8888
LAB_KERNEL_NAME := Python 3 (rmt-hessians book)
lab: $(STAMP)
	$(PY) -m ipykernel install --sys-prefix --name python3 --display-name "$(LAB_KERNEL_NAME)"
	@token=$$($(PY) -c 'import secrets; print(secrets.token_hex(24))'); \
	echo; \
	echo "JupyterLab (kernel \"$(LAB_KERNEL_NAME)\", $(THREADS) thread(s)); open in your browser:"; \
	echo "    http://127.0.0.1:$(LAB_PORT)/lab/tree/chapters?token=$$token"; \
	echo "Stop it with Control-C."; \
	echo; \
	JUPYTER_TOKEN=$$token PYTHONPATH="$(CURDIR)$${PYTHONPATH:+:$$PYTHONPATH}" \
	RMT_THREADS=$(THREADS) OMP_NUM_THREADS=$(THREADS) \
	exec $(VENV)/bin/jupyter lab --no-browser $(if $(filter 0,$(shell id -u)),--allow-root) \
	  --ServerApp.ip=127.0.0.1 --ServerApp.port=$(LAB_PORT) --ServerApp.port_retries=0 \
	  --ServerApp.root_dir="$(CURDIR)" --FileContentsManager.preferred_dir=chapters \
	  --ServerApp.log_level=WARN --LabApp.log_level=WARN \
	  --LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate

## Open every page of a built book in headless Chromium (installed with apt-get when missing).
BOOK_HTML ?= _build/html
browser-test: $(STAMP)
	$(PY) -m pytest tests/test_book_in_browser.py --book-html $(BOOK_HTML) -p no:cacheprovider

## Rerun a chapter (smoke parameters) in JupyterLab, driven through the UI by headless Chromium.
lab-test: $(STAMP)
	$(PY) -m pytest tests/test_lab_in_browser.py -p no:cacheprovider

lint: $(STAMP)
	$(PY) -m ruff check lib tests benchmarks chapters

clean:
	rm -rf _build
