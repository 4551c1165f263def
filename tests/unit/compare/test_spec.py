"""`rlvr compare`'s spec: every mistake is caught before anything runs, naming the spec file
and the method; and the configs it builds differ in the method alone."""
import pytest
import yaml

from rlvr.compare.spec import load_spec
from rlvr.configtools import ConfigError
from rlvr.data import PromptStream, eval_samples

GOOD = {"task": {"config": "configs/tiny.yaml", "overrides": {"eval": {"size": 8}}},
        "methods": [{"name": "grpo", "algo": "grpo"}, {"name": "fast", "algo": "dr_grpo", "overrides": {"optim.lr": 1e-2}}],
        "budget": {"steps": 2}, "seeds": [0, 1, 2]}


def _spec(tmp_path, **changes):
    data = {**GOOD, **changes}
    path = tmp_path / "spec.yaml"
    path.write_text(yaml.safe_dump(data))
    return str(path)


def _method(i, **changes):
    methods = [dict(m) for m in GOOD["methods"]]
    methods[i].update(changes)
    return methods


@pytest.mark.parametrize("changes, message", [
    ({"method": []}, r"spec.yaml: unknown key 'method'; allowed: budget, eval, methods, seeds, task"),
    ({"methods": _method(1, algo="grpoo")}, r"spec.yaml: method 'fast' \(methods\[1\]\): unknown algo preset 'grpoo'"),
    ({"methods": _method(1, lr=1)}, r"spec.yaml: method 'fast' \(methods\[1\]\): unknown key 'lr'"),
    ({"methods": _method(1, overrides={"optim.lr": "fast"})},
     r"spec.yaml: method 'fast' \(methods\[1\]\): bad value 'fast' for 'optim.lr'"),
    ({"methods": _method(0, overrides={"optim": {"lrr": 1}})}, r"spec.yaml: method 'grpo' \(methods\[0\]\): .*'optim.lrr'"),
    ({"methods": _method(1, overrides={"data.arithmetic.max_operand": 5})},
     r"method 'fast' \(methods\[1\]\): overrides set 'data', which every method shares"),
    ({"methods": _method(1, overrides={"eval": {"seed": 3}})}, r"method 'fast' .*overrides set 'eval'"),
    ({"methods": _method(1, name="grpo")}, r"method 'grpo' \(methods\[1\]\): the name 'grpo' is used twice"),
    ({"methods": _method(1, name="a/b")}, r"methods\[1\]\): name must be a folder name"),
    ({"seeds": [0, 1]}, r"spec.yaml: 2 seeds given, at least 3 needed .*--allow-few-seeds"),
    ({"seeds": [0, 0, 1]}, r"seeds repeat"),
    ({"budget": {"steps": 2, "tokens": 9}}, r"budget takes exactly one of steps or tokens"),
    ({"budget": {"steps": 0}}, r"budget.steps must be a positive integer, got 0"),
    ({"task": {"config": "configs/tiny.yaml", "overrides": {"run.seed": 3}}}, r"task.overrides sets 'run.seed'"),
    ({"task": {"config": "configs/tiny.yaml", "overrides": {"optim.lr": "x"}}}, r"spec.yaml: task: bad value 'x'"),
    ({"task": {"config": "nowhere.yaml"}}, r"spec.yaml: task: config file not found: nowhere.yaml"),
    ({"task": {"config": "configs/tiny.yaml", "overrides": {"eval.after": False}}},
     r"spec.yaml: task: a comparison needs the held-out evaluation after training"),
    ({"eval": {"k": [1, 4], "n": 2}}, r"eval.n \(2\) must be at least the largest k \(4\)"),
])
def test_each_mistake_names_the_spec_and_the_method(tmp_path, changes, message):
    with pytest.raises(ConfigError, match=message):
        load_spec(_spec(tmp_path, **changes))


def test_two_seeds_pass_with_a_lower_minimum(tmp_path):
    spec = load_spec(_spec(tmp_path, seeds=[0, 1]), min_seeds=2)
    assert spec.seeds == [0, 1] and spec.budget == {"steps": 2}


def test_the_layers_are_task_then_preset_then_method(tmp_path):
    spec = load_spec(_spec(tmp_path, task={"config": "configs/tiny.yaml",
                                           "overrides": {"eval": {"size": 8}, "algo": {"kl_coef": 0.5}}}))
    grpo, fast = (m.configs[1] for m in spec.methods)
    # the preset comes after the task: GRPO's β = 0.04 wins over the task's 0.5, Dr. GRPO's 0 too
    assert grpo.algo.kl_coef == 0.04 and fast.algo.kl_coef == 0.0
    assert fast.algo.advantage == "dr_grpo" and fast.optim.lr == 1e-2 and grpo.optim.lr == 3e-3  # tiny's lr
    assert grpo.run.seed == fast.run.seed == 1 and grpo.run.steps == fast.run.steps == 2
    assert grpo.eval == fast.eval and grpo.eval.size == 8


def _prompts(cfg, n=24):
    return [s.prompt for s in PromptStream(cfg.data, cfg.run.seed).next(n)]


def test_one_seed_gives_every_method_the_same_prompts_and_evaluation_set(tmp_path):
    spec = load_spec(_spec(tmp_path))
    grpo, fast = spec.methods
    assert _prompts(grpo.configs[0]) == _prompts(fast.configs[0])  # same order, same prompts
    assert _prompts(grpo.configs[0]) != _prompts(grpo.configs[1])  # another seed, another order
    held_out = {(m.name, s): [x.prompt for x in eval_samples(c.data, size=c.eval.size, seed=c.eval.seed)]
                for m in spec.methods for s, c in m.configs.items()}
    first = next(iter(held_out.values()))
    assert len(first) == 8 and all(v == first for v in held_out.values())  # one evaluation set for the comparison
