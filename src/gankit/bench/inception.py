"""`gankit bench --inception`: the FID Inception's backends side by side, in one invocation.

Each installed backend runs in a fresh process (its own threads and memory) on the same seeded
uint8 images at a GAN's resolution: its first-use cost (the conversion into an empty cache,
verification included), images/s over whole ``InceptionFeatures.extract`` calls after a warm-up
(preprocessing included: what ``gankit eval`` pays), and the largest difference of its features
from torch-fidelity's own extractor on those images, absolute and relative to the largest feature.
"""
from __future__ import annotations

import tempfile
import time
from typing import Callable, Optional, Sequence

import torch
from gankit.metrics.inception import InceptionFeatures
from gankit.bench.measure import in_fresh_process
from gankit.metrics.inception_backends import BACKENDS, installed

HEADER = (f"{'backend':12s} {'version':>14s} {'batch':>6s} {'images/s':>9s} {'vs torch':>9s} "
          f"{'s / 1,000':>10s} {'first use s':>12s} {'max |diff|':>11s} {'relative':>9s}")


def measure_backend(name: str, n: int = 200, size: int = 32, channels: int = 1, seed: int = 0) -> dict:
    """Time backend ``name`` on ``n`` random uint8 (channels, size, size) images in this process."""
    import os

    gen = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 256, (n, channels, size, size), dtype=torch.uint8, generator=gen)
    weights = InceptionFeatures(backend="torch", device="cpu").weights_path  # converted before the clock starts
    with tempfile.TemporaryDirectory() as cache:  # an empty cache: the first use is paid here
        os.environ["GANKIT_CACHE"] = cache
        started = time.perf_counter()
        extractor = InceptionFeatures(weights, backend=name, device="cpu")
        first_use = time.perf_counter() - started
        batch = extractor.backend.batch_size
        extractor.extract(images[:batch])  # warm-up at the batch size that is timed
        started = time.perf_counter()
        ours = extractor.extract(images)
        rate = n / (time.perf_counter() - started)
    diff = (ours - reference_features(extractor.net, images)).abs().max()
    return dict(backend=name, version=extractor.backend.version, batch=batch, images_per_s=rate,
                first_use_s=first_use, max_abs_diff=float(diff), max_rel_diff=float(diff / ours.abs().max()))


@torch.no_grad()
def reference_features(net: torch.nn.Module, images: torch.Tensor, batch: int = 50) -> torch.Tensor:
    """torch-fidelity's ``FeatureExtractorInceptionV3.forward`` itself (its own resize), float64."""
    rgb = images.expand(-1, 3, -1, -1)
    return torch.cat([net(rgb[i:i + batch])[0] for i in range(0, len(rgb), batch)]).double()


def run_inception_bench(n: int = 200, size: int = 32, channels: int = 1, backends: Optional[Sequence[str]] = None,
                        say: Callable[[str], None] = print) -> list[dict]:
    """Measure every installed backend (or ``backends``), each in a fresh process; print the table."""
    names = list(backends) if backends else [b for b in BACKENDS if installed(b)]
    say(f"FID Inception backends on {n} random {channels}×{size}×{size} images, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads (features against torch-fidelity's extractor)")
    say(HEADER)
    rows = []
    for name in names:
        row = in_fresh_process(measure_backend, name, n, size, channels)
        rows.append(row)
    torch_rate = next((r["images_per_s"] for r in rows if r["backend"] == "torch"), None)
    for row in rows:
        row["vs_torch"] = torch_rate and row["images_per_s"] / torch_rate
        say(format_row(row))
    return rows


def format_row(row: dict) -> str:
    ratio = f"{row['vs_torch']:.2f}x" if row.get("vs_torch") else "—"
    return (f"{row['backend']:12s} {row['version'][:14]:>14s} {row['batch']:6d} {row['images_per_s']:9.1f} "
            f"{ratio:>9s} {1000 / row['images_per_s']:10.1f} {row['first_use_s']:12.1f} "
            f"{row['max_abs_diff']:11.2e} {row['max_rel_diff']:9.1e}")
