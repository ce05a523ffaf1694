# `make run` and `make test` bootstrap everything they need on a fresh machine.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-stamp

.PHONY: run test test-long test-deep fuzz chaos lint agent bench clean smoke-llm reset-data screenshots break-guarantees mutation lock

# The locked versions (requirements.lock, `make lock`) installed by uv, itself installed from PyPI
# into the venv first: the same set on every machine, in seconds rather than pip's two minutes.
# The project goes in with the lock, in one call: its dependencies are the lock's pins. The venv
# is made without pip and uv put in by the interpreter's own pip (`--python`), 3.5 s less than
# venv's ensurepip; uv then adds pip, so `.venv/bin/pip` is there as usual. An interpreter
# without pip falls back to ensurepip.
UV_VERSION := 0.13.9
PIP_VERSION := 23.2.1
UV := $(VENV)/bin/uv
LOCK := requirements.lock
PIP_QUIET := --quiet --disable-pip-version-check
$(STAMP): pyproject.toml $(LOCK)
	@test -x $(PY) || $(PYTHON) -m venv --without-pip $(VENV)
	@test -x $(UV) || $(PYTHON) -m pip $(PIP_QUIET) --python $(PY) install 'uv==$(UV_VERSION)' 2>/dev/null \
		|| { $(PY) -m ensurepip --default-pip >/dev/null && $(PY) -m pip install $(PIP_QUIET) 'uv==$(UV_VERSION)'; }
	$(UV) pip install --quiet --python $(PY) -r $(LOCK) -e . 'pip==$(PIP_VERSION)'
	$(PY) -m agent.nlp.tokenizer_files
	@touch $(STAMP)

# After changing a dependency in pyproject.toml: the lock again, keeping every version it can.
lock: $(STAMP)
	$(UV) pip compile --quiet pyproject.toml --extra test --universal --python-version 3.11 -o $(LOCK)

# mypy's cache lives in the user's cache directory rather than the clone: a clean clone's mypy
# then checks each file's hash against it and analyses again only what changed (1.3 s instead of
# a cold 32 s of CPU once any clone of the project has run it on this machine; the first run, on
# a machine that never has, is the same 32 s). A changed mypy or configuration starts afresh.
export MYPY_CACHE_DIR ?= $(or $(XDG_CACHE_HOME),$(HOME)/.cache)/insurance-escalation/mypy

# Ctrl-C is how the product is stopped: its exit status 130 is not an error of make's.
run: $(STAMP)
	$(PY) -m launcher || [ $$? -eq 130 ]

# ruff first (a second), so a lint or format error stops `make test` (and CI) at once; mypy
# runs alongside the suite and is counted when it ends (scripts/test_suite.sh says why).
# Six workers, each taking whole test modules (their agent and Slack fixtures are per module),
# the slowest first, a few long ones split in parts (tests/support/scheduling.py): much of the
# suite waits on agent and bridge processes, so six workers keep this 2-core machine busy (its
# two cores are about 90 % busy from the first test to the last). Eight were measured again on
# clean clones (two pairs of runs interleaved with six): seven runs at eight took 4:32-5:17
# (mean 4:58), three at six 4:42-5:19 (mean 5:03), no faster within the machine's spread of
# 15-20 %; once the workers were forked from a collected zygote (an extra worker's collection
# 0.6 s of CPU, not 5.5), eight took 5:05 against six's 4:43 in back-to-back clean clones, and
# 464 s of CPU against 410 (more agents, clusters and browsers at once). Six is kept.
# Compiled bytecode is kept (in the venv, not the tree) even where the environment says not to
# write it: every worker, agent and bridge would otherwise compile the project and the test
# modules again.
TEST_ENV := env -u PYTHONDONTWRITEBYTECODE PYTHONPYCACHEPREFIX=$(CURDIR)/$(VENV)/pycache
test: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	bash scripts/test_suite.sh \
		$(TEST_ENV) $(PY) -m pytest -q -n 6 --dist loadfile --no-loadscope-reorder -m "not long"

