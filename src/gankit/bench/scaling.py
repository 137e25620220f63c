"""`gankit bench --scaling`: how the cost of gankit's loop grows with image size and batch, and
what `gankit eval` costs per 1,000 samples — one invocation, each measurement in a fresh process.

Training: ``dcgan`` (the PyTorch example's widths, ngf = ndf = 64) at 32, 64 and 128 px and batch
32 … 512; images/s over whole D+G steps after one warm-up step, achieved GFLOP/s (FLOPs counted
by ``torch.utils.flop_counter``) and the process's peak RSS. Evaluation: seconds of Inception
features for 250, 500 and 1,000 samples on the backend ``auto`` picks (its growth is linear; FID's
own sqrtm adds a fixed ~1 s). Writes ``scaling.json`` and ``scaling.png``.
"""
from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Callable, Optional, Sequence

import torch

from gankit.bench.measure import Job, in_fresh_process, run_job
from gankit.metrics.inception import InceptionFeatures
from gankit.bench.measure import cpu_peak_gflops
from gankit.bench.table import gpu_peak
from gankit.plots import new_figure, save_figure

SIZES = (32, 64, 128)
BATCHES = (32, 64, 128, 256, 512)
IMAGES_TIMED = 1024  # per (size, batch): enough whole steps for a stable rate, at most a few minutes at 128 px
EVAL_COUNTS = (250, 500, 1000)


def training_jobs(data: str, data_dir: Optional[str], device: str, sizes: Sequence[int], batches: Sequence[int],
                  scale: float) -> list[Job]:
    """One job per (size, batch), timing about ``IMAGES_TIMED × scale`` images after a warm-up step."""
    return [Job("dcgan-64", "gankit", data, data_dir, device, warmup=1,
                steps=max(2, round(IMAGES_TIMED * scale / batch)), extra=dict(image_size=size, batch_size=batch))
            for size in sizes for batch in batches]


def eval_seconds(channels: int, size: int, counts: Sequence[int] = EVAL_COUNTS) -> dict:
    """Seconds of Inception features for each of ``counts`` random images (after a warm-up)."""
    extractor = InceptionFeatures()
    images = torch.randint(0, 256, (max(counts), channels, size, size), dtype=torch.uint8,
                           generator=torch.Generator().manual_seed(0))
    extractor.extract(images[:extractor.backend.batch_size])
    seconds = {}
    for count in counts:
        started = time.perf_counter()
        extractor.extract(images[:count])
        seconds[count] = time.perf_counter() - started
    return dict(backend=extractor.backend.name, version=extractor.backend.version, seconds=seconds)


def run_scaling(data: str, data_dir: Optional[str], device: str, out: Path, scale: float = 1.0,
                sizes: Sequence[int] = SIZES, batches: Sequence[int] = BATCHES,
                eval_counts: Sequence[int] = EVAL_COUNTS, say: Callable[[str], None] = print) -> dict:
    """Measure, print, and write ``out/scaling.json`` and ``out/scaling.png``; returns the numbers."""
    peak, how = gpu_peak() if device == "cuda" else cpu_peak_gflops()
    say(f"peak estimate: {how}")
    say(f"{'size':>5s} {'batch':>6s} {'images/s':>9s} {'GFLOP/step':>11s} {'GFLOP/s':>8s} {'of peak':>8s} {'peak RSS MB':>12s}")
    rows = []
    for job in training_jobs(data, data_dir, device, sizes, batches, scale):
        result = in_fresh_process(run_job, job)
        flops = result["flops_per_step"]
        gflops = flops * result["steps_per_s"] / 1e9 if flops else None
        row = dict(size=job.extra["image_size"], batch=job.extra["batch_size"], images_per_s=result["images_per_s"],
                   gflop_per_step=flops and flops / 1e9, gflops=gflops, peak_fraction=gflops and gflops / peak,
                   rss_mb=result["peak_rss_mb"])
        rows.append(row)
        say(f"{row['size']:5d} {row['batch']:6d} {row['images_per_s']:9.1f} {row['gflop_per_step'] or 0:11.2f} "
            f"{gflops or 0:8.1f} {row['peak_fraction'] or 0:8.1%} {row['rss_mb']:12,.0f}")
    channels = 1 if data in ("mnist", "fashion-mnist", "kmnist", "digits") else 3
    evaluation = in_fresh_process(eval_seconds, channels, 32, eval_counts)
    per_1000 = evaluation["seconds"][max(evaluation["seconds"])] * 1000 / max(evaluation["seconds"])
    say(f"gankit eval, Inception features of 32 px images on {evaluation['backend']} {evaluation['version']}: "
        + ", ".join(f"{n:,} in {s:.1f} s" for n, s in evaluation["seconds"].items())
        + f" -> {per_1000:.1f} s per 1,000 samples (10,000: {per_1000 * 10 / 60:.1f} min)")
    result = dict(peak_gflops=peak, peak_estimate=how, training=rows, eval=dict(evaluation, per_1000_s=per_1000),
                  torch=torch.__version__, threads=torch.get_num_threads(), device=device)
    out.mkdir(parents=True, exist_ok=True)
    (out / "scaling.json").write_text(json.dumps(result, indent=2) + "\n")
    plot_scaling(result, out / "scaling.png")
    say(f"wrote {out / 'scaling.json'} and {out / 'scaling.png'}")
    return result


def plot_scaling(result: dict, path: Path) -> None:
    """Three panels against batch size, a line per image size: images/s, GFLOP/s, peak RSS."""
    plt, fig, axes = new_figure(3, width=4.4)
    panels = (("images_per_s", "images/s"), ("gflops", "GFLOP/s (dashed: peak estimate)"), ("rss_mb", "peak RSS (MB)"))
    for ax, (key, label) in zip(axes, panels):
        for size in sorted({r["size"] for r in result["training"]}):
            rows = [r for r in result["training"] if r["size"] == size and r[key] is not None]
            ax.plot([r["batch"] for r in rows], [r[key] for r in rows], marker="o", label=f"{size} px")
        ax.set_xscale("log", base=2)
        if key == "images_per_s":
            ax.set_yscale("log")  # 32 px is ~40x faster than 128 px
        ax.set_xlabel("batch size")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[1].axhline(result["peak_gflops"], color="grey", linestyle="--", linewidth=1)
    axes[0].legend(title="dcgan, ngf = ndf = 64")
    fig.suptitle(f"gankit's training loop on {result['device']} ({result['threads']} threads); eval: "
                 f"{result['eval']['per_1000_s']:.0f} s per 1,000 samples ({result['eval']['backend']})", fontsize=10)
    save_figure(plt, fig, path)
