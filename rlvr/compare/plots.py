"""The comparison's plots: each curve of summary.py against step and against generated tokens,
one line per method (the mean over seeds) in a band (the 95% t-interval over seeds), as PNGs
in OUT/plots/."""
from __future__ import annotations

from pathlib import Path

from rlvr.runfiles import atomic_write_bytes

LABELS = {"eval/accuracy": "held-out accuracy (greedy)", "reward/mean": "training reward",
          "entropy": "entropy (nats per token)", "length/mean": "completion length (tokens)"}


def plot_all(summary: dict, out: Path) -> list[str]:
    """Draw every curve twice (by step, by tokens); the paths written, relative to `out`."""
    import io

    import matplotlib

    matplotlib.use("Agg")  # files only: no display, no GUI toolkit
    import matplotlib.pyplot as plt

    (out / "plots").mkdir(parents=True, exist_ok=True)
    written = []
    n = len(summary["seeds"])
    for metric, label in LABELS.items():
        for axis in ("step", "tokens"):
            fig, ax = plt.subplots(figsize=(6.4, 4.0))
            drawn = 0
            for i, m in enumerate(summary["methods"]):
                curve = (m["curves"] if axis == "step" else m["curves_by_tokens"]).get(metric)
                if not curve or not curve["mean"]:
                    continue
                x = curve[axis]
                colour = f"C{i % 10}"
                ax.plot(x, curve["mean"], color=colour, label=m["name"], marker="o" if len(x) < 12 else None,
                        markersize=3)
                ax.fill_between(x, curve["lo"], curve["hi"], color=colour, alpha=0.2, linewidth=0)
                drawn += 1
            if not drawn:
                plt.close(fig)
                continue
            ax.set_xlabel("training step" if axis == "step" else "generated tokens")
            ax.set_ylabel(label)
            ax.set_title(f"{label}: mean over {n} seeds, 95% t-interval band")
            ax.grid(alpha=0.3)
            ax.legend(fontsize="small")
            fig.tight_layout()
            buf = io.BytesIO()
            fig.savefig(buf, format="png", dpi=110)
            plt.close(fig)
            rel = f"plots/{metric.replace('/', '_')}-by-{axis}.png"
            atomic_write_bytes(out / rel, buf.getvalue())
            written.append(rel)
    return written
