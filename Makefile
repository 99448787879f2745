# flightpaths: the two commands a newcomer needs are `make demo` and `make test`.
# Both create the virtual environment in .venv on first use.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test lint types size install browser default-model behaviour-model bench clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q -e ".[test]"
	@touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/flightpaths demo $(DEMO_ARGS)

# The labeler's end-to-end test drives Debian's Chromium; install it when missing (as root).
browser:
	@if ! command -v chromium >/dev/null 2>&1 || ! command -v chromedriver >/dev/null 2>&1; then \
	  if [ "$$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then \
	    echo "installing Debian's chromium and chromium-driver for the browser test"; \
	    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
	      || echo "warning: could not install Chromium; the browser test will be skipped"; \
	  else echo "warning: Chromium missing and not root; the browser test will be skipped"; fi; \
	fi

test: $(STAMP) browser lint types
	$(BIN)/python -m pytest

# ruff (pyflakes, pycodestyle, isort, bugbear, pyupgrade; settings in pyproject.toml)
lint: $(STAMP)
	$(BIN)/ruff check .

# mypy: rasterize/ strict and clean; flightpaths/ held to tools/mypy_baseline.txt, which only shrinks
types: $(STAMP)
	$(BIN)/python tools/mypy_baseline.py

# file and function lengths of flightpaths/ and rasterize/ (informative; --check to enforce)
size:
	$(BIN)/python tools/code_size.py

default-model: $(STAMP)
	$(BIN)/python benchmarks/make_default_model.py

behaviour-model: $(STAMP)
	$(BIN)/python benchmarks/make_behaviour_model.py

bench: $(STAMP)
	$(BIN)/python -m pip install -q -e ".[test,bench]"
	for b in benchmarks/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .pytest_cache build *.egg-info
