"""`gankit eval` and training-time monitoring: the domain classifier, class statistics,
memorisation, eval.json provenance, and monitoring that leaves training unchanged."""
from __future__ import annotations

import json
import math

import pytest
import torch

import gankit
from gankit import Config, GankitError
from gankit.cli import main
from gankit.data import load_data
from gankit.metrics.classifier import class_statistics, domain_classifier, match_classifier_input
from gankit.metrics.neighbours import memorisation, save_neighbour_grid
from gankit.training.checkpoint import read_checkpoint

TINY = dict(data="digits", ngf=8, ndf=8, batch_size=32, device="cpu")


@pytest.fixture(scope="module")
def shared_cache(tmp_path_factory):
    """One cache for the module, so the digits classifier is trained once."""
    return tmp_path_factory.mktemp("cache")


@pytest.fixture
def cache(shared_cache, monkeypatch):
    """The module's cache, and an empty torch hub: a user's downloaded Inception never takes part."""
    monkeypatch.setenv("GANKIT_CACHE", str(shared_cache))
    monkeypatch.setenv("TORCH_HOME", str(shared_cache / "torch-home"))
    return shared_cache


@pytest.fixture(scope="module")
def cdcgan_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "cdcgan"
    return gankit.train(Config(model="cdcgan", epochs=1, out=str(out), **TINY))


def test_digits_classifier_is_accurate_and_cached(cache):
    first = domain_classifier("digits")
    assert first.test_accuracy >= 0.9  # on the 360 held-out digits
    assert len(list((cache / "classifiers").glob("*.pt"))) == 1
    again = domain_classifier("digits")
    assert again.test_accuracy == first.test_accuracy
    x = load_data("digits", image_size=32, split="test").images[:50]
    assert torch.equal(first.run(x)[0], again.run(x)[0])


def test_class_statistics_on_known_histograms():
    ref = torch.arange(10).repeat(10)
    uniform = class_statistics(torch.arange(10).repeat(3), ref, 10, labels=torch.arange(10).repeat(3))
    assert uniform["classes_covered"] == 10 and uniform["class_kl"] == pytest.approx(0, abs=1e-12)
    assert uniform["label_accuracy"] == 1.0
    collapsed = class_statistics(torch.full((50,), 7), ref, 10, labels=torch.arange(10).repeat(5))
    assert collapsed["classes_covered"] == 1
    assert collapsed["class_kl"] == pytest.approx(math.log(10))
    assert collapsed["label_accuracy"] == pytest.approx(0.1)


def test_classifier_input_undoes_the_runs_padding_and_resizing():
    from gankit.data.base import fit_images

    coarse = torch.randint(0, 256, (4, 1, 7, 7), dtype=torch.uint8)  # smooth images survive resizing
    mnist_like = fit_images(coarse, 28, "resize")

    padded = fit_images(mnist_like, 32, "auto")  # what a 32 px run on MNIST saw
    cfg = Config(model="dcgan", data="mnist").resolved()
    assert torch.equal(match_classifier_input(padded, cfg), padded)
    cfg64 = Config(model="dcgan", data="mnist", image_size=64).resolved()
    big = fit_images(mnist_like, 64, "auto")
    back = match_classifier_input(big, cfg64)
    assert back.shape == (4, 1, 32, 32)
    assert (back[..., :2, :] == 0).all()  # re-padded like the classifier's training data
    assert (back[..., 2:30, 2:30].float() - mnist_like.float()).abs().mean() < 8


def test_memorisation_flags_copies():
    train = torch.randint(0, 256, (200, 1, 8, 8), dtype=torch.uint8)
    held_out = torch.randint(0, 256, (50, 1, 8, 8), dtype=torch.uint8)
    copies = memorisation(train[:50], train, held_out)
    assert copies["nn_pixel_samples"] < 1e-2 and copies["nn_pixel_ratio"] < 1e-2  # cdist via matmul: ~1e-3, not 0
    fresh = memorisation(torch.randint(0, 256, (50, 1, 8, 8), dtype=torch.uint8), train, held_out)
    assert 0.8 < fresh["nn_pixel_ratio"] < 1.2


