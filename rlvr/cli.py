"""The `rlvr` command: train, resume, evaluate, compare, report, inspect configs and verifiers."""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
import textwrap
from pathlib import Path

# Nothing is ever fetched from a hub; say so before transformers is imported.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")


def _quiet_transformers() -> None:
    import transformers

    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def _options_help() -> str:
    from rlvr.config import Config, describe

    lines = ["config options (set in the YAML file or as --section.key=value):", ""]
    for key, tp, default, doc in describe(Config):
        lines.append(f"  --{key}  ({tp}, default {default})")
        lines.extend(textwrap.wrap(doc, width=88, initial_indent="      ", subsequent_indent="      "))
    return "\n".join(lines)


TRAIN_HELP = """\
Train a policy with RL from verifiable rewards.

  rlvr train CONFIG [--algo=NAME] [--reward=NAME] [--out DIR] [--section.key=value ...]
  rlvr train --resume DIR [--section.key=value ...]
  rlvr train CONFIG --nproc N ...     (N processes: data parallel, FSDP2; docs/scale.md)

CONFIG is a YAML preset (e.g. configs/quickstart.yaml) that overrides the defaults below;
--algo=NAME layers the algorithm preset configs/algos/NAME.yaml over it (`rlvr algos` lists
them), --reward=NAME the reward preset configs/rewards/NAME.yaml (`rlvr verifiers` lists
them); overrides come last, written --section.key=value, --section.key value or
section.key=value (Hydra style); values are read as YAML: 8, 1e-5, true, [a, b].
--resume continues DIR from its newest complete checkpoint with the config saved there;
the resumed run ends with exactly the weights an uninterrupted run would have.
"""


def _train(args: argparse.Namespace, overrides: list[str]) -> int:
    from rlvr.config import load_config
    from rlvr.configtools import parse_overrides
    from rlvr.train import train

    if args.resume:
        if args.config:
            raise SystemExit("give either CONFIG or --resume DIR, not both")
        if args.algo or args.reward:
            raise SystemExit("--algo/--reward cannot change a run being resumed (its config.yaml already has it)")
        saved = Path(args.resume) / "config.yaml"
        if not saved.is_file():
            raise SystemExit(f"{args.resume} is not a run folder (no config.yaml)")
        over = parse_overrides(overrides)
        over.setdefault("run", {})["out"] = str(args.resume)
        cfg = load_config(str(saved), over)
    else:
        if not args.config:
            raise SystemExit("rlvr train: give a CONFIG file (or --resume DIR); see rlvr train --help")
        over = parse_overrides(overrides)
        if args.out:
            over.setdefault("run", {})["out"] = args.out
        cfg = load_config(args.config, over, algo=args.algo, reward=args.reward)
    if args.nproc > 1:  # the config is checked here, once, before any process starts
        from rlvr.distributed.launch import check_several_processes, launch

        check_several_processes(cfg, args.nproc)
        if cfg.run.backend != "ray":
            return launch(args.nproc, args.argv)  # torchrun
        from rlvr.distributed.ray_group import train_group

        summary = train_group(cfg, args.nproc, resume=bool(args.resume))  # the processes as Ray actors
    else:
        _quiet_transformers()
        summary = train(cfg, resume=bool(args.resume))
        if os.environ.get("RANK", "0") != "0":  # one of several processes: the first one reports
            return 0
    before, after = summary["eval_before"], summary["eval_after"]
    print(f"\nrun folder: {summary['run_dir']}")
    if before:
        print(f"held-out greedy accuracy before: {before['accuracy']:.1%}")
    if after:
        print(f"held-out greedy accuracy after:  {after['accuracy']:.1%}")
    if before and after:
        print(f"change: {100 * (after['accuracy'] - before['accuracy']):+.1f} points")
    print(f"training time: {summary['train_seconds'] / 60:.1f} min")
    return 0


