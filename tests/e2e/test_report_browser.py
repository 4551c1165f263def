"""The report of a real tiny run, rendered by headless Chromium (issue 13 §3): the charts are drawn,
every rollout row is there, and filters given in the URL fragment hide the rows they should —
which proves the page's script ran in a browser, not only that the HTML parses.

Chromium is Debian's `chromium` package; `.ci/run` installs it where missing. Without it the test
is skipped and says so. A screenshot is kept: under the test's tmp folder, and copied to
$RLVR_TEST_ARTEFACTS when that is set.
"""
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import rlvr_cmd
from tests.report_dom import Dom

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [pytest.mark.e2e, pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (Debian: apt-get install chromium; .ci/run installs it)")]


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess:
    # As root in a container the sandbox cannot start (--no-sandbox), there is no GPU
    # (--disable-gpu) and /dev/shm is small (--disable-dev-shm-usage); a profile of its own per
    # call, so that two calls never meet on one profile's lock.
    profile = tmp / f"profile-{len(list(tmp.glob('profile-*')))}"
    cmd = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
           "--no-default-browser-check", "--disable-extensions", f"--user-data-dir={profile}", *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory, tiny_config_path):
    out = tmp_path_factory.mktemp("report") / "run"
    proc = subprocess.run(rlvr_cmd() + ["train", tiny_config_path, "--out", str(out), "--run.progress=false",
                                        "--run.steps=4", "--run.save_every=4", "--run.log_samples=4",
                                        "--run.trackers=[]"], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "warning: could not write" not in proc.stderr
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    return out, samples


def _dom(tiny_report, fragment: str = "") -> Dom:
    out, _ = tiny_report
    url = (out / "report.html").resolve().as_uri() + (f"#{fragment}" if fragment else "")
    return Dom(_chromium(out.parent, "--dump-dom", url).stdout)


def test_rendered_report_draws_every_chart_and_every_rollout(tiny_report):
    out, samples = tiny_report
    dom = _dom(tiny_report)
    assert len(dom.charts) >= 10  # every numeric metric of a tiny run: reward, length, time, eval, ...
    empty = [c.title for c in dom.charts if c.polylines + c.circles == 0]
    assert not empty, empty
    assert dom.chart("reward/mean").points == [4] and dom.chart("eval/accuracy").points == [2]  # steps 0, 4
    assert len(samples) == 16 and len(dom.rollouts) == 16 and len(dom.visible()) == 16
    assert dom.ids["shown"] == "16" and not dom.external


@pytest.mark.parametrize("fragment, keep", [
    ("step=2", lambda s: s["step"] == 2),
    ("step=2-3&prompt=1%20%2B%201", lambda s: 2 <= s["step"] <= 3 and "1 + 1" in s["prompt"]),
    ("min_reward=0.5", lambda s: s["reward"] >= 0.5),
])
def test_filters_from_the_url_fragment_hide_rows(tiny_report, fragment, keep):
    _, samples = tiny_report
    dom = _dom(tiny_report, fragment)
    expected = [(s["step"], s["reward"]) for s in samples if keep(s)]
    assert [(r.step, r.reward) for r in dom.visible()] == expected
    assert dom.ids["shown"] == str(len(expected)) and len(dom.rollouts) == 16  # hidden, not removed
    if fragment == "step=2":
        assert len(expected) == 4  # the filter changed the count (log_samples: 4 per step)


def test_screenshot_is_kept(tiny_report, tmp_path):
    out, _ = tiny_report
    shot = tmp_path / "report-tiny-run.png"
    _chromium(tmp_path, "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}",
              (out / "report.html").resolve().as_uri() + "#step=2")
    from PIL import Image

    with Image.open(shot) as im:
        assert im.size == (1280, 2400)
        colours = im.convert("RGB").getcolors(maxcolors=1 << 20) or []
    assert len(colours) > 50, "the screenshot is blank"  # text, lines and shading, not one colour
    if os.environ.get("RLVR_TEST_ARTEFACTS"):
        dest = Path(os.environ["RLVR_TEST_ARTEFACTS"])
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copy(shot, dest / shot.name)
