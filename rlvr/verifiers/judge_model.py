"""A small local causal LM used as a judge: the probability of each of a few candidate
answers ("Yes"/"No", "A"/"B") after a prompt, for a batch of prompts at once.

This is the scoring backend of the `judge` (TinyV pattern, arXiv 2505.14625) and `pairwise`
(BRPO, arXiv 2506.00103) verifiers. Instead of sampling a verdict and parsing it (TinyV:
temperature 0, 8 new tokens; any unparsable output is 0), it reads the model's next-token
distribution: log π(candidate | prompt) summed over the candidate's tokens, then a softmax
over the candidates only. The score is smooth (a probability, not a 0/1 parse) and nothing
the judge writes has to be parsed.

Batching: prompts are left-padded with an attention mask and position ids that start at 0
at the first real token, so a prompt's score in a batch equals its score alone (to float
rounding, ~1e-6; tested). The model and its tokenizer are trusted; the texts put into the
prompt are not: callers truncate them (`truncate_middle`) and clean them (`clean`) first.
"""
from __future__ import annotations

import math
from typing import Sequence

MIDDLE_MARK = "\n[… {n} characters omitted …]\n"


def clean(text: object) -> str:
    """Any value as text the tokenizer accepts: lone surrogates ("\\ud800"), which cannot be
    encoded as UTF-8 and make tokenizers raise, become "?"."""
    s = text if isinstance(text, str) else str(text)
    return s.encode("utf-8", "replace").decode("utf-8")


def truncate_middle(text: str, max_chars: int) -> str:
    """`text` if it fits in `max_chars`, else its head and tail with a marker in between: the
    opening states what is being done and the end holds the final answer, so the middle goes."""
    if len(text) <= max_chars:
        return text
    keep = max(0, max_chars - len(MIDDLE_MARK.format(n=len(text))))
    head = keep // 2
    tail = keep - head
    return text[:head] + MIDDLE_MARK.format(n=len(text) - keep) + (text[len(text) - tail:] if tail else "")


def softmax(logps: Sequence[float]) -> list[float]:
    top = max(logps)
    exps = [math.exp(x - top) for x in logps]
    total = sum(exps)
    return [e / total for e in exps]


class JudgeModel:
    """A causal LM (`rlvr.models.load_policy` spec: "tiny", "smollm2-135m-instruct", a Hugging
    Face folder or a .gguf file) in eval mode, scoring candidate continuations of prompts.

    `threads`: `torch.set_num_threads` (set it in a verifier worker, where the judge runs; None
    leaves the process's setting alone). `micro_batch`: sequences per forward pass.
    """

    def __init__(self, spec: str, *, threads: int | None = None, micro_batch: int = 8, seed: int = 0) -> None:
        import torch

        from rlvr.models import load_policy

        if threads:
            torch.set_num_threads(threads)
        self.model, self.tokenizer = load_policy(spec, seed=seed)
        self.model.eval()
        self.model.requires_grad_(False)
        self.micro_batch = micro_batch
        self.chat = bool(getattr(self.tokenizer, "chat_template", None))
        # Special-token strings in the texts judged would be read as real special tokens: a
        # response could close the user's turn and write the assistant's "Yes" itself.
        self.specials = sorted(set(self.tokenizer.get_added_vocab()) | set(self.tokenizer.all_special_tokens),
                               key=len, reverse=True)
        # In a chat the verdict opens the assistant's turn ("Yes"); in plain text it follows
        # "Answer:" after a space (" Yes").
        self.choice_prefix = "" if self.chat else " "

    def defuse(self, text: str) -> str:
        """`text` with every special-token string broken by a space ("<|im_end|>" → "< |im_end|>"),
        so that it is tokenized as plain text."""
        for tok in self.specials:
            if len(tok) > 1 and tok in text:
                text = text.replace(tok, tok[0] + " " + tok[1:])
        return text

    def render(self, user_text: str) -> str:
        """The prompt text as the model sees it: a one-turn chat through the tokenizer's
        template, or plain text ending with "Answer:" when the tokenizer has none. Special-token
        strings inside `user_text` are defused first; only the template writes real ones."""
        user_text = self.defuse(user_text)
        if self.chat:
            return self.tokenizer.apply_chat_template([{"role": "user", "content": user_text}],
                                                      tokenize=False, add_generation_prompt=True)
        return user_text + "\nAnswer:"

    def _ids(self, text: str, *, special: bool) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=special)["input_ids"])

    def continuation_logprobs(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[list[float]]:
        """log π(continuation | rendered prompt), summed over the continuation's tokens:
        `[len(prompts)][len(continuations)]`.

        A continuation c is scored from one sequence prompt + c[:-1]: its last len(c)
        positions predict c's tokens. Continuations of one token share the prompt alone, so
        "Yes"/"No" costs one sequence per prompt; identical prompts are scored once.
        """
        import torch

        conts = [self._ids(self.choice_prefix + c, special=False) for c in continuations]
        if not all(conts):
            raise ValueError(f"a candidate continuation tokenizes to nothing: {list(continuations)}")
        keep = max(len(c) for c in conts)
        # the chat template writes its own special tokens; plain text gets the tokenizer's usual ones
        prompt_ids = {p: self._ids(self.render(p), special=not self.chat) for p in dict.fromkeys(prompts)}
        rows: dict[tuple, int] = {}  # (prompt, continuation prefix) -> row
        seqs: list[list[int]] = []
        for p, ids in prompt_ids.items():
            for c in conts:
                key = (p, tuple(c[:-1]))
                if key not in rows:
                    rows[key] = len(seqs)
                    seqs.append(ids + c[:-1])
        # log-softmax over the vocabulary at each row's last `keep` positions: [rows, keep, V]
        out = [None] * len(seqs)
        order = sorted(range(len(seqs)), key=lambda i: -len(seqs[i]))  # similar lengths pad little
        pad = self.tokenizer.pad_token_id
        with torch.no_grad():
            for start in range(0, len(order), self.micro_batch):
                chunk = order[start:start + self.micro_batch]
                width = max(len(seqs[i]) for i in chunk)
                ids = torch.full((len(chunk), width), pad, dtype=torch.long)
                mask = torch.zeros((len(chunk), width), dtype=torch.long)
                for r, i in enumerate(chunk):
                    ids[r, width - len(seqs[i]):] = torch.tensor(seqs[i])
                    mask[r, width - len(seqs[i]):] = 1
                positions = (mask.cumsum(-1) - 1).clamp(min=0)
                logits = self.model(input_ids=ids, attention_mask=mask, position_ids=positions,
                                    use_cache=False, logits_to_keep=keep).logits
                logp = torch.log_softmax(logits[:, -keep:].float(), dim=-1)
                for r, i in enumerate(chunk):
                    out[i] = logp[r]
        result = []
        for p in prompts:
            per = []
            for c in conts:
                lp = out[rows[(p, tuple(c[:-1]))]]
                # position keep − len(c) + k predicts c[k]
                per.append(sum(float(lp[keep - len(c) + k, tok]) for k, tok in enumerate(c)))
            result.append(per)
        return result

    def choice_probs(self, prompts: Sequence[str], choices: Sequence[str]) -> list[list[float]]:
        """P(choice | prompt) renormalised over `choices` (a softmax of their log-probs)."""
        return [softmax(lps) for lps in self.continuation_logprobs(prompts, choices)]
