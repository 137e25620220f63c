"""Sweeps and reports: every shipped experiment file expands to its variants; a tiny sweep runs
end to end, writes a valid self-contained report with every run's pictures and numbers, skips
finished variants when run again and resumes a stopped one exactly."""
from __future__ import annotations

import base64
import dataclasses
import json
import re
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

import gankit
from gankit import GankitError
from gankit.cli import main
from gankit.experiments import variant as variant_module
from gankit.experiments.report import write_report
from gankit.experiments.sections import SECTIONS
from gankit.experiments.spec import load_sweep, parse_sweep, shipped_ids
from gankit.experiments.sweep import run_sweep
from gankit.experiments.variant import finish_variant
from gankit.training import runner
from gankit.training.checkpoint import read_checkpoint
from gankit.training.signals import StopFlag

# id -> (variant names, the config field that differs, its values in variant order)
EXPECTED = {
    "E1": (["gan", "gan-long", "dcgan"], "model", ["gan", "gan", "dcgan"]),
    "E2": (["z_dim-10", "z_dim-100", "z_dim-200", "z_dim-1000"], "z_dim", [10, 100, 200, 1000]),
    "E3": ([f"optimizer-{o}" for o in ("adam", "rmsprop", "sgd", "adadelta", "adagrad")], "optimizer",
           ["adam", "rmsprop", "sgd", "adadelta", "adagrad"]),
    "E4": (["model-dcgan", "model-wgan"], "model", ["dcgan", "wgan"]),
    "E5": (["g_loss-non-saturating", "g_loss-saturating"], "g_loss", ["non-saturating", "saturating"]),
    "E6": (["baseline", "init-default", "ngf8-ndf32", "ngf32-ndf8", "lr-2e-3", "lr-2e-5", "long"], "init",
           ["dcgan", "default", "dcgan", "dcgan", "dcgan", "dcgan", "dcgan"]),
    "E7": (["model-dcgan", "model-cdcgan"], "model", ["dcgan", "cdcgan"]),
    "E8": (["all-classes", "digit-3"], "classes", [None, [3]]),
    "E9": (["image_size-32", "image_size-64"], "image_size", [32, 64]),
    "E10": (["model-dcgan"], "model", ["dcgan"]),
    "E11": (["minibatch_disc-false", "minibatch_disc-true", "ring8", "ring8-feature-matching", "ring8-minibatch-disc",
             "ring8-minibatch-disc-feature-matching", "grid25", "grid25-feature-matching", "grid25-minibatch-disc",
             "grid25-minibatch-disc-feature-matching", "minibatch-disc-feature-matching"], "minibatch_disc",
            [False, True, False, False, True, True, False, False, True, True, True]),
    "E12": (["gan", "autoencoder"], "lr_g", [2e-4, 1e-3]),
    "E13": (["mnist-100-per-class", "mnist-100-per-class-ema", "digits"], "per_class", [100, 100, None]),
    "E14": (["dcgan", "lr-1e-3", "lr-2e-3", "ema", "lr-1e-3-ema", "lr-2e-3-ema", "lr-2e-3-ema-sn"], "ema_decay",
            [0.0, 0.0, 0.0, 0.999, 0.999, 0.999, 0.999]),
}


def test_fourteen_experiments_ship():
    assert shipped_ids() == [f"E{i}" for i in range(1, 15)]


@pytest.mark.parametrize("exp_id", list(EXPECTED))
@pytest.mark.parametrize("budget", ["quick", "full"])
def test_each_shipped_sweep_expands_to_its_variants(exp_id, budget):
    spec = load_sweep(exp_id.lower())  # ids are case-insensitive
    names, key, values = EXPECTED[exp_id]
    variants = spec.expand(budget)
    assert [v.name for v in variants] == names
    assert [getattr(v.config.resolved(), key) for v in variants] == values
    for v in variants:
        cfg = v.config.resolved()  # every variant is a valid run
        assert cfg.seed == 0  # shared seed, so shared fixed noise
        if budget == "quick":
            assert cfg.max_steps, "a quick variant must be bounded by max_steps"
        else:
            assert cfg.max_steps is None
    assert spec.about and spec.documents and spec.sections and spec.metrics[budget]


