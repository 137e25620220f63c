"""Start or continue a run: data, trainer, hooks, signal handling, then the loop."""
from __future__ import annotations

import logging
import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional, Sequence

import torch

from gankit.config import Config
from gankit.data import check_same_split, load_run_data
from gankit.errors import GankitError, first_line
from gankit.sampling import Run
from gankit.training import hooks as H
from gankit.atomic import remove_temporaries
from gankit.training.checkpoint import read_checkpoint
from gankit.device import resolve_device
from gankit.training.distributed import World, join_world
from gankit.training.loop import run_loop
from gankit.run_dir import RunDir, create_run_dir, default_out, ensure_new, truncate_metrics, write_config_json
from gankit.training.signals import StopFlag, stop_on_signals
from gankit.training.autoencoder_trainer import AutoencoderTrainer
from gankit.training.trainer import GANTrainer
from gankit.metrics.evaluate import METRICS, POINT_METRICS

log = logging.getLogger(__name__)


def data_info(data, trainer: GANTrainer) -> dict:
    """What the run's networks were built for; saved in config.json and the checkpoint."""
    info = dict(name=data.name, num_images=len(data), shape=list(data.shape.sample_shape),
                class_names=data.class_names, class_ids=data.class_ids)
    if data.split_digest:
        info["split_digest"] = data.split_digest
    return info


def prepare(cfg: Config, world: World = World(), device: Optional[torch.device] = None) -> tuple[GANTrainer, object]:
    """Load the data and build the trainer for a resolved config (on every rank under DDP)."""
    data = load_run_data(cfg)
    if len(data) < cfg.batch_size * world.size * cfg.n_critic:
        raise GankitError(f"{cfg.data} has {len(data)} images, fewer than --batch-size × ranks × --n-critic = "
                          f"{cfg.batch_size * world.size * cfg.n_critic}: lower --batch-size")
    check_eval_metrics(cfg, data.is_points)
    trainer = AutoencoderTrainer if cfg.trainer == "autoencoder" else GANTrainer
    return trainer(cfg, data, device or resolve_device(cfg.device), world), data


def check_eval_metrics(cfg: Config, points: bool) -> None:
    """Metrics recorded during training must exist and fit the data, before any step is taken."""
    if not (cfg.eval_every or cfg.eval_every_steps):
        return
    for name in (m.strip() for m in cfg.eval_metrics.split(",") if m.strip()):
        METRICS[name]
        if (name in POINT_METRICS) != points:
            fits = "modes" if points else "classifier or fid,kid"
            raise GankitError(f"--eval-metrics {name} does not fit {cfg.data} "
                              f"({'2-D points' if points else 'images'}): use {fits}")


def make_hooks(run: RunDir, trainer: GANTrainer, data, info: dict, progress: bool) -> list[H.Hook]:
    """The standard hooks, in the order they must run at an epoch's end (checkpoint last)."""
    real_points = data.images[torch.randperm(len(data), generator=torch.Generator().manual_seed(0))[:2000]] \
        if data.is_points else None
    hooks: list[H.Hook] = [H.MetricsLog(run.metrics), H.SampleGrid(run.samples, real_points),
                           H.LossPlot(run.metrics, run.losses)]
    if progress:
        hooks.insert(1, H.ProgressBar())
    return hooks + [H.Checkpointer(run.checkpoint, dict(config=trainer.cfg.to_dict(), data=info)),
                    H.EvalMonitor(run.root, info, H.BestCheckpoint(run.best, dict(config=trainer.cfg.to_dict(), data=info)))]
    # the monitor after the checkpoint: a failing metric loses nothing


@contextmanager
def flush_denormals(device: torch.device) -> Iterator[None]:
    """Treat denormal floats as zero while training on a CPU. DCGAN's N(0, 0.02) weights drive
    activations and gradients into the denormal range early in training, where x86 arithmetic is
    many times slower: measured here, the 64 px DCGAN's first steps ran 2.7x faster with this
    (values below 1.2e-38 become 0; the losses do not change within noise)."""
    if device.type != "cpu":
        yield
        return
    torch.set_flush_denormal(True)
    try:
        yield
    finally:
        torch.set_flush_denormal(False)  # PyTorch's default; nothing reads the previous state


class PeerFailed(GankitError):
    """Another process of a distributed job died (killed, out of memory, a crash)."""


