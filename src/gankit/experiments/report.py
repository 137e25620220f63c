"""`gankit report DIR`: one self-contained ``report.html`` (images embedded, opens from file://)
for a sweep folder or a single run, read only from the files runs write: ``sweep.json``,
``config.json``, ``metrics.jsonl``, ``eval.json``, ``eval_history.jsonl`` and the PNGs.

The page has the experiment's question and what the documents report, a variants × metrics
table, then the sections the sweep file names (``SECTIONS``)."""
from __future__ import annotations

import base64
import html
import json
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from gankit._version import __version__
from gankit.errors import GankitError
from gankit.experiments import figures
from gankit.plots import read_metrics
from gankit.registry import Registry
from gankit.atomic import atomic_write_text
from gankit.run_dir import RunDir, SweepDir

SECTIONS: Registry[Callable[["Report"], str]] = Registry("report section")
# Numbers in eval.json that describe the measurement rather than the model.
NOT_SHOWN = {"classifier_test_accuracy", "classes_total", "modes_total", "kid_subset_size", "pr_k", "nn_count",
             "kid_std", "real_class_kl", "inception_score_std"}


@dataclass
class RunView:
    """One run's files, read once."""

    name: str
    dir: Path
    changes: dict
    trainer: str = "gan"
    config: dict = field(default_factory=dict)
    rows: list = field(default_factory=list)
    metrics: dict = field(default_factory=dict)
    history: list = field(default_factory=list)
    group: str = ""  # the variant this run is one seed of (its own name when not seeded)

    @classmethod
    def read(cls, name: str, directory: Path, changes: dict, trainer: str = "gan", group: str = "") -> "RunView":
        run = RunDir(directory)
        config = run.read_config() if run.config.exists() else {}
        return cls(name, directory, changes, config.get("config", {}).get("trainer", trainer), config.get("config", {}),
                   read_metrics(run.metrics), run.read_evaluation(), read_metrics(run.eval_history),
                   group or name)

    def latest_grid(self) -> Optional[Path]:
        """The last per-epoch sample grid, or the autoencoder's reconstructions."""
        grids = sorted((self.dir / "samples").glob("epoch_*.png"))
        return grids[-1] if grids else next(iter(self.files("reconstructions.png")), None)

    def files(self, name: str) -> list[Path]:
        return [self.dir / name] if (self.dir / name).exists() else []

    def final(self, key: str) -> Optional[float]:
        """Mean of ``key`` over the last tenth of the logged rows (a single row is too noisy)."""
        values = [r[key] for r in self.rows if r.get(key) is not None]
        tail = values[-max(1, len(values) // 10):]
        return sum(tail) / len(tail) if tail else None


@dataclass
class Report:
    """What the page is about and the runs it compares."""

    title: str
    about: str
    documents: str
    sections: list
    runs: list
    budget: str = ""

    @property
    def series(self) -> dict:
        return {r.name: r.rows for r in self.runs}


def read_report(directory: Path) -> Report:
    """A sweep folder (``sweep.json``) or a single run directory (``config.json``)."""
    if SweepDir(directory).spec.exists():
        doc = json.loads(SweepDir(directory).spec.read_text())
        runs = [RunView.read(v["name"], directory / v["name"], v["changes"], v.get("trainer", "gan"), v.get("group", ""))
                for v in doc["variants"] if RunDir(directory / v["name"]).config.exists()]
        return Report(f"{doc['id']}: {doc['title']}", doc["about"], doc["documents"], doc["sections"], runs,
                      doc.get("budget", ""))
    if RunDir(directory).config.exists():
        run = RunView.read(directory.name, directory, {})
        return Report(f"run {directory.name}", f"{run.config.get('model')} on {run.config.get('data')}", "",
                      [s for s in SECTIONS.names() if s != "reconstructions"], [run])
    raise GankitError(f"{directory} is neither a sweep folder (sweep.json) nor a run directory (config.json)")


def write_report(directory: str | Path) -> Path:
    """Write ``DIR/report.html`` and return its path."""
    directory = Path(directory)
    report = read_report(directory)
    body = [header(report), seed_table(report), table(report)] + [SECTIONS[name](report) for name in report.sections]
    page = PAGE.format(title=html.escape(report.title), body="\n".join(part for part in body if part))
    path = SweepDir(directory).report
    atomic_write_text(page, path)
    return path


# --- pieces of HTML -----------------------------------------------------------------------------
def esc(value) -> str:
    return html.escape(str(value))


def img(data: bytes | Path, alt: str) -> str:
    """An <img> with the PNG inlined as a data URI (the page must open from file:// alone)."""
    raw = data.read_bytes() if isinstance(data, Path) else data
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{base64.b64encode(raw).decode()}">'


def number(value) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool) or isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.4g}"
    return esc(value)