def test_neighbour_grid_picture(tmp_path):
    from PIL import Image

    train = torch.randint(0, 256, (30, 1, 8, 8), dtype=torch.uint8)
    save_neighbour_grid(train[:3], train, tmp_path / "nn.png", k=5)
    with Image.open(tmp_path / "nn.png") as im:
        assert im.size == (6 * 10 + 2, 3 * 10 + 2)  # 1 + 5 per row, 8 px + 2 px padding


def test_eval_writes_json_with_provenance(cdcgan_run, cache, capsys):
    assert main(["eval", str(cdcgan_run.dir), "--metrics", "classifier,nn,is", "--n", "200"]) == 0
    doc = json.loads((cdcgan_run.dir / "eval.json").read_text())
    m, prov = doc["metrics"], doc["provenance"]
    assert 0 <= m["label_accuracy"] <= 1 and 1 <= m["classes_covered"] <= 10
    assert m["classifier_fid"] > 0 and m["real_class_kl"] < 0.1
    assert m["inception_score"] is None and "logits" in m["inception_score_unavailable"]
    assert prov["n"] == 200 and prov["n_real"] == 200 and prov["reference_split"] == "train"
    assert prov["step"] == read_checkpoint(cdcgan_run.dir)["step"]
    assert set(doc["seconds"]) == {"classifier", "nn", "is"}
    assert (cdcgan_run.dir / "neighbours.png").is_file() and (cdcgan_run.dir / "neighbours_features.png").is_file()
    out = capsys.readouterr().out
    assert "label_accuracy" in out and "seconds" in out


def test_eval_floor_scores_real_images_better_than_a_one_epoch_generator(cdcgan_run, cache):
    assert main(["eval", str(cdcgan_run.dir), "--metrics", "classifier", "--n", "300", "--floor"]) == 0
    assert main(["eval", str(cdcgan_run.dir), "--metrics", "classifier", "--n", "300"]) == 0
    floor = json.loads((cdcgan_run.dir / "eval_floor.json").read_text())["metrics"]
    model = json.loads((cdcgan_run.dir / "eval.json").read_text())["metrics"]
    assert floor["label_accuracy"] > 0.85 and floor["classes_covered"] == 10
    assert floor["classifier_fid"] < model["classifier_fid"]


def test_eval_errors(cdcgan_run, cache, capsys):
    assert main(["eval", str(cdcgan_run.dir), "--metrics", "fidd"]) == 2
    err = capsys.readouterr().err
    assert "unknown metric 'fidd'" in err and "\n" == err[-1] and err.count("\n") == 1
    assert main(["eval", str(cdcgan_run.dir), "--n", "1"]) == 2


