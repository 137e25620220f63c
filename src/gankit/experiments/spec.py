"""A sweep file: one experiment as data — a base config, a grid over config fields and/or a list
of named variants, per-budget lengths, what to measure and which report sections show it.

```toml
[experiment]                     # what the report says the experiment is about
title = "Latent size"
about = "…"                      # what is compared and what to look for
documents = "…"                  # what the course documents report (SPEC §5)
sections = ["samples", "losses"] # report sections, see gankit.experiments.sections.SECTIONS
[evaluate]
metrics = ["classifier"]         # measured for every variant at the end (eval.json);
                                 # or by budget: { quick = ["classifier"], full = ["fid", "kid"] }
n = { quick = 2000, full = 10000 }
reference = "train"              # the real split they are measured against; "test" for small sets
[base]                           # config fields shared by every variant
model = "dcgan"
[grid]                           # one variant per combination, in this order
z_dim = [10, 100, 200, 1000]
[[variants]]                     # and/or explicit variants: a name and config fields
name = "init-default"
init = "default"
quick = { max_steps = 1500 }     # optional: fields for one budget only
[budget.quick]                   # fields of each budget (`--budget quick|full`)
max_steps = 800
```

A variant's config is ``base`` < ``budget`` < its grid values or fields < its own budget fields;
``--data`` replaces the base data set (variants that name their own keep it). ``trainer =
"autoencoder"`` in a variant trains the reconstruction baseline of E12 instead of a GAN.
"""
from __future__ import annotations

import itertools
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Optional

from gankit.config import Config, coerce_fields
from gankit.errors import GankitError

BUDGETS = ("quick", "full")
TABLES = ("experiment", "evaluate", "base", "grid", "variants", "budget")


@dataclass
class Variant:
    """One run of a sweep: its folder name, the fields it changes and its full config."""

    name: str
    changes: dict[str, Any]
    config: Config
    group: str = ""  # the variant's name without its seed: seeds of one variant share it

    def __post_init__(self):
        self.group = self.group or self.name

    @property
    def trainer(self) -> str:
        return self.config.trainer

    def with_seed(self, seed: int) -> "Variant":
        """The same variant trained from ``seed``: folder ``NAME-seedS``, group ``NAME``."""
        from dataclasses import replace

        return Variant(f"{self.name}-seed{seed}", self.changes, replace(self.config, seed=seed), self.name)


@dataclass
class SweepSpec:
    """A parsed sweep file."""

    id: str
    title: str
    about: str = ""
    documents: str = ""
    sections: list[str] = field(default_factory=lambda: ["samples", "losses"])
    metrics: dict[str, list[str]] = field(default_factory=dict)  # budget -> metric names
    eval_n: dict[str, int] = field(default_factory=lambda: dict(quick=2000, full=10000))
    reference: str = "train"  # the real split of eval.json
    base: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list[Any]] = field(default_factory=dict)
    variants: list[dict[str, Any]] = field(default_factory=list)
    budgets: dict[str, dict[str, Any]] = field(default_factory=dict)

    def expand(self, budget: str = "quick", data: Optional[str] = None,
               seeds: Optional[list[int]] = None) -> list[Variant]:
        """The variants' names and resolved-ready configs for ``budget`` (and ``--data``); with
        ``seeds``, every variant once per seed (``NAME-seedS``), the seeds of a variant together."""
        if budget not in BUDGETS:
            raise GankitError(f"--budget {budget!r} is not one of {', '.join(BUDGETS)}")
        base = dict(self.base, **({"data": data} if data else {}))
        shared = {**base, **self.budgets.get(budget, {})}
        out = []
        for changes in self._grid_points():
            out.append(self._variant(variant_name(changes), changes, shared, {}))
        for entry in self.variants:
            entry = dict(entry)
            name = entry.pop("name")
            per_budget = {b: entry.pop(b, {}) for b in BUDGETS}
            out.append(self._variant(name, entry, shared, per_budget[budget]))
        if not out:
            out.append(self._variant("base", {}, shared, {}))
        names = [v.name for v in out]
        if len(set(names)) != len(names):
            raise GankitError(f"sweep {self.id}: variant names repeat: {', '.join(names)}")
        if seeds:
            if len(set(seeds)) != len(seeds):
                raise GankitError(f"--seeds repeats a seed: {','.join(map(str, seeds))}")
            out = [v.with_seed(seed) for v in out for seed in seeds]
            names = [v.name for v in out]
        if len(set(names)) != len(names):
            raise GankitError(f"sweep {self.id}: variant names repeat: {', '.join(names)}")
        return out

    def _grid_points(self) -> list[dict[str, Any]]:
        keys = list(self.grid)
        return [dict(zip(keys, values)) for values in itertools.product(*self.grid.values())] if keys else []

    def _variant(self, name: str, changes: dict, shared: dict, budget_fields: dict) -> Variant:
        values = coerce_fields({**shared, **changes, **budget_fields}, f"sweep {self.id}, variant {name}")
        cfg = Config(**values)
        cfg.resolved()  # an unknown model or data set, or a value out of range, fails before anything runs
        from gankit.data import dataset_spec  # deferred: keeps `gankit --help` torch-free

        dataset_spec(cfg.data)
        return Variant(name, changes, cfg)


