"""Reward functions of TRL and verl, named in `reward.verifiers` and used unchanged: how they are
found (file path, dotted module), what they are passed, what their results become, and that a
bad name or a bad function is a config error naming the verifier (issue 11, point 1)."""
import math
import re
import time
from pathlib import Path

import pytest

from rlvr.config import ConfigError, load_config
from rlvr.verifiers import get, verifier_class
from rlvr.verifiers.reward import RewardFunction, build_reward_function, verifier_meta

ROOT = Path(__file__).resolve().parents[3]
TRL_FILE = "tests/fixtures/rewards/trl_rewards.py"
VERL_FILE = "tests/fixtures/rewards/verl_gsm8k.py"
TRL_MODULE = "tests.fixtures.rewards.trl_rewards"


def trl(fn: str) -> str:
    return f"trl:{TRL_FILE}:{fn}"


def verl(fn: str = "") -> str:
    return f"verl:{VERL_FILE}" + (f":{fn}" if fn else "")


def chat(question: str) -> list[dict]:
    return [{"role": "user", "content": question}]


@pytest.fixture(autouse=True)
def _at_the_repo_root(monkeypatch):
    """Relative paths are taken from the working directory, as a user runs `rlvr` from theirs."""
    monkeypatch.chdir(ROOT)


def _config(*verifiers: dict, **data):
    return load_config(None, {"reward": {"verifiers": list(verifiers)}, "data": data} if data else
                       {"reward": {"verifiers": list(verifiers)}})


# -- finding the function ---------------------------------------------------------------------
@pytest.mark.parametrize("name", [trl("reward_len"), f"trl:{ROOT / TRL_FILE}:reward_len",
                                  f"trl:{TRL_MODULE}:reward_len", f"trl:./{TRL_FILE}:reward_len"])
def test_a_trl_function_is_found_by_relative_or_absolute_path_or_dotted_module(name):
    cls = verifier_class(name)
    assert cls.function.__name__ == "reward_len" and cls.needs_group and cls.name == name
    assert verifier_class(name) is cls  # built once per process


def test_a_verl_function_defaults_to_compute_score_and_a_path_may_be_absolute():
    assert verifier_class(verl()).function.__name__ == "compute_score"
    assert verifier_class(f"verl:{ROOT / VERL_FILE}:compute_score_dict").function.__name__ == "compute_score_dict"
    assert not getattr(verifier_class(verl()), "needs_group", False)  # one call per completion, as verl


@pytest.mark.parametrize("name, message", [
    ("trl:no/such/file.py:f", "file 'no/such/file.py' not found"),
    (f"trl:{TRL_FILE}:nope", "defines no 'nope' .*accuracy_reward"),
    (f"trl:{TRL_FILE}", "names no function"),
    (f"trl:{TRL_FILE}:NOT_A_FUNCTION", "is a int, not a function"),
    ("trl:no_such_module_xyz:f", "cannot import module 'no_such_module_xyz'.*trl:./no_such_module_xyz.py"),
    (f"trl:{TRL_FILE}:no_kwargs", "does not accept prompts, completion_ids, trainer_state.*give it \\*\\*kwargs"),
    (f"verl:{VERL_FILE}:takes_two", "verl calls it with the keywords data_source.*takes_two"),
    ("verl:tests/fixtures/rewards/missing.py", "not found"),
])
def test_a_bad_name_or_function_is_a_config_error_naming_the_verifier(name, message):
    with pytest.raises(ConfigError, match=r"reward\.verifiers\[0\]\.name.*" + message):
        _config({"name": name})


@pytest.mark.parametrize("name, prefixed", [
    # the attempts: a TRL function and a verl file named as if they were verifier classes
    (f"{TRL_MODULE}:reward_len", f"trl:{TRL_MODULE}:reward_len"),
    ("tests.fixtures.rewards.verl_gsm8k:compute_score", "verl:tests.fixtures.rewards.verl_gsm8k:compute_score"),
    (f"{VERL_FILE}:compute_score", f"verl:{VERL_FILE}:compute_score"),
])
def test_a_reward_function_named_without_its_prefix_is_told_the_prefix(name, prefixed):
    with pytest.raises(ConfigError, match=re.escape(f"'{prefixed}'")):
        _config({"name": name})


