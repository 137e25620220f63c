"""The ``gankit`` command (SPEC §7): a thin layer over the Python API.

Flags of ``train`` come from the ``Config`` dataclass, choices from the registries. Every user
error is one line on stderr (exit 2); a run stopped by Ctrl-C/SIGTERM has saved its checkpoint.
Only torch-free modules are imported at the top, so that ``gankit --help`` answers at once; each
command imports what it runs.
"""
from __future__ import annotations

import argparse
import logging
import math
import os
import sys
from dataclasses import fields
from pathlib import Path
from typing import Optional, Sequence

from gankit.config import FIELDS, Config, load_toml, parse_value
from gankit.errors import GankitError
from gankit import defaults
from gankit.bench.models import BENCH_MODELS
from gankit.experiments.spec import BUDGETS, load_sweep, shipped_ids

EXIT_USAGE, EXIT_SIGNAL = 2, {"SIGINT": 130, "SIGTERM": 143}


def add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One ``--field-name`` per Config field; unset flags stay out of the namespace."""
    group = parser.add_argument_group("config fields (also settable in --config F.toml)")
    for f in fields(Config):
        meta = f.metadata
        help_text = meta["help"] + (f" [{'|'.join(map(str, meta['choices']))}]" if "choices" in meta else "")
        if "fallback" in meta:
            fallback = ",".join(map(str, meta["fallback"])) if isinstance(meta["fallback"], tuple) else meta["fallback"]
            help_text += f" (default: the model's preset, else {fallback})"
        kwargs = dict(nargs="?", const="true") if f.type == "bool" else {}
        group.add_argument("--" + f.name.replace("_", "-"), dest=f.name, default=argparse.SUPPRESS,
                           metavar=f.name.upper(), help=help_text, **kwargs)


def add_generator_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--generator", choices=defaults.GENERATORS,
                        help="ema: the moving average of G's weights (the default for a run trained with --ema-decay); "
                             "raw: the trained weights (the default otherwise)")
    parser.add_argument("--checkpoint", default=defaults.CHECKPOINT, choices=defaults.CHECKPOINTS,
                        help="last: checkpoints/last.pt (default); best: checkpoints/best.pt, the generator at the best "
                             "metric recorded during training (--eval-every, --best-metric)")


def add_nproc_flag(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--nproc", type=int, default=1, metavar="N",
                        help="train with N processes under DistributedDataParallel on this machine (one per GPU; "
                             "short for torchrun --standalone --nproc_per_node N -m gankit ...); default 1")


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


def rank() -> int:
    """This process's rank in a torchrun job (0 outside one)."""
    return int(os.environ.get("RANK", "0"))


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
                  say=lambda text: print(text, file=sys.stderr))
    print(table(doc))
    print(f"{runs[0].dir / 'augment.json'}")
    return 0


def ratio_list(text: str) -> list[float]:
    """``--ratios 0.1,0.5,1`` -> [0.1, 0.5, 1.0]; each must be positive."""
    try:
        ratios = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        ratios = []
    if not ratios or min(ratios) <= 0:
        raise argparse.ArgumentTypeError(f"--ratios takes comma-separated positive numbers such as 0.1,0.5,1, not {text!r}")
    return ratios