def section(title: str, content: str, note: str = "") -> str:
    return f"<section><h2>{esc(title)}</h2>{f'<p class=note>{esc(note)}</p>' if note else ''}{content}</section>"


def figure_row(items: list[tuple[str, Path]]) -> str:
    """Images side by side with captions."""
    cells = "".join(f"<figure>{img(path, name)}<figcaption>{esc(name)}</figcaption></figure>" for name, path in items)
    return f'<div class="row">{cells}</div>'


def html_table(head: list[str], rows: list[list[str]]) -> str:
    th = "".join(f"<th>{esc(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(f"<td>{c}</td>" for c in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def header(report: Report) -> str:
    parts = [f"<h1>{esc(report.title)}</h1>"]
    if report.about:
        parts.append(f"<p>{esc(report.about)}</p>")
    if report.documents:
        parts.append(f"<p><b>What the documents report:</b> {esc(report.documents)}</p>")
    meta = f"budget {report.budget} · " if report.budget else ""
    parts.append(f"<p class=note>{meta}{len(report.runs)} run(s) · gankit {esc(__version__)} · "
                 f"{time.strftime('%Y-%m-%d %H:%M')}</p>")
    return "\n".join(parts)


def shown_metrics(report: Report) -> list[str]:
    """The numbers of eval.json worth a column, in the order the runs give them."""
    return list(dict.fromkeys(k for r in report.runs for k, v in r.metrics.items()
                              if k not in NOT_SHOWN and isinstance(v, (int, float)) and not isinstance(v, bool)))


def seed_summary(values: list[float]) -> Optional[str]:
    """"mean ± std (n)" with the sample standard deviation; None without values."""
    values = [v for v in values if v is not None]
    if not values:
        return None
    std = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{statistics.fmean(values):.4g} ± {std:.2g} ({len(values)})"


def seed_table(report: Report) -> str:
    """Variants trained over several seeds (``--seeds``): mean ± std per metric; "" otherwise."""
    groups: dict[str, list[RunView]] = {}
    for r in report.runs:
        groups.setdefault(r.group, []).append(r)
    if all(len(runs) == 1 for runs in groups.values()):
        return ""
    shown = shown_metrics(report)
    rows = [[esc(group), str(len(runs)), esc(", ".join(str(r.config.get("seed", "?")) for r in runs)),
             *(esc(seed_summary([r.metrics.get(k) for r in runs]) or "—") for k in shown)]
            for group, runs in groups.items()]
    return section("Over seeds: mean ± std", html_table(["variant", "runs", "seeds", *shown], rows),
                   "sample standard deviation over the seeds that finished; each seed's run is a row of the next table")


def table(report: Report) -> str:
    """Variants × (changed fields, length, speed, final losses, every measured number)."""
    changed = list(dict.fromkeys(k for r in report.runs for k in r.changes))
    shown = shown_metrics(report)
    head = ["variant", *changed, "steps", "train s", "images/s", "loss_d", "loss_g", *shown]
    rows = []
    for r in report.runs:
        last = r.rows[-1] if r.rows else {}
        speed = statistics.median([x["images_per_s"] for x in r.rows]) if r.rows else None
        loss_d = r.final("loss_d") if r.trainer == "gan" else r.final("loss_recon")
        rows.append([esc(r.name), *(number(r.changes.get(k, "")) for k in changed), number(last.get("step")),
                     number(last.get("time")), number(speed), number(loss_d), number(r.final("loss_g")),
                     *(number(r.metrics.get(k)) for k in shown)])
    note = ("loss_d/loss_g: mean over the last tenth of the run (autoencoder: reconstruction MSE). "
            "Metric names as in eval.json; see README 'Evaluating a run'.")
    return section("Variants and metrics", html_table(head, rows), note)


# --- sections ---------------------------------------------------------------------------------
@SECTIONS.register("samples")
def samples_section(report: Report) -> str:
    items = [(r.name, r.latest_grid()) for r in report.runs if r.latest_grid()]
    return section("Samples (the fixed noise batch, last epoch)", figure_row(items)) if items else ""


@SECTIONS.register("losses")
def losses_section(report: Report) -> str:
    series = report.series
    panels = [("loss_d", "discriminator / critic loss"), ("loss_g", "generator loss")]
    if any(r.trainer == "autoencoder" for r in report.runs):
        panels.append(("loss_recon", "autoencoder reconstruction loss"))
    png = figures.overlay(series, panels, smooth_rows=figures.smoothing_for(series))
    return section("Losses", img(png, "losses"), "moving average over ~2 % of the run") if png else ""


@SECTIONS.register("d_real_loss")
def d_real_section(report: Report) -> str:
    series = report.series
    png = figures.overlay(series, [("loss_d_real", "D loss on real images"), ("d_real", "D(x)")],
                          smooth_rows=figures.smoothing_for(series))
    stability = [[esc(r.name), number(spread([x["loss_d_real"] for x in r.rows if "loss_d_real" in x]))]
                 for r in report.runs]
    note = "stability: standard deviation of the logged D real loss over the second half of the run"
    return section("D real loss", img(png, "d real loss") + html_table(["variant", "std of D real loss"], stability),
                   note) if png else ""


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
def eval_history_section(report: Report) -> str:
    key = next((monitored_key(r.history) for r in report.runs if monitored_key(r.history)), None)
    if key is None:
        return ""
    series = report.series
    loss_png = figures.overlay(series, [("loss_d", "critic / discriminator loss")],
                               smooth_rows=figures.smoothing_for(series))
    hist_png = figures.overlay({r.name: r.history for r in report.runs}, [(key, f"{key} during training")])
    rows = [[esc(r.name), number(tracking(r, key)), number(len(r.history))] for r in report.runs]
    note = (f"Does the loss track quality? Spearman correlation between |loss_d| (smoothed, at the evaluation steps) "
            f"and {key}: near +1 means the loss falls as the samples improve.")
    return section("Loss against quality over training", img(loss_png, "loss") + img(hist_png, key) +
                   html_table(["variant", f"Spearman(|loss_d|, {key})", "evaluations"], rows), note)


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
def time_to_quality_section(report: Report) -> str:
    """Per variant: the first evaluation with every class covered and class KL ≤ 0.02, as steps
    and seconds of training, over the seeds that reached it."""
    from gankit.metrics.quality_bar import MAX_CLASS_KL, first_at_quality

    groups: dict[str, list[RunView]] = {}
    for r in report.runs:
        groups.setdefault(r.group, []).append(r)
    rows = []
    for group, runs in groups.items():
        reached = [(row["step"], seconds_at(r, row["step"])) for r in runs
                   if (row := first_at_quality(r.history)) is not None]
        rows.append([esc(group), f"{len(reached)} / {len(runs)}",
                     esc(seed_summary([step for step, _ in reached]) or "—"),
                     esc(seed_summary([s for _, s in reached]) or "—"),
                     esc(seed_summary([r.history[-1].get("classifier_fid") if r.history else None for r in runs]) or "—")])
    if not any(r.history for r in report.runs):
        return ""
    note = (f"quality: the first record of eval_history.jsonl with every class covered and class KL ≤ {MAX_CLASS_KL} "
            "(domain classifier); steps and training seconds are mean ± std over the seeds that reached it")
    return section("Time to quality", html_table(["variant", "reached", "steps", "train s", "last classifier FID"],
                                                 rows), note)


def seconds_at(run: RunView, step: int) -> Optional[float]:
    """Training seconds at the first logged row at or after ``step``."""
    return next((r["time"] for r in run.rows if r.get("step", -1) >= step and "time" in r), None)


@SECTIONS.register("grad_norm")
def grad_norm_section(report: Report) -> str:
    series = report.series
    longest = max((r.rows[-1]["step"] for r in report.runs if r.rows), default=0)
    first = 100 if longest >= 500 else max(1, longest // 5)  # "the first iterations"
    png = figures.overlay(series, [("grad_norm_g", "‖∇G‖ over the whole run"), ("d_fake", "D(G(z))")], log_y=("grad_norm_g",))
    early = figures.overlay(series, [("grad_norm_g", f"‖∇G‖, first {first} steps")], max_x=first, log_y=("grad_norm_g",))
    if png is None:
        return ""
    rows = [[esc(r.name), number(mean_of(r.rows, "grad_norm_g", first)), number(mean_of(r.rows, "grad_norm_g"))]
            for r in report.runs]
    return section("Generator gradient norm", img(png, "grad norm") + (img(early, "early grad norm") if early else "")
                   + html_table(["variant", f"mean ‖∇G‖, steps ≤ {first}", "mean ‖∇G‖, whole run"], rows),
                   "L2 norm of the generator's gradient at each step (mean over each log window)")


def mean_of(rows: list[dict], key: str, max_step: Optional[int] = None) -> Optional[float]:
    values = [r[key] for r in rows if r.get(key) is not None and (max_step is None or r["step"] <= max_step)]
    return sum(values) / len(values) if values else None


def picture_section(title: str, filename: str, numbers: tuple[str, ...] = (), note: str = "") -> Callable[[Report], str]:
    """A section of one named picture per run that has it, each captioned with some numbers."""
    def render(report: Report) -> str:
        items = []
        for r in report.runs:
            for path in r.files(filename):
                shown = ", ".join(f"{k} {number(r.metrics[k])}" for k in numbers if r.metrics.get(k) is not None)
                items.append((f"{r.name}" + (f" — {shown}" if shown else ""), path))
        return section(title, figure_row(items), note) if items else ""

    return render


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
def augmentation_section(report: Report) -> str:
    """Each run's ``augment.json`` (``gankit augment``): the curve with error bars and the table."""
    docs = {r.name: json.loads(f.read_text()) for r in report.runs for f in r.files("augment.json")}
    if not docs:
        return ""
    rows = []
    for name, doc in docs.items():
        for cond, res in doc["conditions"].items():
            diff = "—" if cond == "real" else (f"{res['diff_mean']:+.4f} [{res['diff_low']:+.4f}, {res['diff_high']:+.4f}]"
                                               if res["diff_low"] == res["diff_low"] else f"{res['diff_mean']:+.4f}")
            rows.append([esc(name), esc(cond), esc(res["n_train"]), f"{res['mean']:.4f} ± {res['std']:.4f}", esc(diff)])
    protocol = next(iter(docs.values()))["protocol"]
    note = (f"Ravuri & Vinyals 2019 with the domain classifier: {protocol['recipe']}; validation: {protocol['validation']}; "
            f"classifier seeds {', '.join(map(str, protocol['seeds']))}; {protocol['n_test']} real test images. "
            "A gain counts when its 95 % interval excludes zero.")
    return section("Does augmentation help?", img(figures.augmentation_curves(docs), "augmentation curve") +
                   html_table(["variant", "training set", "images", "test accuracy", "vs real only (95 % CI)"], rows),
                   note)


@SECTIONS.register("reconstructions")
def reconstructions_section(report: Report) -> str:
    def shown(r: RunView, prefix: str = "") -> str:
        keys = ("sharpness", "real_sharpness", "classifier_fid", "fid")
        return ", ".join(f"{k} {number(r.metrics[prefix + k])}" for k in keys if r.metrics.get(prefix + k) is not None)

    items = []
    for r in report.runs:
        if r.trainer == "autoencoder":
            items += [(f"{r.name} generated (decoded codes) — {shown(r)}", p) for p in r.files("code_samples.png")]
            items += [(f"{r.name} reconstructions (top: test images) — {shown(r, 'recon_')}", p)
                      for p in r.files("reconstructions.png")]
        elif r.latest_grid():
            items.append((f"{r.name} samples — {shown(r)}", r.latest_grid()))
    note = ("sharpness: mean variance of the Laplacian (higher = sharper); real_sharpness: the same for real images. "
            "The autoencoder generates by decoding codes drawn from a Gaussian fitted to its training codes; its "
            "reconstructions of test images (recon_* in the table) are its best case, not generation.")
    return section("Autoencoder against GAN", figure_row(items), note) if items else ""


@SECTIONS.register("cost")
def cost_section(report: Report) -> str:
    rows = []
    base = None
    for r in report.runs:
        if not r.rows:
            continue
        last = r.rows[-1]
        per_step = last["time"] / max(last["step"], 1)
        base = base or per_step
        rows.append([esc(r.name), number(per_step * 1000), number(per_step / base), number(last["time"])])
    return section("Cost", html_table(["variant", "ms per generator step", "× the first variant", "train s"], rows),
                   "training time only (sample grids, checkpoints and metrics excluded)") if rows else ""


PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1400px; padding: 0 1em; color: #222; }}
table {{ border-collapse: collapse; margin: 0.5em 0; font-size: 0.9em; }}
th, td {{ border: 1px solid #ccc; padding: 0.25em 0.6em; text-align: right; }}
th:first-child, td:first-child {{ text-align: left; }}
.row {{ display: flex; flex-wrap: wrap; gap: 1em; }}
figure {{ margin: 0; }}
figcaption {{ font-size: 0.85em; max-width: 420px; }}
img {{ max-width: 100%; }}
.row img {{ max-width: 420px; image-rendering: pixelated; }}
.note {{ color: #666; font-size: 0.9em; }}
</style>
</head>
<body>
{body}
</body>
</html>
"""
