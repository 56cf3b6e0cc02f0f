# One entry point for everything: `make book`, `make test`, `make lab`, `make serve`,
# `make pdf`.
# Each target creates the isolated environment in .venv first if it is missing
# or older than the requirement files.

PYTHON ?= python3.11
VENV   := .venv
BIN    := $(VENV)/bin
# Put the environment first on PATH so that Jupyter kernels started by the
# build, the tests and JupyterLab all run the environment's Python.
export PATH := $(CURDIR)/$(BIN):$(PATH)
export PYTHONHASHSEED := 0
# One BLAS thread per process: the build and the tests run two kernels at a time on two
# cores, and the book's matrices are small, so more threads only fight over the cores.
export OPENBLAS_NUM_THREADS := 1
export OMP_NUM_THREADS := 1
export PIP_DISABLE_PIP_VERSION_CHECK := 1
# NumPy allocates each step's arrays anew; by default glibc hands large freed arrays back
# to the system, and every step then pays again for fresh, zeroed pages. Keeping freed
# memory for reuse (what PyTorch's caching allocator does for its tensors) makes the
# training loops of the chapters faster; bench/step_vs_pytorch.py measures both ways.
export MALLOC_MMAP_THRESHOLD_ := 268435456
export MALLOC_TRIM_THRESHOLD_ := 268435456

BOOK_STAMP := $(VENV)/.book-installed
TEST_STAMP := $(VENV)/.test-installed

.PHONY: install book pdf test lint lab serve bench clean assignments grade

install: $(BOOK_STAMP)

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(BOOK_STAMP): requirements.txt pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -r requirements.txt
	$(BIN)/python tools/install_lab_settings.py
	touch $@

$(TEST_STAMP): requirements-test.txt $(BOOK_STAMP)
	$(BIN)/python -m pip install --quiet -r requirements-test.txt
	touch $@

## Build the website into _build/html, executing every chapter (in parallel, and only
## those whose code, bpbook modules or libraries changed); every page also becomes a
## notebook in _build/html/notebooks/.
book: $(BOOK_STAMP)
	$(BIN)/python tools/build_book.py

## Build the whole book as one PDF, _build/latex/book.pdf (installs Debian's TeX Live
## first). A later `make book` publishes it with the site.
pdf: $(BOOK_STAMP)
	tools/install_pdf_deps.sh
	$(BIN)/python tools/build_book.py --pdf

## Run the whole test suite (unit tests, gradient checks, book build, determinism,
## and the built site in headless Chromium).
test: $(TEST_STAMP) lint
	tools/install_browser_test_deps.sh
	tools/install_pdf_deps.sh
	tools/install_grading_deps.sh
	$(BIN)/python -m pytest -n 2 --dist loadgroup

## The lint and type gates alone (tests/test_quality.py runs them in `make test` too;
## this target fails first and fast).
lint: $(TEST_STAMP)
	$(BIN)/ruff check src tests tools bench
	$(BIN)/mypy

## Build every assignment into assignments/<name>/dist/: the student notebook and the
## student bundle to download (student/), the autograder zip (autograder/), and the book's
## pages. The reference solutions are graded on the way, in bubblewrap sandboxes
## (installed if missing), and must score full marks; the blank notebooks must score 0.
assignments: $(BOOK_STAMP)
	tools/install_grading_deps.sh
	$(BIN)/python tools/build_assignments.py

## Grade a folder of submitted notebooks, each in bubblewrap sandboxes, into
## SUBMISSIONS-grades/ (scores.csv, feedback/, hand-grading/; or OUTPUT=folder), e.g.
## make grade SUBMISSIONS=~/submissions/backprop [ASSIGNMENT=backprop] [OUTPUT=folder]
## See assignments/README.md for what the sandboxes and the checks guarantee.
grade: $(BOOK_STAMP)
	@test -n "$(SUBMISSIONS)" || { echo "usage: make grade SUBMISSIONS=folder [ASSIGNMENT=name] [OUTPUT=folder]"; exit 2; }
	tools/install_grading_deps.sh
	$(BIN)/python tools/grade.py "$(SUBMISSIONS)" $(if $(ASSIGNMENT),--assignment $(ASSIGNMENT)) $(if $(OUTPUT),--output "$(OUTPUT)")

## Open the book in JupyterLab as notebooks: your own copies, in workspace/ (git-ignored),
## made from the built book (so this builds it first). Copies are never overwritten.
lab: book
	$(BIN)/python tools/notebooks.py
	$(BIN)/jupyter lab --ServerApp.root_dir=workspace \
		--LabApp.default_url=/lab/tree/intro.ipynb \
		$(if $(filter 0,$(shell id -u)),--allow-root)

## Serve the built website on http://localhost:8000.
serve:
	$(BIN)/python -m http.server --directory _build/html 8000

## Print the benchmark ratios.
bench: $(BOOK_STAMP)
	for script in bench/*.py; do $(BIN)/python $$script || exit 1; done

clean:
	rm -rf _build
