# Each target does its own set-up on a fresh machine: a venv in .venv, the package and its extras,
# and the system Graphviz (`dot`) and headless Chromium (`browser`) via apt-get where they are missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint docs pictures graphs screenshot notebooks bench dot browser clean

# The demo needs the package with its `animation` extra (Pillow) and Graphviz, not the test
# toolchain: its own stamp, so `make test` still installs the `dev` extra on top.
DEMO_STAMP := $(VENV)/.demo-stamp
DEMO_OUT := demo-output

demo: $(DEMO_STAMP) dot
	mkdir -p $(DEMO_OUT)
	$(VENV)/bin/micrograd-bp mazur --graph $(DEMO_OUT)/mazur_graph.svg --network $(DEMO_OUT)/mazur_network.svg
	$(VENV)/bin/micrograd-bp mazur --graph $(DEMO_OUT)/mazur_page.html >/dev/null
	$(VENV)/bin/micrograd-bp mazur --trace --animate $(DEMO_OUT)/mazur_backward.gif >/dev/null
	$(VENV)/bin/micrograd-bp mazur --steps 10000 --summary
	@echo
	@echo "The demo's pictures, in $(CURDIR)/$(DEMO_OUT)/:"
	@echo "  mazur_graph.svg     the computation graph after backward()"
	@echo "  mazur_network.svg   the network, neuron by neuron"
	@echo "  mazur_page.html     the live page: open it in a browser, click w1, press next"
	@echo "  mazur_backward.gif  backward(), one step a frame"

$(DEMO_STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[animation]'
	touch $(DEMO_STAMP)

# pytest also builds the site strictly and runs every example of the README and the site's pages
# (tests/test_docs.py).
test: $(STAMP) dot browser
	$(PY) -m ruff check micrograd_bp tests
	$(PY) -m pytest -q

# The documentation site, into site/: strict, so a broken link or a missing reference fails.
# Open site/index.html from disk; no server needed.
docs: $(STAMP)
	NO_MKDOCS_2_WARNING=1 $(PY) -m mkdocs build --strict

lint: $(STAMP)
	$(PY) -m ruff check micrograd_bp tests

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Re-execute every notebook in place, so the committed outputs match the code.
notebooks: $(STAMP) dot
	$(PY) tests/test_notebooks.py

# The system Graphviz, needed to render (not to build DOT source).
dot:
	@command -v dot >/dev/null 2>&1 || { \
	  echo "Graphviz 'dot' not found: installing it with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq graphviz >/dev/null; }
	@dot -V

# Debian's Chromium and its WebDriver, for the tests of the HTML page (tests/test_page.py).
browser:
	@{ [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; } || { \
	  echo "chromium or chromedriver not found: installing them with apt-get"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium chromium-driver >/dev/null; }
	@/usr/bin/chromedriver --version

# Every picture of the README and the site, from the project's own code: the drawings, then the
# screenshot of the live page.
pictures: graphs screenshot

# The drawings, by the command line into docs/ (stdout, the walk-through, is dropped).
graphs: $(STAMP) dot
	mkdir -p docs
	$(VENV)/bin/micrograd-bp mazur --network docs/mazur_network.svg --graph docs/mazur_graph.svg >/dev/null
	$(VENV)/bin/micrograd-bp one-weight --graph docs/one_weight_graph.svg >/dev/null
	$(VENV)/bin/micrograd-bp mazur --trace --animate docs/mazur_backward.gif >/dev/null
	$(VENV)/bin/micrograd-bp exercise new --preset mazur --ask out_o1,net_o1,w5,out_h1,net_h1,w1 \
	  --out build/worksheet --force >/dev/null
	cp build/worksheet/worksheet-01.svg docs/mazur_worksheet.svg

# The screenshots of the live page, in headless Chromium: the Mazur graph after a click on w1, the
# moons network view, and the moons page stepping through backward() (tests/test_page.py).
screenshot: $(STAMP) dot browser
	mkdir -p docs
	$(PY) tests/test_page.py docs/mazur_page.png docs/moons_page.png docs/moons_ledger.png

# The benchmark, with micrograd 0.1.0 from PyPI for its rows (the `bench` extra; `make test` does not need it).
bench: $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(VENV)/bin/micrograd-bp bench

clean:
	rm -rf $(VENV) build site demo-output *.egg-info .pytest_cache .ruff_cache
