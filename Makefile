# Each target does its own set-up on a fresh machine: a venv in .venv, the package and its extras,
# and the system Graphviz (`dot`) via apt-get where it is missing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test lint graphs notebooks bench dot clean

demo: $(STAMP)
	$(VENV)/bin/micrograd-bp mazur
	$(VENV)/bin/micrograd-bp mazur --steps 10000 --summary

test: $(STAMP) dot
	$(PY) -m ruff check micrograd_bp tests
	$(PY) -m pytest -q

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

# The README's pictures, drawn by the command line into docs/ (stdout, the walk-through, is dropped).
graphs: $(STAMP) dot
	mkdir -p docs
	$(VENV)/bin/micrograd-bp mazur --network docs/mazur_network.svg --graph docs/mazur_graph.svg >/dev/null
	$(VENV)/bin/micrograd-bp one-weight --graph docs/one_weight_graph.svg >/dev/null

# The benchmark, with micrograd 0.1.0 from PyPI for its rows (the `bench` extra; `make test` does not need it).
bench: $(STAMP)
	$(PY) -m pip install -q -e '.[dev,bench]'
	$(VENV)/bin/micrograd-bp bench

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache .ruff_cache