def test_monitoring_records_metrics_and_leaves_training_unchanged(tmp_path, cache):
    watched = gankit.train(Config(model="dcgan", epochs=2, eval_every=1, eval_metrics="classifier", eval_n=200,
                                  out=str(tmp_path / "watched"), **TINY))
    plain = gankit.train(Config(model="dcgan", epochs=2, out=str(tmp_path / "plain"), **TINY))
    rows = [json.loads(line) for line in (watched.dir / "eval_history.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2] and all("classifier_fid" in r for r in rows)
    a, b = read_checkpoint(watched.dir), read_checkpoint(plain.dir)
    assert all(torch.equal(a["generator"][k], b["generator"][k]) for k in a["generator"])
    assert not (plain.dir / "eval_history.jsonl").exists()


def test_points_have_no_image_metrics(tmp_path, cache):
    run = gankit.train(Config(model="gan2d", data="ring8", max_steps=3, out=str(tmp_path / "r"), device="cpu"))
    with pytest.raises(GankitError, match="needs images"):
        from gankit.metrics.evaluate import evaluate

        evaluate(run, ["classifier"], n=10)


def test_eval_inception_metrics_end_to_end(cdcgan_run, cache):
    """The standard FID network, converted offline, through `gankit eval` (tiny n: numbers are
    biased, the plumbing and provenance are what is checked)."""
    assert main(["eval", str(cdcgan_run.dir), "--metrics", "fid,kid,pr", "--n", "24"]) == 0
    doc = json.loads((cdcgan_run.dir / "eval.json").read_text())
    m = doc["metrics"]
    assert m["fid"] > 0 and math.isfinite(m["fid"]) and math.isfinite(m["kid_mean"])
    assert 0 <= m["precision"] <= 1 and 0 <= m["recall"] <= 1 and m["pr_k"] == 3
    assert len(m["weights_sha256"]) == 64 and m["library"] == "torch-fidelity"
    assert m["inception_dtype"] == "fp32" and m["resize"].startswith("32 px -> 299 px")


@pytest.mark.slow
@pytest.mark.parametrize("data, floor", [("mnist", 0.99), ("fashion-mnist", 0.90)])
def test_domain_classifier_accuracy_on_real_data(data, floor, cache):
    """The accuracy the classifier metrics rely on: ≥ 99 % on MNIST, ≥ 90 % on Fashion-MNIST."""
    from conftest import SHARED_DATA
    from gankit.data import DATASETS, data_roots

    if DATASETS[data].locate(data_roots(str(SHARED_DATA))) is None:
        pytest.skip(f"{data} not available offline here (MNIST: ../shared/data; Fashion-MNIST: Debian package)")
    assert domain_classifier(data, str(SHARED_DATA)).test_accuracy >= floor


def test_fid_is_the_same_on_every_inception_backend(cdcgan_run, cache):
    """The fast CPU backends change the speed, not the number: FID and KID of one run on each
    installed backend equal torch's to 0.1 %, and eval.json says which backend computed them.
    Each backend stores its own real statistics here (fresh keys per backend would hide a
    mismatch): the cache is emptied between them."""
    import shutil

    from gankit.metrics.evaluate import evaluate
    from gankit.metrics.fid_kid import stats_dir
    from gankit.metrics.inception_backends import BACKENDS, installed

    results = {}
    for backend in (b for b in BACKENDS if installed(b)):
        shutil.rmtree(stats_dir(), ignore_errors=True)
        m = evaluate(cdcgan_run, ["fid", "kid"], n=20, inception_backend=backend, out_name=None)["metrics"]
        assert m["inception_backend"] == backend and m["inception_backend_version"]
        results[backend] = m
    assert len(results) >= 2, "only torch installed: nothing to compare (install openvino or onnxruntime)"
    for backend, m in results.items():
        assert m["fid"] == pytest.approx(results["torch"]["fid"], rel=1e-3), backend
        assert m["kid_mean"] == pytest.approx(results["torch"]["kid_mean"], rel=1e-3, abs=1e-6), backend


def test_background_lift_keeps_white_and_raises_black():
    from gankit.metrics.classifier import lift_background

    x = torch.tensor([-1.0, 0.0, 1.0]).view(1, 1, 1, 3).repeat(400, 1, 1, 1)
    out = lift_background(x, torch.Generator().manual_seed(0))
    assert out.min() >= -1 and out.max() <= 1 + 1e-6
    assert torch.allclose(out[..., 2], torch.ones(400, 1, 1))  # white stays white
    lifted = out[..., 0].flatten() > -1
    assert 0.3 < lifted.float().mean() < 0.7  # about half the images
    assert out[..., 0].max() <= -1 + 2 * 0.4 + 1e-6


def test_a_one_class_run_is_judged_by_the_all_class_classifier(tmp_path, cache):
    """E8: samples of a digit-3 run are read by the classifier of all ten digits, so mixing shows:
    label_accuracy is the fraction read as a 3, and `ambiguous` counts the undecided ones."""
    from gankit.metrics.evaluate import evaluate, floor_samples

    run = gankit.train(Config(model="dcgan", classes=[3], max_steps=2, out=str(tmp_path / "three"), **TINY))
    m = evaluate(run, ["classifier"], n=50)["metrics"]
    assert m["classes_total"] == 10 and 0 <= m["label_accuracy"] <= 1 and 0 <= m["ambiguous"] <= 1
    floor = evaluate(run, ["classifier"], n=50, fakes=floor_samples(run, 50), out_name=None)["metrics"]
    # Real 3s are mostly read as 3s (the 8×8 digits classifier confuses some with 5, 8 and 9).
    assert floor["label_accuracy"] >= 0.6