def test_a_file_that_fails_to_import_says_so(tmp_path):
    bad = tmp_path / "broken.py"
    bad.write_text("import this_module_does_not_exist\n")
    with pytest.raises(ConfigError, match="running .*broken.py failed: ModuleNotFoundError"):
        _config({"name": f"trl:{bad}:f"})


def test_options_are_checked_before_anything_runs():
    with pytest.raises(ConfigError, match="unknown argument 'reward.verifiers\\[0\\].options.nope'.*data_source"):
        _config({"name": verl(), "options": {"nope": 1}})
    with pytest.raises(ConfigError, match="method"):  # reward_kwargs the function does not take
        _config({"name": verl("by_data_source"), "options": {"reward_kwargs": {"method": "strict"}}})
    cfg = _config({"name": verl(), "options": {"reward_kwargs": {"method": "strict"}}})
    assert cfg.reward.verifiers[0].options["reward_kwargs"] == {"method": "strict"}


def test_the_run_gives_a_trl_function_its_dataset_column_names():
    cfg = _config({"name": trl("accuracy_reward")}, answer_field="solution", prompt_field="question")
    fn = build_reward_function(cfg)
    try:
        assert fn.pool.specs[0][1] == {"prompt_field": "question", "answer_field": "solution"}
        assert fn.max_steps == cfg.run.steps and fn.global_step == 0
    finally:
        fn.close()


# -- what a TRL function is passed, called in this process -------------------------------------
def test_trl_gets_prompts_completions_ids_state_and_every_column_standard_format():
    v = get(trl("what_trl_passes"), answer_field="solution")
    metas = [{**verifier_meta("What is 1+1?", {"id": 7, "level": "easy"}, "ctx"),
              "rlvr_call": {"completion_ids": ids, "global_step": 3, "max_steps": 20}}
             for ids in ([5, 6], [5, 6, 7])]
    verdicts = v.batch(["2", "two"], ["2", "2"], metas)
    assert [x.reward for x in verdicts] == [2.0, 3.0]  # len(completion_ids)
    seen = verdicts[0].info["extra"]["seen"]
    assert seen["prompts"] == ["What is 1+1?"] * 2 and seen["completions"] == ["2", "two"]
    assert seen["completion_ids"] == [[5, 6], [5, 6, 7]]
    assert (seen["global_step"], seen["max_steps"]) == (3, 20)
    # every dataset column, the answer under its own name; not rlvr's own keys (context, …)
    assert seen["columns"] == {"id": [7, 7], "level": ["easy", "easy"], "solution": ["2", "2"]}
    assert verdicts[1].info["logged"] == {"group_size": 2.0}


def test_trl_gets_chat_messages_when_the_prompts_are_chats():
    v = get(trl("what_trl_passes"), answer_field="solution", prompt_field="question")
    prompt = [{"role": "system", "content": "Be brief."}, *chat("What is 1+1?")]
    metas = [verifier_meta(prompt, {}, "ctx") for _ in range(2)]
    seen = v.batch(["<think>a</think><answer>2</answer>", "2"], ["2", "2"], metas)[0].info["extra"]["seen"]
    assert seen["prompts"] == [prompt, prompt]
    assert seen["completions"] == [[{"role": "assistant", "content": "<think>a</think><answer>2</answer>"}],
                                   [{"role": "assistant", "content": "2"}]]
    assert seen["columns"] == {"question": [prompt, prompt], "solution": ["2", "2"]}
    assert seen["completion_ids"] == [None, None] and seen["global_step"] is None  # outside a run


def test_trl_functions_written_as_its_docs_show():
    metas = [verifier_meta(chat("What is 1+1?"), {}) for _ in range(3)]
    fmt = get(trl("format_reward_func"))
    assert [x.reward for x in fmt.batch(["<think>hm</think><answer>2</answer>", "2", "<think>x</think>"],
                                        [None] * 3, metas)] == [1.0, 0.0, 0.0]
    acc = get(trl("accuracy_reward"), answer_field="solution")
    got = acc.batch(["so 1+1 = 2", "3", "none"], ["2", "2", "2"], metas)
    assert [x.reward for x in got] == [1.0, 0.0, 0.0]
    plain = [verifier_meta("Say something.", {}) for _ in range(2)]
    assert [x.reward for x in get(trl("reward_len")).batch(["x" * 20, "x" * 25], [None] * 2, plain)] == [0, -5]
    boxed = get(trl("boxed_reward"), answer_field="ground_truth")
    assert [x.reward for x in boxed.batch(["\\boxed{4}", "\\boxed{5}"], ["4", "4"], plain)] == [1.0, 0.0]
    assert [x.reward for x in get(trl("async_reward")).batch(["a", "b"], [None] * 2, plain)] == [0.25, 0.25]


