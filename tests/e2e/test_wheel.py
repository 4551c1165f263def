"""A built wheel carries every preset (issue 11, point 4): installed into a fresh virtual
environment and run from a folder without `configs/`, `rlvr algos` lists every algorithm preset
and `--algo=dapo`, `--reward=...` and `configs/quickstart.yaml` resolve to the shipped files."""
import importlib.util
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
import yaml

from rlvr.configtools import presets

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("wheel")
    build = [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp / "dist"), str(ROOT)]
    if importlib.util.find_spec("setuptools"):
        build.insert(4, "--no-build-isolation")  # no download when the builder is already here
    subprocess.run(build, check=True, timeout=300, capture_output=True)
    wheel = next((tmp / "dist").glob("rlvr-*.whl"))
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    # pip installs the wheel into the fresh environment (rlvr only: --no-deps) ...
    subprocess.run([sys.executable, "-m", "pip", "--python", str(venv / "bin" / "python"), "install",
                    "--no-deps", "-q", str(wheel)], check=True, timeout=300, capture_output=True)
    # ... and the dependencies come from this environment, after the fresh one's own packages
    # (a path in a .pth file is not a site folder: this environment's editable rlvr stays out)
    site = Path(subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               check=True, capture_output=True, text=True).stdout.strip())
    (site / "zz_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return venv


def _run(venv: Path, cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(venv / "bin" / "rlvr"), *args], cwd=cwd, capture_output=True, text=True, timeout=300)


def test_the_installed_package_is_the_wheel_not_this_checkout(fresh_venv, tmp_path):
    out = subprocess.run([str(fresh_venv / "bin" / "python"), "-c", "import rlvr.cli; print(rlvr.cli.__file__, list(rlvr.__path__))"],
                         cwd=tmp_path, capture_output=True, text=True, check=True).stdout
    assert str(fresh_venv) in out and str(ROOT) not in out


def test_wheel_lists_and_uses_every_preset(fresh_venv, tmp_path):
    listed = _run(fresh_venv, tmp_path, "algos")
    assert listed.returncode == 0, listed.stderr
    names = {line.split()[0] for line in listed.stdout.splitlines() if line.strip() and not line.startswith("use:")}
    assert names == set(presets("algos"))  # every preset of the repository, none missing
    dapo = _run(fresh_venv, tmp_path, "config", "--algo=dapo")
    assert dapo.returncode == 0, dapo.stderr
    assert yaml.safe_load(dapo.stdout)["algo"]["loss"] == yaml.safe_load(
        (ROOT / "configs/algos/dapo.yaml").read_text())["algo"]["loss"]
    rewards = _run(fresh_venv, tmp_path, "verifiers")
    assert all(name in rewards.stdout for name in presets("rewards"))


def test_wheel_resolves_the_readme_paths_and_bare_names(fresh_venv, tmp_path):
    by_path = _run(fresh_venv, tmp_path, "config", "configs/quickstart.yaml", "--reward=gated_math")
    by_name = _run(fresh_venv, tmp_path, "config", "quickstart", "--reward=gated_math")
    assert by_path.returncode == 0 and by_name.returncode == 0, by_path.stderr + by_name.stderr
    assert by_path.stdout == by_name.stdout and "name: quickstart" in by_path.stdout
    missing = _run(fresh_venv, tmp_path, "config", "configs/nope.yaml")
    assert missing.returncode == 2 and "quickstart" in missing.stderr  # names what is shipped
