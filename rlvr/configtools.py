"""Machinery behind `rlvr.config`: typed construction of frozen dataclasses from nested
dicts, YAML layering, `--section.key=value` overrides, and field docstrings.

Kept apart from `config.py` so that file holds only the schema a user reads.
"""
from __future__ import annotations

import ast
import dataclasses
import functools
import inspect
import math
import textwrap
import types
import typing
from pathlib import Path
from typing import Any, Literal, Union

import yaml


class ConfigError(ValueError):
    """A user-facing configuration problem; the message names the key and what is allowed."""


# ---------------------------------------------------------------------------- docs
@functools.lru_cache(maxsize=None)
def field_docs(cls: type) -> dict[str, str]:
    """The docstring written under each field of a dataclass (cleanrl style), read from source."""
    try:
        tree = ast.parse(textwrap.dedent(inspect.getsource(cls)))
    except (OSError, TypeError):
        return {}
    body = tree.body[0].body
    docs: dict[str, str] = {}
    for node, nxt in zip(body, body[1:]):
        if (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr) and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)):
            docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def describe(cls: type, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """Every leaf option of a config tree as (key, type, default, doc), for `--help`."""
    rows = []
    hints = typing.get_type_hints(cls)
    docs = field_docs(cls)
    for f in dataclasses.fields(cls):
        tp = hints[f.name]
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(tp):
            rows.extend(describe(tp, key + "."))
            continue
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        shown = yaml.safe_dump(to_plain(default), default_flow_style=True, width=10_000)
        rows.append((key, type_name(tp), shown.strip().removesuffix("...").strip(), docs.get(f.name, "")))
    return rows


def type_name(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin is Literal:
        return " | ".join(repr(a) for a in typing.get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in typing.get_args(tp))
    if origin in (list, tuple, dict):
        return f"{origin.__name__}[{', '.join(type_name(a) for a in typing.get_args(tp) if a is not Ellipsis)}]"
    if tp is type(None):
        return "null"
    return getattr(tp, "__name__", str(tp))


# ---------------------------------------------------------------------------- build
def build(cls: type, data: dict[str, Any] | None, prefix: str = "") -> Any:
    """Construct dataclass `cls` from a nested dict, checking every key and value."""
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise ConfigError(f"'{prefix.rstrip('.') or 'config'}' must be a mapping, got {data!r}")
    names = [f.name for f in dataclasses.fields(cls)]
    for key in data:
        if key not in names:
            raise ConfigError(f"unknown config key '{prefix}{key}'; allowed keys here: {', '.join(names)}")
    hints = typing.get_type_hints(cls)
    kwargs = {k: coerce(hints[k], v, f"{prefix}{k}") for k, v in data.items()}
    try:
        return cls(**kwargs)
    except ConfigError:
        raise
    except TypeError as e:  # a required field without a value
        raise ConfigError(f"'{prefix.rstrip('.') or 'config'}': {e}") from None


def coerce(tp: Any, value: Any, key: str) -> Any:
    """Check `value` against type `tp` and convert it where the conversion is lossless."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        if dataclasses.is_dataclass(value):
            return value
        return build(tp, value, key + ".")
    if tp is Any:
        _refuse_nan(value, key)
        return value
    if origin is Literal:
        if value not in args:
            raise ConfigError(f"bad value {value!r} for '{key}'; allowed values: "
                              + ", ".join(repr(a) for a in args))
        return value
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        for arg in args:
            if arg is type(None):
                continue
            try:
                return coerce(arg, value, key)
            except ConfigError:
                continue
        raise ConfigError(f"bad value {value!r} for '{key}'; expected {type_name(tp)}")
    if origin in (list, tuple):
        if isinstance(value, (str, bytes)) or not isinstance(value, (list, tuple)):
            raise ConfigError(f"bad value {value!r} for '{key}'; expected a list ({type_name(tp)})")
        item_tp = args[0] if args else Any
        items = [coerce(item_tp, v, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    if origin is dict:
        if not isinstance(value, dict):
            raise ConfigError(f"bad value {value!r} for '{key}'; expected a mapping")
        return {str(k): coerce(args[1] if args else Any, v, f"{key}.{k}") for k, v in value.items()}
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
            return value.lower() in ("true", "yes", "1")
        raise ConfigError(f"bad value {value!r} for '{key}'; expected true or false")
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, (int, float, str)):
            raise ConfigError(f"bad value {value!r} for '{key}'; expected an integer")
        try:
            as_float = float(value)
        except ValueError:
            raise ConfigError(f"bad value {value!r} for '{key}'; expected an integer") from None
        if not as_float.is_integer():
            raise ConfigError(f"bad value {value!r} for '{key}'; expected an integer")
        return int(as_float)
    if tp is float:
        # YAML 1.1 reads `1e-5` (no dot) as a string; accept any numeric spelling.
        if isinstance(value, bool):
            raise ConfigError(f"bad value {value!r} for '{key}'; expected a number")
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"bad value {value!r} for '{key}'; expected a number") from None
        if not math.isfinite(number):  # NaN or ±inf trains to NaN weights or never times out
            raise ConfigError(f"bad value {value!r} for '{key}'; expected a finite number")
        return number
    if tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"bad value {value!r} for '{key}'; expected a string")
        return value
    raise TypeError(f"config type {tp} of '{key}' is not supported")  # schema bug, not user input


def _refuse_nan(value: Any, key: str) -> None:
    """Free-form values (a function's keyword arguments) may be ±inf (no cap, no clip) but
    never NaN, which compares false with everything and turns every result into NaN."""
    if isinstance(value, float) and math.isnan(value):
        raise ConfigError(f"bad value nan for '{key}'; expected a number")
    if isinstance(value, dict):
        for k, v in value.items():
            _refuse_nan(v, f"{key}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _refuse_nan(v, f"{key}[{i}]")


# ---------------------------------------------------------------------------- layering
def to_plain(obj: Any) -> Any:
    """Dataclasses and tuples to dicts and lists, for YAML."""
    if dataclasses.is_dataclass(obj):
        return {f.name: to_plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, (list, tuple)):
        return [to_plain(v) for v in obj]
    if isinstance(obj, dict):
        return {k: to_plain(v) for k, v in obj.items()}
    return obj


def deep_merge(base: dict, over: dict) -> dict:
    """`over` wins; nested mappings merge key by key, anything else is replaced whole."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


class _UniqueKeyLoader(yaml.SafeLoader):
    """Safe YAML that refuses a key given twice in one mapping: PyYAML lets the last one win
    silently, so a duplicated section would drop the first one's settings."""

    def construct_mapping(self, node, deep=False):
        seen: dict = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"key {key!r} appears twice (lines {seen[key] + 1} and "
                    f"{key_node.start_mark.line + 1}); merge the two", key_node.start_mark)
            seen[key] = key_node.start_mark.line
        return super().construct_mapping(node, deep=deep)


def read_yaml(path: str) -> dict:
    """A config file's top-level mapping. A missing, empty or unreadable file, a folder,
    invalid YAML or a duplicated key is a `ConfigError` naming the file — never the defaults."""
    if Path(path).is_dir():
        raise ConfigError(f"{path} is a folder; give a YAML config file")
    try:
        with open(path, "rb") as fh:
            raw = fh.read()
    except FileNotFoundError:
        shipped = ", ".join(presets(""))
        raise ConfigError(f"config file not found: {path} (configs shipped with rlvr, usable by name: "
                          f"{shipped or 'none found'})") from None
    except OSError as e:
        raise ConfigError(f"{path}: cannot read the config: {e.strerror}") from None
    try:
        data = yaml.load(raw.decode("utf-8"), Loader=_UniqueKeyLoader)  # noqa: S506 — a SafeLoader
    except UnicodeDecodeError as e:
        raise ConfigError(f"{path}: not valid UTF-8 ({e.reason} at byte {e.start})") from None
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(e).split())}") from None
    if data is None:
        raise ConfigError(f"{path} is empty (a config lists at least one section, e.g. `run: {{steps: 10}}`)")
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: the top level must be a mapping of sections")
    return data


