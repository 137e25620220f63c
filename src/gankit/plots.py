"""Pictures of a run: sample grids (torchvision's ``make_grid``), 2-D scatter plots and the loss
plot (matplotlib, headless). Every file is written atomically."""
from __future__ import annotations

from pathlib import Path
from typing import Optional

import torch

from gankit.jsonl import read_jsonl
from gankit.atomic import atomic_path


def save_image_grid(images: torch.Tensor, path: Path, nrow: int = 8) -> None:
    """Float images in [-1, 1] or uint8, (N, C, H, W), as a PNG grid with ``nrow`` per row."""
    from torchvision.utils import save_image

    if images.dtype == torch.uint8:
        images = images.float() / 127.5 - 1
    with atomic_path(path) as tmp:
        save_image(images, tmp, format="png", nrow=nrow, padding=2, normalize=True, value_range=(-1, 1))


def new_figure(ncols: int, width: float = 5.0):
    """A matplotlib (Agg) figure with ``ncols`` panels in a row: (pyplot, figure, axes)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, ncols, figsize=(width * ncols, 4), squeeze=False)
    return plt, fig, axes[0]


def save_figure(plt, fig, path: Path) -> None:
    """Write ``fig`` to ``path`` as PNG atomically and close it."""
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=100)
    plt.close(fig)


def save_points(points: torch.Tensor, real: Optional[torch.Tensor], path: Path, title: str = "") -> None:
    """Generated 2-D points (orange) over a sample of the real ones (grey)."""
    plt, fig = points_figure(points, real, title)
    save_figure(plt, fig, path)


def points_png(points: torch.Tensor, title: str = "") -> bytes:
    """The scatter of ``save_points`` (without the real points) as PNG bytes, for the web page."""
    import io

    plt, fig = points_figure(points, None, title)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return buffer.getvalue()


def points_figure(points: torch.Tensor, real: Optional[torch.Tensor], title: str):
    plt, fig, (ax,) = new_figure(1, 4.5)
    if real is not None:
        ax.scatter(real[:, 0], real[:, 1], s=2, c="0.6", label="data")
    ax.scatter(points[:, 0], points[:, 1], s=2, c="tab:orange", label="G(z)")
    ax.set_aspect("equal")
    ax.set_title(title)
    ax.legend(loc="upper right", markerscale=4)
    return plt, fig


def read_metrics(path: Path) -> list[dict]:
    """Rows of a ``metrics.jsonl`` or ``eval_history.jsonl`` (``gankit.jsonl.read_jsonl``)."""
    return read_jsonl(path)


def epoch_means(rows: list[dict], key: str) -> tuple[list[float], list[float]]:
    """(last step of each epoch, mean of ``key`` over the epoch's rows)."""
    by_epoch: dict[int, list[dict]] = {}
    for r in rows:
        by_epoch.setdefault(r["epoch"], []).append(r)
    return ([rs[-1]["step"] for rs in by_epoch.values()],
            [sum(r[key] for r in rs) / len(rs) for rs in by_epoch.values()])


def plot_losses(metrics: Path, path: Path) -> None:
    """Three panels against the step: D and G loss (per window and per-epoch mean); D's loss on
    real and on fake (as the project report plots them); D(x) and D(G(z))."""
    rows = read_metrics(metrics)
    if not rows:
        return
    steps = [r["step"] for r in rows]
    panels = [(("loss_d", "D loss"), ("loss_g", "G loss")),
              (("loss_d_real", "D loss on real"), ("loss_d_fake", "D loss on fake")),
              (("d_real", "D(x)"), ("d_fake", "D(G(z))"))]
    if "loss_d" not in rows[0]:  # the autoencoder baseline logs its reconstruction loss alone
        panels = [(("loss_recon", "reconstruction loss (MSE)"),)]
    plt, fig, axes = new_figure(len(panels))
    for ax, panel in zip(axes, panels):
        for key, label in panel:
            line, = ax.plot(steps, [r[key] for r in rows], lw=0.8, alpha=0.6, label=label)
            if key.startswith("loss"):
                ax.plot(*epoch_means(rows, key), "o-", color=line.get_color(), lw=2, label=f"{label}, epoch mean")
        ax.set_xlabel("generator step")
        ax.legend(fontsize=8)
    for ax, title in zip(axes, ("losses", "discriminator: real vs fake", "discriminator outputs")):
        ax.set_title(title)
    save_figure(plt, fig, path)
