# hnn_np — two commands do all the set-up on a fresh machine:
#   make figures    regenerate every figure of the paper into figures/
#   make test       run the test suite
# The first run creates .venv and installs the package (editable) into it.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
HYPOTHESIS_PROFILE ?= ci
QUICK  ?=

.PHONY: all test exercises figures studies real-pendulum ablation bench venv clean

all: test

$(STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install -e ".[test,bench]"
	touch $(STAMP)

venv: $(STAMP)

test: $(STAMP)
	HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) $(PY) -m pytest -q

# the tests of docs/exercises/ on your stubs; SOLUTIONS=1: the same tests on the package's own code
SOLUTIONS ?=
exercises: $(STAMP)
	HYPOTHESIS_PROFILE=$(HYPOTHESIS_PROFILE) HNN_NP_SOLUTIONS=$(if $(SOLUTIONS),1,0) $(PY) -m pytest -q docs/exercises

# QUICK=1: the whole pipeline with few steps, into runs/quick/ (figures/ is left alone)
figures: $(STAMP)
	$(PY) -m hnn_np figures $(if $(QUICK),--quick --out runs/quick/figures --runs runs/quick,)

# beyond the paper: long rollouts, radius sweep, stencils, noise, more systems (figures/studies/)
studies: $(STAMP)
	$(PY) -m hnn_np studies $(if $(QUICK),--quick --out runs/quick/studies --runs runs/quick/studies-runs,)

# the real pendulum's measured swing: D-HNN (on derivatives and through RK4), HNN and baseline against the authors' physics model
real-pendulum: $(STAMP)
	OPENBLAS_NUM_THREADS=1 $(PY) -m hnn_np studies --only real-pendulum

ablation: $(STAMP)
	$(PY) -m hnn_np ablation

# PEERS=1: run it in .venv-peers, which also has jax and numbalsoda (peers to time, never dependencies of hnn_np)
PEERS  ?=
PEERS_VENV  := .venv-peers
PEERS_STAMP := $(PEERS_VENV)/.installed

$(PEERS_STAMP): setup.cfg pyproject.toml
	$(PYTHON) -m venv $(PEERS_VENV)
	$(PEERS_VENV)/bin/python -m pip install --upgrade pip
	$(PEERS_VENV)/bin/python -m pip install -e ".[test,bench]" "jax[cpu]"
	$(PEERS_VENV)/bin/python -m pip install numbalsoda || echo "numbalsoda not built (it needs gfortran): its row is skipped"
	touch $(PEERS_STAMP)

bench: $(if $(PEERS),$(PEERS_STAMP),$(STAMP))
	$(if $(PEERS),$(PEERS_VENV)/bin/python,$(PY)) benchmarks/run.py

clean:
	rm -rf $(VENV) $(PEERS_VENV) .pytest_cache .hypothesis build *.egg-info
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
