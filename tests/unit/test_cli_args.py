"""The three spellings of a config override (issue 11, point 5): rlvr's `--k=v`, argparse's
`--k v` (TRL, prime-rl) and Hydra's `k=v` (verl) give the same resolved config."""
import pytest

from rlvr.cli import main
from rlvr.cli_args import normalise_overrides
from rlvr.configtools import ConfigError


@pytest.mark.parametrize("spelling", [
    ["--optim.lr=1e-3"],
    ["--optim.lr", "1e-3"],
    ["optim.lr=1e-3"],
    ["+optim.lr=1e-3"],
    ["++optim.lr=1e-3"],
])
def test_every_spelling_reaches_the_config(capsys, tiny_config_path, spelling):
    assert main(["config", tiny_config_path, *spelling]) == 0
    assert "lr: 0.001" in capsys.readouterr().out


def test_space_form_before_the_config_does_not_take_its_place(capsys, tiny_config_path):
    # argparse alone would give "1e-3" to the CONFIG positional here
    assert main(["config", "--optim.lr", "1e-3", tiny_config_path, "rollout.group_size=3"]) == 0
    out = capsys.readouterr().out
    assert "lr: 0.001" in out and "group_size: 3" in out and "path: tiny" in out


def test_negative_values_and_flags_are_kept_apart():
    assert normalise_overrides(["--algo", "dapo", "--optim.weight_decay", "-0.5", "x.yaml", "--out", "d"]) == [
        "--algo", "dapo", "--optim.weight_decay=-0.5", "x.yaml", "--out", "d"]
    # a value may itself contain '=' and spaces (one shell word)
    assert normalise_overrides(["data.system_prompt=a = b"]) == ["--data.system_prompt=a = b"]


def test_an_override_without_value_is_a_clear_error(capsys, tiny_config_path):
    with pytest.raises(ConfigError, match="has no value"):
        normalise_overrides(["--optim.lr", "--run.steps=2"])
    assert main(["train", tiny_config_path, "--optim.lr"]) == 2
    assert "'--optim.lr' has no value" in capsys.readouterr().err


def test_a_bad_key_in_hydra_form_still_names_the_key(capsys, tiny_config_path):
    assert main(["train", tiny_config_path, "rollout.group_sz=3"]) == 2
    err = capsys.readouterr().err
    assert "rollout.group_sz" in err and "group_size" in err
