"""Plug-ins named by import path: `"package.module:Name"`.

Registries whose entries pull in heavy back ends (a vLLM engine, Ray) hold such dotted names
instead of the objects, so that nothing is imported until an entry is chosen; users name their
own plug-ins the same way (a verifier `mypkg.rewards:MyVerifier`).
"""
from __future__ import annotations

import importlib
from typing import Any


def import_dotted(path: str) -> Any:
    """The object `Name` of `package.module:Name`; ImportError or AttributeError says why not."""
    module, sep, attr = path.partition(":")
    if not sep or not module or not attr:
        raise ImportError(f"{path!r} is not of the form 'package.module:Name'")
    return getattr(importlib.import_module(module), attr)


def lazy_entry(registry: dict[str, str], name: str, what: str) -> Any:
    """The object of a lazily registered entry (its dotted name in `registry`), or of a
    `package.module:Name` plug-in; `what` names the kind in the error for anything else."""
    if name in registry:
        return import_dotted(registry[name])
    if ":" in name:
        return import_dotted(name)
    raise ValueError(f"unknown {what} {name!r}; allowed values: {', '.join(sorted(registry))}, "
                     "or 'package.module:Class'")
