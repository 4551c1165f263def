"""Config overrides in the three spellings users bring from other tools.

- `--optim.lr=1e-3` — rlvr's own form;
- `--optim.lr 1e-3` — argparse style, as TRL's and prime-rl's command lines take it;
- `optim.lr=1e-3` — Hydra style, as verl's command lines take it (`+optim.lr=…` and
  `++optim.lr=…`, Hydra's "add" and "force" prefixes, mean the same here: every key exists).

All three become the first form before argparse sees the command line, so a value is never
mistaken for the CONFIG positional.
"""
from __future__ import annotations

import re

from rlvr.configtools import ConfigError

# `section.key` or deeper: every config key has a section, which tells an override from a flag
_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+")
_HYDRA = re.compile(r"\+{0,2}(" + _DOTTED.pattern + r")=(.*)", re.S)


def normalise_overrides(tokens: list[str]) -> list[str]:
    """The command line after the sub-command, with every override as `--section.key=value`."""
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok == "--":  # everything after a bare `--` is passed through untouched
            out.extend(tokens[i:])
            break
        hydra = _HYDRA.fullmatch(tok)
        if hydra:
            out.append(f"--{hydra.group(1)}={hydra.group(2)}")
        elif tok.startswith("--") and "=" not in tok and _DOTTED.fullmatch(tok[2:]):
            if i + 1 >= len(tokens) or tokens[i + 1].startswith("--"):
                raise ConfigError(f"override {tok!r} has no value; write {tok}=VALUE or {tok} VALUE")
            out.append(f"{tok}={tokens[i + 1]}")
            i += 1
        else:
            out.append(tok)
        i += 1
    return out
