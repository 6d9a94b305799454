# Two commands do all the set-up from a fresh clone (see README):
#   make book   # virtual environment, install, build the book from the committed results
#   make test   # the same set-up, then the whole suite (unit tests, notebooks at budget=smoke, book, browser)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed
MATHJAX := book/_mathjax/tex-chtml.js
# CI and a fresh clone read the data from the mirror beside the checkout, where there is one, unless told
# otherwise (a mirror that is named but missing is an error, so an absent one is left unnamed).
export REPRO_DATA_MIRROR ?= $(if $(wildcard ../shared/datasets),$(abspath ../shared/datasets))

.PHONY: install book test notebooks summary browser screenshots clean
install: $(STAMP)

$(STAMP): pyproject.toml requirements-cpu.txt
	test -d $(VENV) || $(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-cpu.txt
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "Python 3 (repro)" >/dev/null
	touch $(STAMP)

# A local MathJax so the book renders math offline (JB1 would load it from a CDN).
$(MATHJAX):
	mkdir -p build/npm book/_mathjax
	cd build/npm && npm install --silent --no-audit --no-fund mathjax@3 >/dev/null
	cp -r build/npm/node_modules/mathjax/es5/* book/_mathjax/

# Headless Chromium for the browser test (Debian's package).
browser:
	@command -v chromium >/dev/null || (apt-get update -qq && apt-get install -y -qq chromium >/dev/null)

notebooks: $(STAMP)
	$(BIN)/jupytext --sync notebooks/*.py

summary: $(STAMP)
	$(BIN)/python -m repro.cli summary

book: $(STAMP) $(MATHJAX)
	$(BIN)/python -m repro.cli summary
	$(BIN)/jupyter-book build book --all --quiet
	@echo "Book built: book/_build/html/index.html"

# PNGs of what a reader sees (intro, the Noise2Noise chapter, the summary; first screen at 1400x900 and the
# whole page at half scale), committed under book/_static/screenshots/. Builds the book first.
screenshots: $(STAMP) $(MATHJAX) browser
	$(BIN)/jupyter-book build book --all --quiet
	$(BIN)/python tests/test_book.py screenshots book/_static/screenshots

# Two workers, a test file each at a time (a file's fixtures, such as the book build, stay in one process);
# each worker and its notebook kernels use one thread (tests/conftest.py), so the two cores both work.
test: $(STAMP) $(MATHJAX) browser
	$(BIN)/python -m pytest -q -n 2 --dist loadfile

clean:
	rm -rf book/_build build
