"""The ``gankit`` command line (SPEC §7): its sub-commands and flags. ``train``'s flags come from
the ``Config`` dataclass, choices from the registries and defaults from ``gankit.defaults``.
Torch-free, like every module it imports, so that ``--help`` answers at once."""
from __future__ import annotations

import argparse
from dataclasses import fields

from gankit import defaults
from gankit.bench.models import BENCH_MODELS
from gankit.cli.commands import (cmd_augment, cmd_bench, cmd_datasets, cmd_eval, cmd_interpolate, cmd_models,
                                 cmd_report, cmd_resume, cmd_sample, cmd_serve, cmd_sweep, cmd_train)
from gankit.config import FIELDS, Config
from gankit.experiments.spec import BUDGETS, shipped_ids


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
    """Which generator a command samples, and where: --device, --generator, --checkpoint."""
    parser.add_argument("--device", default=defaults.DEVICE, choices=defaults.DEVICES,
                        help="where the generator runs (default auto: a GPU when there is one)")
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


def ratio_list(text: str) -> list[float]:
    """``--ratios 0.1,0.5,1`` -> [0.1, 0.5, 1.0]; each must be positive."""
    try:
        ratios = [float(part) for part in text.split(",") if part.strip()]
    except ValueError:
        ratios = []
    if not ratios or min(ratios) <= 0:
        raise argparse.ArgumentTypeError(f"--ratios takes comma-separated positive numbers such as 0.1,0.5,1, not {text!r}")
    return ratios


def condition_list(text: str) -> list[str]:
    """``--conditions cas,mix`` -> ["cas", "mix"]: what real-only is compared with."""
    groups = [part.strip() for part in text.split(",") if part.strip()]
    unknown = sorted(set(groups) - set(defaults.AUGMENT_CONDITIONS))
    if not groups or unknown:
        raise argparse.ArgumentTypeError(f"--conditions takes a comma-separated list of "
                                         f"{', '.join(defaults.AUGMENT_CONDITIONS)}, not {text!r}")
    return groups


def seed_list(text: str) -> list[int]:
    """``--seeds 0,1,2`` -> [0, 1, 2]; anything else is a one-line usage error."""
    try:
        seeds = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds takes comma-separated integers such as 0,1,2, not {text!r}") from None
    if not seeds or min(seeds) < 0:
        raise argparse.ArgumentTypeError(f"--seeds takes comma-separated integers ≥ 0 such as 0,1,2, not {text!r}")
    return seeds


def build_parser() -> argparse.ArgumentParser:
    """The ``gankit`` parser: one sub-command per entry of SPEC §7."""
    parser = argparse.ArgumentParser(prog="gankit", description="Train, sample and compare GANs on image data.")
    parser.add_argument("-v", "--verbose", action="store_true", help="show info-level log messages")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    add_train(sub)
    add_resume(sub)
    add_sample_and_interpolate(sub)
    add_eval(sub)
    add_augment(sub)
    add_sweep(sub)
    add_report(sub)
    add_serve(sub)
    add_bench(sub)
    add_models(sub)
    add_datasets(sub)
    return parser


def add_train(sub) -> None:
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


def add_resume(sub) -> None:
    p = sub.add_parser("resume", help="continue a run from its last checkpoint, exactly")
    p.add_argument("dir", help="run directory")
    p.add_argument("--epochs", type=int, help="new total number of epochs")
    p.add_argument("--max-steps", type=int, help="new limit on generator steps")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    add_nproc_flag(p)
    p.set_defaults(func=cmd_resume)


def add_sample_and_interpolate(sub) -> None:
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
        add_generator_flags(p)
        p.add_argument("--out", required=True, metavar="F.png|F.npz|DIR/",
                       help="output: a PNG grid, an .npz (uint8 images and labels) or, for sample, a folder DIR/ "
                            "of DIR/<class>/000001.png and manifest.json (torchvision's ImageFolder layout)")
        p.set_defaults(func=func)


def add_eval(sub) -> None:
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
    p.add_argument("--inception-backend", default="auto", metavar="NAME",
                   help="where the FID Inception runs: auto (the fastest exact one installed: openvino, then "
                        "onnxruntime, then torch on a CPU; torch on a GPU), torch, openvino or onnxruntime")
    add_generator_flags(p)
    p.set_defaults(func=cmd_eval)


def add_augment(sub) -> None:
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
    p.add_argument("--conditions", type=condition_list, default=list(defaults.AUGMENT_CONDITIONS), metavar="LIST",
                   help="what the real-only baseline is compared with: cas (samples only: the Classification "
                        "Accuracy Score), mix (real + samples at --ratios), shifts (classical augmentation without "
                        "and with samples); default cas,mix,shifts. --conditions cas is the CAS alone, a fifth of "
                        "the classifier trainings")
    add_generator_flags(p)
    p.set_defaults(func=cmd_augment)


def add_sweep(sub) -> None:
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


def add_report(sub) -> None:
    p = sub.add_parser("report", help="write DIR/report.html for a sweep or a run")
    p.add_argument("dir", help="sweep folder or run directory")
    p.set_defaults(func=cmd_report)


def add_serve(sub) -> None:
    p = sub.add_parser("serve", help="a local web page over your runs: curves, grids, generate, interpolate",
                       description="Serves a page listing the runs under RUNS; per run its loss curves, the sample grid "
                                   "of each epoch, images generated on demand (a seed, a class), an interpolation "
                                   "between two seeds and the nearest training images; a sweep's report.")
    p.add_argument("runs", nargs="?", default="runs", metavar="RUNS", help="folder of runs and sweeps (default runs)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8000, help="port (default 8000; 0 picks a free one)")
    add_generator_flags(p)
    p.set_defaults(func=cmd_serve)


def add_bench(sub) -> None:
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


def add_models(sub) -> None:
    sub.add_parser("models", help="list the models").set_defaults(func=cmd_models)


def add_datasets(sub) -> None:
    p = sub.add_parser("datasets", help="list the data sets and whether each is available offline now")
    p.add_argument("--data-dir", help="data root to look in (default $GANKIT_DATA, ~/.cache/gankit/data)")
    p.set_defaults(func=cmd_datasets)
