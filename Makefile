# The two commands of the README: `make demo` and `make test`. Both set up .venv when it is missing.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: demo test bench bench-selection lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)

# Reinstall only when the package metadata changes; the install is editable.
$(STAMP): pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

demo: $(STAMP)
	$(BIN)/nborch demo

# The unit and CLI tests, then every tutorial notebook executed by nbmake.
test: $(STAMP)
	$(BIN)/python -m pytest tests
	$(BIN)/python -m pytest --nbmake notebooks

bench: $(STAMP)
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

# Does the comparison recommend correct attempts and abstain on tampered ones? Real projects'
# sdists (downloaded at a pinned version, cached), injected bugs, fixes and tampers; not in `test`.
bench-selection: $(STAMP)
	$(BIN)/python benchmarks/selection/run.py

lint: $(STAMP)
	$(BIN)/ruff check nborch tests tests_agents tests_browser benchmarks

clean:
	rm -rf $(VENV) build *.egg-info

# The real agent CLIs at the versions pinned in agents/versions.txt, into .agents/ (ignored by
# git); quick when that pin set is installed. nborch finds them there before PATH (or in the
# folders of NBORCH_AGENT_PATH when that is set).
.PHONY: agents test-agents
agents:
	@agents/install.sh $(PYTHON)

# The real CLIs end to end through `nborch execute` against the local model server.
test-agents: agents $(STAMP)
	NBORCH_AGENT_PATH=$(CURDIR)/.agents/bin NBORCH_REQUIRE_AGENTS=1 $(BIN)/python -m pytest tests_agents

# JupyterLab and Voila in a real browser: Playwright drives Debian's chromium (installed here when
# missing; Playwright's own browser download cannot work on these machines). Screenshots go to
# test-output/screenshots/.
.PHONY: test-browser
BROWSER_STAMP := $(VENV)/.installed-browser
$(BROWSER_STAMP): pyproject.toml | $(STAMP)
	$(BIN)/python -m pip install --quiet -e '.[browser]'
	touch $(BROWSER_STAMP)

test-browser: $(STAMP) $(BROWSER_STAMP)
	@command -v chromium >/dev/null || command -v chromium-browser >/dev/null || \
		{ apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }
	$(BIN)/python -m pytest tests_browser
