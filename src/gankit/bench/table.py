"""Run the benchmark's jobs and print the table: per model, gankit's and the baseline's images/s,
their ratio, achieved GFLOP/s and its fraction of the machine's peak, and peak memory."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch

from gankit.bench.measure import BASELINE_MODELS, BENCH_MODELS, Job, cpu_peak_gflops, in_fresh_process

# (warm-up, timed) steps per model: the 64 px nets take about a second a step on a 2-core CPU.
STEPS = {"dcgan-64": (3, 15), "gan": (20, 300)}
DEFAULT_STEPS = (10, 60)


def run_bench(models: Sequence[str], data: str = "mnist", data_dir: Optional[str] = None, device: str = "cpu",
              baseline: bool = True, scale: float = 1.0, say: Callable[[str], None] = print) -> list[dict]:
    """Measure ``models`` (keys of ``BENCH_MODELS``) and print the table; returns its rows."""
    peak, how = gpu_peak() if device == "cuda" else cpu_peak_gflops()
    say(f"peak estimate: {how}")
    say(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    rows = []
    for name in models:
        warmup, steps = STEPS.get(name, DEFAULT_STEPS)
        steps = max(2, int(steps * scale))
        job = Job(name, "gankit", data, data_dir, device, warmup, steps)
        ours = in_fresh_process(job)
        base = in_fresh_process(Job(name, "baseline", data, data_dir, device, min(warmup, 5), steps)) \
            if baseline and name in BASELINE_MODELS else None
        flops = ours["flops_per_step"]
        gflops = flops and flops * ours["steps_per_s"] / 1e9
        row = dict(model=name, gankit=ours["images_per_s"], baseline=base and base["images_per_s"],
                   ratio=base and ours["images_per_s"] / base["images_per_s"], gflops=gflops,
                   peak_fraction=gflops and gflops / peak, rss_mb=ours["peak_rss_mb"],
                   baseline_rss_mb=base and base["peak_rss_mb"], gflop_per_step=flops and flops / 1e9)
        rows.append(row)
        say(format_row(row))
    return rows


HEADER = (f"{'model':10s} {'gankit img/s':>13s} {'baseline img/s':>15s} {'ratio':>7s} {'GFLOP/step':>11s} "
          f"{'GFLOP/s':>8s} {'of peak':>8s} {'peak RSS MB':>12s}")


def format_row(row: dict) -> str:
    def num(value, fmt):
        width = int(fmt.split(",")[0].split(".")[0] or 0)
        return "—".rjust(width) if value is None else format(value, fmt)

    return (f"{row['model']:10s} {row['gankit']:13,.1f} {num(row['baseline'], '15,.1f')} "
            f"{num(row['ratio'], '6.2f') + ('x' if row['ratio'] else ''):>7s} {num(row['gflop_per_step'], '11.3f'):>11s} "
            f"{num(row['gflops'], '8.1f'):>8s} {num(row['peak_fraction'], '8.1%'):>8s} {row['rss_mb']:12,.0f}")


def gpu_peak() -> tuple[float, str]:
    """A rough dense fp32 peak of the visible GPU from its SM count and clock (FMA = 2 FLOPs)."""
    props = torch.cuda.get_device_properties(0)
    clock_ghz = getattr(props, "clock_rate", 1_500_000) / 1e6
    cores_per_sm = 128
    peak = props.multi_processor_count * cores_per_sm * 2 * clock_ghz
    return peak, (f"{props.name}: {props.multi_processor_count} SMs × {cores_per_sm} fp32 lanes × 2 (FMA) × "
                  f"{clock_ghz:.2f} GHz = {peak:,.0f} GFLOP/s")
