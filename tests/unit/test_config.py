import dataclasses
import typing

import pytest

from rlvr.config import Config, ConfigError, load_config, save_config
from rlvr.configtools import describe, field_docs


def test_defaults_build_and_are_frozen():
    cfg = load_config()
    assert cfg.algo.loss == "ppo_clip" and cfg.rollout.group_size == 8
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.rollout.group_size = 3  # type: ignore[misc]


def test_yaml_preset_then_cli_overrides(tmp_path, tiny_config_path):
    cfg = load_config(tiny_config_path, ["--rollout.group_size=3", "--optim.lr=1e-4", "--run.name=x"])
    assert cfg.model.path == "tiny"              # from the preset
    assert cfg.rollout.group_size == 3           # CLI wins over the preset (8)
    assert cfg.optim.lr == 1e-4                  # YAML 1.1 reads "1e-4" as text; still a float
    assert cfg.algo.reduce == "seq_mean_token_mean"  # untouched default


def test_saved_config_round_trips(tmp_path, tiny_config_path):
    cfg = load_config(tiny_config_path, ["--reward.verifiers=[{name: math, weight: 2}]"])
    save_config(cfg, str(tmp_path / "c.yaml"))
    assert load_config(str(tmp_path / "c.yaml")) == cfg


@pytest.mark.parametrize("override, must_mention", [
    ("--rollout.group_sz=4", ["rollout.group_sz", "group_size"]),           # unknown key, lists the allowed
    ("--algo.loss=nope", ["algo.loss", "ppo_clip"]),                          # registry name
    ("--model.autocast=fp16", ["model.autocast", "'bfloat16'"]),              # literal choices
    ("--rollout.group_size=many", ["rollout.group_size", "integer"]),
    ("--rollout.group_size=2.5", ["rollout.group_size", "integer"]),
    ("--run.progress=maybe", ["run.progress", "true or false"]),
    ("--algo.loss_args.clip=0.1", ["algo.loss_args.clip", "clip_low"]),       # loss keyword typo
    (["--algo.reduce=seq_mean_token_sum_norm", "--algo.reduce_args.budgt=3"], ["budgt", "budget"]),
    ("--reward.verifiers=[{name: nope}]", ["reward.verifiers[0].name", "math"]),
    ("--reward.verifiers=[{name: math, options: {patern: x}}]", ["patern", "answer_pattern"]),
    ("--rollout.top_p=0", ["rollout.top_p"]),
    ("--algo.mini_batch_size=5", ["algo.mini_batch_size", "divide"]),
    ("--nosection.key=1", ["nosection"]),
    (["--data.multipart.min_parts=5", "--data.multipart.max_parts=2"], ["data.multipart", "min_parts"]),
])
def test_bad_values_name_the_key_and_what_is_allowed(override, must_mention):
    with pytest.raises(ConfigError) as err:
        load_config(None, override if isinstance(override, list) else [override])
    for text in must_mention:
        assert text in str(err.value)


def test_malformed_override_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="--section.key=value"):
        load_config(None, ["rollout.group_size=3"])
    with pytest.raises(ConfigError, match="not found"):
        load_config(str(tmp_path / "missing.yaml"))
    bad = tmp_path / "bad.yaml"
    bad.write_text("run: [1, 2\n")
    with pytest.raises(ConfigError, match="YAML"):
        load_config(str(bad))


def test_every_field_has_a_docstring():
    seen = []

    def walk(cls):
        seen.append(cls.__name__)
        docs = field_docs(cls)
        hints = typing.get_type_hints(cls)  # the annotations are strings (postponed evaluation)
        for f in dataclasses.fields(cls):
            assert docs.get(f.name), f"{cls.__name__}.{f.name} has no docstring"
            if dataclasses.is_dataclass(hints[f.name]):
                walk(hints[f.name])
    walk(Config)
    assert {"RunConfig", "ModelConfig", "LoraConfig", "DataConfig", "ArithmeticConfig"} <= set(seen)
    keys = [row[0] for row in describe(Config)]
    assert "rollout.group_size" in keys and "model.lora.rank" in keys
    assert all(row[3] for row in describe(Config))


def test_algo_preset_layers_between_the_file_and_the_overrides(tiny_config_path):
    cfg = load_config(tiny_config_path, ["--algo.loss_args.clip_high=0.3"], algo="dapo")
    assert cfg.model.path == "tiny"                       # from the file
    assert cfg.algo.reduce == "token_mean" and cfg.rollout.dynamic_sampling  # from the preset
    assert cfg.algo.loss_args == {"clip_low": 0.2, "clip_high": 0.3}        # the override wins
    with pytest.raises(ConfigError) as err:
        load_config(tiny_config_path, algo="nope")
    assert "--algo" in str(err.value) and "gspo" in str(err.value)


@pytest.mark.parametrize("override, must_mention", [
    ({"algo": {"filter": "shortest", "filter_keep": 8}}, ["filter_keep", "7"]),      # k must be < G (8)
    ({"algo": {"filter": "longest"}}, ["algo.filter", "token_efficiency"]),
    ({"algo": {"correction": "tis"}}, ["algo.correction", "tis_token"]),
    ({"algo": {"pg_coef": 0.0}}, ["pg_coef"]),
    ({"algo": {"kl_in_reward": True}}, ["kl_coef"]),
    ({"algo": {"mini_batches": 3}}, ["mini_batches", "divide"]),
    ({"algo": {"advantage": "remax", "advantage_args": {"greedy_rewards": 1}}}, ["greedy_rewards"]),
    ({"reward": {"overlong_buffer": 200}}, ["overlong_buffer", "max_new_tokens"]),
    ({"algo": {"advantage": "gae", "filter": "shortest", "filter_keep": 4}}, ["algo.filter", "gae"]),
    ({"algo": {"advantage": "remax", "filter": "shortest", "filter_keep": 4}}, ["algo.filter", "remax"]),
    ({"algo": {"advantage": "jepo", "reduce": "seq_mean_token_sum"}, "rollout": {"dynamic_sampling": True}}, ["dynamic_sampling", "jepo"]),
])
def test_bad_method_settings_are_named(override, must_mention):
    with pytest.raises(ConfigError) as err:
        load_config(None, override)
    for text in must_mention:
        assert text in str(err.value)


