# Two entry points, each creating .venv when missing:
#   make train   the main job on the embedded default
#   make test    the test suite
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=

.PHONY: train test demo bench clean

demo: $(STAMP)
	$(BIN)/robot-rl demo

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[train,deploy,test]"
	touch $(STAMP)

train: $(STAMP)
	$(BIN)/robot-rl pipeline configs/train/so101_reach_sac.yaml --episodes 50

test: $(STAMP)
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m pip install --quiet -e ".[bench]"
	$(BIN)/python bench/bus.py
	$(BIN)/python bench/env.py
	$(BIN)/python bench/replay.py
	$(BIN)/python bench/inference.py
	$(BIN)/python bench/learner.py
	$(BIN)/python bench/fleet.py

clean:
	rm -rf $(VENV) build *.egg-info
