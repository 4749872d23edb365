# Two commands set up a fresh machine (Python 3.11) and do the work:
#   make demo   -- venv + project + Graphviz, then the stepgrad tour
#   make test   -- venv + project + Graphviz, then the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.stepgrad-installed

.PHONY: setup test demo bench lint system-packages clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the packaging changes.
$(STAMP): setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,notebooks]'
	touch $(STAMP)

# System packages, from apt where it is there: Graphviz's `dot` renders the pictures;
# Debian's dataset-fashion-mnist gives nn.datasets.fashion_mnist the real files offline
# (notebook 8's exercise); Chromium and its driver run the backprop player's browser test
# (tests/viz/test_player.py, skipped without them). Only what is missing is installed.
system-packages:
	@PKGS=""; \
	command -v dot >/dev/null 2>&1 || PKGS="graphviz"; \
	[ -d /usr/share/datasets/fashion-mnist ] || PKGS="$$PKGS dataset-fashion-mnist"; \
	command -v chromium >/dev/null 2>&1 || PKGS="$$PKGS chromium"; \
	command -v chromedriver >/dev/null 2>&1 || PKGS="$$PKGS chromium-driver"; \
	if [ -z "$$PKGS" ]; then :; \
	elif command -v apt-get >/dev/null 2>&1; then \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  echo "Installing Debian packages:$$PKGS ..."; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$PKGS >/dev/null \
	    || echo "WARNING: could not install$$PKGS (pictures need graphviz; without dataset-fashion-mnist notebook 8 uses the MNIST sample; without chromium the player's browser test is skipped)"; \
	else \
	  echo "WARNING: apt-get is not available: install$$PKGS with your package manager"; \
	  echo "         (Graphviz e.g. 'brew install graphviz'; Fashion-MNIST: see nn.datasets.fashion_mnist;"; \
	  echo "         Chromium + chromedriver only for the player's browser test)."; \
	fi

setup: $(STAMP) system-packages

test: setup
	$(BIN)/python -m pytest -q

demo: setup
	$(BIN)/stepgrad tour

bench: setup
	$(BIN)/python -m bench

lint: setup
	$(BIN)/ruff check engine nn viz stepgrad tests bench

clean:
	rm -rf $(VENV) *.egg-info .pytest_cache .hypothesis out bench/results
