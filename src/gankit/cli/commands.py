"""What each ``gankit`` command does, given its parsed arguments: a thin layer over the Python API.
Each command imports what it runs (see the `# deferred:` comments), so that ``gankit --help`` stays
torch-free."""
from __future__ import annotations

import argparse
import math
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Optional

from gankit.bench.models import BENCH_MODELS
from gankit.config import Config, load_toml, parse_value
from gankit.errors import GankitError
from gankit.experiments.spec import load_sweep

EXIT_USAGE, EXIT_SIGNAL = 2, {"SIGINT": 130, "SIGTERM": 143}


def config_from_args(args: argparse.Namespace) -> Config:
    """TOML values, then flags on top; each value parsed and checked as its field."""
    return config_and_sources(args)[0]


def config_and_sources(args: argparse.Namespace) -> tuple[Config, dict[str, str]]:
    """The config of ``config_from_args`` and, per field the user set, where: "flag" or "TOML"."""
    values = load_toml(args.config) if args.config else {}
    given = {name: "TOML" for name in values}
    for f in fields(Config):
        if f.name in vars(args):
            values[f.name] = parse_value(f.name, getattr(args, f.name), "command line")
            given[f.name] = "flag"
    return Config(**values), given


def print_dry_run(cfg: Config, given: dict[str, str]) -> None:
    """The resolved config, one field a line, with where each value comes from."""
    resolved, sources = cfg.resolved(), cfg.sources(given)
    for f in fields(Config):
        print(f"{f.name:18s} {str(getattr(resolved, f.name)):28s} {sources[f.name]}")


def run_summary(run, ended: str) -> None:
    """Where the outputs are (stderr; stdout carries only the run directory, for scripts)."""
    grids = sorted((run.dir / "samples").glob("epoch_*.png"))
    say = lambda text: print(text, file=sys.stderr)  # noqa: E731
    if ended in EXIT_SIGNAL:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        say(f"stopped by {ended}; checkpoint saved — continue with: gankit resume {run.dir}"
            + (f" --nproc {world}" if world > 1 else ""))
    say(f"samples:    {grids[-1] if grids else '(none yet)'}")
    say(f"loss plot:  {run.dir / 'losses.png'}")
    say(f"checkpoint: {run.dir / 'checkpoints' / 'last.pt'}")
    print(run.dir)


def launched(args) -> Optional[int]:
    """``--nproc N`` (N > 1): the exit code of the same command run as N ranks under DDP."""
    if args.nproc < 1:
        raise GankitError(f"--nproc must be at least 1, got {args.nproc}")
    if args.nproc == 1:
        return None
    from gankit.training.launch import launch, strip_nproc  # deferred: `gankit --help` stays torch-free

    return launch(strip_nproc(args.argv), args.nproc)


def rank() -> int:
    """This process's rank in a torchrun job (0 outside one)."""
    return int(os.environ.get("RANK", "0"))


def cmd_train(args) -> int:
    from gankit.run import train  # deferred: `gankit --help` stays torch-free

    if args.dry_run:
        print_dry_run(*config_and_sources(args))
        return 0
    code = launched(args)
    if code is not None:
        return code
    run = train(config_from_args(args), progress=not args.quiet)
    if rank() == 0:
        run_summary(run, run.stopped)
    return EXIT_SIGNAL.get(run.stopped, 0)


def cmd_resume(args) -> int:
    from gankit.run import resume  # deferred: `gankit --help` stays torch-free

    code = launched(args)
    if code is not None:
        return code
    run = resume(args.dir, epochs=args.epochs, max_steps=args.max_steps, progress=not args.quiet)
    if rank() == 0:
        run_summary(run, run.stopped)
    return EXIT_SIGNAL.get(run.stopped, 0)


def save_samples(samples, labels, out: Path, nrow: int) -> None:
    """PNG grid (or scatter for points), or .npz with uint8 ``images`` (N, C, H, W) and ``labels``."""
    import numpy as np

    from gankit.plots import save_image_grid, save_points  # deferred: `gankit --help` stays torch-free
    from gankit.atomic import atomic_path  # deferred: `gankit --help` stays torch-free

    if out.suffix == ".npz":
        with atomic_path(out) as tmp:
            with open(tmp, "wb") as fh:
                np.savez(fh, images=samples.numpy(), labels=labels.numpy())
    elif out.suffix == ".png":
        (save_points(samples, None, out) if samples.dtype.is_floating_point else save_image_grid(samples, out, nrow))
    else:
        raise GankitError(f"--out {out}: use a .png (grid) or .npz (images and labels) file name, or a folder DIR/")


