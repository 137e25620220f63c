"""The report's sections by name (``SECTIONS``; a sweep file lists the ones it shows), plus the two
tables every report has. Each returns a :class:`Section` of plain values — text, numbers, PNGs —
or None when its runs have nothing to show."""
from __future__ import annotations

import json
import statistics
from typing import Callable, Optional

from gankit.experiments import figures
from gankit.experiments.report_data import Picture, Report, RunView, Section, Table, number, picture, seed_summary
from gankit.metrics.quality_bar import MAX_CLASS_KL, first_at_quality
from gankit.registry import Registry

SECTIONS: Registry[Callable[[Report], Optional[Section]]] = Registry("report section")
# Numbers in eval.json that describe the measurement rather than the model.
NOT_SHOWN = {"classifier_test_accuracy", "classes_total", "modes_total", "kid_subset_size", "pr_k", "nn_count",
             "nn_held_out_count", "kid_std", "real_class_kl", "inception_score_std"}


def shown_metrics(report: Report) -> list[str]:
    """The numbers of eval.json worth a column, in the order the runs give them."""
    return list(dict.fromkeys(k for r in report.runs for k, v in r.metrics.items()
                              if k not in NOT_SHOWN and isinstance(v, (int, float)) and not isinstance(v, bool)))


# --- the tables of every report ---------------------------------------------------------------
def seed_table(report: Report) -> Optional[Section]:
    """Variants trained over several seeds (``--seeds``): mean ± std per metric."""
    groups = report.groups()
    if all(len(runs) == 1 for runs in groups.values()):
        return None
    shown = shown_metrics(report)
    rows = [[group, str(len(runs)), ", ".join(str(r.config.get("seed", "?")) for r in runs),
             *(seed_summary([r.metrics.get(k) for r in runs]) or "—" for k in shown)]
            for group, runs in groups.items()]
    return Section("Over seeds: mean ± std", "sample standard deviation over the seeds that finished; each seed's "
                   "run is a row of the next table", tables=[Table(["variant", "runs", "seeds", *shown], rows)])


def variants_table(report: Report) -> Section:
    """Variants × (changed fields, length, speed, final losses, every measured number)."""
    changed = list(dict.fromkeys(k for r in report.runs for k in r.changes))
    shown = shown_metrics(report)
    head = ["variant", *changed, "steps", "train s", "images/s", "loss_d", "loss_g", *shown]
    rows = []
    for r in report.runs:
        last = r.rows[-1] if r.rows else {}
        speed = statistics.median([x["images_per_s"] for x in r.rows]) if r.rows else None
        loss_d = r.final("loss_d") if r.trainer == "gan" else r.final("loss_recon")
        rows.append([r.name, *(number(r.changes.get(k, "")) for k in changed), number(last.get("step")),
                     number(last.get("time")), number(speed), number(loss_d), number(r.final("loss_g")),
                     *(number(r.metrics.get(k)) for k in shown)])
    return Section("Variants and metrics", "loss_d/loss_g: mean over the last tenth of the run (autoencoder: "
                   "reconstruction MSE). Metric names as in eval.json; see README 'Evaluating a run'.",
                   tables=[Table(head, rows)])


# --- sections a sweep file names ----------------------------------------------------------------
@SECTIONS.register("samples")
def samples_section(report: Report) -> Optional[Section]:
    items = [picture(r.latest_grid(), r.name) for r in report.runs if r.latest_grid()]
    return Section("Samples (the fixed noise batch, last epoch)", pictures=items) if items else None


@SECTIONS.register("losses")
def losses_section(report: Report) -> Optional[Section]:
    series = report.series
    panels = [("loss_d", "discriminator / critic loss"), ("loss_g", "generator loss")]
    if any(r.trainer == "autoencoder" for r in report.runs):
        panels.append(("loss_recon", "autoencoder reconstruction loss"))
    png = figures.overlay(series, panels, smooth_rows=figures.smoothing_for(series))
    return Section("Losses", "moving average over ~2 % of the run", plots=[picture(png, "losses")]) if png else None


@SECTIONS.register("d_real_loss")
def d_real_section(report: Report) -> Optional[Section]:
    series = report.series
    png = figures.overlay(series, [("loss_d_real", "D loss on real images"), ("d_real", "D(x)")],
                          smooth_rows=figures.smoothing_for(series))
    if png is None:
        return None
    stability = [[r.name, number(spread([x["loss_d_real"] for x in r.rows if "loss_d_real" in x]))]
                 for r in report.runs]
    return Section("D real loss", "stability: standard deviation of the logged D real loss over the second half "
                   "of the run", plots=[picture(png, "d real loss")],
                   tables=[Table(["variant", "std of D real loss"], stability)])


