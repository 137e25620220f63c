"""A sweep's variants spread over several devices: one worker process per device ("cuda:1"
sees only GPU 1), each training one variant at a time — the cheap way to use several GPUs for
many small runs. Ctrl-C reaches the workers too: each saves its variant's checkpoint, and no
new variant starts."""
from __future__ import annotations

import multiprocessing
import os
import signal
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from pathlib import Path
from typing import Callable, Sequence

from gankit.errors import GankitError
from gankit.experiments.spec import SweepSpec, Variant
from gankit.experiments.variant import VariantResult, stopped, train_and_finish
from gankit.training.signals import StopFlag, stop_on_signals


def check_devices(devices: Sequence[str]) -> list[str]:
    """``auto`` -> every visible GPU; otherwise each of "cpu", "cuda" or "cuda:N"."""
    import torch

    if list(devices) == ["auto"]:
        if not torch.cuda.is_available():
            raise GankitError("--devices auto found no GPU: name them (e.g. cuda:0,cuda:1) or use cpu,cpu")
        return [f"cuda:{i}" for i in range(torch.cuda.device_count())]
    for name in devices:
        kind, _, index = name.partition(":")
        if kind not in ("cpu", "cuda") or (index and not index.isdigit()) or (kind == "cpu" and index):
            raise GankitError(f"--devices: {name!r} is not cpu, cuda or cuda:N")
        if kind == "cuda" and not torch.cuda.is_available():
            raise GankitError(f"--devices {name}: no CUDA GPU is visible")
        if index and int(index) >= torch.cuda.device_count():
            raise GankitError(f"--devices {name}: only {torch.cuda.device_count()} GPU(s) are visible")
    return list(devices)


def pin_worker(device: str, cpu_share: int) -> None:
    """Worker start: see only this device, use a fair share of the cores, and leave Ctrl-C to
    the training loop's handler (an idle worker ignores it)."""
    kind, _, index = device.partition(":")
    if kind == "cuda" and index:
        os.environ["CUDA_VISIBLE_DEVICES"] = index  # before CUDA starts in this process
    import torch

    torch.set_num_threads(cpu_share)
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def train_variant_on(device: str, spec: SweepSpec, budget: str, variant: Variant, folder: Path) -> VariantResult:
    """In a worker: the variant on this worker's device (no progress bar: several run at once)."""
    variant.config.device = device.partition(":")[0]
    return train_and_finish(spec, budget, variant, folder, progress=False)


def run_on_devices(spec: SweepSpec, budget: str, root: Path, variants: list[Variant], devices: Sequence[str],
                   say: Callable[[str], None]) -> list[VariantResult]:
    """Every variant, each on the next free device; results in the variants' order."""
    devices = check_devices(devices)
    share = max(1, (os.cpu_count() or 1) // len(devices))
    spawn = multiprocessing.get_context("spawn")  # CUDA cannot be forked
    workers = {d: ProcessPoolExecutor(1, spawn, initializer=pin_worker, initargs=(d, share)) for d in devices}
    pending, running, done = list(variants), {}, {}
    free = list(devices)
    try:
        with stop_on_signals(StopFlag()) as stop:
            while pending or running:
                while free and pending and not stop and not any(map(stopped, done.values())):
                    device, variant = free.pop(0), pending.pop(0)
                    say(f"[{len(done) + len(running) + 1}/{len(variants)}] {variant.name} on {device}")
                    future = workers[device].submit(train_variant_on, device, spec, budget, variant, root / variant.name)
                    running[future] = (device, variant)
                if not running:
                    break
                finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
                for future in finished:
                    device, variant = running.pop(future)
                    free.append(device)
                    done[variant.name] = result_of(future)
    finally:
        for pool in workers.values():
            pool.shutdown(wait=True, cancel_futures=True)
    return [done[v.name] for v in variants if v.name in done]


def result_of(future: Future) -> VariantResult:
    """The worker's result; its GankitError is re-raised here as the same one line."""
    error = future.exception()
    if isinstance(error, GankitError):
        raise GankitError(str(error)) from None
    return future.result()