def test_per_variant_budgets_and_data_override():
    long = {v.name: v.config for v in load_sweep("E6").expand("quick")}
    assert long["long"].max_steps == 3 * long["baseline"].max_steps
    assert {v.name: v.config.epochs for v in load_sweep("E6").expand("full")}["long"] == 30
    e11 = {v.name: v.config for v in load_sweep("E11").expand("quick", data="fashion-mnist")}
    assert e11["minibatch_disc-true"].data == "fashion-mnist"  # --data replaces the base data set ...
    assert e11["ring8"].data == "ring8"  # ... variants that name their own keep it
    e12 = {v.name: v for v in load_sweep("E12").expand("quick")}
    assert e12["autoencoder"].trainer == "autoencoder" and e12["gan"].trainer == "gan"


SWEEPS_DIR = Path(__file__).parents[1] / "scripts" / "sweeps"
SWEEP_SCRIPTS = sorted(SWEEPS_DIR.glob("*.toml"))


@pytest.mark.parametrize("budget", ["quick", "full"])
@pytest.mark.parametrize("path", SWEEP_SCRIPTS, ids=lambda p: p.stem)
def test_each_sweep_script_expands_to_valid_runs(path, budget):
    """The sweep files behind the README's measurements stay runnable as the config grows."""
    variants = load_sweep(str(path)).expand(budget)
    assert variants and len({v.name for v in variants}) == len(variants)
    for v in variants:
        v.config.resolved()  # raises on a field that no longer exists or a value out of range


def test_diffaugment_sweep_compares_one_field_at_both_lengths():
    spec = load_sweep(str(SWEEPS_DIR / "diffaugment-small.toml"))
    for budget, steps in (("quick", 2000), ("full", 12000)):
        plain, augmented = (dataclasses.asdict(v.config.resolved()) for v in spec.expand(budget))
        assert plain["max_steps"] == augmented["max_steps"] == steps and plain["per_class"] == 100
        assert {k for k in plain if k != "out" and plain[k] != augmented[k]} == {"diffaugment"}
        assert augmented["diffaugment"] == "color,translation,cutout" and not plain["diffaugment"]
    assert spec.eval_n == {"quick": 2000, "full": 2000} and spec.reference == "test"


def test_r1_sweep_compares_the_preset_with_and_without_r1_at_the_lucic_protocol():
    spec = load_sweep(str(SWEEPS_DIR / "dcgan-plus-r1.toml"))
    no_r1, *r1s, preset = (dataclasses.asdict(v.config.resolved()) for v in spec.expand("full"))
    assert preset["epochs"] == 17 and preset["eval_every"] == 1 and preset["eval_n"] == 10000
    assert no_r1["r1_gamma"] == 0
    for r1 in (*r1s, preset):
        assert {k for k in no_r1 if k != "out" and no_r1[k] != r1[k]} <= {"r1_gamma", "r1_every"}
    assert [(r1["r1_gamma"], r1["r1_every"]) for r1 in (*r1s, preset)] == [(1.0, 4), (0.1, 4), (0.1, 16)]
    assert spec.metrics["full"] == ["fid", "kid", "classifier"] and spec.eval_n["full"] == 10000
    assert spec.reference == "test"


@pytest.mark.parametrize("raw, message", [
    ({"grdi": {}}, "unknown table"),
    ({"experiment": {"titel": "x"}}, "unknown key"),
    ({"experiment": {"sections": ["histogram"]}}, "unknown report section"),
    ({"evaluate": {"metrics": ["fidd"]}}, "unknown metric 'fidd'"),
    ({"grid": {"z_dim": 10}}, "non-empty list"),
    ({"variants": [{"z_dim": 10}]}, "needs a name"),
    ({"budget": {"medium": {}}}, "budget"),
    ({"evaluate": {"refrence": "test"}}, "unknown key"),
    ({"evaluate": {"reference": "val"}}, "reference must be"),
])
def test_bad_sweep_files_are_one_line_errors(raw, message):
    with pytest.raises(GankitError, match=message) as err:
        parse_sweep(raw, "X", "x.toml")
    assert "\n" not in str(err.value)


def test_a_sweep_measures_against_the_split_its_file_names(tmp_path):
    """``[evaluate] reference = "test"``: eval.json scores the samples against the held-out split
    (the honest reference for a small training set); the default stays the train split."""
    assert parse_sweep({}, "X", "x.toml").reference == "train"
    spec = parse_sweep({"evaluate": {"metrics": ["sharpness"], "reference": "test", "n": {"quick": 50}},
                        "base": {"data": "digits", "image_size": 16, "ngf": 4, "ndf": 4, "max_steps": 2},
                        "variants": [{"name": "a"}]}, "X", "x.toml")
    variant, = spec.expand("quick")
    folder = tmp_path / "a"
    gankit.train(dataclasses.replace(variant.config, out=str(folder)), progress=False)
    finish_variant(spec, variant, folder, "quick")
    provenance = json.loads((folder / "eval.json").read_text())["provenance"]
    assert provenance["reference_split"] == "test" and provenance["n"] == 50


