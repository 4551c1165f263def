import pytest

from rlvr.data.ifeval_task import TOPICS, IFEvalTask, consistent
from rlvr.verifiers.ifeval import CONFLICTS, CONSTRAINTS, IFEvalVerifier, compatible


def test_item_depends_only_on_seed_and_index():
    a, b = IFEvalTask(seed=3), IFEvalTask(seed=3)
    assert [a[i] for i in (5, 0, 17)] == [b[i] for i in (5, 0, 17)]
    assert a.take(4, start=2) == [a[i] for i in range(2, 6)]
    assert [s.prompt for s in IFEvalTask(seed=4).take(10)] != [s.prompt for s in a.take(10)]


def test_train_and_eval_prompts_are_disjoint_whatever_the_seeds():
    train = {s.prompt for s in IFEvalTask(seed=1, split="train").take(1500)}
    held = {s.prompt for s in IFEvalTask(seed=2, split="eval").take(300)}
    assert len(held) > 250 and not train & held


def test_samples_have_the_ifeval_format_and_sizes_in_range():
    task = IFEvalTask(seed=0, min_constraints=2, max_constraints=4)
    sizes = set()
    for s in task.take(300):
        ids, kwargs = s.answer["instruction_id_list"], s.answer["kwargs"]
        assert len(ids) == len(kwargs) and s.meta["instruction_ids"] == ids
        assert 2 <= len(ids) <= 4
        assert s.prompt.startswith(TOPICS[s.meta["topic"]])
        sizes.add(len(ids))
    assert sizes == {2, 3, 4}


def test_no_conflicting_constraints_are_drawn_together():
    for s in IFEvalTask(seed=0, max_constraints=5).take(1000):
        ids = s.answer["instruction_id_list"]
        assert len(set(ids)) == len(ids)
        assert all(compatible(a, b) for i, a in enumerate(ids) for b in ids[i + 1:]), ids
        assert consistent(ids, s.answer["kwargs"])
        assert not {"change_case:english_lowercase", "change_case:english_capital"} <= set(ids)


def test_conflict_table_is_symmetric_and_known():
    assert compatible("punctuation:no_comma", "keywords:existence")
    assert not compatible("change_case:english_lowercase", "change_case:english_capital")
    assert not compatible("detectable_format:json_format", "punctuation:no_comma")
    for a, others in CONFLICTS.items():
        assert a in others and others <= set(CONSTRAINTS)
        assert all(a in CONFLICTS[b] for b in others)


def test_argument_clashes_are_detected():
    forbid = {"forbidden_words": ["river"]}
    assert not consistent(["keywords:forbidden_words", "keywords:existence"],
                          [forbid, {"keywords": ["River"]}])
    assert consistent(["keywords:forbidden_words", "keywords:existence"],
                      [forbid, {"keywords": ["riverbank"]}])
    rare = {"letter": "z", "let_frequency": 2, "let_relation": "less than"}
    assert not consistent(["keywords:letter_frequency", "startend:end_checker"],
                          [rare, {"end_phrase": "Lazy days."}])
    assert not consistent(["keywords:letter_frequency", "count:distinct_words_with_letter"],
                          [{**rare, "let_relation": "at least"}, {"letter": "z", "N": 2}])


def test_repeat_prompt_repeats_the_topic():
    for s in IFEvalTask(seed=0, constraint_ids=["combination:repeat_prompt"]).take(20):
        kw = s.answer["kwargs"][0]
        assert kw["prompt_to_repeat"] == TOPICS[s.meta["topic"]]
        assert IFEvalVerifier()(kw["prompt_to_repeat"] + " Here you go.", s.answer, s.meta).reward == 1.0


def test_the_verifier_accepts_every_generated_reference():
    v = IFEvalVerifier(mode="fraction")
    for s in IFEvalTask(seed=5, max_constraints=4).take(500):
        verdict = v("A short answer, with a comma.", s.answer, s.meta)
        assert 0.0 <= verdict.reward <= 1.0 and verdict.info["total"] == len(s.meta["instruction_ids"])


def test_constraint_ids_restrict_the_pool_and_bad_options_are_refused():
    pool = ["punctuation:no_comma", "detectable_format:title"]
    ids = {i for s in IFEvalTask(seed=0, constraint_ids=pool, max_constraints=2).take(50)
           for i in s.meta["instruction_ids"]}
    assert ids == set(pool)
    with pytest.raises(ValueError, match="unknown instruction ids"):
        IFEvalTask(seed=0, constraint_ids=["nope:nope"])
    with pytest.raises(ValueError, match="min_constraints"):
        IFEvalTask(seed=0, min_constraints=3, max_constraints=2)
    with pytest.raises(ValueError, match="split"):
        IFEvalTask(seed=0, split="test")
    with pytest.raises(ValueError, match="could not draw"):  # json_format excludes a partner
        IFEvalTask(seed=0, constraint_ids=["detectable_format:json_format"], min_constraints=2,
                   max_constraints=2)[0]


def test_topics_have_no_commas_or_digits():
    assert len(TOPICS) >= 30
    assert not any("," in t or any(c.isdigit() for c in t) for t in TOPICS)
