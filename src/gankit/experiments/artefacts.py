"""What a sweep adds to each finished variant's folder for its report: ``eval.json`` and the
pictures some experiments need (class grid, interpolation strips, samples over the true modes).
Each is made once; an existing file is kept."""
from __future__ import annotations

import json
from pathlib import Path

import torch

from gankit.atomic import atomic_write_text
from gankit.data import load_run_data
from gankit.experiments.autoencoder import load_encoder, reconstruct, save_reconstructions
from gankit.experiments.spec import Variant
from gankit.metrics.evaluate import POINT_METRICS, evaluate
from gankit.plots import save_image_grid, save_points
from gankit.run import load
from gankit.run_dir import RunDir

GRID_ROWS, STRIP_STEPS, SCATTER_POINTS = 8, 10, 2000


def applicable(metrics: list[str], points: bool) -> list[str]:
    """The metrics that fit the run's data: mode coverage for 2-D points, the rest for images."""
    return [m for m in metrics if (m in POINT_METRICS) == points]


RECON_PREFIX = "recon_"  # eval.json keys of the autoencoder's reconstructions (its best case)


def evaluate_variant(variant: Variant, folder: Path, metrics: list[str], n: int, reference: str = "train") -> None:
    """``eval.json`` for a run's samples against the ``reference`` split; for the autoencoder (its
    decoded codes) also for its reconstructions of test images, under ``recon_`` names."""

    run = load(folder)
    chosen = applicable(metrics, run.shape.is_points)
    if not chosen:
        return
    if variant.config.trainer != "autoencoder":
        evaluate(run, chosen, n, reference=reference)
        return

    doc = evaluate(run, chosen, n, reference=reference, out_name=None)
    test = load_run_data(run.config, "test")
    recon = (reconstruct(run, load_encoder(run), test.images[:n]), torch.tensor(test.class_ids)[test.labels[:n]])
    recon_doc = evaluate(run, chosen, n, reference=reference, fakes=recon, out_name=None)
    doc["metrics"].update({RECON_PREFIX + k: v for k, v in recon_doc["metrics"].items()
                           if k in ("sharpness", "classifier_fid", "fid", "kid_mean", "label_accuracy")})
    doc["provenance"]["scored"] = "decoded codes from a Gaussian fitted to training codes; recon_*: test reconstructions"
    atomic_write_text(json.dumps(doc, indent=2) + "\n", RunDir(Path(folder)).evaluation)


def draw_artefacts(sections: list[str], variant: Variant, folder: Path) -> None:
    """The pictures the experiment's report sections show, for the runs they apply to."""
    if variant.config.trainer == "autoencoder":
        if not all((folder / name).exists() for name in ("reconstructions.png", "code_samples.png")):
            save_reconstructions(load(folder), folder)
        return
    if not set(sections) & {"class_grid", "interpolation", "modes"}:
        return

    run = load(folder)
    if "class_grid" in sections and run.conditional and not (folder / "class_grid.png").exists():
        save_image_grid(run.class_grid(GRID_ROWS), folder / "class_grid.png", nrow=run.shape.num_classes)
    if "interpolation" in sections and not run.shape.is_points and not (folder / "interpolation.png").exists():
        save_image_grid(run.interpolate(STRIP_STEPS, GRID_ROWS), folder / "interpolation.png", nrow=STRIP_STEPS)
    if "modes" in sections and run.shape.is_points and not (folder / "modes.png").exists():
        real = load_run_data(run.config).images[:SCATTER_POINTS]
        save_points(run.sample(SCATTER_POINTS), real, folder / "modes.png",
                    title=f"{run.config.data}: {SCATTER_POINTS} samples over the data")