def is_folder_target(out: str) -> bool:
    """``--out DIR/`` (a trailing slash, an existing folder, or a name without a file suffix)."""
    path = Path(out)
    return out.endswith(("/", "\\")) or path.is_dir() or not path.suffix


def cmd_sample(args) -> int:
    from gankit.run import load  # deferred: `gankit --help` stays torch-free

    run = load(args.dir, args.device, args.generator, args.checkpoint)
    samples, labels = run.sample_with_labels(args.n, args.label, args.seed)
    if is_folder_target(args.out):
        from gankit.sample_folder import UNLABELLED, write_sample_folder  # deferred: `gankit --help` stays torch-free

        manifest = write_sample_folder(run, samples, labels, Path(args.out), args.seed)
        if not manifest["labelled"]:
            print(f"{run.dir} is unconditional over {len(run.class_ids)} classes: its samples are in "
                  f"{args.out.rstrip('/')}/{UNLABELLED}/, without labels", file=sys.stderr)
        print(args.out)
        return 0
    nrow = run.shape.num_classes if run.conditional and args.label is None else math.ceil(math.sqrt(args.n))
    save_samples(samples, labels, Path(args.out), nrow)
    print(args.out)
    return 0


def cmd_interpolate(args) -> int:
    from gankit.run import load  # deferred: `gankit --help` stays torch-free

    run = load(args.dir, args.device, args.generator, args.checkpoint)
    strips, labels = run.interpolate_with_labels(args.steps, args.rows, args.label, args.seed)
    save_samples(strips, labels, Path(args.out), nrow=args.steps)
    print(args.out)
    return 0


def cmd_eval(args) -> int:
    from gankit.metrics.evaluate import evaluate, floor_samples  # deferred: `gankit --help` stays torch-free
    from gankit.run import load  # deferred: `gankit --help` stays torch-free

    run = load(args.dir, args.device, args.generator, args.checkpoint)
    metrics = [m.strip() for m in args.metrics.split(",") if m.strip()]
    fakes = floor_samples(run, args.n, args.seed) if args.floor else None
    doc = evaluate(run, metrics, args.n, args.n_real, args.reference, args.seed, fakes=fakes,
                   inception_backend=args.inception_backend, out_name="eval_floor.json" if args.floor else "eval.json")
    prov = doc["provenance"]
    what = "real test images" if args.floor else "samples"
    print(f"{run.dir}: {prov['n']} {what} vs {prov['n_real']} real ({prov['reference_split']} split), step {prov['step']}, "
          f"{prov['generator']} generator of checkpoints/{prov['checkpoint']}.pt")
    for name, value in doc["metrics"].items():
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        print(f"  {name:28s} {shown}")
    print(f"  seconds: {', '.join(f'{k} {v}' for k, v in doc['seconds'].items())}")
    return 0


def cmd_augment(args) -> int:
    from gankit.metrics.augmentation import augment, table  # deferred: `gankit --help` stays torch-free
    from gankit.run import load  # deferred: `gankit --help` stays torch-free

    folders = [args.dir] + [d for d in (args.runs or "").split(",") if d.strip()]
    runs = [load(folder.strip(), args.device, args.generator, args.checkpoint) for folder in folders]
    doc = augment(runs, args.real_per_class, args.seeds or [0, 1, 2], args.ratios,
                  say=lambda text: print(text, file=sys.stderr), groups=args.conditions)
    print(table(doc))
    print(f"{runs[0].dir / 'augment.json'}")
    return 0


