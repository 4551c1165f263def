"""Line charts as inline SVG strings, so a report opens with no chart library, server or network.

A chart is one `<figure class="chart">` holding an `<svg>`: a polyline per unbroken run of finite
values of each series (a None or NaN breaks the line rather than being drawn as zero), a dot
with a hover title per point when a series has few points (held-out evaluations: steps 0, every
`eval.every`, the last), and a shaded band between `lo` and `hi` where a series has them (the
confidence band of a comparison).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from html import escape
from typing import Sequence

PALETTE = ("#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f",
           "#bcbd22")
DOTS_UP_TO = 30
"""A series with at most this many finite points also gets a dot (with its value as a tooltip) per point."""


@dataclass(frozen=True)
class Series:
    label: str
    x: Sequence[float]
    y: Sequence[float | None]
    lo: Sequence[float | None] | None = None
    hi: Sequence[float | None] | None = None
    color: str = PALETTE[0]


def finite(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def fmt(v: float) -> str:
    """Short numbers for ticks and tooltips: 3 significant digits, no exponent for everyday sizes."""
    if v == 0:
        return "0"
    if 1e-3 <= abs(v) < 1e5:
        return f"{v:.4g}" if abs(v) < 1 else f"{v:.3g}" if abs(v) < 1000 else f"{v:.0f}"
    return f"{v:.2e}"


def tick_labels(ticks: list[float]) -> list[str]:
    """Labels for evenly spaced ticks, with as many decimals as their spacing needs: `fmt`'s
    significant digits would print 4.5725 and 4.5750 both as 4.57."""
    if len(ticks) < 2:
        return [fmt(t) for t in ticks]
    step = abs(ticks[1] - ticks[0])
    if not 1e-3 <= max(abs(t) for t in ticks) < 1e5 or step < 1e-6:
        return [fmt(t) for t in ticks]
    decimals = max(0, -math.floor(math.log10(step) + 1e-9))
    while decimals < 12 and abs(round(step, decimals) - step) > step * 1e-6:  # a step of 0.0025 needs 4
        decimals += 1
    return [f"{t:.{decimals}f}" for t in ticks]


def nice_ticks(lo: float, hi: float, n: int = 4) -> list[float]:
    """About n round tick values covering [lo, hi] (steps of 1, 2 or 5 times a power of ten)."""
    span = hi - lo
    raw = span / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step - 1e-9)
    last = math.floor(hi / step + 1e-9)
    return [round(i * step, 12) + 0.0 for i in range(first, last + 1)]  # + 0.0: no "-0" tick


def _range(values: list[float]) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    if hi - lo < 1e-12 * max(1.0, abs(hi)):  # a flat line: centre it in a visible range
        pad = abs(hi) * 0.1 or 1.0
        return lo - pad, hi + pad
    pad = (hi - lo) * 0.05
    return lo - pad, hi + pad


def _segments(xs, ys) -> list[list[tuple[float, float]]]:
    out, cur = [], []
    for x, y in zip(xs, ys):
        if finite(x) and finite(y):
            cur.append((float(x), float(y)))
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return out


def line_chart(title: str, series: Sequence[Series], *, x_label: str = "step", width: int = 340,
               height: int = 210) -> str:
    """One chart; "" when no series has a finite value (nothing to draw)."""
    xs = [float(x) for s in series for x, y in zip(s.x, s.y) if finite(x) and finite(y)]
    ys = [float(v) for s in series for band in (s.y, s.lo or (), s.hi or ()) for x, v in zip(s.x, band)
          if finite(x) and finite(v)]
    if not xs:
        return ""
    x0, x1 = (min(xs), max(xs)) if max(xs) > min(xs) else (min(xs) - 1, max(xs) + 1)
    y0, y1 = _range(ys)
    left, right, top, bottom = 52, 10, 8, 34
    pw, ph = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return round(left + (x - x0) / (x1 - x0) * pw, 1)

    def py(y: float) -> float:
        return round(top + (y1 - y) / (y1 - y0) * ph, 1)

    parts = [f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" class="plot"/>']
    y_ticks = nice_ticks(y0, y1)
    for t, label in zip(y_ticks, tick_labels(y_ticks)):
        parts.append(f'<line x1="{left}" x2="{left + pw}" y1="{py(t)}" y2="{py(t)}" class="grid"/>'
                     f'<text x="{left - 4}" y="{py(t) + 3}" text-anchor="end">{label}</text>')
    x_ticks = nice_ticks(x0, x1, 5)
    for t, label in zip(x_ticks, tick_labels(x_ticks)):
        parts.append(f'<text x="{px(t)}" y="{top + ph + 13}" text-anchor="middle">{label}</text>')
    parts.append(f'<text x="{left + pw / 2}" y="{height - 4}" text-anchor="middle" class="axis">'
                 f'{escape(x_label)}</text>')
    for s in series:
        if s.lo is not None and s.hi is not None:
            for seg in _band_segments(s):
                pts = [(px(x), py(h)) for x, _, h in seg] + [(px(x), py(lo)) for x, lo, _ in reversed(seg)]
                d = "M" + " L".join(f"{a},{b}" for a, b in pts) + " Z"
                parts.append(f'<path d="{d}" fill="{s.color}" class="band"><title>{escape(s.label)} '
                             '95% interval</title></path>')
        segs = _segments(s.x, s.y)
        for seg in segs:
            if len(seg) > 1:
                pts = " ".join(f"{px(x)},{py(y)}" for x, y in seg)
                parts.append(f'<polyline points="{pts}" stroke="{s.color}" class="line">'
                             f'<title>{escape(s.label)}</title></polyline>')
        points = [p for seg in segs for p in seg]
        if len(points) <= DOTS_UP_TO or any(len(seg) == 1 for seg in segs):
            for x, y in (points if len(points) <= DOTS_UP_TO else [seg[0] for seg in segs if len(seg) == 1]):
                parts.append(f'<circle cx="{px(x)}" cy="{py(y)}" r="2.5" fill="{s.color}">'
                             f'<title>{escape(s.label)}: {fmt(y)} at {escape(x_label)} {fmt(x)}</title></circle>')
    legend = ""
    if len(series) > 1:
        legend = '<div class="legend">' + "".join(
            f'<span><i style="background:{s.color}"></i>{escape(s.label)}</span>' for s in series) + "</div>"
    return (f'<figure class="chart" data-title="{escape(title)}"><figcaption>{escape(title)}</figcaption>'
            f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
            f'aria-label="{escape(title)}">{"".join(parts)}</svg>{legend}</figure>')


def _band_segments(s: Series) -> list[list[tuple[float, float, float]]]:
    out, cur = [], []
    for x, lo, hi in zip(s.x, s.lo, s.hi):
        if finite(x) and finite(lo) and finite(hi):
            cur.append((float(x), float(lo), float(hi)))
        elif cur:
            out.append(cur)
            cur = []
    if cur:
        out.append(cur)
    return [seg for seg in out if len(seg) > 1]