def test_every_algo_preset_builds_on_the_tiny_config(tiny_config_path):
    from rlvr.config import algo_presets
    names = set(algo_presets())
    assert {"grpo", "dr_grpo", "dapo", "gspo", "gmpo", "gfpo", "delta_l", "rloo", "reinforce_pp",
            "ppo", "jepo", "one_shot", "entropy_only"} <= names
    for name in names:
        load_config(tiny_config_path, algo=name)


# ---------------------------------------------------------------------------- issue 9 items 8, 9, 11
@pytest.mark.parametrize("override, must_mention", [
    ("--optim.lr=.inf", ["optim.lr", "finite"]),          # trained to all-NaN weights, exit 0
    ("--optim.lr=.nan", ["optim.lr", "finite"]),
    ("--optim.lr=nan", ["optim.lr", "finite"]),            # spelled as text: float('nan') still NaN
    ("--reward.verifiers=[{name: math, weight: .nan}]", ["reward.verifiers[0].weight", "finite"]),
    ("--reward.timeout_s=.nan", ["reward.timeout_s", "finite"]),   # the pool never timed out: a hang
    ("--rollout.temperature=.nan", ["rollout.temperature", "finite"]),
    ("--algo.loss_args={clip_low: .nan}", ["algo.loss_args.clip_low", "nan"]),
    ("--optim.lr=-1", ["optim.lr", "greater than 0"]),
    ("--optim.lr=0", ["optim.lr", "greater than 0"]),
    ("--optim.betas=[2, 3]", ["optim.betas", "[0, 1)"]),
    ("--optim.weight_decay=-0.1", ["optim.weight_decay", "at least 0"]),
    ("--run.threads=-1", ["run.threads", "at least 0"]),
    ("--reward.timeout_s=0", ["reward.timeout_s", "greater than 0"]),  # every call timed out, 7× slower
    ("--critic.lr=0", ["critic.lr", "greater than 0"]),
    ("--model.lora.dropout=1", ["model.lora.dropout", "[0, 1)"]),
    ("--rollout.group_size=1", ["rollout.group_size", "grpo", "reinforce_pp"]),  # all-zero advantages
    (["--rollout.group_size=1", "--algo.advantage=rloo"], ["rollout.group_size", "rloo"]),
])
def test_settings_that_cannot_learn_are_refused(override, must_mention):
    """Issue 9: these trained silently (NaN weights, hangs, all-zero advantages)."""
    with pytest.raises(ConfigError) as e:
        load_config(None, [override] if isinstance(override, str) else override)
    for text in must_mention:
        assert text in str(e.value), (text, str(e.value))
    assert "\n" not in str(e.value)  # one line


def test_group_of_one_is_fine_without_a_group_baseline():
    cfg = load_config(None, ["--rollout.group_size=1", "--algo.advantage=reinforce_pp"])
    assert cfg.rollout.group_size == 1
    assert load_config(None, ["--algo.loss_args={clip_high: .inf}"]).algo.loss_args["clip_high"] == float("inf")


def test_empty_duplicated_or_folder_configs_are_errors(tmp_path):
    """Issue 9 items 1 and 11: an empty file read as {} (the defaults, silently); a section
    given twice kept only the last one; a folder raised IsADirectoryError."""
    empty = tmp_path / "empty.yaml"
    empty.write_text("# nothing yet\n")
    with pytest.raises(ConfigError, match="is empty"):
        load_config(str(empty))
    twice = tmp_path / "twice.yaml"
    twice.write_text("run:\n  steps: 3\noptim:\n  lr: 1.0e-5\nrun:\n  seed: 4\n")
    with pytest.raises(ConfigError, match=r"'run' appears twice \(lines 1 and 5\)"):
        load_config(str(twice))
    nested = tmp_path / "nested.yaml"
    nested.write_text("optim:\n  lr: 1.0e-5\n  lr: 2.0e-5\n")
    with pytest.raises(ConfigError, match="'lr' appears twice"):
        load_config(str(nested))
    with pytest.raises(ConfigError, match="is a folder"):
        load_config(str(tmp_path))
    binary = tmp_path / "bin.yaml"
    binary.write_bytes(b"run:\n  name: \xff\n")
    with pytest.raises(ConfigError, match="not valid UTF-8"):
        load_config(str(binary))


@pytest.mark.parametrize("preset, keys", [
    ("gfpo", {"algo.kl_coef": 0.001, "algo.entropy_coef": 0.001}),            # arXiv 2508.09726 §4
    ("jepo", {"rollout.group_size": 4, "algo.kl_coef": 0.001}),                # arXiv 2503.19618: n = 4, KL 1e-3
    ("dapo", {"algo.mini_batches": 16}),                                        # arXiv 2503.14476: 16 steps a rollout
    ("gmpo", {"algo.mini_batches": 8}),                                         # the authors: 8 steps a rollout
])
def test_presets_carry_the_papers_defaults(preset, keys, tiny_config_path):
    """Issue 10 fix 6 (and 2): the presets omitted these defaults of their papers."""
    cfg = load_config(tiny_config_path, algo=preset)
    for key, value in keys.items():
        section, name = key.split(".")
        assert getattr(getattr(cfg, section), name) == value, key
