"""Config-time errors of `rg:` sources: unknown tasks, bad task options, a reward that cannot
score them, a missing package — each raised before anything loads, naming the key and what is
allowed."""
import sys

import pytest

pytest.importorskip("reasoning_gym")

from rlvr.config import ConfigError, load_config  # noqa: E402

RG = ["--data.train=rg:chain_sum,leg_counting", "--data.eval=rg:chain_sum", "--reward=reasoning_gym"]


def _load(tiny_config_path, *over, reward=None):
    return load_config(tiny_config_path, list(over), reward=reward)


def test_a_valid_rg_config_loads(tiny_config_path):
    cfg = _load(tiny_config_path, "--data.train=rg:chain_sum:2,leg_counting", "--data.eval=rg:chain_sum",
                "--data.rg.chain_sum.max_terms=3", reward="reasoning_gym")
    assert cfg.data.rg == {"chain_sum": {"max_terms": 3}}
    assert [v.name for v in cfg.reward.verifiers] == ["reasoning_gym"]


@pytest.mark.parametrize("over, message", [
    (["--data.train=rg:chain_summ"], r"unknown reasoning-gym task 'chain_summ' in 'data.train'; allowed values: .*chain_sum"),
    (["--data.eval=rg:leg_count"], r"unknown reasoning-gym task 'leg_count' in 'data.eval'; allowed values: .*leg_counting"),
    (["--data.train=rg:composite"], r"'composite' in 'data.train' is not supported: list several tasks"),
    (["--data.train=rg:chain_sum:two"], r"bad value for 'data.train': bad weight 'two'"),
    (["--data.rg={chain_sum: {max_term: 3}}"],
     r"'data.rg.chain_sum.max_term' is not an option of this task; allowed keys here: .*max_terms \(default 6\)"),
    (["--data.rg={chain_sum: {seed: 3}}"], r"'data.rg.chain_sum.seed' is set per item by rlvr"),
    (["--data.rg={chain_sum: {min_terms: 0}}"], r"bad value in 'data.rg.chain_sum' .*min_terms must be positive"),
    (["--data.rg={chain_sum: {min_terms: 4, max_terms: 2}}"], r"bad value in 'data.rg.chain_sum'"),
    (["--data.rg={gcd: {min_numbers: 2}}"], r"'data.rg.gcd' sets options of a task that neither"),
    (["--data.rg={chain_sum: 3}"], r"bad value 3 for 'data.rg.chain_sum'; expected a mapping"),
    (["--data.rg_eval_fraction=1"], r"'data.rg_eval_fraction'; must be in \(0, 1\)"),
    (["--data.eval=arithmetic"], r"mix an rg: source with 'arithmetic'"),
    (["--data.train=rg:arc_agi"], r"'arc_agi' in 'data.train' is not supported: its entries do not survive"),
    # one-term one-digit sums: ten questions, none of which the hash holds out at 5%
    (["--data.rg={chain_sum: {min_terms: 1, max_terms: 1, max_digits: 1}}", "--data.rg_eval_fraction=0.05"],
     r"bad value 'rg:chain_sum' for 'data.eval': no question of reasoning-gym task 'chain_sum' fell in the eval split"),
])
def test_bad_rg_sources_and_options_are_config_errors(tiny_config_path, over, message):
    with pytest.raises(ConfigError, match=message):
        _load(tiny_config_path, *RG[:2], *over, reward="reasoning_gym")


def test_an_rg_source_needs_the_reasoning_gym_verifier(tiny_config_path):
    # tiny.yaml's reward is math: the default reward never scores rg: samples silently at zero
    with pytest.raises(ConfigError, match=r"add the verifier .*--reward=reasoning_gym"):
        _load(tiny_config_path, *RG[:2])
    with pytest.raises(ConfigError, match=r"'reward.verifiers' has math, which compare"):
        _load(tiny_config_path, *RG[:2], "--reward.verifiers=[{name: reasoning_gym}, {name: math, weight: 0}]")
    # a verifier that reads no reference may sit beside it
    _load(tiny_config_path, *RG[:2], "--reward.verifiers=[{name: reasoning_gym}, {name: format, weight: 0.1}]",
          "--reward.accuracy_from=reasoning_gym")


def test_the_reasoning_gym_verifier_needs_an_rg_source(tiny_config_path):
    with pytest.raises(ConfigError, match=r"the reasoning_gym verifier scores samples of an rg: source"):
        _load(tiny_config_path, reward="reasoning_gym")
    with pytest.raises(ConfigError, match=r"'data.rg' sets options of reasoning-gym tasks \(chain_sum\)"):
        _load(tiny_config_path, "--data.rg={chain_sum: {max_terms: 3}}")


def test_bad_verifier_options_are_config_errors(tiny_config_path):
    with pytest.raises(ConfigError, match=r"bad value 'tags' for 'extract'; allowed values: either, answer_tag"):
        _load(tiny_config_path, *RG[:2], "--reward.verifiers=[{name: reasoning_gym, options: {extract: tags}}]")


def test_a_missing_package_is_named(tiny_config_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "reasoning_gym", None)  # as if it were not installed
    with pytest.raises(ConfigError, match=r"'data.train' is 'rg:chain_sum,leg_counting': .*'reasoning-gym'"
                                          r".*pip install 'rlvr\[gym\]'"):
        _load(tiny_config_path, *RG[:2], reward="reasoning_gym")


def test_the_smollm2_config_checks(capsys):
    from rlvr.cli import main
    from tests.conftest import CONFIGS

    assert main(["config", str(CONFIGS / "rg_chain_sum.yaml")]) == 0
    shown = capsys.readouterr().out
    assert "rg:chain_sum" in shown and "reasoning_gym" in shown
