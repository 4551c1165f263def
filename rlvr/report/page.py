"""The HTML page around a report: its style sheet and the script of the rollout browser, both
inline, so the file opens from disk with no server, network or CDN.

The script reads the filters from the URL fragment at load (`report.html#step=2&min_reward=0.5`)
and writes them back as they change, so a filtered view is a link to share — and so a headless
browser, which cannot type into the page, can be asked for a filtered view (tests/e2e).
"""
from __future__ import annotations

from html import escape

STYLE = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:0 auto;max-width:1180px;padding:0 18px 60px;
color:#1d2330;background:#fff}
h1{font-size:22px;margin:22px 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #dde2ea;padding-bottom:4px}
h3{font-size:15px;margin:16px 0 6px;color:#3a4558}
.sub{color:#5b6576;margin:0 0 10px}
pre{background:#f5f7fa;border:1px solid #e3e7ee;padding:8px 10px;overflow:auto;font-size:12.5px;white-space:pre-wrap}
table{border-collapse:collapse;margin:6px 0}td,th{border:1px solid #dde2ea;padding:3px 8px;text-align:left;
vertical-align:top}th{background:#f5f7fa}
details>summary{cursor:pointer;font-weight:600;margin:6px 0}
.charts{display:flex;flex-wrap:wrap;gap:10px}
figure.chart{margin:0;border:1px solid #e3e7ee;border-radius:4px;padding:4px 6px;background:#fff}
figure.chart figcaption{font-size:12.5px;font-weight:600;color:#3a4558}
svg text{font-size:10px;fill:#5b6576}svg .axis{font-size:10.5px}
svg .plot{fill:#fbfcfd;stroke:#d5dae3}svg .grid{stroke:#e8ebf0}
svg .line{fill:none;stroke-width:1.6}svg .band{opacity:.18;stroke:none}
.legend{font-size:11.5px}.legend span{margin-right:10px;white-space:nowrap}
.legend i{display:inline-block;width:10px;height:10px;margin-right:4px;vertical-align:-1px}
.filters{display:flex;flex-wrap:wrap;gap:12px;align-items:end;background:#f5f7fa;border:1px solid #e3e7ee;
padding:8px 10px;position:sticky;top:0;z-index:1}
.filters label{display:flex;flex-direction:column;font-size:12px;color:#3a4558}
.filters input,.filters select{font:inherit;padding:2px 4px}
.rollout{border:1px solid #e3e7ee;border-left:4px solid #9aa5b8;border-radius:3px;margin:8px 0;padding:6px 10px}
.rollout.good{border-left-color:#2ca02c}.rollout.bad{border-left-color:#d62728}
.rollout .meta{font-size:12px;color:#5b6576}.rollout .prompt,.rollout .completion{white-space:pre-wrap;
font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12.5px;margin:4px 0}
.rollout .prompt{color:#5b6576;max-height:9em;overflow:auto}
.rollout .completion{background:#fbfcfd;border:1px solid #eef0f4;padding:4px 6px}
.rollout table{font-size:12px}
.tok{border-radius:2px}
.colour-logprob .tok{background:rgba(214,39,40,calc(.75 * var(--lp)))}
.colour-entropy .tok{background:rgba(31,119,180,calc(.75 * var(--en, 0)))}
.scale{font-size:12px;color:#5b6576}
.note{font-size:12.5px;color:#6b5200;background:#fff8e1;border:1px solid #f0e2b0;padding:4px 8px}
"""

SCRIPT = r"""
(function () {
  var box = document.getElementById('rollouts');
  if (!box) return;
  var rows = Array.prototype.slice.call(box.querySelectorAll('.rollout'));
  rows.forEach(function (r) { r._prompt = r.querySelector('.prompt').textContent.toLowerCase(); });
  var f = {step: document.getElementById('f-step'), prompt: document.getElementById('f-prompt'),
           min_reward: document.getElementById('f-min'), max_reward: document.getElementById('f-max'),
           colour: document.getElementById('f-colour')};
  var shown = document.getElementById('shown');

  function stepRange(text) {  // "3" or "2-5"; null: no filter; false: unreadable
    text = text.trim();
    if (!text) return null;
    var m = text.match(/^(\d+)\s*(?:-|\.\.)\s*(\d+)$/);
    if (m) return [Number(m[1]), Number(m[2])];
    return /^\d+$/.test(text) ? [Number(text), Number(text)] : false;
  }
  function bound(input, dflt) {
    var v = input.value.trim();
    return v === '' || isNaN(Number(v)) ? dflt : Number(v);
  }
  function apply(writeHash) {
    var steps = stepRange(f.step.value), q = f.prompt.value.toLowerCase();
    var lo = bound(f.min_reward, -Infinity), hi = bound(f.max_reward, Infinity), n = 0;
    rows.forEach(function (r) {
      var s = Number(r.dataset.step), w = Number(r.dataset.reward);
      var ok = (steps === null || (steps !== false && s >= steps[0] && s <= steps[1])) &&
               (!q || r._prompt.indexOf(q) >= 0) && w >= lo && w <= hi;
      r.hidden = !ok;
      if (ok) n += 1;
    });
    shown.textContent = String(n);
    if (f.colour) box.className = 'colour-' + f.colour.value;
    if (writeHash) {
      var p = new URLSearchParams();
      Object.keys(f).forEach(function (k) {
        if (f[k] && f[k].value.trim() && !(k === 'colour' && f[k].value === f[k].dataset.default)) p.set(k, f[k].value.trim());
      });
      history.replaceState(null, '', p.toString() ? '#' + p.toString() : location.pathname + location.search);
    }
  }
  function readHash() {
    var p = new URLSearchParams(location.hash.slice(1));
    Object.keys(f).forEach(function (k) {
      if (!f[k]) return;
      if (p.has(k)) f[k].value = p.get(k);
      else f[k].value = k === 'colour' ? f[k].dataset.default : '';
    });
    apply(false);
  }
  Object.keys(f).forEach(function (k) {
    if (f[k]) f[k].addEventListener('input', function () { apply(true); });
  });
  window.addEventListener('hashchange', readHash);
  readHash();
})();
"""


def page(title: str, body: str, *, script: bool = False) -> str:
    js = f"<script>{SCRIPT}</script>" if script else ""
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{escape(title)}</title><style>{STYLE}</style></head>\n<body>\n{body}\n{js}\n</body></html>\n")


def section(title: str, body: str, *, id: str) -> str:
    return f'<section id="{id}"><h2>{escape(title)}</h2>\n{body}\n</section>'


def table(header: list[str], rows: list[list[str]]) -> str:
    """Cells are HTML already (escape text before); a header of empty cells is left out (a
    two-column table of names and values)."""
    head = "".join(f"<th>{h}</th>" for h in header)
    head = f"<thead><tr>{head}</tr></thead>" if any(header) else ""
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table>{head}<tbody>{body}</tbody></table>"