def spread(values: list[float]) -> Optional[float]:
    half = values[len(values) // 2:]
    return statistics.pstdev(half) if len(half) > 1 else None


def monitored_key(rows: list[dict]) -> Optional[str]:
    """The quality number recorded during training (Inception FID first, else classifier FID)."""
    for key in ("fid", "classifier_fid", "kid_mean"):
        if any(r.get(key) is not None for r in rows):
            return key
    return None


@SECTIONS.register("eval_history")
def eval_history_section(report: Report) -> Optional[Section]:
    key = next((monitored_key(r.history) for r in report.runs if monitored_key(r.history)), None)
    if key is None:
        return None
    series = report.series
    loss_png = figures.overlay(series, [("loss_d", "critic / discriminator loss")],
                               smooth_rows=figures.smoothing_for(series))
    hist_png = figures.overlay({r.name: r.history for r in report.runs}, [(key, f"{key} during training")])
    rows = [[r.name, number(tracking(r, key)), number(len(r.history))] for r in report.runs]
    note = (f"Does the loss track quality? Spearman correlation between |loss_d| (smoothed, at the evaluation steps) "
            f"and {key}: near +1 means the loss falls as the samples improve.")
    return Section("Loss against quality over training", note, plots=[picture(loss_png, "loss"), picture(hist_png, key)],
                   tables=[Table(["variant", f"Spearman(|loss_d|, {key})", "evaluations"], rows)])


def tracking(run: RunView, key: str) -> Optional[float]:
    """Spearman correlation between the smoothed |loss_d| and the quality metric over training."""
    from scipy.stats import spearmanr

    rows = [r for r in run.rows if r.get("loss_d") is not None]
    losses = figures.smooth([abs(r["loss_d"]) for r in rows], max(1, len(rows) // 20))
    at = {r["step"]: v for r, v in zip(rows, losses)}
    pairs = [(at[h["step"]], h[key]) for h in run.history if h["step"] in at and h.get(key) is not None]
    if len(pairs) < 3:
        return None
    return float(spearmanr([p[0] for p in pairs], [p[1] for p in pairs]).statistic)


@SECTIONS.register("time_to_quality")
def time_to_quality_section(report: Report) -> Optional[Section]:
    """Per variant: the first evaluation with every class covered and class KL ≤ 0.02, as steps
    and seconds of training, over the seeds that reached it."""
    if not any(r.history for r in report.runs):
        return None
    rows = []
    for group, runs in report.groups().items():
        reached = [(row["step"], seconds_at(r, row["step"])) for r in runs
                   if (row := first_at_quality(r.history)) is not None]
        rows.append([group, f"{len(reached)} / {len(runs)}", seed_summary([step for step, _ in reached]) or "—",
                     seed_summary([s for _, s in reached]) or "—",
                     seed_summary([r.history[-1].get("classifier_fid") if r.history else None for r in runs]) or "—"])
    note = (f"quality: the first record of eval_history.jsonl with every class covered and class KL ≤ {MAX_CLASS_KL} "
            "(domain classifier); steps and training seconds are mean ± std over the seeds that reached it")
    return Section("Time to quality", note,
                   tables=[Table(["variant", "reached", "steps", "train s", "last classifier FID"], rows)])


def seconds_at(run: RunView, step: int) -> Optional[float]:
    """Training seconds at the first logged row at or after ``step``."""
    return next((r["time"] for r in run.rows if r.get("step", -1) >= step and "time" in r), None)


@SECTIONS.register("grad_norm")
def grad_norm_section(report: Report) -> Optional[Section]:
    series = report.series
    longest = max((r.rows[-1]["step"] for r in report.runs if r.rows), default=0)
    first = 100 if longest >= 500 else max(1, longest // 5)  # "the first iterations"
    png = figures.overlay(series, [("grad_norm_g", "‖∇G‖ over the whole run"), ("d_fake", "D(G(z))")], log_y=("grad_norm_g",))
    early = figures.overlay(series, [("grad_norm_g", f"‖∇G‖, first {first} steps")], max_x=first, log_y=("grad_norm_g",))
    if png is None:
        return None
    rows = [[r.name, number(mean_of(r.rows, "grad_norm_g", first)), number(mean_of(r.rows, "grad_norm_g"))]
            for r in report.runs]
    return Section("Generator gradient norm", "L2 norm of the generator's gradient at each step (mean over each log "
                   "window)", plots=[picture(png, "grad norm")] + ([picture(early, "early grad norm")] if early else []),
                   tables=[Table(["variant", f"mean ‖∇G‖, steps ≤ {first}", "mean ‖∇G‖, whole run"], rows)])


def mean_of(rows: list[dict], key: str, max_step: Optional[int] = None) -> Optional[float]:
    values = [r[key] for r in rows if r.get(key) is not None and (max_step is None or r["step"] <= max_step)]
    return sum(values) / len(values) if values else None


def picture_section(title: str, filename: str, numbers: tuple[str, ...] = (),
                    note: str = "") -> Callable[[Report], Optional[Section]]:
    """A section of one named picture per run that has it, each captioned with some numbers."""
    def build(report: Report) -> Optional[Section]:
        items = []
        for r in report.runs:
            for path in r.files(filename):
                shown = ", ".join(f"{k} {number(r.metrics[k])}" for k in numbers if r.metrics.get(k) is not None)
                items.append(picture(path, r.name + (f" — {shown}" if shown else "")))
        return Section(title, note, pictures=items) if items else None

    return build


SECTIONS.add("class_grid", picture_section(
    "Class grid", "class_grid.png", ("label_accuracy", "classes_covered", "intra_feature_diversity_mean",
                                     "intra_feature_diversity_min"),
    "rows: one noise vector z each; columns: the class label 0 … K−1. Label accuracy: the domain classifier agrees "
    "with the asked label. Intra-class feature diversity: mean pairwise distance of 100 samples of a class in the "
    "classifier's features over that of 100 real test images of the class (1 = as varied as real; mean and worst "
    "class)."))
SECTIONS.add("interpolation", picture_section(
    "Latent interpolation", "interpolation.png", (),
    "each row: G(α·z1 + (1 − α)·z2) for α from 1 to 0 in 10 steps"))
SECTIONS.add("modes", picture_section(
    "Mode coverage", "modes.png", ("modes_covered", "high_quality", "mode_kl", "classes_covered", "class_kl"),
    "2-D mixtures: samples (orange) over the data (grey); a mode is covered when it gets a tenth of its fair share "
    "of samples within 3σ. Images: classes covered by the domain classifier (table)."))


@SECTIONS.register("augmentation")
def augmentation_section(report: Report) -> Optional[Section]:
    """Each run's ``augment.json`` (``gankit augment``): the curve with error bars and the table."""
    docs = {r.name: json.loads(f.read_text()) for r in report.runs for f in r.files("augment.json")}
    if not docs:
        return None
    rows = []
    for name, doc in docs.items():
        for cond, res in doc["conditions"].items():
            diff = "—" if cond == "real" else (f"{res['diff_mean']:+.4f} [{res['diff_low']:+.4f}, {res['diff_high']:+.4f}]"
                                               if res["diff_low"] == res["diff_low"] else f"{res['diff_mean']:+.4f}")
            rows.append([name, cond, str(res["n_train"]), f"{res['mean']:.4f} ± {res['std']:.4f}", diff])
    protocol = next(iter(docs.values()))["protocol"]
    note = (f"Ravuri & Vinyals 2019 with the domain classifier: {protocol['recipe']}; validation: {protocol['validation']}; "
            f"classifier seeds {', '.join(map(str, protocol['seeds']))}; {protocol['n_test']} real test images. "
            "A gain counts when its 95 % interval excludes zero.")
    return Section("Does augmentation help?", note, plots=[picture(figures.augmentation_curves(docs), "augmentation curve")],
                   tables=[Table(["variant", "training set", "images", "test accuracy", "vs real only (95 % CI)"], rows)])


@SECTIONS.register("reconstructions")
def reconstructions_section(report: Report) -> Optional[Section]:
    def shown(r: RunView, prefix: str = "") -> str:
        keys = ("sharpness", "real_sharpness", "classifier_fid", "fid")
        return ", ".join(f"{k} {number(r.metrics[prefix + k])}" for k in keys if r.metrics.get(prefix + k) is not None)

    items: list[Picture] = []
    for r in report.runs:
        if r.trainer == "autoencoder":
            items += [picture(p, f"{r.name} generated (decoded codes) — {shown(r)}") for p in r.files("code_samples.png")]
            items += [picture(p, f"{r.name} reconstructions (top: test images) — {shown(r, 'recon_')}")
                      for p in r.files("reconstructions.png")]
        elif r.latest_grid():
            items.append(picture(r.latest_grid(), f"{r.name} samples — {shown(r)}"))
    note = ("sharpness: mean variance of the Laplacian (higher = sharper); real_sharpness: the same for real images. "
            "The autoencoder generates by decoding codes drawn from a Gaussian fitted to its training codes; its "
            "reconstructions of test images (recon_* in the table) are its best case, not generation.")
    return Section("Autoencoder against GAN", note, pictures=items) if items else None


@SECTIONS.register("cost")
def cost_section(report: Report) -> Optional[Section]:
    rows = []
    base = None
    for r in report.runs:
        if not r.rows:
            continue
        last = r.rows[-1]
        per_step = last["time"] / max(last["step"], 1)
        base = base or per_step
        rows.append([r.name, number(per_step * 1000), number(per_step / base), number(last["time"])])
    return Section("Cost", "training time only (sample grids, checkpoints and metrics excluded)",
                   tables=[Table(["variant", "ms per generator step", "× the first variant", "train s"], rows)]) \
        if rows else None
