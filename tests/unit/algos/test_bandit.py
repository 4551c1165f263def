"""A toy bandit for every loss: one SGD step must raise the log-probability of the rewarded
sequence. The policy is a free logits table [T, V] (position t draws its token from
softmax(logits[t])); the batch holds the rewarded sequence (advantage +1, 3 tokens) and an
unrewarded one (advantage −1, 2 tokens plus padding). New entries of LOSSES and REDUCE are
covered without touching this file."""
import pytest
import torch

from rlvr.algos.losses import LOSSES
from rlvr.algos.reduce import REDUCE

TOKENS = torch.tensor([[1, 2, 3], [0, 0, 0]])
MASK = torch.tensor([[1.0, 1.0, 1.0], [1.0, 1.0, 0.0]])
ADV = torch.tensor([1.0, -1.0])
# Stale π_old, 0.05 nats per token off, on the side where no loss clips: π_old gave the rewarded
# sequence more probability (ratio e^−0.05 < 1 with Â > 0) and the unrewarded one less
# (ratio e^0.05 > 1 with Â < 0). On the other side a clipped loss rightly has no gradient.
STALE = torch.tensor([[0.05], [-0.05]])


def _step(loss_fn, stale: bool, **kw) -> tuple[float, float]:
    """log π(rewarded sequence) before and after one SGD step (lr 0.5) on `loss_fn`."""
    logits = torch.zeros(3, 4, requires_grad=True)
    logp = torch.log_softmax(logits, -1).expand(2, 3, 4).gather(-1, TOKENS[..., None]).squeeze(-1)
    old = logp.detach() + (STALE if stale else 0.0)
    loss, _ = loss_fn(logp, old, ADV, MASK, **kw)
    loss.backward()
    with torch.no_grad():
        new = torch.log_softmax(logits - 0.5 * logits.grad, -1).gather(-1, TOKENS[0, :, None]).sum()
    return float(logp[0].detach().sum()), float(new)


@pytest.mark.parametrize("stale", [False, True], ids=["on_policy", "stale"])
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_raises_the_rewarded_sequence(name, stale):
    before, after = _step(LOSSES[name], stale)
    # uniform start: log π = 3·ln ¼ = −4.158883; the step must move it up, by more than rounding
    assert after > before + 1e-3, (name, before, after)


@pytest.mark.parametrize("reduce", sorted(REDUCE))
def test_ppo_clip_raises_the_rewarded_sequence_through_every_reduction(reduce):
    before, after = _step(LOSSES["ppo_clip"], True, reduce=reduce)
    assert after > before + 1e-3, (reduce, before, after)
