import random
import time

import pytest

from rlvr.verifiers.base import Verdict
from rlvr.verifiers.ifeval import CONSTRAINTS, IFEvalVerifier, constraint_metrics, get_constraint
from rlvr.verifiers.pool import _safe_info

# (id, kwargs, a response that follows it, a response that does not) — each pair is chosen
# so that a plausible mistake in the checker (substring instead of whole word, off-by-one
# relation, ignoring case, counting an empty item) flips exactly one of them.
TABLE = [
    ("length_constraints:number_words", {"num_words": 5, "relation": "less than"},
     "One two three four.", "One two three four five."),
    ("length_constraints:number_sentences", {"num_sentences": 2, "relation": "at least"},
     "Dr. Smith came. He left.", "Dr. Smith paid 3.50 dollars."),
    ("length_constraints:number_paragraphs", {"num_paragraphs": 2},
     "First part.\n***\nSecond part.", "First.\n***\n***\nSecond."),
    ("length_constraints:nth_paragraph_first_word",
     {"num_paragraphs": 2, "nth_paragraph": 2, "first_word": "today"},
     "Hello there.\n\n\"Today, we rest.\"", "Hello there.\n\nYesterday we rested."),
    ("keywords:existence", {"keywords": ["river", "stone bridge"]},
     "The River ran under a stone  bridge.", "Rivers ran under a stone bridge."),
    ("keywords:frequency", {"keyword": "cat", "frequency": 2, "relation": "at least"},
     "A cat and a CAT.", "A cat in a category."),
    ("keywords:forbidden_words", {"forbidden_words": ["very", "nice"]},
     "Nicely done, every time.", "It was Very good."),
    ("keywords:letter_frequency", {"letter": "z", "let_frequency": 2, "let_relation": "less than"},
     "A lazy dog.", "Zig zag."),
    ("change_case:english_lowercase", {},
     "all of this is lowercase text that we wrote for the test.",
     "All of this is lowercase text that we wrote for the test."),
    ("change_case:english_capital", {}, "THIS IS ALL CAPITALS.", "THIS IS ALMOST all capitals."),
    ("change_case:capital_word_frequency", {"capital_frequency": 2, "capital_relation": "at least"},
     "I think NASA is GREAT.", "Only NASA here."),
    ("punctuation:no_comma", {}, "No commas here.", "One, two."),
    ("language:response_language", {"language": "fr"},
     "Je pense que nous devons partir avant la nuit et rentrer à la maison.",
     "I think that we should leave before the night and go home."),
    ("detectable_format:json_format", {}, '```json\n{"a": [1, 2]}\n```', '{"a": 1} and more'),
    ("detectable_format:number_bullet_lists", {"num_bullets": 2},
     "* one\n- two\nend", "* one\n*italic* line\n---\n"),
    ("detectable_format:number_highlighted_sections", {"num_highlights": 2},
     "*one* and **two**", "*one* and ** **"),
    ("detectable_format:multiple_sections", {"section_spliter": "Section", "num_sections": 2},
     "SECTION 1\nfoo\n## Section 2\nbar", "Section 1\nfoo\nsee section 2 above"),
    ("detectable_format:title", {}, "<<My Poem>>\nText", "<< >> text <no title>"),
    ("detectable_format:constrained_response", {}, "Hmm. My answer is maybe.", "My answer is perhaps."),
    ("detectable_content:number_placeholders", {"num_placeholders": 2},
     "Dear [name], at [address].", "Dear [name], at [ ]."),
    ("detectable_content:postscript", {"postscript_marker": "P.S."},
     "Hi.\n\np.s. see you", "Hi. Do not forget the P.S. part"),
    ("startend:end_checker", {"end_phrase": "Any questions?"},
     'Text. any questions?"  ', "Any questions? Bye."),
    ("startend:start_checker", {"start_phrase": "Dear reader"},
     '  "Dear reader, hi', "Hello dear reader"),
    ("startend:quotation", {}, '"Quoted."', '"Quoted." said he'),
    ("combination:two_responses", {}, "First.\n******\nSecond.", "Same.\n******\nSame."),
    ("combination:repeat_prompt", {"prompt_to_repeat": "Write a poem."},
     "write a poem. Roses are red.", "Sure! Write a poem."),
    ("count:word_count_range", {"min_words": 2, "max_words": 3}, "one two three", "one two three four"),
    ("count:unique_word_count", {"N": 3}, "a b c", "a A a b"),
    ("count:distinct_words_with_letter", {"letter": "z", "N": 2},
     "Zoo zoo lazy dog.", "Zoo lazy zebra."),
    ("count:numbers", {"N": 2}, "It cost 3.50 in 2024.", "1, 2 and 3,000."),
    ("count:pronouns", {"N": 3}, "She gave it to them.", "The dog ran to the park."),
    ("count:conjunctions", {"small_n": 2}, "Tea and cake, but no coffee.", "Tea and cake and pie."),
    ("ratio:stop_words", {"percentage": 50}, "The cat sat.", "It is in the box."),
    ("ratio:sentence_type", {}, "I run. You walk. Who flies? We sit. They stand. Why?",
     "I run. Who flies?"),
    ("ratio:sentence_balance", {}, "I run. Do you? Wow!", "I run. Do you? Yes."),
    ("words:start_with_letter", {"letter": "b", "N": 2}, "Big blue sky.", "A big sky."),
    ("words:repeats", {"small_n": 2}, "the cat and the dog", "The cat saw the THE dog."),
    ("words:palindrome", {}, "level radar civic refer kayak madam rotor stats tenet racecar",
     "level " * 10),
    ("words:prime_lengths", {}, "We are all set to go.", "We are done."),
    ("words:no_consecutive", {}, "Red apples grow.", "Red roses grow."),
    ("words:alphabet", {}, "Any big cat dances.", "Any cat dances."),
    ("words:last_first", {}, "I like cats. Cats like fish. Fish swim.", "I like cats. Dogs like fish."),
    ("words:paragraph_last_first", {}, "home is where I go home\nwater flows like water.",
     "home is where I go home\nwater flows"),
    ("sentence:keyword", {"word": "river", "N": 2}, "Hello. The river flows.", "The river flows. Hello."),
    ("sentence:keyword_per_sentence", {"keyword": "tea"}, "Tea is good. I like tea!",
     "Tea is good. I like coffee."),
    ("sentence:increment", {"small_n": 2}, "I run. I run very fast. I run very fast every day.",
     "I run. I run fast."),
    ("sentence:max_words", {"N": 3}, "I run. You walk fast.", "I run very fast."),
    ("format:no_whitespace", {}, "NoSpacesHere.", "No spaces"),
    ("format:no_whitespace_lines", {}, "\nline one\nline two\n\n", "line one\n\nline two"),
    ("format:emoji_count", {"N": 2, "relation": "at least"}, "Hi 😀 there 🎉", "Hi 😀 there"),
    ("format:newline", {}, "one\ntwo\nthree", "one two\nthree"),
    ("format:sub-bullets", {}, "* a\n  - a1\n* b\n  - b1", "* a\n  - a1\n* b"),
    ("format:line_indent", {}, "a\n  b\n    c", "a\n  b\n  c"),
    ("format:parentheses", {}, "( [ { ( [ x ] ) } ] )", "( [ { ( x ) } ] )"),
]