def _eval_ks(args: argparse.Namespace) -> list[int]:
    """The k's of `--k`, with every numeric flag checked before the model loads."""
    from rlvr.configtools import ConfigError

    try:
        ks = [int(k) for k in args.k.split(",") if k.strip()] if args.k else []
    except ValueError:
        raise ConfigError(f"bad value {args.k!r} for '--k'; expected positive integers such as 1,4,8") from None
    if any(k < 1 for k in ks):
        raise ConfigError(f"bad value {args.k!r} for '--k'; every k must be at least 1")
    if args.n and ks and args.n < max(ks):
        raise ConfigError(f"'--n' ({args.n}) must be at least the largest k ({max(ks)}): pass@k and maj@k need n ≥ k "
                          "samples per problem")
    for flag, value, low in (("--n", args.n, 0), ("--size", args.size, 0), ("--max-new-tokens", args.max_new_tokens, 0),
                             ("--batch-size", args.batch_size, 1), ("--threads", args.threads, 0),
                             ("--bootstrap", args.bootstrap, 1)):
        if value < low:
            raise ConfigError(f"bad value {value} for '{flag}'; must be at least {low}")
    if not (math.isfinite(args.temperature) and args.temperature >= 0):
        raise ConfigError(f"bad value {args.temperature} for '--temperature'; must be a finite number ≥ 0")
    return ks


def _eval_config(args: argparse.Namespace, model: str, say):
    """The config whose data, prompt format and verifiers the evaluation uses."""
    from rlvr.config import load_config
    from rlvr.data.reasoning_gym import is_rg_source

    config = args.config
    if config is None:  # a checkpoint inside a run folder: use that run's prompt format
        guess = Path(model).parent.parent / "config.yaml"
        if Path(model).parent.name == "checkpoints" and guess.is_file():
            config = str(guess)
            say(f"using the prompt format and verifiers of {config}")
    over = {"data": {"eval": args.data}} if args.data else {}
    if args.device:  # checked with the config, before the model loads
        over["model"] = {"device": args.device}
    if args.split is not None:
        over.setdefault("data", {})["eval_split"] = args.split
    reward = None
    if args.data and is_rg_source(args.data):
        # only data.eval is read here; data.train follows it because the config checks refuse an
        # rg: source beside another kind, and rg: samples are scored only by their task's scorer
        over["data"]["train"] = args.data
        if not any(v.name == "reasoning_gym" for v in load_config(config).reward.verifiers):
            reward = "reasoning_gym"
            say("scoring the rg: data with the reasoning_gym verifier (the reward preset reasoning_gym)")
    return load_config(config, over, reward=reward)


def _eval(args: argparse.Namespace) -> int:
    import torch

    from rlvr.checkpoint import MANIFEST, verify_checkpoint
    from rlvr.configtools import ConfigError
    from rlvr.data import eval_samples, prompt_context
    from rlvr.data.fit import PromptFitter, model_context
    from rlvr.eval import evaluate
    from rlvr.eval.report import format_table, summarise, write_per_problem
    from rlvr.eval.vote import voter_for
    from rlvr.models import load_policy, run_checkpoint
    from rlvr.rollout import build_engine
    from rlvr.runfiles import atomic_write_text
    from rlvr.verifiers.references import check_references
    from rlvr.verifiers.reward import build_reward_function

    ks = _eval_ks(args)
    to_stdout = args.json == "-"  # stdout then holds the JSON alone; the table goes to stderr

    def say(text: str) -> None:
        print(text, file=sys.stderr if to_stdout else sys.stdout, flush=True)

    model = str(run_checkpoint(args.model) or args.model)  # runs/x@20 → runs/x/checkpoints/step-20
    cfg = _eval_config(args, model, say)
    if args.threads:
        torch.set_num_threads(args.threads)
    samples = eval_samples(cfg.data, size=args.size, seed=cfg.eval.seed)
    if not samples:
        raise SystemExit("no evaluation data: pass --data arithmetic, a data file or folder, or a dataset id")
    check_references(samples, cfg.reward.verifiers, answer_field=cfg.data.answer_field, what="evaluation")
    if (Path(model) / MANIFEST).is_file() and (problem := verify_checkpoint(model)):
        raise ConfigError(f"the checkpoint {model} is damaged: {problem}")
    voter, no_vote = voter_for(cfg.reward.verifiers, cfg.reward.accuracy_from) if ks else (None, "")
    _quiet_transformers()
    policy, tokenizer = load_policy(model, seed=cfg.run.seed, device=cfg.model.device)
    engine = build_engine(cfg.rollout.engine, policy, tokenizer, dtype=args.dtype or cfg.rollout.dtype,
                          batch_size=args.batch_size, seed=args.seed)
    max_new_tokens = args.max_new_tokens or cfg.eval.max_new_tokens or cfg.rollout.max_new_tokens
    render = PromptFitter(tokenizer, cfg.data, context=model_context(policy), max_new_tokens=max_new_tokens)
    render.check(samples, "evaluation")
    reward = build_reward_function(cfg)
    try:
        res = evaluate(engine, samples, render, reward, max_new_tokens=max_new_tokens,
                       ks=ks, n=args.n, temperature=args.temperature, seed=args.seed, progress=not args.no_progress,
                       context=lambda s: prompt_context(s, cfg.data), voter=voter)
    finally:
        reward.close()
    summary = summarise(res, resamples=args.bootstrap, seed=args.bootstrap_seed)
    say(f"model: {args.model}" + (f" ({model})" if model != args.model else ""))
    say(f"problems: {res.problems}" + (f"; {res.n} samples per problem at temperature {args.temperature} "
                                       f"(seed {args.seed}), pass@k unbiased (Chen et al. 2021)" if res.n else ""))
    if voter is not None:
        say(f"maj@k: majority of k of the n samples, exact expectation over k-subsets; votes: {voter.how}")
    elif no_vote:
        say(f"maj@k not computed: {no_vote}")
    say(format_table(summary))
    if args.per_problem:
        write_per_problem(args.per_problem, res)
        say(f"wrote {res.problems} per-problem rows to {args.per_problem}")
    data = {"model": args.model, "model_path": model, **summary,
            "settings": {"data": cfg.data.eval, "temperature": args.temperature, "seed": args.seed,
                         "max_new_tokens": max_new_tokens, "maj_vote": voter.how if voter else no_vote}}
    if to_stdout:
        print(json.dumps(data, indent=2, ensure_ascii=False))
    elif args.json:
        atomic_write_text(args.json, json.dumps(data, indent=2))
    return 0


