"""The policy-gradient method's advantages: REINFORCE++ as the paper whitens them."""
import pytest
import torch

from rlvr.config import load_config
from rlvr.methods import PolicyGradient
from rlvr.models import tiny_model
from rlvr.samplers import Rollout
from rlvr.types import Completion, Sample
from rlvr.batching import collate


def _batch(tok, lengths):
    completions = [Completion([5] * n, [-1.0] * n, "x", "length", prompt_index=0) for n in lengths]
    return completions, collate([[1, 2]], completions, tok.pad_token_id)


def _advantages(over, rewards, lengths, kl=None):
    model, tok = tiny_model(0)
    cfg = load_config(None, {"model": {"path": "tiny"}, "rollout": {"prompts_per_step": 1, "group_size": len(lengths)},
                             **over})
    completions, batch = _batch(tok, lengths)
    rollout = Rollout([Sample("q", "a")], [[1, 2]], completions, torch.tensor([rewards]), [False] * len(lengths),
                      [{}] * len(lengths))
    adv, _, _ = PolicyGradient(cfg, model, tok).advantages_of(rollout, torch.tensor([rewards]), batch, kl)
    return adv


def test_reinforce_pp_whitens_token_returns_over_the_batch():
    """Issue 10 fix 4 (arXiv 2501.03262 Eq. 8–10, OpenRLHF): rewards [1, 0], lengths 3 and 1.
    Token returns 1, 1, 1 | 0: mean 3/4, population variance (3·(1/4)² + (3/4)²)/4 = 3/16,
    std √3/4 ≈ 0.4330 → 0.25/0.4330 = 0.5774 on the long sequence's tokens, −0.75/0.4330 =
    −1.7321 on the short one's. Whitening per sequence gave ±1 (42% off on the long one)."""
    adv = _advantages({"algo": {"advantage": "reinforce_pp"}}, [1.0, 0.0], [3, 1])
    s = (3 / 16) ** 0.5 + 1e-6
    assert torch.allclose(adv, torch.tensor([[0.25 / s] * 3, [-0.75 / s, 0, 0]]), atol=1e-5)
    old = _advantages({"algo": {"advantage": "reinforce_pp", "whiten_over": "sequences"}}, [1.0, 0.0], [3, 1])
    assert torch.allclose(old, torch.tensor([1.0, -1.0]), atol=1e-5)  # today's form, kept as an option


def test_reinforce_pp_whitens_the_kl_to_go_with_the_reward():
    """With β = 0.5 and kl = 0.2 on every token: returns 1 − 0.5·0.2·(3, 2, 1) = 0.7, 0.8, 0.9 |
    0 − 0.5·0.2·1 = −0.1; mean 2.3/4 = 0.575; deviations 0.125, 0.225, 0.325, −0.675;
    variance (0.015625 + 0.050625 + 0.105625 + 0.455625)/4 = 0.1568750, std 0.3960745."""
    over = {"algo": {"advantage": "reinforce_pp", "kl_coef": 0.5, "kl_in_reward": True}}
    kl = torch.full((2, 3), 0.2) * torch.tensor([[1, 1, 1], [1, 0, 0]])
    adv = _advantages(over, [1.0, 0.0], [3, 1], kl)
    s = 0.1568750 ** 0.5 + 1e-6
    want = torch.tensor([[0.125, 0.225, 0.325], [-0.675, 0, 0]]) / s * torch.tensor([[1, 1, 1], [1, 0, 0]])
    assert torch.allclose(adv, want, atol=1e-5)


def test_reinforce_pp_baseline_centres_each_group_first():
    """Group rewards [1, 0, 0], lengths 1, 1, 2: centred 2/3, −1/3, −1/3; token values 2/3 |
    −1/3 | −1/3, −1/3: mean 0 − 1/3·… = (2/3 − 1/3 − 2/3)/4 = −1/12; deviations 3/4, −1/4,
    −1/4, −1/4; variance (9/16 + 3/16)/4 = 3/16, std 0.4330."""
    adv = _advantages({"algo": {"advantage": "reinforce_pp_baseline"}}, [1.0, 0.0, 0.0], [1, 1, 2])
    s = (3 / 16) ** 0.5 + 1e-6
    assert torch.allclose(adv, torch.tensor([[0.75 / s, 0], [-0.25 / s, 0], [-0.25 / s, -0.25 / s]]), atol=1e-5)


def test_a_filter_with_token_whitening_is_refused():
    from rlvr.config import ConfigError
    with pytest.raises(ConfigError, match="whiten_over"):
        load_config(None, ["--algo.advantage=reinforce_pp", "--algo.filter=shortest", "--algo.filter_keep=4"])
