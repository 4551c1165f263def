"""The rollout browser: every row of `samples.jsonl` as HTML, filtered in the page by step, prompt
text and reward (page.SCRIPT), each with its verifiers' verdicts and info.

The rows are written out in the HTML rather than built by the script from embedded JSON, so the
file reads (and parses, in the tests) the same with scripts off; the script only hides rows.

Token colouring: a row that has `tokens` (the text piece of each generated token) and
`token_logprobs` (the sampler's log-prob of each) shows its completion token by token, shaded by
how unlikely each token was; `token_entropies` (nats), when present too, gives a second shading.
Rows without them show the completion as text.
"""
from __future__ import annotations

import json
import math
from html import escape

from rlvr.report.svg import finite, fmt

LOGPROB_FLOOR = -6.0
"""The log-prob shaded darkest (p ≈ 0.25%); anything less likely is shaded the same."""
ENTROPY_CEIL = 4.0
"""The entropy (nats) shaded darkest."""


def _text(value) -> str:
    """Prompts and answers are strings, chat message lists or (reasoning-gym) dicts."""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, indent=1)


def _tokens(row: dict) -> str | None:
    pieces, lps, ents = row.get("tokens"), row.get("token_logprobs"), row.get("token_entropies")
    if not (isinstance(pieces, list) and isinstance(lps, list) and len(pieces) == len(lps) and pieces):
        return None
    if not (isinstance(ents, list) and len(ents) == len(pieces)):
        ents = None
    spans = []
    for i, (piece, lp) in enumerate(zip(pieces, lps)):
        shade_lp = min(1.0, max(0.0, lp / LOGPROB_FLOOR)) if finite(lp) else 1.0
        tip = f"log-prob {fmt(lp)} (p {math.exp(lp):.3f})" if finite(lp) else "log-prob unknown"
        style = f"--lp:{shade_lp:.2f}"
        if ents is not None and finite(ents[i]):
            style += f";--en:{min(1.0, max(0.0, ents[i] / ENTROPY_CEIL)):.2f}"
            tip += f", entropy {fmt(ents[i])}"
        spans.append(f'<span class="tok" style="{style}" title="{escape(tip)}">{escape(str(piece))}</span>')
    return "".join(spans)


def _verdicts(verifiers: dict) -> str:
    if not verifiers:
        return ""
    rows = []
    for name, verdict in verifiers.items():
        verdict = verdict if isinstance(verdict, dict) else {"reward": verdict}
        info = "; ".join(f"{escape(str(k))}: {escape(v if isinstance(v, str) else json.dumps(v, ensure_ascii=False))}"
                         for k, v in verdict.items() if k != "reward")
        reward = verdict.get("reward")
        rows.append(f"<tr><td>{escape(str(name))}</td><td>{fmt(reward) if finite(reward) else escape(str(reward))}"
                    f"</td><td>{info}</td></tr>")
    return ('<table class="verdicts"><thead><tr><th>verifier</th><th>reward</th><th>info</th></tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table>")


def _row(row: dict) -> str:
    reward = row.get("reward")
    good = "good" if finite(reward) and reward > 0 else "bad" if finite(reward) else ""
    meta = [f"step {row.get('step')}", f"reward {fmt(reward) if finite(reward) else reward}"]
    if finite(row.get("advantage")):
        meta.append(f"advantage {fmt(row['advantage'])}")
    if row.get("finish_reason"):
        meta.append(f"finished: {row['finish_reason']}")
    if row.get("policy_version") is not None:
        meta.append(f"policy version {row['policy_version']}")
    completion = _tokens(row)
    if completion is None:
        completion = escape(str(row.get("completion", "")))
    answer = row.get("answer")
    answer_html = (f'<div class="meta">reference: {escape(_text(answer))}</div>' if answer not in (None, "") else "")
    return (f'<div class="rollout {good}" data-step="{escape(str(row.get("step")))}" '
            f'data-reward="{reward if finite(reward) else "NaN"}">'
            f'<div class="meta">{escape(" · ".join(meta))}</div>'
            f'<div class="prompt">{escape(_text(row.get("prompt", "")))}</div>'
            f'<div class="completion">{completion}</div>{answer_html}{_verdicts(row.get("verifiers") or {})}</div>')


def thin(rows: list[dict], limit: int) -> tuple[list[dict], str]:
    """At most about `limit` rows: every k-th step's rows, the first and last steps kept, so a
    long run's file stays small enough to open; the note says what was left out."""
    if len(rows) <= limit:
        return rows, ""
    steps = sorted({r.get("step") for r in rows if isinstance(r.get("step"), int)})
    per_step = max(1, len(rows) // max(1, len(steps)))
    keep_n = max(2, limit // per_step)
    every = math.ceil(len(steps) / keep_n)
    kept_steps = set(steps[::every]) | {steps[0], steps[-1]} if steps else set()
    kept = [r for r in rows if r.get("step") in kept_steps]
    return kept, (f"{len(rows)} rows in samples.jsonl; shown: the {len(kept)} rows of every {every}th step "
                  f"({len(kept_steps)} of {len(steps)} steps), first and last included, to keep this file small.")


def browser(rows: list[dict], *, limit: int = 3000) -> str:
    rows, note = thin(rows, limit)
    has_lp = any(_tokens(r) is not None for r in rows)
    has_ent = any(isinstance(r.get("token_entropies"), list) for r in rows)
    colour = ""
    if has_lp:
        options = [("none", "none"), ("logprob", "log-prob")] + ([("entropy", "entropy")] if has_ent else [])
        opts = "".join(f'<option value="{v}">{label}</option>' for v, label in options)
        colour = (f'<label>colour tokens by<select id="f-colour" data-default="logprob">{opts}</select></label>'
                  f'<span class="scale">red: log-prob (darkest at ≤ {LOGPROB_FLOOR:g}); blue: entropy (darkest '
                  f'at ≥ {ENTROPY_CEIL:g} nats); hover a token for its numbers</span>')
    filters = ('<div class="filters">'
               '<label>step (3 or 2-5)<input id="f-step" size="7"></label>'
               '<label>prompt contains<input id="f-prompt" size="22"></label>'
               '<label>reward ≥<input id="f-min" size="5"></label>'
               '<label>reward ≤<input id="f-max" size="5"></label>'
               f'{colour}<span><b id="shown">{len(rows)}</b> of {len(rows)} rollouts shown</span></div>')
    hint = ("<p class=\"sub\">Filters also come from the address: <code>report.html#step=2-5&amp;prompt=7&amp;"
            "min_reward=0.5&amp;max_reward=1</code>" + ("&amp;<code>colour=entropy</code>" if has_ent else "") +
            "; the address follows the filters as they change, so a filtered view can be shared.</p>")
    note_html = f'<p class="note">{escape(note)}</p>' if note else ""
    if not has_lp:
        note_html += ('<p class="sub">These rows have no per-token log-probs (<code>tokens</code>, '
                      '<code>token_logprobs</code>), so completions are shown as text.</p>')
    body = "\n".join(_row(r) for r in rows) or "<p>No sampled completions were logged (run.log_samples: 0).</p>"
    cls = ' class="colour-logprob"' if has_lp else ""
    return f'{hint}{note_html}{filters}<div id="rollouts"{cls}>\n{body}\n</div>'