def parse_overrides(items: list[str]) -> dict:
    """`["--a.b=1", "--a.c=x"]` -> `{"a": {"b": 1, "c": "x"}}`; values are read as YAML."""
    out: dict = {}
    for item in items:
        if not item.startswith("--") or "=" not in item:
            raise ConfigError(f"override {item!r} must look like --section.key=value")
        key, raw = item[2:].split("=", 1)
        try:
            value = yaml.safe_load(raw) if raw != "" else ""
        except yaml.YAMLError:
            value = raw
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise ConfigError(f"override {item!r} conflicts with an earlier one")
        node[parts[-1]] = value
    return out


def check_kwargs(fn: Any, given: dict, key: str, reserved: tuple[str, ...] = ()) -> None:
    """Config-supplied keyword arguments must exist in `fn`'s signature (typos fail early)."""
    params = inspect.signature(fn).parameters
    allowed = [n for n, p in params.items()
               if p.kind == p.KEYWORD_ONLY and n not in reserved]
    for name in given:
        if name not in allowed:
            raise ConfigError(f"unknown argument '{key}.{name}' for {fn.__name__}; allowed: "
                              + (", ".join(allowed) or "none"))


SHIPPED = Path(__file__).resolve().parent / "configs"
"""The presets shipped inside the package (the repository's `configs/` links here), so that an
installed wheel has every preset wherever it runs."""


