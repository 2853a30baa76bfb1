VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
CORES ?= 2

.PHONY: demo test lint format bench clean

$(STAMP): pyproject.toml
	test -x $(PY) || python3 -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e ".[dev,slurm,cluster-generic]"
	touch $(STAMP)

demo: $(STAMP)
	$(VENV)/bin/snakemake --cores $(CORES) --configfile config/config.yaml
	@echo "report: results/example/report.html"

test: $(STAMP)
	$(PY) -m pytest

lint: $(STAMP)
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/snakefmt --check workflow
	$(VENV)/bin/snakemake --lint --configfile config/config.yaml

format: $(STAMP)
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .
	$(VENV)/bin/snakefmt workflow

# PyDESeq2 needs pandas < 3 (through anndata): it gets its own venv, run as a separate process
PYDESEQ2_VENV := .venv-pydeseq2

$(PYDESEQ2_VENV)/.installed:
	test -x $(PYDESEQ2_VENV)/bin/python || python3 -m venv $(PYDESEQ2_VENV)
	$(PYDESEQ2_VENV)/bin/python -m pip install --quiet "pydeseq2==0.5.4"
	touch $@

bench: $(STAMP) $(PYDESEQ2_VENV)/.installed
	$(PY) benchmarks/bench_engine.py --pydeseq2-python $(PYDESEQ2_VENV)/bin/python $(BENCH_ARGS)
	$(PY) benchmarks/bench_methods.py $(BENCH_METHODS_ARGS)
	$(PY) benchmarks/bench_workflow.py $(BENCH_WORKFLOW_ARGS)

clean:
	rm -rf results .snakemake