def variant_name(changes: dict[str, Any]) -> str:
    """A folder name from grid values: ``z_dim-10``, ``data-ring8_minibatch_disc-true``."""
    def show(value: Any) -> str:
        if isinstance(value, bool):
            return str(value).lower()
        if isinstance(value, (list, tuple)):
            return ",".join(map(str, value))
        return str(value)

    return "_".join(f"{key}-{show(value)}" for key, value in changes.items()).replace("/", "-") or "base"


def shipped_ids() -> list[str]:
    """E1 … E13: the experiments of SPEC §5 (and E13, augmentation) that ship with the package, in number order."""
    names = [p.name for p in resources.files(__package__).iterdir() if p.name.endswith(".toml")]
    return sorted((n.removesuffix(".toml") for n in names), key=lambda s: (len(s), s))


def load_sweep(name: str) -> SweepSpec:
    """A shipped experiment by id (``E3``, case-insensitive) or a user's ``.toml`` path."""
    ids = {i.lower(): i for i in shipped_ids()}
    if name.lower() in ids:
        exp_id = ids[name.lower()]
        text, source = resources.files(__package__).joinpath(f"{exp_id}.toml").read_text(), exp_id
    else:
        path = Path(name)
        if not path.is_file():
            raise GankitError(f"no experiment {name!r}: use one of {', '.join(ids.values())} or a sweep .toml file")
        text, source, exp_id = path.read_text(), str(path), path.stem
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise GankitError(f"sweep file {source} is not valid TOML: {err}") from None
    return parse_sweep(raw, exp_id, source)


def parse_sweep(raw: dict[str, Any], exp_id: str, source: str) -> SweepSpec:
    """Check a sweep file's tables and keys; unknown ones are errors naming the file."""
    unknown = set(raw) - set(TABLES)
    if unknown:
        raise GankitError(f"{source}: unknown table(s) {', '.join(sorted(unknown))}; allowed: {', '.join(TABLES)}")
    meta = dict(raw.get("experiment", {}))
    allowed_meta = {"title", "about", "documents", "sections"}
    if set(meta) - allowed_meta:
        raise GankitError(f"{source}: [experiment] has unknown key(s) {', '.join(sorted(set(meta) - allowed_meta))}")
    evaluate = raw.get("evaluate", {})
    unknown_eval = set(evaluate) - {"metrics", "n", "reference"}
    if unknown_eval:
        raise GankitError(f"{source}: [evaluate] has unknown key(s) {', '.join(sorted(unknown_eval))}; "
                          "allowed: metrics, n, reference")
    if evaluate.get("reference", "train") not in ("train", "test"):
        raise GankitError(f"{source}: [evaluate] reference must be \"train\" or \"test\", not {evaluate['reference']!r}")
    grid = raw.get("grid", {})
    for key, values in grid.items():
        if not isinstance(values, list) or not values:
            raise GankitError(f"{source}: [grid] {key} must be a non-empty list of values")
    variants = raw.get("variants", [])
    for entry in variants:
        if "name" not in entry:
            raise GankitError(f"{source}: every [[variants]] entry needs a name")
    budgets = raw.get("budget", {})
    if set(budgets) - set(BUDGETS):
        raise GankitError(f"{source}: [budget] tables must be {' and '.join(BUDGETS)}")
    from gankit.experiments.sections import SECTIONS  # deferred: keeps `gankit --help` torch-free
    from gankit.metrics.evaluate import METRICS  # deferred: keeps `gankit --help` torch-free

    sections = meta.get("sections", ["samples", "losses"])
    for name in sections:
        if name not in SECTIONS:
            raise GankitError(f"{source}: unknown report section {name!r}; known: {', '.join(SECTIONS)}")
    metrics = evaluate.get("metrics", [])
    metrics = metrics if isinstance(metrics, dict) else {b: metrics for b in BUDGETS}
    for name in (m for names in metrics.values() for m in names):
        METRICS[name]  # unknown metric names fail here, listing the known ones
    return SweepSpec(id=exp_id, title=meta.get("title", exp_id), about=meta.get("about", ""),
                     documents=meta.get("documents", ""), sections=sections, metrics=metrics,
                     eval_n={**dict(quick=2000, full=10000), **evaluate.get("n", {})},
                     reference=evaluate.get("reference", "train"),
                     base=raw.get("base", {}), grid=grid, variants=variants, budgets=budgets)
