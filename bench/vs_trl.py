"""rlvr against TRL's GRPOTrainer (no vLLM) on the same work, in one invocation.

Same model (SmolLM2-135M-Instruct), prompts (the quickstart's arithmetic problems, same
order, same chat template with the same system prompt and worked example), group size,
prompts per step, max new tokens, learning rate, precision (bf16 compute, fp32 weights),
loss (GRPO: PPO clip 0.2, sequence-mean of token-means, group-std advantages, β = 0) and
number of steps. Each framework runs in its own child process so that peak RSS is its own.

    make bench                       # creates .venv-bench with TRL, then runs this
    .venv-bench/bin/python bench/vs_trl.py --steps 10

Prints seconds per step, generated tokens per second (generated tokens / training wall
time), peak RSS and the reward of the last steps for both, with the ratios.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
MARK = "BENCH-RESULT "


def common_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--prompts", type=int, default=8, help="prompts per step")
    p.add_argument("--group", type=int, default=8, help="completions per prompt")
    p.add_argument("--max-new-tokens", type=int, default=48)
    p.add_argument("--lr", type=float, default=1e-5)
    p.add_argument("--micro-batch", type=int, default=16, help="sequences per forward/backward")
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--seed", type=int, default=0)


def quickstart(args):
    from rlvr.config import load_config

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    return load_config(os.path.join(root, "configs", "quickstart.yaml"), {
        "run": {"steps": args.steps, "save_every": 0, "progress": False, "seed": args.seed},
        "rollout": {"prompts_per_step": args.prompts, "group_size": args.group,
                    "max_new_tokens": args.max_new_tokens},
        "optim": {"lr": args.lr, "micro_batch_size": args.micro_batch},
        "eval": {"before": False, "after": False, "every": 0}})


def run_rlvr(args) -> dict:
    import tempfile

    from rlvr.config import replace
    from rlvr.train import train

    cfg = quickstart(args)
    out = tempfile.mkdtemp(prefix="bench-rlvr-")
    cfg = replace(cfg, run=replace(cfg.run, out=out))
    train(cfg)
    rows = [json.loads(x) for x in open(os.path.join(out, "metrics.jsonl"))]
    rows = [r for r in rows if "reward/mean" in r]
    seconds = sum(r["time/step_s"] for r in rows)
    tokens = sum(r["length/mean"] * args.prompts * args.group for r in rows)
    return {"framework": "rlvr", "step_seconds": [r["time/step_s"] for r in rows],
            "rewards": [r["reward/mean"] for r in rows], "seconds": seconds, "tokens": tokens,
            "generate_seconds": sum(r["time/generate_s"] for r in rows)}


def run_trl(args) -> dict:
    import torch
    from datasets import Dataset
    from transformers import AutoTokenizer, TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    import trl
    from rlvr.data import PromptStream, messages_for
    from rlvr.models import resolve
    from rlvr.verifiers.math import MathVerifier

    cfg = quickstart(args)
    samples = PromptStream(cfg.data, seed=args.seed).next(args.prompts * args.steps)
    chats = [messages_for(s, template=cfg.data.prompt_template, system_prompt=cfg.data.system_prompt,
                          few_shot=cfg.data.few_shot) for s in samples]
    data = Dataset.from_dict({"prompt": chats, "answer": [s.answer for s in samples]})
    verifier = MathVerifier()

    def reward(prompts, completions, answer, **_):
        return [verifier(c[0]["content"], a, {}).reward for c, a in zip(completions, answer)]

    class Timer(TrainerCallback):
        def __init__(self):
            self.t, self.steps = 0.0, []

        def on_step_begin(self, *a, **k):
            self.t = time.time()

        def on_step_end(self, *a, **k):
            self.steps.append(time.time() - self.t)

    batch = args.prompts * args.group
    folder = resolve("smollm2-135m-instruct")
    config = GRPOConfig(
        output_dir=os.path.join("/tmp", "bench-trl"), max_steps=args.steps, learning_rate=args.lr,
        lr_scheduler_type="constant", per_device_train_batch_size=args.micro_batch,
        gradient_accumulation_steps=batch // args.micro_batch, num_generations=args.group,
        max_completion_length=args.max_new_tokens, temperature=1.0, top_p=1.0, beta=0.0, epsilon=0.2,
        loss_type="grpo", scale_rewards="group", num_iterations=1, bf16=True, use_cpu=True,
        gradient_checkpointing=False, logging_steps=1, report_to="none", save_strategy="no",
        shuffle_dataset=False, seed=args.seed, optim="adamw_torch", max_grad_norm=1.0,
        model_init_kwargs={"dtype": torch.float32})
    timer = Timer()
    tok = AutoTokenizer.from_pretrained(folder)
    trainer = GRPOTrainer(model=folder, reward_funcs=reward, args=config, train_dataset=data,
                          processing_class=tok, callbacks=[timer])
    trainer.train()
    logs = [h for h in trainer.state.log_history if "reward" in h]
    tokens = sum(h.get("completions/mean_length", 0.0) * batch for h in logs)
    return {"framework": f"trl {trl.__version__}", "step_seconds": timer.steps,
            "rewards": [h["reward"] for h in logs], "seconds": sum(timer.steps), "tokens": tokens}


def child(args) -> None:
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    import transformers

    transformers.utils.logging.set_verbosity_error()
    result = run_rlvr(args) if args.child == "rlvr" else run_trl(args)
    result["peak_rss_gb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 ** 2
    print(MARK + json.dumps(result), flush=True)


def summarise(r: dict, steps: int) -> dict:
    last = r["rewards"][-3:]
    return {"s/step": r["seconds"] / max(1, len(r["step_seconds"])), "gen tok/s": r["tokens"] / r["seconds"],
            "peak RSS GB": r["peak_rss_gb"], "reward (last 3 steps)": sum(last) / max(1, len(last)),
            "reward (first step)": r["rewards"][0] if r["rewards"] else float("nan")}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common_args(p)
    p.add_argument("--child", choices=["rlvr", "trl"], help=argparse.SUPPRESS)
    p.add_argument("--json", default="", help="also write the raw results here")
    args = p.parse_args()
    if args.child:
        return child(args)
    results = {}
    for name in ("rlvr", "trl"):
        cmd = [sys.executable, __file__, "--child", name, "--steps", str(args.steps), "--prompts", str(args.prompts),
               "--group", str(args.group), "--max-new-tokens", str(args.max_new_tokens), "--lr", str(args.lr),
               "--micro-batch", str(args.micro_batch), "--threads", str(args.threads), "--seed", str(args.seed)]
        print(f"== running {name} ...", flush=True)
        proc = subprocess.run(cmd, capture_output=True, text=True)
        lines = [x for x in proc.stdout.splitlines() if x.startswith(MARK)]
        if proc.returncode != 0 or not lines:
            print(proc.stdout[-2000:], proc.stderr[-4000:])
            raise SystemExit(f"{name} failed")
        results[name] = json.loads(lines[-1][len(MARK):])
    import torch
    import transformers

    print(f"\nmachine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; torch "
          f"{torch.__version__}, transformers {transformers.__version__}, {results['trl']['framework']}")
    print(f"work: {args.steps} steps × {args.prompts} prompts × {args.group} completions, "
          f"≤{args.max_new_tokens} new tokens, lr {args.lr}, bf16 compute, micro-batch {args.micro_batch}\n")
    a, b = summarise(results["rlvr"], args.steps), summarise(results["trl"], args.steps)
    print(f"| metric | rlvr | TRL | rlvr / TRL |\n|---|---|---|---|")
    for k in a:
        ratio = a[k] / b[k] if b[k] else float("nan")
        print(f"| {k} | {a[k]:.3f} | {b[k]:.3f} | {ratio:.2f} |")
    print("\nper-step rewards rlvr:", " ".join(f"{x:.2f}" for x in results["rlvr"]["rewards"]))
    print("per-step rewards TRL: ", " ".join(f"{x:.2f}" for x in results["trl"]["rewards"]))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"args": vars(args), "results": results}, fh, indent=2)


if __name__ == "__main__":
    main()