def test_registry_has_at_least_40_constraints_and_the_table_covers_them_all():
    assert len(CONSTRAINTS) >= 40
    assert {row[0] for row in TABLE} == set(CONSTRAINTS)


@pytest.mark.parametrize("cid, kwargs, good, bad", TABLE, ids=[row[0] for row in TABLE])
def test_constraint_table(cid, kwargs, good, bad):
    c = get_constraint(cid)
    bound = c.bind(kwargs)
    assert c.check(good, **bound) is True, good
    assert c.check(bad, **bound) is False, bad
    v = IFEvalVerifier()
    ref = {"instruction_id_list": [cid], "kwargs": [kwargs]}
    assert v(good, ref, {}).reward == 1.0 and v(bad, ref, {}).reward == 0.0


RELATION_TABLE = [
    # (id, count argument, relation argument, extra kwargs, response, its count)
    ("length_constraints:number_words", "num_words", "relation", {}, "a b c d", 4),
    ("length_constraints:number_sentences", "num_sentences", "relation", {}, "Go. Run! Why? Stop.", 4),
    ("keywords:frequency", "frequency", "relation", {"keyword": "ab"}, "ab ab, AB abc ab.", 4),
    ("keywords:letter_frequency", "let_frequency", "let_relation", {"letter": "e"}, "Eee e", 4),
    ("change_case:capital_word_frequency", "capital_frequency", "capital_relation", {},
     "I AM VERY well, OK", 4),
    ("format:emoji_count", "N", "relation", {}, "😀😀 🎉 ☀", 4),
]