def seed_list(text: str) -> list[int]:
    """``--seeds 0,1,2`` -> [0, 1, 2]; anything else is a one-line usage error."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes comma-separated integers such as 0,1,2, not {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"--seeds takes comma-separated integers ≥ 0 such as 0,1,2, not {text!r}")
    return seeds


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gankit", description="Train, sample and compare GANs on image data.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show info-level log messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model; prints the run directory",
                       description="Train MODEL on DATA. Fields left unset take the model's preset (see `gankit models`).")
    p.add_argument("--config", metavar="F.toml", help="TOML file of config fields; flags override it")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--dry-run", action="store_true",
                   help="print the resolved config and where each value comes from (flag, TOML, preset, fallback), "
                        "then exit without writing anything")
    add_nproc_flag(p)
    add_config_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("resume", help="continue a run from its last checkpoint, exactly")
    p.add_argument("dir", help="run directory")
    p.add_argument("--epochs", type=int, help="new total number of epochs")
    p.add_argument("--max-steps", type=int, help="new limit on generator steps")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_nproc_flag(p)
    p.set_defaults(func=cmd_resume)

    for name, helptext, func in (("sample", "generate images: a PNG grid or an .npz for augmentation", cmd_sample),
                                 ("interpolate", "latent interpolation strips α·z1 + (1−α)·z2", cmd_interpolate)):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("dir", help="run directory")
        if name == "sample":
            p.add_argument("--n", type=int, default=defaults.SAMPLE_N, help="number of samples (default %(default)s)")
        else:
            p.add_argument("--steps", type=int, default=defaults.STRIP_STEPS, help="images per strip (default %(default)s)")
            p.add_argument("--rows", type=int, default=defaults.STRIP_ROWS, help="number of strips (default %(default)s)")
        p.add_argument("--class", dest="label", type=int, help="class label for conditional models, e.g. 3")
        p.add_argument("--seed", type=int, default=defaults.SEED, help="noise seed (default %(default)s)")
        p.add_argument("--device", default=defaults.DEVICE, choices=defaults.DEVICES)
        add_generator_flags(p)
        p.add_argument("--out", required=True, metavar="F.png|F.npz|DIR/",
                       help="output: a PNG grid, an .npz (uint8 images and labels) or, for sample, a folder DIR/ "
                            "of DIR/<class>/000001.png and manifest.json (torchvision's ImageFolder layout)")
        p.set_defaults(func=func)

    p = sub.add_parser("eval", help="measure a run: FID, KID, precision/recall, IS, classifier, nearest neighbours",
                       description="Writes DIR/eval.json and prints a table.")
    p.add_argument("dir", help="run directory")
    p.add_argument("--metrics", default=",".join(defaults.METRICS),
                   help=f"comma-separated, from: {', '.join(defaults.METRICS)} (default: all)")
    p.add_argument("--n", type=int, default=defaults.EVAL_N, help="generated samples (default %(default)s)")
    p.add_argument("--n-real", type=int, help="real images (default: --n)")
    p.add_argument("--reference", default=defaults.REFERENCE, choices=defaults.REFERENCES,
                   help="real split (default %(default)s)")
    p.add_argument("--seed", type=int, default=defaults.SEED, help="noise and subset seed (default %(default)s)")
    p.add_argument("--floor", action="store_true",
                   help="score --n real test images instead of samples: the best any generator can do (eval_floor.json)")
    p.add_argument("--device", default=defaults.DEVICE, choices=defaults.DEVICES)
    p.add_argument("--inception-backend", default="auto", metavar="NAME",
                   help="where the FID Inception runs: auto (the fastest exact one installed: openvino, then "
                        "onnxruntime, then torch on a CPU; torch on a GPU), torch, openvino or onnxruntime")
    add_generator_flags(p)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("augment", help="do a run's samples help a classifier? CAS and the augmentation curve",
                       description="Trains the domain classifier on real images, on samples only (the Classification "
                                   "Accuracy Score) and on real + samples at several ratios, over classifier seeds, "
                                   "and scores each on the real test split (Ravuri & Vinyals 2019). Writes "
                                   "DIR/augment.json and prints a table.")
    p.add_argument("dir", help="run directory (a conditional run, or a one-class run with --runs for the others)")
    p.add_argument("--runs", metavar="A,B,…", help="more runs whose samples join, e.g. one run per class")
    p.add_argument("--real-per-class", type=int, metavar="K",
                   help="the low-data regime: K real images per class (the draw of gankit train --per-class K)")
    p.add_argument("--seeds", type=seed_list, metavar="LIST", help="classifier seeds (default 0,1,2)")
    p.add_argument("--ratios", type=ratio_list, default=list(defaults.AUGMENT_RATIOS), metavar="LIST",
                   help="synthetic images per real one, added to the real set (default 0.1,0.25,0.5,1)")
    p.add_argument("--device", default=defaults.DEVICE, choices=defaults.DEVICES, help="where the generators run")
    add_generator_flags(p)
    p.set_defaults(func=cmd_augment)


    p = sub.add_parser("sweep", help="run an experiment's variants (E1 … E14 or a sweep .toml); prints its folder",
                       description="Runs every variant of an experiment under one folder, measures each and writes "
                                   "report.html. Running it again skips finished variants and resumes the unfinished one.")
    p.add_argument("experiment", metavar="E|F.toml", help=f"{', '.join(shipped_ids())}, or a sweep file")
    p.add_argument("--data", help="data set for the variants (default: the experiment's own)")
    p.add_argument("--budget", default="quick", choices=BUDGETS,
                   help="quick: minutes on a CPU; full: the documents' lengths (default quick)")
    p.add_argument("--out", help="sweep folder (default runs/E-DATA-BUDGET)")
    p.add_argument("--devices", metavar="LIST",
                   help="train variants side by side, one per device: cuda:0,cuda:1 … or auto (every GPU); "
                        "cpu,cpu runs two on the CPU (default: one after another)")
    p.add_argument("--seeds", type=seed_list, metavar="LIST",
                   help="train every variant once per seed, e.g. 0,1,2; the report shows mean ± std per variant "
                        "(default: one run per variant, the experiment's seed)")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bars")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("report", help="write DIR/report.html for a sweep or a run")
    p.add_argument("dir", help="sweep folder or run directory")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("serve", help="a local web page over your runs: curves, grids, generate, interpolate",
                       description="Serves a page listing the runs under RUNS; per run its loss curves, the sample grid "
                                   "of each epoch, images generated on demand (a seed, a class), an interpolation "
                                   "between two seeds and the nearest training images; a sweep's report.")
    p.add_argument("runs", nargs="?", default="runs", metavar="RUNS", help="folder of runs and sweeps (default runs)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--device", default=defaults.DEVICE, choices=defaults.DEVICES, help="where the generators run")
    add_generator_flags(p)
    p.set_defaults(func=cmd_serve)


    p = sub.add_parser("bench", help="training throughput against the PyTorch DCGAN example's loop",
                       description="Images/s over whole D+G steps after warm-up, for gankit's loop and a plain "
                                   "re-implementation of pytorch/examples dcgan/main.py on the same data and networks.")
    p.add_argument("--models", default=",".join(BENCH_MODELS), help=f"comma-separated (default: {','.join(BENCH_MODELS)})")
    p.add_argument("--data", default="mnist", help="data set (default mnist)")
    p.add_argument("--data-dir", help="data root (default $GANKIT_DATA, ~/.cache/gankit/data)")
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    p.add_argument("--scale", type=float, default=1.0, help="multiply the timed steps (default 1)")
    p.add_argument("--no-baseline", action="store_true", help="time gankit's loop only")
    p.add_argument("--precision", default="fp32,bf16", metavar="LIST",
                   help=f"gankit's loop at each of these, comma-separated: {', '.join(FIELDS['precision'].metadata['choices'])} "
                        "(default fp32,bf16; the baseline runs in fp32)")
    p.add_argument("--inception", action="store_true",
                   help="also time the FID Inception on each installed backend (torch, openvino, onnxruntime) "
                        "and compare their features with torch-fidelity's")
    p.add_argument("--scaling", action="store_true",
                   help="also time dcgan at 32/64/128 px and batch 32-512 (images/s, GFLOP/s, peak RSS) and eval "
                        "per 1,000 samples; writes scaling.json and scaling.png into --out")
    p.add_argument("--time-to-quality", action="store_true",
                   help="also train --quality-model until 10/10 classes with class KL <= 0.02 (domain classifier); "
                        "use --models '' for this alone")
    p.add_argument("--quality-model", default="dcgan", metavar="NAME",
                   help="the model of the time-to-quality run, at its preset (default dcgan, 32 px)")
    p.add_argument("--quality-lr", type=float, metavar="LR",
                   help="learning rate of both networks in the time-to-quality run (default: the model's preset)")
    p.add_argument("--out", help="folder of the time-to-quality run or of the --scaling results "
                                 "(default runs/bench-time-to-quality-TIME, runs/bench-scaling-TIME)")
    p.add_argument("--memory-epochs", type=int, default=0, metavar="N",
                   help="also train dcgan 64 px on one class for N epochs and print the RSS after each")
    p.set_defaults(func=cmd_bench)

    sub.add_parser("models", help="list the models").set_defaults(func=cmd_models)
    p = sub.add_parser("datasets", help="list the data sets and whether each is available offline now")
    p.add_argument("--data-dir", help="data root to look in (default $GANKIT_DATA, ~/.cache/gankit/data)")
    p.set_defaults(func=cmd_datasets)
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    """Entry point of the ``gankit`` console script and ``python -m gankit``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    args.argv = argv
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="gankit: %(levelname)s: %(message)s")
    try:
        return args.func(args)
    except GankitError as err:
        where = f" (rank {rank()})" if rank() else ""
        print(f"gankit: error{where}: {err}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("gankit: interrupted (the last checkpoint is intact)", file=sys.stderr)
        return EXIT_SIGNAL["SIGINT"]


if __name__ == "__main__":
    sys.exit(main())
