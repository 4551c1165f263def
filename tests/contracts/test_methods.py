"""The Method contract (rlvr/methods/base.py), run against every entry of METHODS and the toy
plug-in of tests/plugins.py; and the declarations methods rely on instead of probing the
algorithm functions — each checked against the functions' behaviour or signatures."""
import copy
import inspect

import pytest
import torch

from rlvr.algos import ADVANTAGES, LOSSES, REDUCE
from rlvr.algos.gae import TOKEN_ADVANTAGES
from rlvr.config import load_config
from rlvr.methods import METHODS, LossTerm, Method, TrainBatch, method_class, update_policy
from rlvr.methods.objective import BUDGETED_REDUCTIONS
from rlvr.methods.policy_gradient import ADVANTAGE_INPUTS, GROUP_RELATIVE
from rlvr.models import tiny_model
from rlvr.plugins import import_dotted
from rlvr.samplers import Rollout
from rlvr.types import Completion, Sample
from rlvr.verifiers.base import Verdict

NAMES = sorted(METHODS) + ["tests.plugins:SignOnly"]


def _rollout(tok, P=2, G=3) -> Rollout:
    """P prompts × G completions of unequal lengths with a spread of rewards."""
    prompts = [tok(f"{p}+1=").input_ids for p in range(P)]
    completions, rewards = [], []
    for p in range(P):
        for g in range(G):
            ids = tok(str(g) * (g + 1), add_special_tokens=False).input_ids
            completions.append(Completion(ids, [-1.0] * len(ids), str(g), "length", prompt_index=p))
            rewards.append(float(g == p))
    return Rollout(samples=[Sample(f"{p}+1", str(p + 1)) for p in range(P)], prompts=prompts,
                   completions=completions, rewards=torch.tensor(rewards).view(P, G),
                   correct=[r == 1 for r in rewards], verdicts=[{"math": Verdict(r, {})} for r in rewards],
                   greedy_rewards=torch.zeros(P))


def _cfg(tiny_config_path, name, kl=0.0):
    cls = METHODS[name] if name in METHODS else import_dotted(name)
    return load_config(tiny_config_path, [f"--algo.method={name}", f"--algo.advantage={cls.advantages[0]}",
                                          f"--algo.kl_coef={kl}", "--rollout.prompts_per_step=2",
                                          "--rollout.group_size=3", "--optim.micro_batch_size=2"]
                       + (["--algo.reduce=seq_mean_token_sum"] if name == "jepo" else []))  # its estimator's


@pytest.mark.parametrize("kl", [0.0, 0.05])
@pytest.mark.parametrize("name", NAMES)
def test_method_contract(name, kl, tiny_config_path):
    cfg = _cfg(tiny_config_path, name, kl)
    cls = method_class(cfg)
    cls.check_config(cfg)
    model, tok = tiny_model(0)
    start = copy.deepcopy(model.state_dict())
    method = cls(cfg, model, tok)
    assert isinstance(method, Method)
    rollout = _rollout(tok)
    train = method.prepare(rollout, step=1)
    assert isinstance(train, TrainBatch) and len(train.batch) == len(rollout.completions)
    assert train.advantages.shape[0] == len(train.batch) and train.advantages.dim() in (1, 2)
    assert train.rewards.shape == rollout.rewards.shape
    for term in train.terms:
        assert isinstance(term, LossTerm)
        assert "ref_logp" not in term.needs or train.ref_logp is not None, term
        assert "answer_weights" not in term.needs or train.answer_weights is not None, term
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 1.0)
    metrics = update_policy(model, train, cfg=cfg, optimizer=opt, scheduler=sched, step=1)
    metrics.update(method.after_update(train, step=1))
    assert metrics["grad_norm"] > 0 and metrics["sequences_trained"] > 0
    assert any(not torch.equal(v, start[k]) for k, v in model.state_dict().items())
    # exact resume: a fresh method given the state continues from it
    state = copy.deepcopy(method.state_dict())
    other = cls(cfg, tiny_model(0)[0], tok)
    other.load_state_dict(state)
    assert _same(other.state_dict(), state)


def _same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return a == b


def test_every_estimator_has_exactly_one_method():
    for name in {**ADVANTAGES, **TOKEN_ADVANTAGES}:
        owners = [m for m, cls in METHODS.items() if name in cls.advantages]
        assert len(owners) == 1, (name, owners)


def test_declared_estimator_inputs_match_the_signatures():
    """An estimator's keyword-only arguments without a default are inputs the sampler must
    provide; each must be declared in ADVANTAGE_INPUTS (and nothing else is)."""
    for name, fn in ADVANTAGES.items():
        required = tuple(p for p, v in inspect.signature(fn).parameters.items()
                         if v.kind == v.KEYWORD_ONLY and v.default is v.empty)
        assert required == ADVANTAGE_INPUTS.get(name, ()), name


def test_group_relative_estimators_are_exactly_those_that_zero_a_group_of_one():
    rewards = torch.tensor([[1.0], [0.0], [0.5]])
    zero = set()
    for name, fn in ADVANTAGES.items():
        inputs = {"greedy_rewards": torch.tensor([0.3, 0.1, 0.2])} if name in ADVANTAGE_INPUTS else {}
        if bool((fn(rewards, **inputs) == 0).all()):
            zero.add(name)
    assert zero == set(GROUP_RELATIVE)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_every_loss_is_linear_in_the_advantage(name):
    """What the PolicyLoss term declares (linear_in_advantage): at Â = 0 the loss and its
    gradient are exactly 0, so skipping such rows changes nothing."""
    torch.manual_seed(0)
    logp = torch.randn(3, 4, requires_grad=True)
    old = logp.detach() + 0.1 * torch.randn(3, 4)
    mask = torch.tensor([[1, 1, 1, 0], [1, 1, 0, 0], [1, 1, 1, 1]], dtype=torch.float32)
    loss, _ = LOSSES[name](logp, old, torch.zeros(3), mask, reduce="token_mean")
    loss.backward()
    assert float(loss.detach()) == 0.0 and bool((logp.grad == 0).all())


def test_budgeted_reductions_are_those_with_a_budget():
    assert BUDGETED_REDUCTIONS == {n for n, fn in REDUCE.items() if "budget" in inspect.signature(fn).parameters}
