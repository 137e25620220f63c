"""gankit augment: the protocol of Ravuri & Vinyals 2019 on known numbers, its refusals, and an
end-to-end run on digits."""
import json
import math

import pytest
import torch

import gankit
from gankit import Config, GankitError
from gankit.cli import main
from gankit.metrics.augmentation import SyntheticSource, conditions, paired_interval, stratified_split

TINY = dict(data="digits", ngf=8, ndf=8, batch_size=32, device="cpu")


def test_the_paired_interval_is_students_t():
    mean, low, high = paired_interval([0.01, 0.02, 0.03])
    half = 4.302652729911275 * 0.01 / math.sqrt(3)  # t(0.975, 2) · sd / √n
    assert (mean, low, high) == pytest.approx((0.02, 0.02 - half, 0.02 + half))
    assert math.isnan(paired_interval([0.5])[1])


def test_conditions_start_with_the_baseline():
    names = [c.name for c in conditions((0.5, 1.0))]
    assert names == ["real", "synthetic (CAS)", "real + synthetic ×0.5", "real + synthetic ×1", "real + shifts",
                     "real + shifts + synthetic ×1"]


def test_conditions_can_be_chosen_and_the_baseline_stays():
    assert [c.name for c in conditions((1.0,), ("cas",))] == ["real", "synthetic (CAS)"]
    assert [c.name for c in conditions((0.5,), ("shifts", "mix"))] == [
        "real", "real + synthetic ×0.5", "real + shifts", "real + shifts + synthetic ×1"]
    with pytest.raises(GankitError, match="unknown augment condition curve: choose from cas, mix, shifts"):
        conditions((1.0,), ("cas", "curve"))


def test_the_validation_split_is_stratified_and_disjoint():
    labels = torch.arange(100) % 4
    train, val = stratified_split(labels, 0.1, seed=1)
    assert not set(train.tolist()) & set(val.tolist()) and len(train) + len(val) == 100
    assert torch.bincount(labels[val]).tolist() == [2, 2, 2, 2]  # round(0.1 · 25)
    with pytest.raises(GankitError, match="class 1 has 1 real training image"):
        stratified_split(torch.tensor([0, 0, 1]), 0.1, seed=1)


def test_samples_need_labels_and_every_class(tmp_path):
    plain = gankit.train(Config(model="dcgan", max_steps=1, out=str(tmp_path / "u"), **TINY))
    with pytest.raises(GankitError, match="unconditional over 10 classes: its samples have no labels"):
        SyntheticSource([plain], list(range(10)))
    three = gankit.train(Config(model="dcgan", classes=[3], max_steps=1, out=str(tmp_path / "3"), **TINY))
    with pytest.raises(GankitError, match="no run generates class 5"):
        SyntheticSource([three], [3, 5])
    images, labels = SyntheticSource([three], [3]).sample({0: 4}, seed=0)
    assert images.shape == (4, 1, 32, 32) and labels.tolist() == [0, 0, 0, 0]


def test_augment_end_to_end_on_digits(tmp_path, capsys):
    gankit.train(Config(model="cdcgan", classes=[0, 1, 2], max_steps=30, out=str(tmp_path / "r"), **TINY))
    assert main(["augment", str(tmp_path / "r"), "--seeds", "0", "--ratios", "1"]) == 0
    doc = json.loads((tmp_path / "r" / "augment.json").read_text())
    conds = doc["conditions"]
    assert list(conds) == ["real", "synthetic (CAS)", "real + synthetic ×1", "real + shifts",
                           "real + shifts + synthetic ×1"]
    real_n = conds["real"]["n_train"]
    assert conds["synthetic (CAS)"]["n_train"] == real_n and conds["real + synthetic ×1"]["n_train"] == 2 * real_n
    assert doc["protocol"]["classes"] == [0, 1, 2] and doc["protocol"]["n_test"] == 106
    assert 0.8 < conds["real"]["mean"] <= 1  # real digits are easy
    assert all(0 <= r["mean"] <= 1 and len(r["per_class"]) == 3 for r in conds.values())
    assert conds["real"]["diff_mean"] == 0
    assert "synthetic (CAS)" in capsys.readouterr().out


def test_augment_cas_alone_trains_two_conditions_and_says_so(tmp_path, capsys):
    gankit.train(Config(model="cdcgan", classes=[0, 1], max_steps=10, out=str(tmp_path / "r"), **TINY))
    assert main(["augment", str(tmp_path / "r"), "--seeds", "0", "--conditions", "cas"]) == 0
    doc = json.loads((tmp_path / "r" / "augment.json").read_text())
    assert list(doc["conditions"]) == ["real", "synthetic (CAS)"] and doc["protocol"]["conditions"] == ["cas"]
    with pytest.raises(SystemExit):
        main(["augment", str(tmp_path / "r"), "--conditions", "cas,curve"])
    assert "--conditions takes a comma-separated list of cas, mix, shifts, not 'cas,curve'" in capsys.readouterr().err


def test_a_run_that_saw_more_real_images_than_the_classifier_is_refused(tmp_path):
    gankit.train(Config(model="cdcgan", max_steps=1, out=str(tmp_path / "r"), **TINY))
    with pytest.raises(GankitError, match="saw 1437 real images, more than the classifier's 100: .*--per-class 10"):
        from gankit.metrics.augmentation import augment

        augment([gankit.load(tmp_path / "r")], real_per_class=10, seeds=[0])
    gankit.train(Config(model="cdcgan", max_steps=1, per_class=10, batch_size=16, data="digits", ngf=8, ndf=8,
                        device="cpu", out=str(tmp_path / "small")))
    assert json.loads((tmp_path / "small" / "config.json").read_text())["data"]["num_images"] == 100


def test_the_report_draws_the_curve_and_escapes_names(tmp_path):
    from gankit.experiments.report import render_page
    from gankit.experiments.report_data import Report, RunView

    conds = {name: dict(accuracy=[a], mean=a, std=0.01, epochs=[3], n_train=100, per_class=[a], diff_mean=a - 0.9,
                        diff_low=a - 0.92, diff_high=a - 0.88)
             for name, a in [("real", 0.9), ("synthetic (CAS)", 0.8), ("real + synthetic ×0.5", 0.92),
                             ("real + synthetic ×1", 0.93)]}
    protocol = dict(recipe="r", validation="v", seeds=[0], n_test=10)
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "augment.json").write_text(json.dumps(dict(protocol=protocol, conditions=conds)))
    report = Report("t", "", "", ["augmentation"], [RunView.read("<b>a</b>", tmp_path / "a", {})])
    html = render_page(report)
    assert "Does augmentation help?" in html and "data:image/png;base64," in html
    assert "&lt;b&gt;a&lt;/b&gt;" in html and "<b>a</b>" not in html
    assert "+0.0300 [+0.0100, +0.0500]" in html
