"""The shape issue 10 asks of the package: no import cycle, small files, a loop that names no
method, sampler or engine, the three plug-in registries, and configs that start nothing."""
import ast
import io
import tokenize
from pathlib import Path

import psutil

from rlvr.algos import ADVANTAGES, LOSSES
from rlvr.config import load_config
from rlvr.methods import METHODS
from rlvr.rollout import BACKENDS, ENGINES
from rlvr.samplers import SAMPLERS
from rlvr.trackers import TRACKERS

RLVR = Path(__file__).resolve().parents[1] / "rlvr"


def _modules() -> dict[str, Path]:
    out = {}
    for f in RLVR.rglob("*.py"):
        parts = f.relative_to(RLVR.parent).with_suffix("").parts
        out[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = f
    return out


def _imports(path: Path, modules: dict) -> set[str]:
    """rlvr modules imported anywhere in the file (functions included: a lazy import is still a
    dependency), except under `if TYPE_CHECKING:`. `from pkg import sub` depends on `pkg.sub`
    when that is a module, else on `pkg`."""
    found = set()

    def visit(node):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and "TYPE_CHECKING" in ast.dump(child.test):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module and child.level == 0:
                subs = [f"{child.module}.{a.name}" for a in child.names if f"{child.module}.{a.name}" in modules]
                found.update(subs)
                if len(subs) < len(child.names):
                    found.add(child.module)
            visit(child)

    visit(ast.parse(path.read_text(encoding="utf-8")))
    return {m for m in found if m in modules}


def test_no_import_cycle_in_the_package():
    modules = _modules()
    graph = {m: _imports(f, modules) - {m} for m, f in modules.items()}
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def walk(m, path):
        state[m] = 1
        for n in sorted(graph[m]):
            assert state.get(n) != 1, "import cycle: " + " → ".join(path[path.index(n):] + [n])
            if n not in state:
                walk(n, path + [n])
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            walk(m, [m])


def test_no_file_over_500_lines():
    long = {str(f.relative_to(RLVR)): n for f in RLVR.rglob("*.py") if (n := len(f.read_text().splitlines())) > 500}
    assert not long, long


def _code_words(path: Path) -> set[str]:
    """Names and string literals of the code, docstrings and comments left out."""
    words, previous = set(), None
    for tok in tokenize.generate_tokens(io.StringIO(path.read_text(encoding="utf-8")).readline):
        if tok.type == tokenize.NAME:
            words.add(tok.string)
        elif tok.type == tokenize.STRING and previous not in (tokenize.INDENT, tokenize.NEWLINE, tokenize.NL, None):
            words.update(part for part in tok.string.strip("\"'fr").replace("/", " ").split())
        if tok.type not in (tokenize.COMMENT,):
            previous = tok.type
    return words


def test_the_training_loop_names_no_method_sampler_or_engine():
    train = RLVR / "train.py"
    names = {*METHODS, *SAMPLERS, *ENGINES, *BACKENDS, *TRACKERS, *ADVANTAGES, *LOSSES, "critic", "jepo", "self_verify",
             "ref_model"}
    assert not names & _code_words(train), names & _code_words(train)
    tree = ast.parse(train.read_text())
    longest = max((n.end_lineno - n.lineno + 1, n.name) for n in ast.walk(tree) if isinstance(n, ast.FunctionDef))
    assert longest[0] <= 80, longest


def test_the_registries_hold_the_issue_entries():
    assert set(ENGINES) >= {"hf"} and ENGINES["hf"] == "rlvr.rollout.hf:HFEngine"
    assert set(SAMPLERS) >= {"groups", "dynamic", "greedy_baseline", "self_verify"}
    assert set(METHODS) >= {"policy_gradient", "ppo", "jepo"}
    assert set(TRACKERS) >= {"tensorboard", "wandb", "mlflow", "trackio"}


def test_building_a_config_starts_no_process(tiny_config_path):
    """The config checks build every verifier to check its options; none may start a worker,
    a model or a sandbox (issue 10)."""
    before = {p.pid for p in psutil.Process().children(recursive=True)}
    load_config(tiny_config_path, ["--reward.verifiers=[{name: judge, options: {model: policy}}, {name: code}, "
                                   "{name: majority}, {name: pairwise, options: {model: policy}}]",
                                   "--self_verify.enabled=true", "--self_verify.solutions=1"])
    assert {p.pid for p in psutil.Process().children(recursive=True)} == before
