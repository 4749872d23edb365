# Two commands set up a fresh machine (Python 3.11) and do the work:
#   make demo   -- venv + project + Graphviz, then the stepgrad tour
#   make test   -- venv + project + Graphviz, then the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stepgrad-installed

.PHONY: setup test demo bench lint graphviz clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the packaging changes.
$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,notebooks]'
	touch $(STAMP)

# Graphviz's `dot` renders the pictures; install Debian's package when apt is there.
graphviz:
	@if command -v dot >/dev/null 2>&1; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "Installing Graphviz (Debian package graphviz) ..."; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq graphviz >/dev/null \
	    || echo "WARNING: could not install Graphviz; pictures will not render (install the 'graphviz' package)"; \
	else \
	  echo "WARNING: Graphviz's 'dot' is missing and apt-get is not available:"; \
	  echo "         install Graphviz from your package manager (e.g. 'brew install graphviz')."; \
	fi

setup: $(STAMP) graphviz

test: setup
	$(BIN)/python -m pytest -q

demo: setup
	$(BIN)/stepgrad tour

bench: setup
	$(BIN)/python -m bench

lint: setup
	$(BIN)/ruff check engine nn viz tests bench

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis out bench/results
