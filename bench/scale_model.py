"""Where a GRPO step's time goes on 8 and 64 GPUs: a calculation, not a measurement.

No GPU was lent to this work, so nothing below was measured on one. The script multiplies
per-token costs by published hardware numbers and states every input as one of:

- FORMULA   — follows from the model's shape (FLOPs and bytes per token);
- PUBLISHED — a vendor's or a paper's number, with its source;
- ASSUMED   — a utilisation we chose, with the reason; change it and re-run.

    python bench/scale_model.py            # the table of docs/scale.md
    python bench/scale_model.py --json     # the same numbers as JSON

The measured side of docs/scale.md (this CPU: engines, 1 vs 2 processes) is in bench/RESULTS.md.
"""
from __future__ import annotations

import argparse
import json
from dataclasses import asdict, dataclass

# -- the model: Qwen2.5-7B (config.json of Qwen/Qwen2.5-7B-Instruct) ----------------------------
PARAMS = 7.62e9  # FORMULA input: parameter count
LAYERS, KV_HEADS, HEAD_DIM = 28, 4, 128  # grouped-query attention
BYTES = 2  # bf16 weights, activations and KV cache
KV_BYTES_PER_TOKEN = 2 * LAYERS * KV_HEADS * HEAD_DIM * BYTES  # FORMULA: K and V of every layer, 57,344 B

# -- the step: a DAPO-sized GRPO batch ----------------------------------------------------------
PROMPTS, GROUP = 256, 16  # 4,096 sequences a step
PROMPT_TOKENS, MEAN_COMPLETION = 256, 1024
LONGEST_OVER_MEAN = 2.0  # ASSUMED: the batch decodes until its longest completion (2x the mean)

# -- the GPU: H100 SXM5 -------------------------------------------------------------------------
PEAK_BF16 = 989e12  # PUBLISHED: dense BF16 tensor FLOP/s (NVIDIA H100 datasheet)
HBM_BW = 3.35e12  # PUBLISHED: HBM3 bytes/s (same)
NVLINK_BW = 450e9  # PUBLISHED: NVLink 4, 900 GB/s both directions = 450 GB/s each way
IB_BW = 50e9  # PUBLISHED: one 400 Gb/s NDR InfiniBand port per GPU (DGX H100)
GPUS_PER_NODE = 8

# -- utilisation -----------------------------------------------------------------------------
TRAIN_MFU = 0.40  # PUBLISHED range: Llama 3 pre-training reached 38-43% BF16 MFU on H100
#                   (Dubey et al. 2024, arXiv 2407.21783, Table 4); RL updates on shorter
#                   batches rarely do better
DECODE_COMPUTE_EFF = 0.5  # ASSUMED: share of peak a large decode batch's matmuls reach
DECODE_BW_EFF = 0.8  # ASSUMED: share of HBM bandwidth weight and KV reads reach
TRAIN_FLOPS_PER_TOKEN = 8 * PARAMS  # FORMULA: 6N forward+backward + 2N for π_old's scoring pass
#                                   (no reference model: β = 0, as DAPO); attention not counted


@dataclass
class Step:
    gpus: int
    sequences_per_gpu: float
    decode_step_ms: float
    decode_tokens_per_s_per_gpu: float
    generation_s: float
    training_s: float
    weight_sync_s: float
    step_s: float
    generation_share: float


def decode_step_seconds(batch: float) -> float:
    """One decoding step of `batch` sequences on one GPU (one vLLM replica, the 15 GB model
    fits one GPU): the weights are read once, every sequence's KV cache is read, and the
    matmuls do 2N FLOPs per sequence; reads and compute overlap, so the larger one counts,
    and the KV reads add to it (attention cannot start before its cache is read)."""
    context = PROMPT_TOKENS + MEAN_COMPLETION / 2  # the mean context over a completion
    weights = PARAMS * BYTES / (HBM_BW * DECODE_BW_EFF)
    compute = 2 * PARAMS * batch / (PEAK_BF16 * DECODE_COMPUTE_EFF)
    kv = batch * context * KV_BYTES_PER_TOKEN / (HBM_BW * DECODE_BW_EFF)
    return max(weights, compute) + kv


def weight_sync_seconds(gpus: int) -> float:
    """Every engine needs the whole bf16 model after each update: an all-gather of the
    FSDP shards, over NVLink within a node, over InfiniBand once the shards span nodes."""
    bw = NVLINK_BW if gpus <= GPUS_PER_NODE else IB_BW
    return PARAMS * BYTES * (gpus - 1) / gpus / bw


def step(gpus: int) -> Step:
    sequences = PROMPTS * GROUP
    per_gpu = sequences / gpus  # data parallel decoding: each GPU its share of the groups
    t_decode = decode_step_seconds(per_gpu)
    generation = t_decode * MEAN_COMPLETION * LONGEST_OVER_MEAN
    tokens = sequences * (PROMPT_TOKENS + MEAN_COMPLETION)
    training = TRAIN_FLOPS_PER_TOKEN * tokens / (gpus * PEAK_BF16 * TRAIN_MFU)
    sync = weight_sync_seconds(gpus)
    total = generation + training + sync  # colocated, synchronous: the phases take turns
    return Step(gpus, per_gpu, t_decode * 1e3, per_gpu / t_decode, generation, training, sync, total,
                generation / total)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    rows = [step(g) for g in (8, 64)]
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
        return
    print("| GPUs | sequences/GPU | decode step | decode tok/s/GPU | generation | training | weight sync | step | generation share |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r.gpus} | {r.sequences_per_gpu:.0f} | {r.decode_step_ms:.1f} ms | {r.decode_tokens_per_s_per_gpu:,.0f} "
              f"| {r.generation_s:.1f} s | {r.training_s:.1f} s | {r.weight_sync_s:.2f} s | {r.step_s:.1f} s "
              f"| {r.generation_share:.0%} |")


if __name__ == "__main__":
    main()
