# streamsim — the front door. `make run` and `make test` set everything up on a fresh machine.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-stamp
# Tests and notebooks never touch real AWS; an inherited endpoint would be ignored anyway.
export STREAMSIM_ENDPOINT_URL ?=

.PHONY: setup run test lint format lab report bench faults walkthrough serve clean mutate

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

test: setup lint
	$(BIN)/python -m pytest -q

lint: setup
	$(BIN)/ruff check streamsim tests benchmarks
	$(BIN)/ruff format --check streamsim tests benchmarks
	$(BIN)/mypy streamsim

format: setup
	$(BIN)/ruff format streamsim tests benchmarks
	$(BIN)/ruff check --fix streamsim tests benchmarks

lab: setup
	$(BIN)/jupyter lab --notebook-dir=notebooks

report: setup
	$(BIN)/streamsim report

bench: setup
	@for b in benchmarks/bench_*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

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
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache reports data/runs mutants
