"""Every data set has a test split the GAN never sees: disjoint from training by content, fixed
by the files (never by a seed), recorded in the run, checked on resume and eval."""
import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit import Config, GankitError
from gankit.data import load_data
from gankit.metrics.evaluate import evaluate

SHARED = Path(__file__).resolve().parents[2] / "shared" / "data"


def content_hashes(data) -> set[str]:
    return {hashlib.sha256(x.numpy().tobytes()).hexdigest() for x in data.images}


def image_folder(root: Path, per_class: int = 60, classes=("a", "b"), size: int = 12) -> Path:
    """``per_class`` distinct random PNGs in each class folder."""
    rng = np.random.default_rng(0)
    for c in classes:
        (root / c).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            Image.fromarray(rng.integers(0, 256, (size, size), dtype=np.uint8)).save(root / c / f"{i:03d}.png")
    return root


@pytest.mark.parametrize("name", ["digits", "ring8", "grid25", "mnist", "folder"])
def test_train_and_test_are_disjoint(name, tmp_path):
    if name == "mnist" and not (SHARED / "MNIST").exists():
        pytest.skip(f"MNIST is not under {SHARED}")
    data_dir = str(SHARED) if name == "mnist" else None
    name = f"folder:{image_folder(tmp_path / 'f')}" if name == "folder" else name
    train, test = (load_data(name, data_dir, image_size=16, split=s) for s in ("train", "test"))
    assert len(train) and len(test)
    if train.is_points:
        assert not set(map(tuple, train.images.tolist())) & set(map(tuple, test.images.tolist()))
    else:
        assert not content_hashes(train) & content_hashes(test)


def test_a_flat_folder_holds_out_a_stratified_share_by_file(tmp_path):
    root = image_folder(tmp_path / "f")
    train, test = (load_data(f"folder:{root}", image_size=12, split=s) for s in ("train", "test"))
    assert (len(train), len(test)) == (108, 12)
    assert torch.bincount(test.labels).tolist() == [6, 6]
    assert train.split_digest == test.split_digest
    bigger = load_data(f"folder:{root}", image_size=12, split="test", holdout=0.2)
    assert content_hashes(test) <= content_hashes(bigger) and len(bigger) == 24  # a larger share only adds
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(root / "a" / "new.png")
    grown = load_data(f"folder:{root}", image_size=12, split="test")
    assert len(content_hashes(test) - content_hashes(grown)) <= 1  # a new file moves at most one other


def test_train_and_test_sub_folders_are_the_split(tmp_path):
    image_folder(tmp_path / "s" / "train", per_class=10)
    image_folder(tmp_path / "s" / "test", per_class=3, classes=("b",))
    train, test = (load_data(f"folder:{tmp_path / 's'}", image_size=12, split=s) for s in ("train", "test"))
    assert (len(train), len(test), train.class_names) == (20, 3, ["a", "b"])
    assert test.labels.tolist() == [1, 1, 1]  # the test folder's class is named like the training one


def test_flowers_trains_on_train_and_val_only():
    from gankit.data.torchvision_sets import FLOWERS102

    assert FLOWERS102.load.__closure__  # the split lists live in the loader
    from gankit.data import torchvision_sets as tv

    source = Path(tv.__file__).read_text()
    assert 'splits=lambda split: ["train", "val"] if split == "train" else ["test"]' in source


def test_the_run_records_its_split_and_refuses_another(tmp_path):
    root = image_folder(tmp_path / "f", per_class=40)
    cfg = dict(model="dcgan", data=f"folder:{root}", image_size=16, ngf=8, ndf=8, batch_size=16, device="cpu")
    gankit.train(Config(epochs=1, seed=3, out=str(tmp_path / "r"), **cfg))
    info = json.loads((tmp_path / "r" / "config.json").read_text())["data"]
    assert info["num_images"] == 72 and len(info["split_digest"]) == 16
    gankit.train(Config(epochs=1, seed=4, out=str(tmp_path / "r4"), **cfg))
    assert json.loads((tmp_path / "r4" / "config.json").read_text())["data"]["split_digest"] == info["split_digest"]
    from gankit.data.folder import split_files

    split_files(root, "test", 0.1)[0][0].unlink()  # a held-out file goes: the test split changes under the run
    with pytest.raises(GankitError, match="train/test split differs from the one .* was trained with"):
        gankit.resume(tmp_path / "r", epochs=2)
    with pytest.raises(GankitError, match="train/test split differs"):
        evaluate(gankit.load(tmp_path / "r"), ["classifier"], n=50, reference="test", out_name=None)


def test_every_metric_runs_on_a_folder_of_120_images(tmp_path):
    """A new user's small set: the domain classifier trains on ~100 images (smaller batches, more
    epochs) instead of failing inside OneCycleLR."""
    root = image_folder(tmp_path / "small", per_class=60)
    run = gankit.train(Config(model="dcgan", data=f"folder:{root}", image_size=16, ngf=8, ndf=8, batch_size=16,
                              max_steps=3, device="cpu", out=str(tmp_path / "r")))
    doc = evaluate(run, ["fid", "kid", "pr", "is", "classifier", "nn"], n=40, reference="test", out_name=None)
    assert doc["provenance"]["n_real"] == 12
    assert (doc["metrics"]["nn_count"], doc["metrics"]["nn_held_out_count"]) == (40, 12)  # what was compared
    assert all(np.isfinite(v) for v in doc["metrics"].values() if isinstance(v, float))


def test_too_few_images_for_the_classifier_is_one_line(tmp_path):
    from gankit.metrics.classifier import classifier_schedule

    assert classifier_schedule(60_000, 6, 128) == (6, 128)
    assert classifier_schedule(120, 6, 128) == (38, 15)  # 8 steps per epoch: 38 epochs make 300 steps
    with pytest.raises(GankitError, match="needs at least 16 real training images, this set has 9"):
        classifier_schedule(9, 6, 128)
