"""Run the benchmark's jobs and print the table: per model and precision, gankit's images/s, the
baseline's (fp32) and their ratio, bf16's speed-up over fp32, achieved GFLOP/s and its fraction of
the machine's fp32 peak, and peak memory."""
from __future__ import annotations

from typing import Callable, Optional, Sequence

import torch

from gankit.bench.models import BASELINE_MODELS
from gankit.bench.measure import Job, cpu_peak_gflops, in_fresh_process, run_job

# (warm-up, timed) steps per model: the 64 px nets take about a second a step on a 2-core CPU.
STEPS = {"dcgan-64": (3, 15), "gan": (20, 300)}
DEFAULT_STEPS = (10, 60)


def run_bench(models: Sequence[str], data: str = "mnist", data_dir: Optional[str] = None, device: str = "cpu",
              baseline: bool = True, scale: float = 1.0, say: Callable[[str], None] = print,
              precisions: Sequence[str] = ("fp32", "bf16")) -> list[dict]:
    """Measure ``models`` (keys of ``BENCH_MODELS``) with gankit's loop at each of ``precisions``
    (``Config.precision`` values) and print the table, a row per model and precision; returns
    its rows. The baseline runs in fp32, as the example does, beside the fp32 row."""
    peak, how = gpu_peak() if device == "cuda" else cpu_peak_gflops()
    say(f"peak estimate: {how}")
    say(f"torch {torch.__version__}, {torch.get_num_threads()} threads, device {device}")
    rows = []
    for name in models:
        warmup, steps = STEPS.get(name, DEFAULT_STEPS)
        steps = max(2, int(steps * scale))
        ours = {p: in_fresh_process(run_job, Job(name, "gankit", data, data_dir, device, warmup, steps,
                                                 dict(precision=p)))
                for p in precisions}
        base = baseline_twice(Job(name, "baseline", data, data_dir, device, min(warmup, 5), steps)) \
            if baseline and name in BASELINE_MODELS and "fp32" in ours else None
        for precision, out in ours.items():
            rows.append(bench_row(name, precision, out, base if precision == "fp32" else None,
                                  ours.get("fp32"), peak))
            say(format_row(rows[-1]))
    return rows


def baseline_twice(job: Job) -> dict:
    """The baseline measured twice, each in a fresh process: its speed varied between invocations
    (dcgan-32: 553 and 857 images/s), so both numbers are shown and the ratio uses their mean."""
    runs = [in_fresh_process(run_job, job) for _ in range(2)]
    return dict(images_per_s=sum(r["images_per_s"] for r in runs) / 2, runs=[r["images_per_s"] for r in runs],
                peak_rss_mb=max(r["peak_rss_mb"] for r in runs))


def bench_row(name: str, precision: str, ours: dict, base: Optional[dict], fp32: Optional[dict], peak: float) -> dict:
    """One row of the table from gankit's measurement at ``precision``, the baseline's (fp32 rows
    only) and gankit's fp32 one; the fraction of peak only for fp32, as the peak is fp32's."""
    flops = ours["flops_per_step"]
    gflops = flops and flops * ours["steps_per_s"] / 1e9
    return dict(model=name, precision=precision, gankit=ours["images_per_s"], baseline=base and base["images_per_s"],
                baseline_runs=base and base.get("runs"),
                ratio=base and ours["images_per_s"] / base["images_per_s"],
                vs_fp32=(fp32 and ours["images_per_s"] / fp32["images_per_s"]) if precision != "fp32" else None,
                gflops=gflops, peak_fraction=(gflops and gflops / peak) if precision == "fp32" else None,
                rss_mb=ours["peak_rss_mb"], baseline_rss_mb=base and base["peak_rss_mb"],
                gflop_per_step=flops and flops / 1e9)


HEADER = (f"{'model':10s} {'precision':9s} {'gankit img/s':>13s} {'baseline img/s (2 runs)':>23s} {'ratio':>7s} "
          f"{'vs fp32':>7s} {'GFLOP/step':>11s} {'GFLOP/s':>8s} {'of peak':>8s} {'peak RSS MB':>12s}")


def format_row(row: dict) -> str:
    def num(value, fmt):
        width = int(fmt.split(",")[0].split(".")[0] or 0)
        return "—".rjust(width) if value is None else format(value, fmt)

    def times(value):
        return num(value, "6.2f") + ("x" if value else "")

    return (f"{row['model']:10s} {row['precision']:9s} {row['gankit']:13,.1f} {baseline_runs(row):>23s} "
            f"{times(row['ratio']):>7s} {times(row['vs_fp32']):>7s} {num(row['gflop_per_step'], '11.3f'):>11s} "
            f"{num(row['gflops'], '8.1f'):>8s} {num(row['peak_fraction'], '8.1%'):>8s} {row['rss_mb']:12,.0f}")


def baseline_runs(row: dict) -> str:
    """The baseline's two measurements, "816.8 / 857.0", or "—"."""
    runs = row.get("baseline_runs") or ([row["baseline"]] if row.get("baseline") else [])
    return " / ".join(f"{r:,.1f}" for r in runs) or "—"


def gpu_peak() -> tuple[float, str]:
    """A rough dense fp32 peak of the visible GPU from its SM count and clock (FMA = 2 FLOPs)."""
    props = torch.cuda.get_device_properties(0)
    clock_ghz = getattr(props, "clock_rate", 1_500_000) / 1e6
    cores_per_sm = 128
    peak = props.multi_processor_count * cores_per_sm * 2 * clock_ghz
    return peak, (f"{props.name}: {props.multi_processor_count} SMs × {cores_per_sm} fp32 lanes × 2 (FMA) × "
                  f"{clock_ghz:.2f} GHz = {peak:,.0f} GFLOP/s")