def presets(kind: str = "algos") -> dict[str, Path]:
    """Presets by name: `configs/<kind>/<name>.yaml` shipped in the package, then of the working
    directory (the working directory wins on a clash). Kinds: `algos` (`--algo=NAME`),
    `rewards` (`--reward=NAME`) and `""` (the run configs, e.g. `quickstart`)."""
    found: dict[str, Path] = {}
    for root in (SHIPPED / kind, Path.cwd() / "configs" / kind):
        if root.is_dir():
            found.update({p.stem: p for p in sorted(root.glob("*.yaml"))})
    return dict(sorted(found.items()))


def config_file(name: str) -> str:
    """The file of a CONFIG argument: a path that exists; else a shipped run config by name
    (`quickstart`) or by its repository path (`configs/quickstart.yaml`, `configs/algos/dapo.yaml`),
    so the README's commands work from any folder once the package is installed."""
    path = Path(name)
    if path.exists() or path.is_absolute():
        return name
    parts = path.parts
    if len(parts) > 1 and parts[0] == "configs" and (SHIPPED.joinpath(*parts[1:])).is_file():
        return str(SHIPPED.joinpath(*parts[1:]))
    if len(parts) == 1 and path.suffix == "" and (SHIPPED / f"{name}.yaml").is_file():
        return str(SHIPPED / f"{name}.yaml")
    return name  # read_yaml says it is not found


def algo_presets() -> dict[str, Path]:
    """Algorithm presets by name (`configs/algos/<name>.yaml`)."""
    return presets("algos")


def preset_summary(path: Path) -> str:
    """The first comment line of a preset: its one-line description."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("#"):
            return line.lstrip("# ").strip()
    return ""


def preset_path(name: str, kind: str = "algos") -> Path:
    """The YAML file of `--algo=NAME` / `--reward=NAME` (a preset name, or a path to a YAML file)."""
    if name.endswith((".yaml", ".yml")) and Path(name).is_file():
        return Path(name)
    found = presets(kind)
    if name not in found:
        flag = {"algos": "--algo", "rewards": "--reward"}.get(kind, kind)
        raise ConfigError(f"bad value {name!r} for '{flag}'; allowed values: {', '.join(found) or 'none found'}")
    return found[name]


def algo_preset_path(name: str) -> Path:
    """The YAML file of `--algo=NAME` (a preset name, or a path to a YAML file)."""
    return preset_path(name, "algos")
