import subprocess

from rlvr.cli import main
from tests.conftest import rlvr_cmd


def test_train_help_explains_every_option(capsys):
    try:
        main(["train", "--help"])
    except SystemExit as e:
        assert e.code == 0
    text = capsys.readouterr().out
    for key in ("--rollout.group_size", "--algo.loss", "--model.lora.rank", "--resume", "--out"):
        assert key in text
    assert "Completions sampled per prompt" in text  # a field's docstring


def test_bad_override_is_a_clear_error(capsys, tiny_config_path):
    assert main(["train", tiny_config_path, "--rollout.group_sz=3"]) == 2
    err = capsys.readouterr().err
    assert "rollout.group_sz" in err and "group_size" in err


def test_config_command_prints_the_resolved_config(capsys, tiny_config_path):
    assert main(["config", tiny_config_path, "--optim.lr=0.5"]) == 0
    out = capsys.readouterr().out
    assert "lr: 0.5" in out and "path: tiny" in out


def test_verifiers_command_lists_names(capsys):
    assert main(["verifiers"]) == 0
    out = capsys.readouterr().out
    assert "math" in out and "format" in out
    assert "trl:MODULE_OR_FILE.py:FUNCTION" in out and "verl:MODULE_OR_FILE.py" in out  # the framework prefixes


def test_console_script_is_installed():
    proc = subprocess.run(rlvr_cmd() + ["--help"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and "train" in proc.stdout and "eval" in proc.stdout


def test_algos_command_lists_each_preset_with_a_line(capsys):
    assert main(["algos"]) == 0
    lines = capsys.readouterr().out.splitlines()
    by_name = {line.split()[0]: line for line in lines if line.strip() and not line.startswith("use:")}
    assert "dapo" in by_name and "clip-higher" in by_name["dapo"]
    assert "jepo" in by_name and "ppo" in by_name and len(by_name) >= 13


def test_resume_refuses_algo(tmp_path, capsys):
    (tmp_path / "config.yaml").write_text("model: {path: tiny}\n")
    try:
        main(["train", "--resume", str(tmp_path), "--algo=dapo"])
    except SystemExit as e:
        assert "--algo" in str(e)
    else:
        raise AssertionError("expected an error")