# The tests marked `long` (tests/conftest.py): slower variants of checks `make test` already makes
# through the same code (the launcher stopped by SIGTERM as well as by SIGINT), a minute or so.
test-long: $(STAMP)
	bash scripts/ensure_postgres.sh
	$(TEST_ENV) $(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder -m long

# The property-based tests with ten times the examples (Hypothesis profile "deep",
# tests/conftest.py): the store comparisons against Parlant's own, on SQLite and PostgreSQL,
# and the offline demo's replies against their turns' tool events (100 conversations).
test-deep: $(STAMP)
	bash scripts/ensure_postgres.sh
	HYPOTHESIS_PROFILE=deep $(PY) -m pytest -q -n 2 --dist loadfile --no-loadscope-reorder \
		tests/test_sqlite_document_store.py tests/test_postgres_document_store.py \
		tests/test_truthful_replies.py

# Schemathesis with forty times the cases of `make test` (tests/test_fuzz.py), freshly drawn
# each run rather than the fixed draw `make test` repeats (a few minutes).
fuzz: $(STAMP)
	FUZZ_EXAMPLES=4000 FUZZ_RANDOM=on $(TEST_ENV) $(PY) -m pytest -q tests/test_fuzz.py

# Five scripted customer turns against the configured real LLM (.env / environment): replies,
# tools called, handoff, tokens used. Costs a few hundred thousand tokens on gpt-4.1.
smoke-llm: $(STAMP)
	$(PY) scripts/smoke_llm.py

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy

# Applies each bug in scripts/break_guarantees.py in turn and runs the test the README's
# Guarantees table names for it: every one must fail (about 20 minutes; a clean worktree only).
break-guarantees: $(STAMP)
	bash scripts/ensure_postgres.sh
	$(PY) scripts/break_guarantees.py

# Mutation testing of the pure modules (docs/mutation.md): mutmut changes them one small edit at
# a time and runs their fast unit tests against each mutant (7 to 15 minutes on two cores; not
# part of `make test`). Fails if a mutant survives that docs/mutation.md does not explain.
MUTATION_STAMP := $(VENV)/.mutation-stamp
$(MUTATION_STAMP): $(STAMP)
	$(PY) -m pip install --quiet -e '.[test,mutation]'
	@touch $(MUTATION_STAMP)

mutation: $(MUTATION_STAMP)
	rm -rf mutants && mkdir mutants
	$(VENV)/bin/mutmut run --max-children 2 > mutants/run.log 2>&1 || { tail -c 3000 mutants/run.log; exit 1; }
	$(PY) scripts/mutation_report.py

# Each bench prints its own table; run one alone with its flags (`--help`) for a quicker figure.
bench: $(STAMP)
	bash scripts/ensure_postgres.sh
	bash scripts/ensure_haproxy.sh
	$(PY) bench/bench_session_store.py
	$(PY) bench/bench_bridge.py
	$(PY) bench/bench_bridge.py --prefill 10000 --sessions 10000 --skip-pacing
	$(PY) bench/bench_dashboard.py
	$(PY) bench/bench_replicas.py

# The randomized fault run of the whole system (docs/replicas.md, Chaos): SEEDS seeds (10), each
# a fresh PostgreSQL, two agents behind HAProxy, two bridges and the fake Slack while replicas
# are killed and restarted; prints the checker's table (about 2 minutes a seed). Each seed's
# history goes to chaos-runs/. CHAOS_FLAGS passes more (--postgres-restarts, --customers 12).
SEEDS ?= 10
chaos: $(STAMP)
	bash scripts/ensure_postgres.sh
	bash scripts/ensure_haproxy.sh
	$(TEST_ENV) $(PY) scripts/chaos.py --seeds $(SEEDS) $(CHAOS_FLAGS)

# Deletes conversations, customers, claims and the bridge's state; keeps the operator token,
# .env and Parlant's caches. Asks first; `make reset-data YES=1` does not.
reset-data: $(STAMP)
	$(PY) -m launcher.reset_data $(if $(YES),--yes)

# The README's screenshots, taken by the browser test from the running product.
screenshots: $(STAMP)
	bash scripts/ensure_browser.sh
	REFRESH_DOCS_SCREENSHOT=1 $(PY) -m pytest -q tests/test_dashboard_browser.py tests/test_learning_browser.py \
		tests/test_copilot_figures_browser.py \
		tests/test_slack_drafts.py::test_a_draft_waits_for_an_operator_and_is_sent_once \
		'tests/test_slack_bridge_e2e.py::test_an_ai_reply_the_agent_would_not_send_waits_for_its_operator[socket]' \
		tests/test_make_run.py

clean:
	rm -rf $(VENV) data tests/widget/node_modules mutants chaos-runs
