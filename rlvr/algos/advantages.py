"""Advantage estimators over groups of completions of the same prompt.

Signature of every entry: `ADVANTAGES[name](rewards[P, G], **hyper) -> Tensor[P, G]`, where
row p holds the G rewards of prompt p's completions. The result is one advantage per
completion; the trainer broadcasts it over the completion's tokens.
"""
from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor


def grpo(rewards: Tensor, *, eps: float = 1e-6, scale_by_std: bool = True) -> Tensor:
    """Â_i = (R_i − mean(R)) / (std(R) + eps) within each group (DeepSeekMath, arXiv
    2402.03300 §4.1.2). `std` is the unbiased sample standard deviation, as `torch.std`
    (verl, TRL). A group of one has no spread: its advantage is 0."""
    mean = rewards.mean(dim=1, keepdim=True)
    centred = rewards - mean
    if not scale_by_std:
        return centred
    if rewards.shape[1] < 2:
        return torch.zeros_like(rewards)
    return centred / (rewards.std(dim=1, keepdim=True) + eps)


def dr_grpo(rewards: Tensor) -> Tensor:
    """Â_i = R_i − mean(R): Dr. GRPO drops the std division, which weights questions by
    difficulty (arXiv 2503.20783 §3.1, "Dr. GRPO Modification 1")."""
    return grpo(rewards, scale_by_std=False)


ADVANTAGES: dict[str, Callable[..., Tensor]] = {"grpo": grpo, "dr_grpo": dr_grpo}