@pytest.mark.parametrize("cid, count_arg, rel_arg, extra, response, count", RELATION_TABLE)
def test_relations_less_than_is_strict_at_least_is_not(cid, count_arg, rel_arg, extra, response, count):
    # IFEval: "less than" N means count < N, "at least" N means count >= N. With count = 4:
    # less than 4 -> False, less than 5 -> True, at least 4 -> True, at least 5 -> False.
    c = get_constraint(cid)
    expected = {("less than", 4): False, ("less than", 5): True,
                ("at least", 4): True, ("at least", 5): False}
    for (relation, n), want in expected.items():
        kw = c.bind({**extra, count_arg: n, rel_arg: relation})
        assert c.check(response, **kw) is want, (relation, n)


REF3 = {"instruction_id_list": ["punctuation:no_comma", "keywords:existence", "detectable_format:title"],
        "kwargs": [{}, {"keywords": ["tea"]}, {}]}


@pytest.mark.parametrize("mode, response, satisfied, reward", [
    ("all", "<<T>> I like tea.", 3, 1.0),
    ("all", "<<T>> I like tea, yes.", 2, 0.0),       # the comma breaks one of three
    ("fraction", "<<T>> I like tea, yes.", 2, 2 / 3),
    ("fraction", "I like coffee, yes.", 0, 0.0),
    ("fraction", "<<T>> I like coffee.", 2, 2 / 3),  # no "tea"
    ("fraction", "<<T>> I like tea.", 3, 1.0),
])
def test_mode_all_vs_fraction(mode, response, satisfied, reward):
    v = IFEvalVerifier(mode=mode)(response, REF3, {})
    assert v.reward == pytest.approx(reward)
    assert v.info["satisfied"] == satisfied and v.info["total"] == 3


def test_info_lists_each_constraint():
    v = IFEvalVerifier()("<<T>> I like tea, yes.", REF3, {})
    assert v.info["constraints"] == {"punctuation:no_comma": False, "keywords:existence": True,
                                     "detectable_format:title": True}
    assert v.info["satisfied"] == 2 and v.info["total"] == 3
    assert v.info["constraints"]["punctuation:no_comma"] is False


def test_hugging_face_style_kwargs_with_none_values_and_json_string_reference():
    # The HF copy of IFEval stores every argument name, mostly None: None means absent.
    ref = {"instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
           "kwargs": [{"num_words": None, "relation": None, "keywords": None},
                      {"num_words": 3, "relation": "at least", "keywords": None}]}
    assert IFEvalVerifier()("one two three", ref, {}).reward == 1.0
    import json
    assert IFEvalVerifier()("one two", json.dumps(ref), {}).reward == 0.0


@pytest.mark.parametrize("reference, match", [
    ({"instruction_id_list": ["keywords:nope"], "kwargs": [{}]},
     "keywords:nope.*known ids.*keywords:existence"),
    ({"instruction_id_list": ["length_constraints:number_words"], "kwargs": [{"num_words": 3}]},
     "number_words.*missing argument 'relation'"),
    ({"instruction_id_list": ["length_constraints:number_words"],
      "kwargs": [{"num_words": 3, "relation": "more than"}]}, "number_words.*'relation'.*less than"),
    ({"instruction_id_list": ["length_constraints:number_words"],
      "kwargs": [{"num_words": "3", "relation": "at least"}]}, "number_words.*'num_words'.*number"),
    ({"instruction_id_list": ["length_constraints:number_words"],
      "kwargs": [{"num_words": 2.5, "relation": "at least"}]}, "'num_words'.*whole number"),
    ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{"num_word": 3}]},
     "no_comma.*unknown argument 'num_word'"),
    ({"instruction_id_list": ["keywords:letter_frequency"],
      "kwargs": [{"letter": "ab", "let_frequency": 1, "let_relation": "at least"}]},
     "'letter'.*single letter"),
    ({"instruction_id_list": ["length_constraints:nth_paragraph_first_word"],
      "kwargs": [{"num_paragraphs": 2, "nth_paragraph": 3, "first_word": "a"}]}, "nth_paragraph.*exceeds"),
    ({"instruction_id_list": ["count:word_count_range"], "kwargs": [{"min_words": 5, "max_words": 2}]},
     "'min_words'.*exceeds"),
    ({"instruction_id_list": ["language:response_language"], "kwargs": [{"language": "xx"}]},
     "'language'.*one of"),
    ({"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}, {}]}, "one dict per"),
    ({"instruction_id_list": []}, "non-empty"),
    ("not json", "JSON"),
    (["punctuation:no_comma"], "instruction_id_list"),
])
def test_bad_references_raise_a_message_naming_the_problem(reference, match):
    with pytest.raises(ValueError, match=match):
        IFEvalVerifier()("text", reference, {})


