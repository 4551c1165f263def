"""What a report page holds, read with the standard library's HTML parser: the charts and what is
drawn in each, the rollout rows (and which are hidden), the token spans, and every reference to
something outside the file. Used on the file as written (tests/unit/report) and on the DOM a
headless browser dumps after the page's script ran (tests/e2e/test_report_browser.py)."""
from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}


@dataclass
class Chart:
    title: str
    polylines: int = 0
    circles: int = 0
    bands: int = 0
    points: list[int] = field(default_factory=list)
    """Points of each polyline."""


@dataclass
class Rollout:
    step: int
    reward: float
    hidden: bool
    tokens: int = 0
    text: str = ""


class Dom(HTMLParser):
    def __init__(self, html: str) -> None:
        super().__init__(convert_charrefs=True)
        self.charts: list[Chart] = []
        self.rollouts: list[Rollout] = []
        self.external: list[str] = []
        self.scripts = 0
        self.ids: dict[str, str] = {}
        self.tables: list[list[list[str]]] = []
        self._stack: list[tuple[str, dict]] = []
        self._chart: Chart | None = None
        self._rollout: Rollout | None = None
        self._id_text: tuple[str, str] | None = None
        self.feed(html)
        self.close()

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        for key in ("src", "href"):  # a page that needs the network, or a file beside it, is not self-contained
            value = a.get(key) or ""
            if value.startswith(("http:", "https:", "//")) or (key == "src" and value):
                self.external.append(value)
        if tag == "link":
            self.external.append(a.get("href", ""))
        cls = (a.get("class") or "").split()
        if tag == "figure" and "chart" in cls:
            self._chart = Chart(a.get("data-title", ""))
            self.charts.append(self._chart)
        elif self._chart and tag == "polyline":
            self._chart.polylines += 1
            self._chart.points.append(len(a.get("points", "").split()))
        elif self._chart and tag == "circle":
            self._chart.circles += 1
        elif self._chart and tag == "path" and "band" in cls:
            self._chart.bands += 1
        elif tag == "div" and "rollout" in cls:
            self._rollout = Rollout(int(a["data-step"]), float(a["data-reward"]), "hidden" in a)
            self.rollouts.append(self._rollout)
        elif tag == "span" and "tok" in cls and self._rollout:
            self._rollout.tokens += 1
        elif tag == "script":
            self.scripts += 1
        elif tag == "table":
            self.tables.append([])
        elif tag == "tr" and self.tables:
            self.tables[-1].append([])
        elif tag in ("td", "th") and self.tables and self.tables[-1]:
            self.tables[-1][-1].append("")
        if "id" in a:
            self.ids[a["id"]] = ""
            if tag in ("b", "span"):  # short texts such as the count of rows shown
                self._id_text = (a["id"], tag)
        if tag not in VOID:
            self._stack.append((tag, a))

    def handle_endtag(self, tag):
        while self._stack:
            t, a = self._stack.pop()
            if t == "figure" and "chart" in (a.get("class") or ""):
                self._chart = None
            if t == "div" and "rollout" in (a.get("class") or "").split():
                self._rollout = None
            if t == tag:
                break
        if self._id_text and self._id_text[1] == tag:
            self._id_text = None

    def handle_data(self, data):
        if self._id_text:
            self.ids[self._id_text[0]] += data
        if self._rollout:
            self._rollout.text += data
        if self.tables and self.tables[-1] and self.tables[-1][-1] and any(t in ("td", "th") for t, _ in self._stack):
            self.tables[-1][-1][-1] += data

    def visible(self) -> list[Rollout]:
        return [r for r in self.rollouts if not r.hidden]

    def chart(self, title: str) -> Chart:
        found = [c for c in self.charts if c.title == title]
        assert len(found) == 1, (title, [c.title for c in self.charts])
        return found[0]
