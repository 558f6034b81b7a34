# The study's two commands: `make reproduce` and `make test`. Everything else is a helper.
PYTHON  ?= python3.11
VENV    ?= .venv
PY      := $(VENV)/bin/python
PROFILE ?= cpu
KERNEL  := spring-steel
# The open data: shared copy beside the checkout if there is one, else ./data/uhcsdb (`make data`).
SPRING_DATA_ROOT ?= $(firstword $(wildcard ../shared/data/uhcsdb) data/uhcsdb)
export SPRING_DATA_ROOT

.PHONY: env reproduce test data lab strip clean-cache site

env: $(VENV)/.installed

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --upgrade pip
	$(PY) -m pip install "torch==2.14.1" "torchvision==0.29.1"
	$(PY) -m pip install -e ".[dev]"
	$(PY) -m ipykernel install --sys-prefix --name $(KERNEL) --display-name "Python ($(KERNEL))"
	touch $@

reproduce: env        ## run every notebook with PROFILE (default cpu) into results/$(PROFILE)/
	$(PY) -m spring_lib run --profile $(PROFILE)

site: env             ## render results/$(PROFILE)/ as a self-contained static site in results/$(PROFILE)/site/
	$(PY) -m spring_lib site --profile $(PROFILE)

test: env             ## the test suite (executes notebooks under the smoke profile)
	$(PY) -m pytest

data: env             ## download UHCSDB into ./data/uhcsdb, verifying every sha256
	$(PY) -m spring_lib data --dest data/uhcsdb

lab: env              ## JupyterLab on the notebooks, with the study's kernel
	$(VENV)/bin/jupyter lab notebooks/

strip:                ## strip outputs from notebooks before committing
	$(VENV)/bin/nbstripout notebooks/*.ipynb

clean-cache:          ## drop cached tiles and features (they are rebuilt on demand)
	rm -rf .cache