# -- results, through the worker pool -----------------------------------------------------------
def test_none_is_no_reward_left_out_of_the_mean_and_counted():
    name = trl("none_for_odd_solutions")
    fn = RewardFunction([(name, 1.0, {"answer_field": "solution"}), ("math", 0.0, {})], workers=2, timeout_s=10)
    try:
        refs = ["1", "1", "2", "2", "4", "4"]  # group 0 odd: None, None; groups 1, 2: 1, 1
        s = fn(["x"] * 6, refs, [verifier_meta("q", {}) for _ in refs], groups=[2, 2, 2])
    finally:
        fn.close()
    assert s.rewards == [0.0, 0.0, 1.0, 1.0, 1.0, 1.0]  # None adds 0 to the total, as TRL's nansum
    assert s.metrics[f"reward/{name}"] == 1.0  # the mean of the rewards it gave
    assert s.metrics[f"reward/{name}/none_frac"] == pytest.approx(2 / 6)
    assert s.metrics["reward/errors"] == 0  # None is not an error
    assert s.verdicts[0][name].info["no_reward"] is True


def test_only_none_means_no_mean_that_step():
    name = trl("none_for_odd_solutions")
    fn = RewardFunction([(name, 1.0, {"answer_field": "solution"})], workers=1, timeout_s=10)
    try:
        s = fn(["x", "y"], ["1", "3"], groups=[2])
    finally:
        fn.close()
    assert f"reward/{name}" not in s.metrics and s.metrics[f"reward/{name}/none_frac"] == 1.0


@pytest.mark.parametrize("fn_name, bad, message", [
    ("one_too_few", [0, 1, 2], "returned 2 rewards for 3 completions"),
    ("text_for_the_first", [0], "reward '1.0' \\(str\\) is not a finite number or None"),
    ("nan_for_the_first", [0], "reward nan \\(float\\) is not a finite number"),
    ("not_a_list", [0, 1, 2], "returned float 1.0, not a list of 3 rewards"),
    ("raises", [0, 1, 2], "KeyError"),
])
def test_a_wrong_result_is_an_error_for_those_samples_never_a_silent_zero(fn_name, bad, message):
    name = trl(fn_name)
    fn = RewardFunction([(name, 1.0, {})], workers=1, timeout_s=10)
    try:
        s = fn(["a", "b", "c", "d", "e", "f"], [None] * 6, groups=[3, 3])
    finally:
        fn.close()
    for i in range(6):
        info = s.verdicts[i][name].info
        if i % 3 in bad:
            assert s.verdicts[i][name].reward == 0.0 and pytest.approx(0) == s.rewards[i]
            assert info["error"] and re.search(message, info["error"]), info
        else:
            assert "error" not in info and s.rewards[i] == 0.5
    assert s.metrics["reward/errors"] == 2 * len(bad)


def test_a_hanging_trl_function_costs_its_group_only():
    name = trl("hangs_on_stop")
    fn = RewardFunction([(name, 1.0, {})], workers=2, timeout_s=1.0)
    try:
        t = time.time()
        s = fn(["go", "go", "stop", "go", "go", "go"], [None] * 6, groups=[2, 2, 2])
        assert time.time() - t < 60
    finally:
        fn.close()
    assert s.rewards == [1.0, 1.0, 0.0, 0.0, 1.0, 1.0]
    assert [s.verdicts[i][name].info.get("error") for i in (2, 3)] == ["timeout", "timeout"]
    assert s.metrics["reward/timeouts"] == 2


