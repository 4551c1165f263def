"""Majority-vote self-reward without labels: TTRL (Zuo et al., arXiv 2504.16084) and SRT
(Shafayat, Tajwar et al., "Can Large Reasoning Models Self-Train?", arXiv 2505.21444).

The G completions of one prompt vote: each one's final answer is extracted as by the `math`
verifier (last `\\boxed{}`, "the answer is", or `answer_pattern`; a completion that boxes
several different answers casts no vote), equivalent answers are clustered with math-verify,
and the largest cluster is the pseudo-label ŷ (ALGORITHMS.md §13):

    r_i = 1[a_i ≡ ŷ]                         (TTRL, SRT)
    r_i = |{j : a_j ≡ a_i}| / G              (SRT's soft reward, option `soft`)

The true reference is never used for the reward. When it is known it only feeds diagnostics:
`label_correct` (ŷ ≡ truth) and `reward_correct` (pseudo-reward == true reward), the
numbers to watch, because a self-rewarded policy can learn to agree with itself instead of
being right (SRT's collapse). Offline labels frozen by `rlvr label` (option `labels`) replace
the current group's vote — SRT's remedy for that collapse.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from rlvr.data.files import iter_jsonl
from rlvr.verifiers.base import ANY_REFERENCE, Verdict
from rlvr.verifiers.math import MathVerifier

METRIC_PREFIX = "majority/"
SHOWN_CHARS = 80  # an answer as shown in info (samples.jsonl); the label is kept whole
PARSE_CACHE_SIZE = 10_000  # parsed labels and references kept by a long-lived pool worker


@dataclass
class Cluster:
    """Answers found equivalent to the first one, `answer` (its representative)."""
    answer: str
    parsed: list
    members: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class FrozenLabel:
    label: str
    majority_ratio: float = 1.0
    """The agreement behind the label when it was voted (1 for a label given by hand)."""


def read_label_file(path: str | Path) -> dict[str, FrozenLabel]:
    """A frozen-label file (JSONL, one `{"prompt": str, "label": str, "majority_ratio": float}`
    per line; `majority_ratio` optional; a null label is skipped) as {prompt: FrozenLabel}.
    Errors name the line."""
    p = Path(path)
    if not p.is_file():
        raise ValueError(f"pseudo-label file {str(path)!r} not found (write one with `rlvr label`)")
    out: dict[str, FrozenLabel] = {}
    for n, row in iter_jsonl(p):  # invalid UTF-8 or JSON: a DataError (a ValueError) naming the line
        if not isinstance(row, dict) or not isinstance(row.get("prompt"), str):
            raise ValueError(f"{path}:{n}: a row needs a string 'prompt'")
        if row.get("label") is None:  # the offline vote found no answer: as if the row were absent
            continue
        if isinstance(row["label"], (int, float)) and not isinstance(row["label"], bool):
            row["label"] = str(row["label"])  # a hand-written numeric label
        if not isinstance(row["label"], str) or not row["label"].strip():
            raise ValueError(f"{path}:{n}: 'label' must be a non-empty string or null, got {row['label']!r}")
        ratio = row.get("majority_ratio", 1.0)
        if not isinstance(ratio, (int, float)) or not 0 <= ratio <= 1:
            raise ValueError(f"{path}:{n}: 'majority_ratio' must be a number in [0, 1], got {ratio!r}")
        out[row["prompt"]] = FrozenLabel(row["label"], float(ratio))
    return out


def _known(reference: Any) -> bool:
    return reference is not None and str(reference).strip() != ""


class MajorityVerifier:
    name = "majority"
    reference_types = ANY_REFERENCE  # the reference only feeds diagnostics, as text
    needs_group = True  # the reward function calls `batch` with one prompt's whole group

    def __init__(self, *, answer_pattern: str = "", soft: bool = False, min_agreement: float = 0.0,
                 labels: str = "", timeout_s: int = 3, hacking_guard: bool = True,
                 answer_phrases: bool = True) -> None:
        """`answer_pattern`, `hacking_guard`, `answer_phrases`, `timeout_s`: how an answer is
        found and compared, as in `math`. `soft`: reward the share of the group that agrees
        with the completion's own answer (SRT) instead of 1/0 for agreeing with the majority.
        `min_agreement`: below this majority share the group gets no label (every reward 0).
        `labels`: a JSONL file of frozen pseudo-labels by prompt (`rlvr label` writes one),
        used instead of the vote for the prompts it lists."""
        if not 0.0 <= float(min_agreement) <= 1.0:
            raise ValueError(f"min_agreement must be a ratio in [0, 1], got {min_agreement!r}")
        self.math = MathVerifier(answer_pattern=answer_pattern, timeout_s=timeout_s,
                                 hacking_guard=hacking_guard, answer_phrases=answer_phrases)
        self.timeout_s = timeout_s
        self.soft = bool(soft)
        self.min_agreement = float(min_agreement)
        self.labels = read_label_file(labels) if labels else {}
        self._parsed: dict[str, list] = {}  # frozen labels and references recur: parse each once

    def prepare(self) -> None:
        self.math.prepare()

    # ------------------------------------------------------------------ answers
    def answer(self, completion: str, meta: dict | None = None) -> tuple[str | None, str]:
        """(the completion's answer, "") or (None, why it has none), with `math`'s guards: an
        answer copied from the prompt (its worked example's box) does not vote, nor does a hedge."""
        answer, info = self.math.guarded_answer(completion, meta)
        return (answer.strip(), "") if answer is not None else (None, info["reason"])

    def parse(self, text: str, *, cache: bool = False) -> list:
        """math-verify's parse of `text` (empty: unparsable)."""
        from math_verify import parse

        if cache and text in self._parsed:
            return self._parsed[text]
        parsed = parse(f"${text}$", parsing_timeout=self.timeout_s)
        if cache:
            if len(self._parsed) >= PARSE_CACHE_SIZE:
                self._parsed.clear()
            self._parsed[text] = parsed
        return parsed

    def same(self, gold: list, gold_text: str, pred: list, pred_text: str) -> bool:
        """`pred` ≡ `gold`: identical text (spaces aside) first, then math-verify, gold first."""
        from math_verify import verify

        if gold_text.replace(" ", "") == pred_text.replace(" ", ""):
            return True
        return bool(gold and pred and verify(gold, pred, timeout_seconds=self.timeout_s))

    def cluster(self, answers: list[str | None], parsed: list[list]) -> list[Cluster]:
        """Equivalence classes of the answers, in order of first appearance. An answer joins
        the first cluster whose representative it equals; missing or unparsable answers join
        none, so they can never be the majority."""
        clusters: list[Cluster] = []
        by_key: dict[str, Cluster] = {}  # exact text: no math-verify call for a repeated answer
        for i, (a, p) in enumerate(zip(answers, parsed)):
            if a is None or not p:
                continue
            key = a.replace(" ", "")
            home = by_key.get(key) or next((c for c in clusters if self.same(c.parsed, c.answer, p, a)), None)
            if home is None:
                home = Cluster(a, p)
                clusters.append(home)
            home.members.append(i)
            by_key[key] = home
        return clusters

    # ------------------------------------------------------------------ rewards
    def batch(self, completions: list[str], references: list, metas: list[dict]) -> list[Verdict]:
        """Verdicts of one prompt's group, in order."""
        G = len(completions)
        if G == 0:
            return []
        found = [self.answer(c, m) for c, m in zip(completions, metas)]
        answers = [a for a, _ in found]
        parsed = [self.parse(a) if a is not None else [] for a in answers]
        clusters = self.cluster(answers, parsed)
        # the most frequent cluster; on a tie, max() keeps the first one, i.e. the cluster whose
        # first answer came earliest in the group
        vote = max(clusters, key=lambda c: len(c.members)) if clusters else None
        # the denominator is the whole group, completions without an answer included: a group in
        # which few completions answer is not in agreement (SRT divides by the answers only)
        majority_ratio = len(vote.members) / G if vote else 0.0
        share = {i: len(c.members) / G for c in clusters for i in c.members}

        prompt = metas[0].get("prompt") if metas and isinstance(metas[0], dict) else None
        frozen = self.labels.get(prompt) if isinstance(prompt, str) else None
        label, source, reason = self._label(frozen, vote, majority_ratio)
        # membership of each completion in the label's cluster
        if label is None:
            agrees = [False] * G
        elif frozen is not None:
            gold = self.parse(label, cache=True)
            agrees = [a is not None and bool(p) and self.same(gold, label, p, a) for a, p in zip(answers, parsed)]
        else:
            members = set(vote.members)
            agrees = [i in members for i in range(G)]

        reference = references[0] if references else None
        truth = self._truth(reference, label, answers, parsed) if _known(reference) else None
        verdicts = []
        for i, (a, why) in enumerate(found):
            hard = 1.0 if agrees[i] else 0.0
            reward = share.get(i, 0.0) if (self.soft and frozen is None and label is not None) else hard
            info: dict[str, Any] = {"answer": None if a is None else a[:SHOWN_CHARS], "label": label,
                                    "label_source": source, "majority_ratio": majority_ratio,
                                    "agreement": share.get(i, 0.0)}
            if reason:
                info["reason"] = reason
            elif why:
                info["reason"] = why
            elif not parsed[i]:
                info["reason"] = "unparsable"
            if truth is not None:
                label_correct, true_rewards = truth
                if label_correct is not None:
                    info["label_correct"] = label_correct
                info["true_reward"] = true_rewards[i]
                info["reward_correct"] = hard == true_rewards[i]
            verdicts.append(Verdict(reward, info))
        return verdicts

    def _label(self, frozen: FrozenLabel | None, vote: Cluster | None,
               majority_ratio: float) -> tuple[str | None, str, str]:
        """(pseudo-label or None, where it came from, why there is none): the frozen label of the
        prompt if any, else the vote; none when nobody answered or agreement is too low."""
        if frozen is not None:
            source, label, ratio = "frozen", frozen.label, frozen.majority_ratio
        else:
            source = "vote_fallback" if self.labels else "vote"  # fallback: the file lacks this prompt
            label, ratio = (vote.answer, majority_ratio) if vote else (None, 0.0)
        if label is None:
            return None, source, "no_label"
        if ratio < self.min_agreement:
            return None, source, "low_agreement"
        return label, source, ""

    def _truth(self, reference: Any, label: str | None, answers: list[str | None],
               parsed: list[list]) -> tuple[bool | None, list[float]] | None:
        """(label ≡ truth, or None without a label; each completion's true 0/1 reward), or
        None when the reference does not parse — diagnostics only, never the reward."""
        ref = str(reference)
        gold = self.parse(ref, cache=True)
        if not gold:
            return None
        label_correct = None if label is None else self.same(gold, ref, self.parse(label, cache=True), label)
        true = [1.0 if a is not None and p and self.same(gold, ref, p, a) else 0.0 for a, p in zip(answers, parsed)]
        return label_correct, true

    def __call__(self, completion: str, reference: Any, meta: dict | None = None) -> Verdict:
        """One completion alone is a group of one: it is its own majority. The trainer calls
        `batch` with whole groups instead."""
        return self.batch([completion], [reference], [meta or {}])[0]


def _mean(values: list[float]) -> float:
    return sum(values) / len(values)


def majority_metrics(verdicts: Iterable[Verdict]) -> dict[str, float]:
    """Step metrics from `majority` verdicts (each completion counts once, so groups of equal
    size weigh the same): `label_accuracy` (pseudo-label ≡ truth, over labelled completions
    with a known reference), `reward_accuracy` (pseudo-reward == true reward), `majority_ratio`
    (the vote's share of the group), `labelled_frac` (completions whose group had a label).
    Verdicts without these fields (errors, timeouts) are skipped; a metric with nothing to
    average is left out."""
    info = [v.info for v in verdicts if "label_source" in v.info]
    out: dict[str, float] = {}
    for key, values in (
            ("label_accuracy", [float(i["label_correct"]) for i in info if "label_correct" in i]),
            ("reward_accuracy", [float(i["reward_correct"]) for i in info if "reward_correct" in i]),
            ("majority_ratio", [float(i["majority_ratio"]) for i in info]),
            ("labelled_frac", [float(i.get("label") is not None) for i in info])):
        if values:
            out[METRIC_PREFIX + key] = _mean(values)
    return out
