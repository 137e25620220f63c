"""What ``gankit bench`` measures, one (model, loop) pair per fresh process so that peak memory
and thread state are its own: images per second over whole D+G steps after warm-up, FLOPs per
step (``torch.utils.flop_counter``), and the peak resident set size."""
from __future__ import annotations

import os
import resource
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Optional

import torch

from gankit.bench.baseline import baseline_images_per_s
from gankit.bench.models import BENCH_MODELS
from gankit.config import Config
from gankit.data import dataset_spec, load_data, load_run_data
from gankit.device import resolve_device
from gankit.training.runner import flush_denormals
from gankit.training.trainer import GANTrainer



@dataclass
class Job:
    """One measurement: ``loop`` is "gankit" or "baseline"; ``extra`` holds config fields over the
    model's, e.g. ``precision="bf16"`` (gankit's loop only: the baseline is the fp32 example)."""

    name: str
    loop: str
    data: str
    data_dir: Optional[str]
    device: str
    warmup: int
    steps: int
    extra: dict = field(default_factory=dict)


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def build(job: Job):
    """The resolved config, data and trainer of a job (the trainer's networks serve both loops)."""
    cfg = Config(**{**BENCH_MODELS[job.name], **job.extra}, data=job.data, data_dir=job.data_dir,
                 device=job.device).resolved()
    data = load_run_data(cfg)
    return cfg, data, GANTrainer(cfg, data, resolve_device(cfg.device))


def endless_batches(trainer):
    """Groups of ``n_critic`` batches, epoch after epoch."""
    while True:
        yield from trainer.epoch_batches()
        trainer.epoch, trainer.batch = trainer.epoch + 1, 0


def flops_per_step(trainer) -> Optional[int]:
    """FLOPs of one whole training step (n_critic D updates and one G update); None where the
    counter cannot follow the step (the gradient penalty's double backward, in torch 2.14)."""
    from torch.utils.flop_counter import FlopCounterMode

    batches = next(endless_batches(trainer))
    try:
        with FlopCounterMode(display=False) as counter:
            trainer.train_step(batches)
    except RuntimeError:
        return None
    return counter.get_total_flops()


def run_job(job: Job) -> dict[str, Any]:
    """Measure one job in this process; returns images_per_s, flops_per_step, peak_rss_mb."""
    torch.manual_seed(0)
    cfg, data, trainer = build(job)
    if job.loop == "baseline":
        # The files at their own size, as the example reads them; its Resize brings them to the run's size.
        native = load_data(cfg.data, cfg.data_dir, dataset_spec(cfg.data).native_size or cfg.image_size, cfg.classes)
        # The example's networks are plain NCHW modules: undo the trainer's channels-last layout.
        G, D = (net.to(memory_format=torch.contiguous_format) for net in (trainer.G, trainer.D))
        rate = baseline_images_per_s(G, D, native.images, native.labels, cfg.image_size, cfg.z_dim,
                                     trainer.spec.conditional, cfg.lr_d, cfg.batch_size, job.warmup, job.steps,
                                     device=trainer.device)
        return dict(images_per_s=rate, peak_rss_mb=peak_rss_mb())
    with flush_denormals(trainer.device):  # as gankit's training loop runs
        return timed_steps(trainer, job, cfg)


def timed_steps(trainer, job: Job, cfg) -> dict[str, Any]:
    """gankit's step: warm-up, then ``job.steps`` timed steps with one host sync at the end."""
    flops = flops_per_step(trainer)
    batches = endless_batches(trainer)
    for _ in range(job.warmup):
        trainer.train_step(next(batches))
    sync(trainer.device)
    start = time.perf_counter()
    for _ in range(job.steps):
        stats = trainer.train_step(next(batches))
    stats.cpu()  # the loop's one host sync per window
    elapsed = time.perf_counter() - start
    images = job.steps * cfg.batch_size * cfg.n_critic
    return dict(images_per_s=images / elapsed, flops_per_step=flops, steps_per_s=job.steps / elapsed,
                peak_rss_mb=peak_rss_mb())


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def in_fresh_process(fn: Callable[..., Any], *args: Any) -> Any:
    """``fn(*args)`` in a spawned process (``run_job`` for a ``Job``): its own peak memory, threads
    and allocator. ``fn`` and its arguments must be picklable (module-level)."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    # Not a multiprocessing.Pool: its daemonic workers may not start the baseline's DataLoader workers.
    with ProcessPoolExecutor(1, mp_context=mp.get_context("spawn")) as pool:
        return pool.submit(fn, *args).result()


def cpu_peak_gflops() -> tuple[float, str]:
    """Estimated fp32 peak of the CPU cores this process may use, and how it was estimated:
    cores × clock × SIMD lanes × 2 (FMA) × 2 FMA units per core."""
    flags, mhz = "", 0.0
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("flags") and not flags:
                flags = line
            if line.startswith("cpu MHz") and not mhz:
                mhz = float(line.split(":")[1])
    except OSError:
        pass
    lanes, isa = (16, "AVX-512") if "avx512f" in flags else (8, "AVX2") if "avx2" in flags else (4, "SSE")
    cores = len(os.sched_getaffinity(0))
    ghz = mhz / 1000 or 2.0
    peak = cores * ghz * lanes * 2 * 2
    return peak, f"{cores} cores × {ghz:.2f} GHz × {lanes} fp32 lanes ({isa}) × 2 (FMA) × 2 FMA units = {peak:.0f} GFLOP/s"