def test_the_pool_sends_token_ids_and_the_step_to_trl_functions_only():
    name = trl("what_trl_passes")
    fn = RewardFunction([(name, 1.0, {}), ("tests.unit.verifiers.verifier_fixtures:GroupProbe", 0.0, {})],
                        workers=1, timeout_s=10)
    fn.global_step, fn.max_steps = 4, 9
    try:
        s = fn(["a", "b"], [None] * 2, [verifier_meta("q", {}) for _ in range(2)], groups=[2],
               completion_ids=[[1, 2, 3], [4]])
        tasks, _ = fn._tasks(["a", "b"], [None] * 2, [{}, {}], [2], [[1], [2]])
    finally:
        fn.close()
    assert s.rewards == [3.0, 1.0]
    seen = s.verdicts[0][name].info["extra"]["seen"]
    assert seen["completion_ids"] == [[1, 2, 3], [4]] and (seen["global_step"], seen["max_steps"]) == (4, 9)
    assert s.metrics[f"reward/{name}/group_size"] == 2.0  # log_metric, averaged over the step
    trl_task, probe_task = tasks
    assert "rlvr_call" in trl_task[4][0] and all("rlvr_call" not in m for m in probe_task[4])


# -- verl ---------------------------------------------------------------------------------------
def test_verl_gsm8k_compute_score_by_path_scores_each_completion():
    v = get(verl())
    meta = verifier_meta("Natalia sold 48 clips...", {"data_source": "openai/gsm8k"})
    assert v("she sold 48 + 24 = 72 clips. #### 72", "72", meta).reward == 1.0
    assert v("#### 70", "72", meta).reward == 0.0
    strict = get(verl(), reward_kwargs={"method": "strict"})  # verl's custom_reward_function.reward_kwargs
    assert strict("72", "72", meta).reward == 0.0 and strict("#### 72", "72", meta).reward == 1.0


def test_verl_gets_data_source_ground_truth_and_extra_info():
    v = get(verl("echo_extra_info"))
    got = v("x", "72", verifier_meta("q", {"data_source": "openai/gsm8k", "extra_info": {"index": 5}}))
    assert got.reward == 0.5 and got.info == {"scores": {"index": 5.0}, "extra": {"ds": "openai/gsm8k"}}
    # no data_source column: the option (default ""); no extra_info column: None
    assert get(verl("echo_extra_info"), data_source="gsm8k")("x", "1", verifier_meta("q", {})).info == {
        "scores": {"index": -1.0}, "extra": {"ds": "gsm8k"}}
    dispatch = get(verl("by_data_source"))
    assert dispatch("#### 3", "3", verifier_meta("q", {"data_source": "openai/gsm8k"})).reward == 1.0
    with pytest.raises(NotImplementedError):  # the pool turns this into an error for that sample
        dispatch("#### 3", "3", verifier_meta("q", {}))


def test_a_verl_dict_logs_its_other_numeric_keys_and_bad_results_are_errors():
    name, bad_text, bad_none, bad_dict = verl("compute_score_dict"), verl("returns_text"), verl(
        "returns_none"), verl("dict_without_score")
    fn = RewardFunction([(name, 1.0, {}), (bad_text, 0.0, {}), (bad_none, 0.0, {}), (bad_dict, 0.0, {})],
                        workers=2, timeout_s=10)
    try:
        metas = [verifier_meta("q", {"extra_info": {"split": "train"}}) for _ in range(4)]
        s = fn(["#### 72", "72", "71", "no number"], ["72"] * 4, metas)
    finally:
        fn.close()
    assert s.rewards == [1.0, 1.0, 0.0, 0.0]
    assert s.metrics[f"reward/{name}/acc"] == 0.5 and s.metrics[f"reward/{name}/has_answer"] == 0.75
    assert s.verdicts[0][name].info["extra"] == {"pred": "72", "split": "train"}
    for bad, message in ((bad_text, "returned str '1'"), (bad_none, "returned NoneType None"),
                         (bad_dict, "returned a dict without 'score' \\(keys: acc\\)")):
        errors = [d[bad].info.get("error", "") for d in s.verdicts]
        assert all(re.search(message, e) for e in errors), errors
    assert s.metrics["reward/errors"] == 12


def test_a_hanging_verl_function_costs_one_sample():
    name = verl("hangs_on_stop")
    fn = RewardFunction([(name, 1.0, {})], workers=2, timeout_s=1.0)
    try:
        s = fn(["go", "stop", "go"], [None] * 3)
    finally:
        fn.close()
    assert s.rewards == [1.0, 0.0, 1.0] and s.verdicts[1][name].info["error"] == "timeout"
    assert all(math.isfinite(r) for r in s.rewards)