def execute(run: RunDir, trainer: GANTrainer, data, progress: bool, hooks: Sequence[H.Hook] = (),
            stop: Optional[StopFlag] = None) -> str:
    """Run the loop with Ctrl-C/SIGTERM turned into a checkpoint and a clean stop. ``hooks`` run
    after the standard ones; they may end the run by setting ``stop.reason``. Under DDP only
    rank 0 runs hooks (it alone writes); the others train."""
    info = data_info(data, trainer)
    main = trainer.world.is_main
    all_hooks = make_hooks(run, trainer, data, info, progress) + list(hooks) if main else []
    with stop_on_signals(StopFlag() if stop is None else stop) as stop, flush_denormals(trainer.device):
        try:
            if main:
                write_config_json(run, trainer.cfg.to_dict(), info)
            ended = run_loop(trainer, all_hooks, stop)
        except OSError as err:  # a full disk, a quota, a vanished folder: the checkpoint writer's own
            # errors are GankitErrors already; these come from logs, grids and plots
            raise GankitError(f"could not write to {run.root}: {err.strerror or err}; the last checkpoint, "
                              f"{run.checkpoint}, is intact: free disk space, then `gankit resume {run.root}`") from None
        except RuntimeError as err:  # a collective failed: torch's DistBackendError or gloo's RuntimeError
            if not trainer.world.distributed:
                raise
            detail = re.sub(r"^\[[^\]]*\]\s*", "", first_line(err, 200))[:80]  # drop gloo's source location
            raise PeerFailed(f"lost contact with another process of the job ({detail}) at step {trainer.step}; "
                             f"the last checkpoint, {run.checkpoint}, is intact: continue with "
                             f"`gankit resume {run.root} --nproc N`") from None
    log.info("run %s ended (%s) at epoch %d, step %d", run.root, ended, trainer.epoch, trainer.step)
    return ended


def train(config: Config, progress: bool = False, hooks: Sequence[H.Hook] = (), stop: Optional[StopFlag] = None):
    """Train a new run from ``config``; returns the ``Run`` (its ``stopped`` says why it ended).
    ``hooks`` and ``stop``: extra hooks and the flag they may set to end the run early."""
    cfg = config.resolved()
    world, device = join_world(cfg.device)
    cfg.out = world.broadcast(str(cfg.out or default_out(cfg.model, cfg.data)))  # rank 0's clock names it
    ensure_new(cfg.out)
    trainer, data = prepare(cfg, world, device)  # before the directory exists: bad data leaves nothing behind
    run = create_run_dir(cfg.out) if world.is_main else RunDir(Path(cfg.out))
    ended = execute(run, trainer, data, progress, hooks, stop)
    return Run.from_trainer(run.root, trainer, data_info(data, trainer), stopped=ended)


def resume(directory: str | Path, epochs: Optional[int] = None, max_steps: Optional[int] = None,
           progress: bool = False):
    """Continue a run from ``checkpoints/last.pt`` exactly; ``epochs`` sets a new total."""
    run = RunDir(Path(directory))
    state = read_checkpoint(run.checkpoint)
    cfg = Config.from_dict(state["config"], str(run.checkpoint))
    cfg.epochs = epochs or cfg.epochs
    cfg.max_steps = max_steps or cfg.max_steps
    cfg.out = str(run.root)
    cfg = cfg.resolved()
    if state["epoch"] >= cfg.epochs:
        raise GankitError(f"{run.root} has already trained {state['epoch']} epochs: pass --epochs N with N > {state['epoch']}")
    if cfg.max_steps and state["step"] >= cfg.max_steps:
        raise GankitError(f"{run.root} has already reached max_steps={cfg.max_steps}: pass --max-steps N with N > {state['step']}")
    world, device = join_world(cfg.device)
    trainer, data = prepare(cfg, world, device)
    check_same_split(state["data"], data, run.root)
    trainer.load_state_dict(state, run.checkpoint)
    if world.is_main:
        remove_temporaries(run.root)  # half-written files of a process killed mid-write
        truncate_metrics(run.metrics, trainer.step)
        truncate_metrics(run.eval_history, trainer.step)
    ended = execute(run, trainer, data, progress)
    return Run.from_trainer(run.root, trainer, data_info(data, trainer), stopped=ended)
