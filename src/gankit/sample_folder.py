"""Generated samples as a data set: ``DIR/<class name>/000001.png`` with a ``manifest.json``, the
layout ``torchvision.datasets.ImageFolder`` reads, so samples can train a classifier like real
images. Written into a temporary folder beside DIR and renamed at the end: DIR is complete or absent."""
from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import torch
from PIL import Image

from gankit.errors import GankitError

UNLABELLED = "unlabelled"


def folder_name(name: str) -> str:
    """A class name safe as one path component."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", name).strip(".-") or "class"


def class_folders(run, labels: torch.Tensor) -> list[str]:
    """Each sample's folder: its class's name, or ``unlabelled`` where an unconditional run of
    several classes cannot say which class a sample is (gankit never invents labels)."""
    names = {cid: folder_name(name) for cid, name in zip(run.class_ids, run.class_names)}
    return [names[int(y)] if int(y) >= 0 else UNLABELLED for y in labels]


def write_sample_folder(run, images: torch.Tensor, labels: torch.Tensor, out: Path, seed: int) -> dict:
    """Write uint8 ``images`` (N, C, H, W) with data-set ``labels`` (−1: none) under ``out``;
    returns the manifest."""
    if out.exists() and any(out.iterdir()):
        raise GankitError(f"{out} exists and is not empty: choose a new --out folder")
    if images.dtype != torch.uint8:
        raise GankitError("a sample folder holds images; 2-D points go to an .npz or .png file")
    tmp = out.parent / f".{out.name}.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    folders = class_folders(run, labels)
    counts: dict[str, int] = {}
    try:
        for image, folder in zip(images, folders):
            counts[folder] = counts.get(folder, 0) + 1
            (tmp / folder).mkdir(parents=True, exist_ok=True)
            array = image.permute(1, 2, 0).numpy()
            Image.fromarray(array[..., 0] if array.shape[2] == 1 else array).save(tmp / folder / f"{counts[folder]:06d}.png")
        manifest = dict(run=str(run.dir), step=run.step, generator=run.generator_kind, checkpoint=run.checkpoint,
                        seed=seed, n=len(images), labelled=UNLABELLED not in counts, counts=counts)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n")
        if out.exists():
            out.rmdir()
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return manifest