def cmd_sweep(args) -> int:
    from gankit.experiments.sweep import run_sweep  # deferred: `gankit --help` stays torch-free

    spec = load_sweep(args.experiment)
    say = lambda text: print(f"gankit sweep {spec.id}: {text}", file=sys.stderr)  # noqa: E731
    devices = [d.strip() for d in (args.devices or "").split(",") if d.strip()]
    root, results = run_sweep(spec, args.budget, args.data, args.out, progress=not args.quiet, say=say, devices=devices,
                              seeds=args.seeds)
    for result in results:
        say(f"{result.name}: {result.status}")
    stopped = next((r.status for r in results if r.status in EXIT_SIGNAL), None)
    if stopped:
        say(f"stopped by {stopped}; run the same command again to continue")
        return EXIT_SIGNAL[stopped]
    say(f"report: {root / 'report.html'}")
    print(root)
    return 0


def cmd_serve(args) -> int:
    from gankit.web.app import serve  # deferred: `gankit --help` stays torch-free

    serve(args.runs, args.host, args.port, args.device, say=lambda text: print(text, file=sys.stderr),
          generator=args.generator, checkpoint=args.checkpoint)
    return 0


def cmd_report(args) -> int:
    from gankit.experiments.report import write_report  # deferred: `gankit --help` stays torch-free

    print(write_report(args.dir))
    return 0


def cmd_bench(args) -> int:
    from gankit.bench.table import HEADER, run_bench  # deferred: `gankit --help` stays torch-free

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for name in models:
        if name not in BENCH_MODELS:
            raise GankitError(f"gankit bench has no model {name!r}: choose from {', '.join(BENCH_MODELS)}")
    precisions = [p.strip() for p in args.precision.split(",") if p.strip()]
    for precision in precisions:
        Config(precision=precision).validate()  # the choices of Config.precision, as a one-line error
    if args.device == "cuda":
        from gankit.device import resolve_device  # deferred: `gankit --help` stays torch-free

        resolve_device("cuda")
    say = lambda line: print(line, flush=True)  # noqa: E731
    if models:
        print(HEADER)
        run_bench(models, args.data, args.data_dir, args.device, baseline=not args.no_baseline, scale=args.scale,
                  say=say, precisions=precisions)
    if args.inception:
        from gankit.bench.inception import run_inception_bench  # deferred: `gankit --help` stays torch-free

        run_inception_bench(n=max(16, round(200 * args.scale)), say=say)
    if args.scaling:
        import time

        from gankit.bench.scaling import run_scaling  # deferred: `gankit --help` stays torch-free

        out = Path(args.out or f"runs/bench-scaling-{time.strftime('%Y%m%d-%H%M%S')}")
        run_scaling(args.data, args.data_dir, args.device, out, scale=args.scale, say=say)
    if args.time_to_quality:
        import time

        from gankit.bench.quality import time_to_quality  # deferred: `gankit --help` stays torch-free

        out = args.out or f"runs/bench-time-to-quality-{time.strftime('%Y%m%d-%H%M%S')}"
        time_to_quality(out, args.data, args.data_dir, say=say, lr=args.quality_lr, model=args.quality_model)
    if args.memory_epochs:
        import tempfile

        from gankit.bench.quality import memory_over_epochs  # deferred: `gankit --help` stays torch-free

        with tempfile.TemporaryDirectory() as tmp:
            rss = memory_over_epochs(f"{tmp}/run", args.data, args.data_dir, args.memory_epochs, classes=[3])
        say(f"dcgan-64 RSS after each epoch (class 3 only): {', '.join(f'{r:,.0f}' for r in rss)} MB; "
            f"growth after the first epoch {rss[-1] - rss[0]:+,.0f} MB")
    return 0


def cmd_models(args) -> int:
    from gankit.models import MODELS  # deferred: `gankit --help` stays torch-free

    for name, spec in MODELS.items():
        kind = "conditional" if spec.conditional else "points" if spec.data_kind == "points" else "unconditional"
        print(f"{name:15s} {kind:13s} {spec.description}  [{spec.source}]")
    return 0


def cmd_datasets(args) -> int:
    from gankit.data import DATASETS, data_roots  # deferred: `gankit --help` stays torch-free

    roots = data_roots(args.data_dir)
    print(f"looking under: {', '.join(map(str, roots))}")
    for name, spec in DATASETS.items():
        where = spec.locate(roots)
        status = f"available ({where})" if where else f"not offline — {spec.how_to_get}"
        print(f"{name:14s} {spec.description}\n{'':14s} {status}")
    print(f"{'folder:PATH':14s} any folder of images; class sub-folders become labels")
    return 0