def test_bad_mode_is_refused():
    with pytest.raises(ValueError, match="fraction"):
        IFEvalVerifier(mode="mean")


def test_empty_response_follows_nothing():
    # "no comma" and "less than 5 words" hold vacuously for "", but an empty answer is no answer.
    ref = {"instruction_id_list": ["punctuation:no_comma", "length_constraints:number_words"],
           "kwargs": [{}, {"num_words": 5, "relation": "less than"}]}
    v = IFEvalVerifier(mode="fraction")("  \n", ref, {})
    assert v.reward == 0.0 and v.info["reason"] == "empty_response"


def test_thinking_is_stripped_unless_disabled():
    ref = {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
    text = "<think>hmm, commas, here</think>No commas at all."
    assert IFEvalVerifier()(text, ref, {}).reward == 1.0
    assert IFEvalVerifier(strip_thinking=False)(text, ref, {}).reward == 0.0


def test_loose_mode_forgives_a_first_line_and_asterisks():
    ref = {"instruction_id_list": ["startend:quotation"], "kwargs": [{}]}
    text = 'Sure, here it is:\n"Quoted answer."'
    assert IFEvalVerifier()(text, ref, {}).reward == 0.0
    assert IFEvalVerifier(loose=True)(text, ref, {}).reward == 1.0
    ref = {"instruction_id_list": ["startend:end_checker"], "kwargs": [{"end_phrase": "bye."}]}
    assert IFEvalVerifier(loose=True)("ok **bye.**", ref, {}).reward == 1.0


def test_duplicate_ids_are_all_checked():
    ref = {"instruction_id_list": ["keywords:existence", "keywords:existence"],
           "kwargs": [{"keywords": ["tea"]}, {"keywords": ["cake"]}]}
    v = IFEvalVerifier(mode="fraction")("tea only", ref, {})
    assert v.reward == 0.5
    assert v.info["constraints"] == {"keywords:existence": True, "keywords:existence#2": False}


def test_constraint_metrics_pass_rates_also_after_the_pool():
    v = IFEvalVerifier()
    ref_a = {"instruction_id_list": ["punctuation:no_comma", "detectable_format:title"], "kwargs": [{}, {}]}
    ref_b = {"instruction_id_list": ["punctuation:no_comma"], "kwargs": [{}]}
    verdicts = [v("<<t>> no comma", ref_a, {}), v("<<t>>, comma", ref_a, {}), v("fine", ref_b, {}),
                Verdict(0.0, {"error": "timeout"})]
    # no_comma: passed in verdicts 1 and 3 of 3 -> 2/3; title: 2 of 2 -> 1.0;
    # prompt level: verdicts 1 and 3 of 3 -> 2/3; instruction level: 4 of 5 -> 0.8.
    want = {"ifeval/punctuation:no_comma": 2 / 3, "ifeval/detectable_format:title": 1.0,
            "ifeval/prompt_level": 2 / 3, "ifeval/instruction_level": 0.8}
    assert constraint_metrics(verdicts) == pytest.approx(want)
    through_pool = [Verdict(x.reward, _safe_info(x.info)) for x in verdicts]
    assert through_pool[0].info["constraints"] == verdicts[0].info["constraints"]  # plain JSON passes as is
    assert constraint_metrics(through_pool) == pytest.approx(want)
    assert constraint_metrics([Verdict(1.0, {})]) == {}


def test_every_sampler_gives_valid_arguments_and_a_description():
    rng = random.Random(0)
    for cid, c in CONSTRAINTS.items():
        for _ in range(20):
            kw = c.sample_kwargs(rng)
            text = c.describe(**c.bind(kw))
            assert isinstance(text, str) and len(text) > 10, cid
            ref = {"instruction_id_list": [cid], "kwargs": [kw]}
            assert IFEvalVerifier()("Some answer.", ref, {}).reward in (0.0, 1.0)


# --- untrusted input ----------------------------------------------------------------------

_CHUNK = 100_000
HOSTILE_1MB = "".join([   # each 100 kB run defeats a naive regex somewhere (see text.py)
    "!" * _CHUNK + "x", "\n" * _CHUNK, "[" * _CHUNK, "*" * _CHUNK, "<" * _CHUNK, "(" * _CHUNK,
    " " * _CHUNK, "1. " * (_CHUNK // 3), "{" * _CHUNK, "a" * _CHUNK,
])
PLAIN_1MB = "The quick brown fox, yes: P.S. [x] *y* Section 1 😀. " * 20_000
SURROGATES = "bad \ud800 text \udfff. Mixed \ud83d end"


def test_every_checker_is_fast_on_hostile_and_huge_inputs():
    slowest = (0.0, "")
    for cid, kwargs, _, _ in TABLE:
        c = get_constraint(cid)
        bound = c.bind(kwargs)
        for response in ("", SURROGATES, HOSTILE_1MB, PLAIN_1MB):
            t0 = time.perf_counter()
            assert c.check(response, **bound) in (True, False)
            slowest = max(slowest, (time.perf_counter() - t0, cid))
    # linear checkers take 0.1–1 s on 1 MB (1.01 s measured for words:last_first while the machine
    # was loaded); a quadratic one takes hours, so 5 s keeps the test's power without the flakiness
    assert slowest[0] < 5.0, slowest


def test_verifier_on_hostile_inputs_loose_and_strict():
    ref = {"instruction_id_list": ["length_constraints:number_sentences", "detectable_format:title",
                                   "detectable_content:number_placeholders"],
           "kwargs": [{"num_sentences": 3, "relation": "at least"}, {}, {"num_placeholders": 1}]}
    for loose in (False, True):
        v = IFEvalVerifier(mode="fraction", loose=loose)
        for response in ("", SURROGATES, HOSTILE_1MB, "</think>" * 1000):
            t0 = time.perf_counter()
            verdict = v(response, ref, {})
            assert 0.0 <= verdict.reward <= 1.0
            assert time.perf_counter() - t0 < 3.0


EXTRA = [
    # (id, kwargs, response, followed, why)
    ("change_case:english_lowercase", {},
     "todo esto está en minúsculas y creo que es muy bonito para los niños.", False, "not English"),
    ("change_case:english_lowercase", {}, "ok", True, "too short to tell: accepted, as IFEval"),
    ("words:alphabet", {}, "Yes zebras always bark.", True, "z wraps to a"),
    ("format:emoji_count", {"N": 2, "relation": "less than"}, "Nice 👍🏽", True, "a skin tone is no emoji"),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Hi.\nP. P. S. bye", True, "spaces"),
    ("detectable_content:postscript", {"postscript_marker": "P.P.S"}, "Hi.\nP.S. bye", False, "P.S. is not P.P.S"),
    ("detectable_content:postscript", {"postscript_marker": "P.S."}, "Hi.\npsychology", False, "no periods"),
    ("detectable_format:json_format", {}, "[" * 100_000, False, "deep nesting is no crash"),
    ("keywords:existence", {"keywords": ["C++"]}, "I like C++ a lot.", True, "regex characters escaped"),
    ("format:parentheses", {}, "((((( x", False, "never closed"),
    ("format:parentheses", {}, "(((((x)))))", True, "one kind of bracket"),
    ("combination:two_responses", {}, "A\n******\n******\nB", False, "an empty middle part"),
]


@pytest.mark.parametrize("cid, kwargs, response, followed, why", EXTRA)
def test_edge_cases(cid, kwargs, response, followed, why):
    c = get_constraint(cid)
    assert c.check(response, **c.bind(kwargs)) is followed, why