@pytest.mark.parametrize("raw, message", [
    ({"grid": {"z_dmi": [1]}}, "unknown field 'z_dmi'"),
    ({"grid": {"z_dim": [0]}}, "--z-dim must be at least 1"),
    ({"base": {"model": "stylegan"}}, "unknown model 'stylegan'"),
    ({"base": {"data": "imagenet"}}, "unknown data set 'imagenet'"),
    ({"variants": [{"name": "a", "trainer": "vae"}]}, "--trainer 'vae' is not one of gan, autoencoder"),
    ({"grid": {"model": ["dcgan"], "z_dim": [8]}, "variants": [{"name": "model-dcgan_z_dim-8"}]}, "repeat"),
])
def test_bad_variants_fail_before_anything_runs(raw, message, tmp_path):
    with pytest.raises(GankitError, match=message):
        parse_sweep(raw, "X", "x.toml").expand("quick")


def test_unknown_experiment_and_bad_toml(tmp_path, capsys):
    assert main(["sweep", "E99"]) == 2
    assert "no experiment 'E99'" in capsys.readouterr().err
    bad = tmp_path / "bad.toml"
    bad.write_text("[grid\n")
    assert main(["sweep", str(bad)]) == 2
    assert "not valid TOML" in capsys.readouterr().err


TINY_SWEEP = """
[experiment]
title = "tiny"
about = "a tiny sweep for the tests"
documents = "nothing"
sections = {sections}

[evaluate]
metrics = ["classifier", "sharpness", "modes"]
n = {{ quick = 60 }}

[base]
data = "digits"
image_size = 16
ngf = 4
ndf = 4
batch_size = 32
log_every = 2
device = "cpu"

[grid]
model = ["dcgan", "cdcgan"]
log_grad_norm = [true]
eval_every_steps = [4]
eval_n = [60]

[[variants]]
name = "autoencoder"
trainer = "autoencoder"

[[variants]]
name = "ring8"
model = "gan2d"
data = "ring8"
ngf = 16
ndf = 16
image_size = 32

[budget.quick]
max_steps = 8
"""


@pytest.fixture(scope="module")
def module_cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def sweep_file(tmp_path, module_cache, monkeypatch):
    monkeypatch.setenv("GANKIT_CACHE", str(module_cache))  # the digits classifier, trained once
    path = tmp_path / "tiny.toml"
    path.write_text(TINY_SWEEP.format(sections=json.dumps(SECTIONS.names())))
    return path


class TagChecker(HTMLParser):
    """Collects the tags of a page and fails on one closed out of order."""

    VOID = {"img", "meta", "br", "hr", "link", "input"}

    def __init__(self):
        super().__init__()
        self.stack, self.images, self.text = [], [], []

    def handle_starttag(self, tag, attrs):
        if tag == "img":
            self.images.append(dict(attrs))
        if tag not in self.VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1] if self.stack else None}>"
        self.stack.pop()

    def handle_data(self, data):
        self.text.append(data)


