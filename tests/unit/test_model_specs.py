"""A run's checkpoint as a model spec: `runs/x@step` and `runs/x` (rlvr.models.run_checkpoint)."""
import pytest

from rlvr.models import ModelNotFound, resolve, run_checkpoint


def _run(tmp_path, steps=(3, 7)):
    run = tmp_path / "runs" / "demo"
    for step in steps:
        ckpt = run / "checkpoints" / f"step-{step}"
        ckpt.mkdir(parents=True)
        (ckpt / "config.json").write_text("{}")
        (ckpt / "trainer_state.pt").write_bytes(b"")  # what makes a checkpoint complete
    (run / "config.yaml").write_text("run: {name: demo}\n")
    return run


def test_run_at_step_names_that_checkpoint_and_a_run_its_newest(tmp_path):
    run = _run(tmp_path)
    assert resolve(f"{run}@3") == str(run / "checkpoints" / "step-3")
    assert run_checkpoint(f"{run}@7") == run / "checkpoints" / "step-7"
    assert resolve(str(run)) == str(run / "checkpoints" / "step-7")  # 7 > 3 by number, as 10 > 9 would be
    # a checkpoint folder, or any model folder, is no run spec: taken as it is
    assert run_checkpoint(str(run / "checkpoints" / "step-3")) is None
    literal = tmp_path / "model@2"
    literal.mkdir()
    (literal / "config.json").write_text("{}")
    assert resolve(str(literal)) == str(literal)  # an existing folder wins over the RUN@STEP reading


def test_missing_steps_and_runs_say_what_was_tried(tmp_path):
    run = _run(tmp_path)
    with pytest.raises(ModelNotFound, match=r"no checkpoint .*step-5 \(its complete checkpoints: step-3, step-7\)"):
        resolve(f"{run}@5")
    with pytest.raises(ModelNotFound, match=r"nope does not exist"):
        resolve(str(tmp_path / "nope") + "@5")
    empty = tmp_path / "empty"
    (empty / "checkpoints").mkdir(parents=True)
    with pytest.raises(ModelNotFound, match="run folder without a complete checkpoint"):
        resolve(str(empty))
    with pytest.raises(ModelNotFound, match=r"tried it as a folder and a \.gguf file.*RUN@STEP.*hub"):
        resolve("not a model")
