# streamsim — the front door. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Tests and notebooks never touch real AWS; an inherited endpoint would be ignored anyway.
export STREAMSIM_ENDPOINT_URL ?=

.PHONY: setup run test lint format lab report bench faults walkthrough serve clean ministack browser mutate

## MiniStack, the second backend: its own venv (it pins its own botocore), built on first use.
MINISTACK_VENV    ?= .venv-ministack
MINISTACK_VERSION := 1.5.33
MINISTACK_STAMP   := $(MINISTACK_VENV)/.installed-stamp

setup: $(STAMP)

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	$(BIN)/python -m ipykernel install --sys-prefix --name python3 --display-name "streamsim (.venv)" >/dev/null
	touch $(STAMP)

## The main job: synthetic players -> Plays table -> stream -> trigger -> badge handler -> run folder.
run: setup
	$(BIN)/streamsim run

walkthrough: setup
	$(BIN)/streamsim walkthrough

serve: setup
	$(BIN)/streamsim serve

# In CI (CI=true) the browser test must run: install Debian's chromium first. Locally it skips.
test: setup lint $(if $(filter true,$(CI)),browser)
	@$(MAKE) --no-print-directory ministack || echo "streamsim: could not build the MiniStack venv: the MiniStack cross-check will be skipped"
	$(BIN)/python -m pytest -q

ministack: $(MINISTACK_STAMP)

$(MINISTACK_STAMP):
	$(PYTHON) -m venv $(MINISTACK_VENV)
	$(MINISTACK_VENV)/bin/python -m pip install --quiet ministack==$(MINISTACK_VERSION)
	touch $(MINISTACK_STAMP)

lint: setup
	$(BIN)/ruff check streamsim tests benchmarks
	$(BIN)/ruff format --check streamsim tests benchmarks
	$(BIN)/mypy streamsim

format: setup
	$(BIN)/ruff format streamsim tests benchmarks
	$(BIN)/ruff check --fix streamsim tests benchmarks

lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks --allow-root

report: setup
	$(BIN)/streamsim report

## Headless Chromium for the report's browser test (tests/test_report.py), from Debian.
browser:
	@if [ ! -x /usr/bin/chromium ]; then apt-get update && apt-get install -y chromium; fi

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; args=; case $$b in *bench_live*) args="$(LIVE_BENCH_ARGS)";; esac; $(BIN)/python $$b $$args || exit 1; done

## bench_live.py's full search takes about 15 minutes (60 s probes); make bench runs it --quick.
LIVE_BENCH_ARGS ?= --quick

faults: setup
	$(BIN)/streamsim faults

## Mutation testing of the verdict (accounting, invariant, witnesses), checkpoints and award
## writes ([tool.mutmut] in pyproject.toml). Not part of `make test`: it takes a while.
mutate: setup
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2
	$(BIN)/mutmut export-cicd-stats
	@cat mutants/mutmut-cicd-stats.json; echo
	@$(BIN)/mutmut results

clean:
	rm -rf $(VENV) $(MINISTACK_VENV) .pytest_cache .mypy_cache .ruff_cache reports data/runs mutants