def check_page(path: Path) -> TagChecker:
    """A valid, self-contained page: balanced tags, every image an inline PNG, no external link."""
    page = path.read_text()
    assert page.startswith("<!DOCTYPE html>")
    checker = TagChecker()
    checker.feed(page)
    checker.close()
    assert checker.stack == []
    for image in checker.images:
        assert image["src"].startswith("data:image/png;base64,")
        assert base64.b64decode(image["src"].split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not re.search(r'(src|href)="(https?:|file:|/)', page)
    return checker


def test_a_tiny_sweep_runs_end_to_end_and_reports_everything(sweep_file, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", str(sweep_file), "--out", str(out), "-q"]) == 0
    assert capsys.readouterr().out.strip() == str(out)
    names = ["model-dcgan_log_grad_norm-true_eval_every_steps-4_eval_n-60",
             "model-cdcgan_log_grad_norm-true_eval_every_steps-4_eval_n-60", "autoencoder", "ring8"]
    assert json.loads((out / "sweep.json").read_text())["variants"][0]["name"] == names[0]
    for name in names:
        assert (out / name / "eval.json").exists(), name
    for name in names:
        assert read_checkpoint(out / name)["step"] == 8, name
    assert (out / names[1] / "class_grid.png").exists() and (out / names[0] / "interpolation.png").exists()
    assert (out / "ring8" / "modes.png").exists() and (out / "autoencoder" / "reconstructions.png").exists()
    assert (out / "autoencoder" / "code_samples.png").exists()
    ae = json.loads((out / "autoencoder" / "eval.json").read_text())["metrics"]
    assert ae["sharpness"] >= 0 and ae["recon_sharpness"] >= 0 and "recon_classifier_fid" in ae
    history = [json.loads(line) for line in (out / names[0] / "eval_history.jsonl").read_text().splitlines()]
    assert [h["step"] for h in history] == [4, 8]
    rows = [json.loads(line) for line in (out / names[0] / "metrics.jsonl").read_text().splitlines()]
    assert all(r["grad_norm_g"] > 0 for r in rows)

    checker = check_page(out / "report.html")
    text = " ".join(checker.text)
    alts = [image.get("alt", "") for image in checker.images]
    for name in names:
        assert name in text
        assert any(alt.startswith(name) for alt in alts), f"no picture of {name}"
    for name in names:  # every measured number appears, as the table formats it
        for key, value in json.loads((out / name / "eval.json").read_text())["metrics"].items():
            if isinstance(value, float) and key in ("classifier_fid", "sharpness", "high_quality"):
                assert f"{value:.4g}" in text, (name, key)
    for title in ("Variants and metrics", "Losses", "Loss against quality", "Generator gradient norm", "Class grid",
                  "Latent interpolation", "Mode coverage", "Autoencoder against GAN", "Cost", "D real loss"):
        assert title in text


def test_a_rerun_skips_finished_variants(sweep_file, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", str(sweep_file), "--out", str(out), "-q"]) == 0
    stamps = {p: p.stat().st_mtime_ns for p in out.glob("*/checkpoints/last.pt")}
    evals = {p: p.read_text() for p in out.glob("*/eval.json")}
    capsys.readouterr()
    assert main(["sweep", str(sweep_file), "--out", str(out), "-q"]) == 0
    assert capsys.readouterr().err.count(": skipped") == 4
    assert {p: p.stat().st_mtime_ns for p in out.glob("*/checkpoints/last.pt")} == stamps
    assert {p: p.read_text() for p in out.glob("*/eval.json")} == evals


def test_a_stopped_sweep_resumes_the_unfinished_variant_exactly(sweep_file, tmp_path, monkeypatch):
    spec = load_sweep(str(sweep_file))

    class StopAtStep3(StopFlag):
        """A SIGTERM arriving during the first variant's third step."""
        def __bool__(self):
            self.checks = getattr(self, "checks", 0) + 1
            if self.checks == 3:
                self.reason = "SIGTERM"
            return self.reason is not None

    with monkeypatch.context() as patch:
        patch.setattr(runner, "StopFlag", StopAtStep3)
        root, results = run_sweep(spec, out=str(tmp_path / "stopped"))
    assert [r.status for r in results] == ["SIGTERM"]
    first = root / results[0].name
    assert read_checkpoint(first)["step"] == 3 and not (first / "eval.json").exists()
    _, results = run_sweep(spec, out=str(tmp_path / "stopped"))
    assert [r.status for r in results] == ["resumed", "trained", "trained", "trained"]
    run_sweep(spec, out=str(tmp_path / "straight"))
    a, b = read_checkpoint(first), read_checkpoint(tmp_path / "straight" / results[0].name)
    assert a["step"] == 8 and all(torch.equal(a["generator"][k], b["generator"][k]) for k in a["generator"])


def test_a_changed_sweep_does_not_overwrite_a_run(sweep_file, tmp_path, capsys):
    out = tmp_path / "sweep"
    assert main(["sweep", str(sweep_file), "--out", str(out), "-q"]) == 0
    sweep_file.write_text(sweep_file.read_text().replace("max_steps = 8", "max_steps = 10"))
    assert main(["sweep", str(sweep_file), "--out", str(out), "-q"]) == 2
    assert "was trained with max_steps=8" in capsys.readouterr().err


def test_a_folder_without_a_checkpoint_is_started_again(sweep_file, tmp_path):
    spec = load_sweep(str(sweep_file))
    variant = spec.expand("quick")[2]  # the autoencoder: quickest
    folder = tmp_path / "s" / variant.name
    folder.mkdir(parents=True)
    (folder / "metrics.jsonl").write_text('{"step": 1}\n')  # killed before its first checkpoint
    assert variant_module.run_variant(variant, folder, progress=False) == "trained"
    assert torch.load(folder / "checkpoints" / "last.pt", weights_only=True)["step"] == 8


def test_report_of_a_single_run_and_of_a_wrong_folder(tmp_path, capsys):
    import gankit
    from gankit import Config

    run = gankit.train(Config(model="dcgan", data="digits", image_size=16, ngf=4, ndf=4, max_steps=4, log_every=2,
                              out=str(tmp_path / "run"), device="cpu"))
    assert main(["report", str(run.dir)]) == 0
    checker = check_page(run.dir / "report.html")
    assert "Variants and metrics" in " ".join(checker.text) and checker.images
    assert main(["report", str(tmp_path)]) == 2
    assert "neither a sweep folder" in capsys.readouterr().err


def test_write_report_is_atomic_and_overwrites(sweep_file, tmp_path):
    root, _ = run_sweep(load_sweep(str(sweep_file)), out=str(tmp_path / "s"))
    first = (root / "report.html").read_text()
    assert write_report(root) == root / "report.html"
    assert not list(root.glob("*.tmp*")) and (root / "report.html").read_text().startswith(first[:200])


def test_the_autoencoder_is_a_run_like_any_other(tmp_path):
    """--trainer autoencoder trains through the same loop: it learns, resumes exactly, and its
    decoder samples, interpolates and serves like a generator (serve used to answer 400)."""
    import gankit
    from gankit import Config
    from gankit.web.app import create_app

    cfg = dict(model="dcgan", trainer="autoencoder", data="digits", image_size=16, ngf=8, ndf=8, batch_size=32,
               log_every=10, lr_g=1e-3, betas=(0.9, 0.999), device="cpu")
    run = gankit.train(Config(max_steps=60, out=str(tmp_path / "ae"), **cfg))
    rows = [json.loads(line) for line in (tmp_path / "ae" / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [10, 20, 30, 40, 44, 50, 60]  # a window closes at the epoch's end (44 batches)
    assert set(rows[0]) >= {"loss_recon", "images_per_s"} and "loss_d" not in rows[0]
    assert rows[-1]["loss_recon"] < 0.5 * rows[0]["loss_recon"]
    assert (tmp_path / "ae" / "losses.png").exists() and list((tmp_path / "ae" / "samples").glob("epoch_*.png"))

    gankit.train(Config(max_steps=30, out=str(tmp_path / "half"), **cfg))
    gankit.resume(tmp_path / "half", max_steps=60)
    whole, resumed = read_checkpoint(tmp_path / "ae"), read_checkpoint(tmp_path / "half")
    for key in ("generator", "discriminator"):
        for name, tensor in whole[key].items():
            assert torch.equal(tensor, resumed[key][name]), (key, name)
    assert not torch.equal(whole["generator"]["code_scale"], torch.eye(100))  # fitted to the encoder's codes

    loaded = gankit.load(tmp_path / "ae")
    images = loaded.sample(16, seed=3)
    assert images.shape == (16, 1, 16, 16) and images.dtype == torch.uint8 and images.float().std() > 10
    assert torch.equal(images, run.sample(16, seed=3)) and not torch.equal(images, loaded.sample(16, seed=4))
    assert loaded.interpolate(5, 2).shape == (10, 1, 16, 16)
    client = create_app(tmp_path).test_client()
    page = client.get("/api/run/ae/generate.png?seed=1&n=4")
    assert page.status_code == 200 and page.mimetype == "image/png"


def test_the_autoencoder_refuses_what_belongs_to_the_game():
    from gankit import Config
    from gankit.training.runner import prepare

    base = dict(model="dcgan", trainer="autoencoder", data="digits", ngf=8, ndf=8, device="cpu")
    with pytest.raises(GankitError, match="--ema-decay belongs to the adversarial game"):
        prepare(Config(ema_decay=0.99, **base).resolved())
    with pytest.raises(GankitError, match="uses the DCGAN's networks: use --model dcgan, not cdcgan"):
        prepare(Config(**dict(base, model="cdcgan")).resolved())


def test_class_grid_rows_are_noise_and_columns_are_classes(tmp_path):
    import gankit
    from gankit import Config

    run = gankit.train(Config(model="cdcgan", data="digits", image_size=16, ngf=4, ndf=4, max_steps=2,
                              out=str(tmp_path / "c"), device="cpu"))
    grid = run.class_grid(rows=3, seed=5)
    assert grid.shape == (30, 1, 16, 16)
    for label in (0, 7):  # column `label` is the same three z through that class
        assert torch.equal(grid[label::10], run.sample(3, label=label, seed=5))
    with pytest.raises(GankitError, match="unconditional"):
        gankit.train(Config(model="dcgan", data="digits", image_size=16, ngf=4, ndf=4, max_steps=1,
                            out=str(tmp_path / "u"), device="cpu")).class_grid()


def test_a_diverging_variant_is_reported_and_the_sweep_goes_on(sweep_file, tmp_path, monkeypatch):
    from gankit.training.loop import NonFiniteLoss

    real = variant_module.run_variant

    def diverge_first(variant, folder, progress):
        if variant.name.startswith("model-dcgan"):
            raise NonFiniteLoss("loss_d became nan at step 5 (epoch 1)")
        return real(variant, folder, progress)

    monkeypatch.setattr(variant_module, "run_variant", diverge_first)
    root, results = run_sweep(load_sweep(str(sweep_file)), out=str(tmp_path / "s"))
    assert results[0].status.startswith("diverged: loss_d became nan at step 5")
    assert [r.status for r in results[1:]] == ["trained"] * 3 and (root / "report.html").exists()


def test_a_sweep_spread_over_two_devices_trains_every_variant_once(sweep_file, tmp_path, capsys):
    """--devices cpu,cpu: two worker processes, one variant each at a time; the same runs as one
    after another (within float noise: the workers use one thread each), and a re-run skips all."""
    side_by_side, in_turn = tmp_path / "parallel", tmp_path / "serial"
    assert main(["sweep", str(sweep_file), "--out", str(side_by_side), "--devices", "cpu,cpu", "-q"]) == 0
    err = capsys.readouterr().err
    assert err.count(" on cpu") == 4 and err.count(": trained") == 4 and (side_by_side / "report.html").exists()
    assert main(["sweep", str(sweep_file), "--out", str(in_turn), "-q"]) == 0
    for folder in in_turn.iterdir():
        if folder.is_dir() and folder.name != "autoencoder":
            a, b = read_checkpoint(side_by_side / folder.name), read_checkpoint(folder)
            assert a["step"] == b["step"] == 8
            assert a["generator"].keys() == b["generator"].keys()
            for key, value in b["generator"].items():
                # Float noise between processes can flip the sign of a tiny gradient; Adam then moves
                # that weight by up to lr = 2e-4 a step the other way: 8 steps bound the drift by 3.2e-3.
                assert torch.allclose(a["generator"][key].float(), value.float(), rtol=1e-3, atol=3.2e-3), key
    capsys.readouterr()
    assert main(["sweep", str(sweep_file), "--out", str(side_by_side), "--devices", "cpu,cpu", "-q"]) == 0
    assert capsys.readouterr().err.count(": skipped") == 4


@pytest.mark.parametrize("devices, message", [
    ("gpu0,cpu", "'gpu0' is not cpu, cuda or cuda:N"),
    ("cpu:1,cpu", "'cpu:1' is not cpu, cuda or cuda:N"),
])
def test_bad_sweep_devices_are_one_line_errors(devices, message, sweep_file, tmp_path, capsys):
    assert main(["sweep", str(sweep_file), "--out", str(tmp_path / "s"), "--devices", devices, "-q"]) == 2
    assert message in capsys.readouterr().err


SEEDED_SWEEP = """
[experiment]
title = "Seeds"
sections = ["modes"]
[evaluate]
metrics = ["modes"]
n = { quick = 200 }
[base]
model = "gan2d"
data = "ring8"
batch_size = 32
[grid]
z_dim = [2, 4]
[budget.quick]
max_steps = 6
"""


def test_a_sweep_over_seeds_trains_each_variant_per_seed_and_reports_mean_and_std(tmp_path, capsys):
    path = tmp_path / "seeds.toml"
    path.write_text(SEEDED_SWEEP)
    out = tmp_path / "sweep"
    assert main(["sweep", str(path), "--out", str(out), "--seeds", "0,1,2", "-q"]) == 0
    variants = json.loads((out / "sweep.json").read_text())["variants"]
    assert [v["name"] for v in variants] == [f"z_dim-{z}-seed{s}" for z in (2, 4) for s in (0, 1, 2)]
    assert {v["group"] for v in variants} == {"z_dim-2", "z_dim-4"}
    for v in variants:
        assert json.loads((out / v["name"] / "config.json").read_text())["config"]["seed"] == v["seed"]
    coverage = [json.loads((out / f"z_dim-2-seed{s}" / "eval.json").read_text())["metrics"]["high_quality"]
                for s in (0, 1, 2)]
    text = " ".join(check_page(out / "report.html").text)
    import statistics

    expected = f"{statistics.fmean(coverage):.4g} ± {statistics.stdev(coverage):.2g} (3)"
    assert "Over seeds: mean ± std" in text and expected in text


@pytest.mark.parametrize("seeds, message", [("0,x", "comma-separated integers"), ("0,0", "repeats a seed"),
                                            ("-1", "≥ 0")])
def test_bad_seed_lists_are_one_line_errors(seeds, message, tmp_path, capsys):
    path = tmp_path / "seeds.toml"
    path.write_text(SEEDED_SWEEP)
    argv = ["sweep", str(path), "--out", str(tmp_path / "s"), "--seeds", seeds, "-q"]
    if message == "repeats a seed":  # parsed, then refused when the variants expand
        assert main(argv) == 2
    else:  # refused by the argument parser
        with pytest.raises(SystemExit):
            main(argv)
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def write_run_files(folder: Path, seed: int, history: list[dict]) -> None:
    """The files a trained run leaves that the report reads, without training one."""
    folder.mkdir(parents=True)
    (folder / "config.json").write_text(json.dumps(dict(config=dict(model="dcgan", data="mnist", seed=seed))))
    (folder / "metrics.jsonl").write_text("".join(json.dumps(dict(epoch=1, step=s, loss_d=1.0 / s, loss_g=1.0, time=s / 10,
                                                                  images_per_s=640.0)) + "\n" for s in range(10, 310, 10)))
    (folder / "eval_history.jsonl").write_text("".join(json.dumps(row) + "\n" for row in history))
    (folder / "eval.json").write_text(json.dumps(dict(metrics=dict(classifier_fid=history[-1]["classifier_fid"]))))


def test_the_report_escapes_what_users_write_and_reads_time_to_quality_off_the_history(tmp_path):
    evil = "<script>alert(1)</script>"
    bar = dict(classes_total=10)
    late = [dict(step=100, classifier_fid=900.0, classes_covered=8, class_kl=0.5, **bar),
            dict(step=200, classifier_fid=300.0, classes_covered=10, class_kl=0.019, **bar),  # first at quality
            dict(step=300, classifier_fid=200.0, classes_covered=10, class_kl=0.01, **bar)]
    never = [dict(step=100, classifier_fid=800.0, classes_covered=10, class_kl=0.03, **bar),  # KL just above 0.02
             dict(step=300, classifier_fid=700.0, classes_covered=9, class_kl=0.001, **bar)]
    variants = [(f"{evil}-seed0", 0, late), (f"{evil}-seed1", 1, late[1:]), ("plain-seed0", 0, never)]
    for name, seed, history in variants:
        write_run_files(tmp_path / name, seed, history)
    (tmp_path / "sweep.json").write_text(json.dumps(dict(
        id="E0", title=f"title {evil}", about=f"about {evil}", documents="d", sections=["time_to_quality"], budget="quick",
        variants=[dict(name=n, changes={}, group=n.rsplit("-seed", 1)[0], seed=s) for n, s, _ in variants])))
    page = write_report(tmp_path).read_text()
    check_page(tmp_path / "report.html")
    assert "<script>" not in page and page.count("&lt;script&gt;alert(1)&lt;/script&gt;") >= 5  # title ×2, about, rows
    rows = re.findall(r"<tr>(.*?)</tr>", page.split("Time to quality")[1])
    cells = [re.findall(r"<td>(.*?)</td>", r) for r in rows[1:]]
    # both seeds of the first variant reach the bar at step 200 (20 s of training); the other never does
    assert cells[0][1:4] == ["2 / 2", "200 ± 0 (2)", "20 ± 0 (2)"]
    assert cells[1][1:3] == ["0 / 1", "—"]
