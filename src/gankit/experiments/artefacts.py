"""What a sweep adds to each finished variant's folder for its report: ``eval.json`` and the
pictures some experiments need (class grid, interpolation strips, samples over the true modes).
Each is made once; an existing file is kept."""
from __future__ import annotations

from pathlib import Path

import torch

from gankit.experiments.spec import Variant
from gankit.metrics.evaluate import POINT_METRICS, evaluate

GRID_ROWS, STRIP_STEPS, SCATTER_POINTS = 8, 10, 2000


def applicable(metrics: list[str], points: bool) -> list[str]:
    """The metrics that fit the run's data: mode coverage for 2-D points, the rest for images."""
    return [m for m in metrics if (m in POINT_METRICS) == points]


def evaluate_variant(variant: Variant, folder: Path, metrics: list[str], n: int) -> None:
    """``eval.json`` for a GAN's samples, or for the autoencoder's reconstructions of test images."""
    if variant.trainer == "autoencoder":
        run, fakes = autoencoder_as_run(folder, n)
    else:
        from gankit.run import load

        run, fakes = load(folder), None
    chosen = applicable(metrics, run.shape.is_points)
    if chosen:
        evaluate(run, chosen, n, fakes=fakes)


def autoencoder_as_run(folder: Path, n: int):
    """The baseline as a ``Run`` (its decoder as the generator) and its reconstructions of ``n``
    test images with their labels, which its metrics score in place of samples."""
    from gankit.data import load_data
    from gankit.experiments.autoencoder import load_autoencoder, reconstruct
    from gankit.run import Run

    model, cfg = load_autoencoder(folder)
    test = load_data(cfg.data, cfg.data_dir, cfg.image_size, cfg.classes, cfg.fit, cfg.on_bad_image, split="test")
    images, labels = test.images[:n], test.labels[:n]
    run = Run(Path(folder), cfg, model.decoder, test.shape, test.class_names, test.class_ids)
    return run, (reconstruct(model, images), torch.tensor(test.class_ids)[labels])


def draw_artefacts(sections: list[str], variant: Variant, folder: Path) -> None:
    """The pictures the experiment's report sections show, for the runs they apply to."""
    if variant.trainer != "gan" or not set(sections) & {"class_grid", "interpolation", "modes"}:
        return
    from gankit.plots import save_image_grid, save_points
    from gankit.run import load

    run = load(folder)
    if "class_grid" in sections and run.conditional and not (folder / "class_grid.png").exists():
        save_image_grid(run.class_grid(GRID_ROWS), folder / "class_grid.png", nrow=run.shape.num_classes)
    if "interpolation" in sections and not run.shape.is_points and not (folder / "interpolation.png").exists():
        save_image_grid(run.interpolate(STRIP_STEPS, GRID_ROWS), folder / "interpolation.png", nrow=STRIP_STEPS)
    if "modes" in sections and run.shape.is_points and not (folder / "modes.png").exists():
        from gankit.data import load_data

        real = load_data(run.config.data).images[:SCATTER_POINTS]
        save_points(run.sample(SCATTER_POINTS), real, folder / "modes.png",
                    title=f"{run.config.data}: {SCATTER_POINTS} samples over the data")