def _config(args: argparse.Namespace, overrides: list[str]) -> int:
    from rlvr.config import config_to_yaml, load_config
    from rlvr.data import check_data_sources

    cfg = load_config(args.config, overrides, algo=args.algo, reward=args.reward)
    check_data_sources(cfg.data)  # the sources exist and hold the splits asked for
    print(config_to_yaml(cfg), end="")
    return 0


def _report(args: argparse.Namespace) -> int:
    from rlvr.report import NotAReportFolder, build_report

    try:
        out = build_report(args.folder, args.out)
    except NotAReportFolder as e:
        print(f"rlvr: error: {e}", file=sys.stderr)
        return 2
    print(f"wrote {out}")
    return 0


def _algos() -> int:
    from rlvr.config import algo_presets, preset_summary

    presets = algo_presets()
    width = max((len(n) for n in presets), default=0)
    for name, path in presets.items():
        print(f"{name:{width}s}  {preset_summary(path)}")
    print("\nuse: rlvr train CONFIG --algo=NAME   (docs/algorithms/NAME.md explains each)")
    return 0


def _verifiers() -> int:
    from rlvr.verifiers import DESCRIPTIONS, REGISTRY

    from rlvr.config import preset_summary, presets

    from rlvr.verifiers.foreign import DESCRIPTIONS as FOREIGN

    for name in sorted(REGISTRY):
        print(f"{name:12s} {DESCRIPTIONS.get(name, '')}")
    print("\nreward functions of other frameworks, unchanged (docs/verifiers/frameworks.md):")
    for prefix, text in FOREIGN.items():
        print(f"  {prefix + ':':10s} {text}")
    print("\nreward presets (rlvr train CONFIG --reward=NAME):")
    for name, path in presets("rewards").items():
        print(f"  {name:14s} {preset_summary(path)}")
    print("\noptions, gates and weights: docs/verifiers/README.md")
    return 0


