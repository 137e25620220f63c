"""The documents' promises at (a fraction of) their budgets, on real MNIST: each test pins a recipe
fix by clearing a bar that the broken recipe fails. Slow (minutes on 2 cores): ``pytest -m slow``."""
from __future__ import annotations

import pytest

import gankit
from conftest import SHARED_DATA
from gankit import Config
from gankit.metrics.evaluate import evaluate

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not (SHARED_DATA / "MNIST" / "raw").is_dir(),
                                 reason="../shared/data/MNIST is not beside the checkout")]


def label_accuracy(tmp_path, name: str, **fields) -> dict:
    run = gankit.train(Config(data="mnist", data_dir=str(SHARED_DATA), out=str(tmp_path / name), **fields))
    return evaluate(run, ["classifier"], n=2000, reference="test", out_name=None)["metrics"]


def test_cgan_preset_lets_the_label_choose_the_class(tmp_path, monkeypatch):
    """Measured at 2,000 steps, seed 0: Radford's Adam 2e-4 without the matching-aware D leaves the
    label ignored (accuracy 0.106, 3 classes); the preset (Adam 1e-3, --mismatch 0.5) reaches 0.635
    (and 0.89 at 6,000 steps)."""
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    fixed = label_accuracy(tmp_path, "preset", model="cgan", max_steps=2000)
    broken = label_accuracy(tmp_path, "old", model="cgan", max_steps=2000, lr_g=2e-4, lr_d=2e-4, mismatch=0.0)
    assert fixed["label_accuracy"] >= 0.45 and fixed["classes_covered"] == 10, fixed
    assert broken["label_accuracy"] < 0.3, broken


def test_cdcgan_preset_uses_z_and_the_label_at_step_1000(tmp_path, monkeypatch):
    """The practical's promise at its budget: measured at step 1,000, seed 0, the plain recipe gives
    label accuracy 0.685 and intra-class feature diversity 0.47 (every row of the class grid alike: z
    ignored); the preset (--mode-seeking 0.5 --mismatch 0.5) 0.974 and 0.94 with 10/10 classes (seeds
    1 and 2: 0.966 / 0.962 and 0.96 / 0.97)."""
    monkeypatch.setenv("GANKIT_CACHE", str(tmp_path / "cache"))
    fixed = label_accuracy(tmp_path, "preset", model="cdcgan", max_steps=1000)
    assert fixed["label_accuracy"] >= 0.9 and fixed["classes_covered"] == 10, fixed
    assert fixed["intra_feature_diversity_mean"] >= 0.75, fixed
    broken = label_accuracy(tmp_path, "plain", model="cdcgan", max_steps=1000, mode_seeking=0.0, mismatch=0.0)
    assert broken["intra_feature_diversity_mean"] < 0.6, broken
