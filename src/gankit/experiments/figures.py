"""The report's comparison plots (matplotlib, headless), returned as PNG bytes: one line per
variant, the same colour for a variant in every plot."""
from __future__ import annotations

import io
from typing import Optional, Sequence

COLOURS = [f"C{i}" for i in range(10)]


def _axes(ncols: int, width: float = 5.5, height: float = 3.8):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, height), squeeze=False)
    return plt, fig, list(axes[0])


def _png(plt, fig) -> bytes:
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return buf.getvalue()


def smooth(values: Sequence[float], width: int) -> list[float]:
    """Trailing moving average over ``width`` rows (raw GAN losses are too noisy to compare)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v
        if i >= width:
            total -= values[i - width]
        out.append(total / min(i + 1, width))
    return out


def overlay(series: dict[str, list[dict]], panels: Sequence[tuple[str, str]], x: str = "step",
            smooth_rows: int = 1, max_x: Optional[float] = None, log_y: Sequence[str] = ()) -> Optional[bytes]:
    """One panel per (key, title); in each, a line per variant of ``rows[key]`` against
    ``rows[x]``. Variants without the key are left out; None when no panel has data."""
    plt, fig, axes = _axes(len(panels))
    drawn = False
    for ax, (key, title) in zip(axes, panels):
        for colour, (name, rows) in zip(COLOURS * 10, series.items()):
            rows = [r for r in rows if r.get(key) is not None and (max_x is None or r[x] <= max_x)]
            if rows:
                ys = smooth([float(r[key]) for r in rows], smooth_rows)
                ax.plot([r[x] for r in rows], ys, color=colour, lw=1.2, label=name, marker="o" if len(rows) < 30 else None,
                        ms=3)
                drawn = True
        ax.set_title(title)
        ax.set_xlabel("generator step" if x == "step" else x)
        if key in log_y:
            ax.set_yscale("log")
        ax.grid(alpha=0.3)
        if ax.get_lines():
            ax.legend(fontsize=7)
    if not drawn:
        plt.close(fig)
        return None
    return _png(plt, fig)


def smoothing_for(series: dict[str, list[dict]]) -> int:
    """A window of about 2 % of the longest log, at least 1 row."""
    longest = max((len(rows) for rows in series.values()), default=1)
    return max(1, longest // 50)


def augmentation_curves(docs: dict[str, dict]) -> Optional[bytes]:
    """Test accuracy against the synthetic ratio (0 = real only), mean ± std over classifier seeds,
    one line per run's ``augment.json``; its CAS as a dashed line of the same colour."""
    if not docs:
        return None
    plt, fig, (ax,) = _axes(1, width=6.5)
    for colour, (name, doc) in zip(COLOURS, docs.items()):
        conds = doc["conditions"]
        curve = [(0.0, conds["real"])] + [(float(k.rsplit("×", 1)[1]), v) for k, v in conds.items()
                                          if k.startswith("real + synthetic ×")]
        ax.errorbar([r for r, _ in curve], [v["mean"] for _, v in curve], yerr=[v["std"] for _, v in curve],
                    marker="o", capsize=3, color=colour, label=f"{name}: real + synthetic")
        cas = conds["synthetic (CAS)"]
        ax.axhline(cas["mean"], color=colour, linestyle="--", linewidth=1, label=f"{name}: synthetic only (CAS)")
    ax.set_xlabel("synthetic images per real image")
    ax.set_ylabel("test accuracy")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    return _png(plt, fig)