def _audit(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    if args.audit_command != "verifier":
        parser.parse_args(["audit", "--help"])  # prints the audit help and exits
    from rlvr.eval.audit import audit_file

    report, out_dir, _ = audit_file(args.file, args.verifiers, options=args.options or [], out=args.out,
                                    workers=args.workers, timeout_s=args.timeout_s, accept=args.accept,
                                    show=args.show, progress=True)
    print(report, end="")
    print(f"\nwrote {out_dir / 'report.md'} and {out_dir / 'verdicts.jsonl'}", file=sys.stderr)
    return 0


LABEL_HELP = """\
Vote frozen pseudo-labels for label-free training (SRT's offline labels, arXiv 2505.21444).

  rlvr label CONFIG --out FILE [--checkpoint DIR] [--samples N] [--limit M] [--section.key=value ...]

Samples N completions for each of the first M training prompts of CONFIG with its policy (or
a checkpoint), takes the majority answer as each prompt's label and writes one JSONL row per
prompt; prints the label accuracy where the data has references. Train on the labels with
--reward.verifiers=[{name: majority, options: {labels: FILE}}] (docs/verifiers/majority.md).
"""


def _label(args: argparse.Namespace, overrides: list[str]) -> int:
    from rlvr.config import load_config
    from rlvr.eval.pseudo_labels import make_labels

    cfg = load_config(args.config, overrides)
    _quiet_transformers()
    s = make_labels(cfg, out=args.out, checkpoint=args.checkpoint or "", samples=args.samples,
                    limit=args.limit, seed=args.seed, progress=True)
    print(f"prompts: {s.prompts}, labelled: {s.labelled} (the rest had no parsable answer)")
    print(f"mean majority share: {s.mean_majority_ratio:.1%}")
    if s.label_accuracy is not None:
        print(f"label accuracy (label = reference): {s.label_accuracy:.1%}")
    print(f"wrote {args.out}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from rlvr.compare.main import compare

    compare(args.spec, out=args.out, jobs=args.jobs, progress=not args.no_progress,
            allow_few_seeds=args.allow_few_seeds)
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rlvr", description="Reinforcement learning from verifiable rewards.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    t = sub.add_parser("train", help="train or resume a run", description=TRAIN_HELP,
                       epilog=_options_help(), formatter_class=argparse.RawDescriptionHelpFormatter)
    t.add_argument("config", nargs="?", help="YAML preset, e.g. configs/quickstart.yaml")
    t.add_argument("--out", help="run folder (default runs/<run.name>)")
    t.add_argument("--resume", metavar="DIR", help="continue the run in DIR from its newest checkpoint")
    t.add_argument("--algo", metavar="NAME", help="layer configs/algos/NAME.yaml over CONFIG (see `rlvr algos`)")
    t.add_argument("--reward", metavar="NAME",
                   help="layer configs/rewards/NAME.yaml over CONFIG (see `rlvr verifiers`)")
    t.add_argument("--nproc", type=int, default=1, metavar="N",
                   help="train in N processes on this machine: data parallel, weights sharded with FSDP2 "
                   "(docs/scale.md; `torchrun --nproc_per_node N -m rlvr.cli train ...` does the same)")

    e = sub.add_parser("eval", help="greedy accuracy, pass@k and maj@k of a model, with 95%% intervals",
                       description="Evaluate a model: greedy accuracy, unbiased pass@k and maj@k from n samples "
                       "per problem, mean lengths, each with a 95%% interval (bootstrap over problems; Wilson for "
                       "greedy accuracy). docs/evaluation.md defines every number.")
    e.add_argument("--model", required=True, help="HF folder (e.g. a checkpoint), .gguf file, alias "
                   "smollm2-135m-instruct, a hub id org/name in the local Hugging Face cache, or a run's "
                   "checkpoint: runs/x@20 (runs/x/checkpoints/step-20), runs/x (its newest)")
    e.add_argument("--data", help="a procedural task (arithmetic, derivations, multipart, ifeval, code: its held-out "
                   "split), reasoning-gym tasks (rg:chain_sum, rg:a,b), or data: a .jsonl/.json/.parquet/.arrow "
                   "file, a folder, a glob, a save_to_disk folder or a dataset id in the local cache "
                   "(default: the config's data.eval)")
    e.add_argument("--split", help="split of --data when it has several (default: the config's "
                   "data.eval_split; empty there: test, or the only split)")
    e.add_argument("--config", help="config whose prompt format and verifiers to use (default: the run's "
                   "config.yaml when --model is a checkpoint of a run, else the defaults)")
    e.add_argument("--k", default="1", help="comma-separated k for pass@k and maj@k, e.g. 1,4,8 (empty: greedy only)")
    e.add_argument("--n", type=int, default=0, help="samples per problem for pass@k and maj@k (default: the "
                   "largest k; more than k lowers the estimates' variance)")
    e.add_argument("--size", type=int, default=200, help="number of problems (0: a file's every row)")
    e.add_argument("--temperature", type=float, default=1.0, help="sampling temperature for pass@k and maj@k")
    e.add_argument("--max-new-tokens", type=int, default=0, help="longest completion (default: the config's)")
    e.add_argument("--dtype", choices=["float32", "bfloat16"], help="weights for decoding (default: the "
                   "config's rollout.dtype, so a run's checkpoint is evaluated as during training)")
    e.add_argument("--batch-size", type=int, default=64, help="sequences decoded at once")
    e.add_argument("--seed", type=int, default=0, help="seed of the sampling for pass@k and maj@k")
    e.add_argument("--threads", type=int, default=0, help="torch threads (0: default)")
    e.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: the config's model.device, auto: "
                   "CUDA when torch sees it)")
    e.add_argument("--json", nargs="?", const="-", metavar="FILE",
                   help="also write the results to FILE as JSON; --json alone prints them to stdout (the table "
                   "then goes to stderr)")
    e.add_argument("--per-problem", metavar="FILE", help="write one JSON line per problem (greedy verdict and "
                   "length; n, c, pass@k, maj@k and the answer clusters with --k)")
    e.add_argument("--bootstrap", type=int, default=1000, metavar="B", help="bootstrap resamples of the problems "
                   "for the 95%% intervals")
    e.add_argument("--bootstrap-seed", type=int, default=0, help="seed of the bootstrap resampling")
    e.add_argument("--no-progress", action="store_true", help="no progress bars")

    cp = sub.add_parser("compare", help="train several methods over several seeds under identical conditions and "
                        "compare them, with 95%% intervals over seeds",
                        description="Train every method of SPEC.yaml (presets plus overrides, on one task, for one "
                        "budget) with every seed, then write summary.json, table.md (printed) and plots: final "
                        "held-out accuracy and pass@k, reward AUC, length, entropy, time and tokens as mean ± 95%% "
                        "t-interval over seeds, and a paired t-test of each method against the first. Finished runs "
                        "are reused, unfinished ones resumed. docs/compare.md describes the spec and every number.")
    cp.add_argument("spec", help="the comparison's YAML spec, e.g. examples/compare_tiny.yaml")
    cp.add_argument("--out", help="folder of the runs and results (default runs/compare-<spec name>)")
    cp.add_argument("--jobs", type=int, default=1, metavar="N",
                    help="runs at once, as subprocesses, each with cores // N threads (default 1)")
    cp.add_argument("--no-progress", action="store_true", help="no progress bar")
    cp.add_argument("--allow-few-seeds", action="store_true",
                    help="accept 2 seeds instead of at least 3 (quick checks; the intervals are then very wide)")

    c = sub.add_parser("config", help="print a resolved config", epilog=_options_help(),
                       formatter_class=argparse.RawDescriptionHelpFormatter)
    c.add_argument("config", nargs="?", help="YAML preset (default: only the defaults)")
    c.add_argument("--algo", metavar="NAME", help="layer configs/algos/NAME.yaml over CONFIG")
    c.add_argument("--reward", metavar="NAME", help="layer configs/rewards/NAME.yaml over CONFIG")
    sub.add_parser("verifiers", help="list the verifiers")
    rp = sub.add_parser("report", help="write a run's or a comparison's report as one self-contained HTML file",
                        description="Write one HTML file that opens with no server or network: for a run folder "
                        "its held-out evaluation, a chart of every logged metric, a rollout browser (filter by "
                        "step, prompt and reward, also from the address: report.html#step=2&min_reward=0.5), "
                        "the config and the environment; for a folder of `rlvr compare` (summary.json) its "
                        "table and curves. See docs/report.md.")
    rp.add_argument("folder", metavar="RUN_OR_COMPARISON", help="a run folder or a comparison folder")
    rp.add_argument("--out", metavar="FILE", help="where to write it (default FOLDER/report.html)")
    sub.add_parser("algos", help="list the algorithm presets (for --algo=NAME)")

    a = sub.add_parser("audit", help="audit verifiers: where they disagree, precision and recall on labels")
    audit_sub = a.add_subparsers(dest="audit_command", metavar="WHAT")
    av = audit_sub.add_parser(
        "verifier", help="run several verifiers over (completion, reference) rows and compare them",
        description="Run every verifier over every row of a JSONL file ({\"completion\", \"reference\", "
        "optional \"prompt\", \"label\" (true: the answer is correct), \"meta\"}) and report acceptance "
        "rates, pairwise agreement, disagreement examples and, with labels, precision and recall. "
        "Writes report.md and verdicts.jsonl; see docs/verifiers/audit.md.")
    av.add_argument("file", help="JSONL file of rows")
    av.add_argument("--verifiers", default="strict,math", help="comma-separated verifier names (default strict,math)")
    av.add_argument("--options", action="append", metavar="NAME={key: value, ...}",
                    help="options of one verifier as a YAML mapping; repeat for several")
    av.add_argument("--out", help="folder for report.md and verdicts.jsonl (default runs/audit-<timestamp>)")
    av.add_argument("--workers", type=int, default=2, help="verifier worker processes")
    av.add_argument("--timeout-s", type=float, default=5.0, help="hard time limit per verifier call, seconds")
    av.add_argument("--accept", type=float, default=0.5, help="a reward at least this counts as accepting")
    av.add_argument("--show", type=int, default=3, help="example rows per disagreement (0: none)")

    lb = sub.add_parser("label", help="vote frozen pseudo-labels for the majority verifier",
                        description=LABEL_HELP, formatter_class=argparse.RawDescriptionHelpFormatter)
    lb.add_argument("config", help="YAML preset whose policy, prompts and sampling to use")
    lb.add_argument("--out", required=True, help="JSONL file of labels to write")
    lb.add_argument("--checkpoint", metavar="DIR", help="vote with this checkpoint (or a run folder's newest) "
                    "instead of the config's model.path")
    lb.add_argument("--samples", type=int, default=0, help="completions per prompt (default rollout.group_size)")
    lb.add_argument("--limit", type=int, default=0, help="training prompts to draw (default run.steps × "
                    "rollout.prompts_per_step: those a run would see); repeated prompts are voted once")
    lb.add_argument("--seed", type=int, default=0, help="seed of the sampling")
    return parser


OVERRIDABLE = ("train", "config", "label")
"""Sub-commands that take config overrides."""


def main(argv: list[str] | None = None) -> int:
    from rlvr.cli_args import normalise_overrides
    from rlvr.compare import CompareError
    from rlvr.configtools import ConfigError
    from rlvr.data import DataError
    from rlvr.distributed.ray_group import GroupFailed
    from rlvr.models import ModelNotFound
    from rlvr.runfiles import RunFolderError
    from rlvr.optimise import NonFiniteError

    argv = sys.argv[1:] if argv is None else argv
    parser = build_parser()
    try:
        if argv and argv[0] in OVERRIDABLE:
            argv = [argv[0], *normalise_overrides(argv[1:])]
    except ConfigError as e:
        print(f"rlvr: error: {e}", file=sys.stderr)
        return 2
    args, extra = parser.parse_known_args(argv)
    args.argv = argv  # `--nproc` starts the same command in N processes
    bad = [x for x in extra if not (x.startswith("--") and "=" in x)]
    if args.command in OVERRIDABLE:
        if bad:
            parser.error(f"unrecognised arguments: {' '.join(bad)} (config overrides look like "
                         "--section.key=value, --section.key value or section.key=value)")
    elif extra:
        parser.error(f"unrecognised arguments: {' '.join(extra)}")
    try:
        if args.command == "train":
            return _train(args, extra)
        if args.command == "eval":
            return _eval(args)
        if args.command == "config":
            return _config(args, extra)
        if args.command == "verifiers":
            return _verifiers()
        if args.command == "algos":
            return _algos()
        if args.command == "report":
            return _report(args)
        if args.command == "audit":
            return _audit(args, parser)
        if args.command == "label":
            return _label(args, extra)
        if args.command == "compare":
            return _compare(args)
    except (ConfigError, DataError, ModelNotFound, RunFolderError, NonFiniteError, GroupFailed, CompareError) as e:
        print(f"rlvr: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        hint = ""
        if args.command == "train":
            hint = " — `rlvr train --resume RUN_DIR` continues from the newest checkpoint"
        print(f"\nrlvr: interrupted{hint}", file=sys.stderr)
        return 130
    parser.print_help()
    return 0


if __name__ == "__main__":
    sys.exit(main())
