"""Data sets in memory: digits, padding/resizing, class subsets, the 2-D toys, image folders
(odd modes, broken files), IDX files read offline, and the error for a missing data set."""
from __future__ import annotations

import gzip
import os
import struct

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import SHARED_DATA
from gankit import GankitError
from gankit.data import DATASETS, load_data, toy_modes
from gankit.data.base import fit_images
from gankit.data.digits import load_digits


# --- digits, fitting, classes -------------------------------------------------------------------

def test_digits_at_32():
    data = load_data("digits", image_size=32)
    assert data.images.shape == (1437, 1, 32, 32)
    assert data.images.dtype == torch.uint8
    assert data.labels.shape == (1437,) and data.labels.dtype == torch.int64
    assert sorted(data.labels.unique().tolist()) == list(range(10))
    assert data.class_names == [str(i) for i in range(10)] and data.class_ids == list(range(10))
    assert int(data.images.max()) == 255 and int(data.images.min()) == 0
    assert data.shape.channels == 1 and data.shape.size == 32 and data.shape.num_classes == 10


def test_digits_resize_keeps_content():
    native = load_digits().images  # (1437, 1, 8, 8)
    big = load_data("digits", image_size=32).images
    # An 8 px digit upscaled 4x: its 4x4 block means follow the original pixels closely.
    blocks = big.float().view(-1, 1, 8, 4, 8, 4).mean((3, 5))
    assert (blocks - native.float()).abs().mean() < 20
    assert torch.corrcoef(torch.stack([blocks.flatten(), native.float().flatten()]))[0, 1] > 0.9


def test_pad_28_to_32_is_centred_with_zero_border():
    x = torch.randint(1, 256, (3, 1, 28, 28), dtype=torch.uint8)
    for mode in ("auto", "pad"):
        y = fit_images(x, 32, mode)
        assert y.shape == (3, 1, 32, 32) and y.dtype == torch.uint8
        assert torch.equal(y[:, :, 2:30, 2:30], x)
        border = torch.ones(32, 32, dtype=torch.bool)
        border[2:30, 2:30] = False
        assert (y[:, :, border] == 0).all()


def test_resize_path():
    const = torch.full((2, 3, 28, 28), 200, dtype=torch.uint8)
    y = fit_images(const, 64, "resize")
    assert y.shape == (2, 3, 64, 64) and y.dtype == torch.uint8
    assert (y == 200).all()
    # auto resizes when the difference is more than 4 px (28 -> 64) and also downscales
    ramp = (torch.arange(28) * 7 + 50).to(torch.uint8).expand(1, 1, 28, 28).contiguous()
    up = fit_images(ramp, 64, "auto")
    assert up.shape == (1, 1, 64, 64)
    assert (up[0, 0, :, 1:].int() >= up[0, 0, :, :-1].int()).all()  # still a left-to-right ramp
    down = fit_images(ramp, 16, "auto")
    assert down.shape == (1, 1, 16, 16)
    # "resize" stretches even where "auto" would pad: no zero border appears.
    assert fit_images(ramp, 32, "auto")[..., :2].eq(0).all()
    assert fit_images(ramp, 32, "resize").min() >= 50


def test_pad_refuses_odd_or_shrinking():
    with pytest.raises(GankitError, match="--fit resize"):
        fit_images(torch.zeros(1, 1, 29, 29, dtype=torch.uint8), 32, "pad")
    with pytest.raises(GankitError, match="--fit resize"):
        fit_images(torch.zeros(1, 1, 28, 28, dtype=torch.uint8), 16, "pad")


def test_class_subset_relabels():
    full = load_data("digits", image_size=8)
    three = load_data("digits", image_size=8, classes=[3])
    assert len(three) == int((full.labels == 3).sum()) == 146
    assert (three.labels == 0).all()
    assert three.class_ids == [3] and three.class_names == ["3"]
    assert torch.equal(three.images, full.images[full.labels == 3])
    assert three.shape.num_classes == 1


def test_two_class_subset():
    full = load_data("digits", image_size=8)
    sub = load_data("digits", image_size=8, classes=[2, 7])
    assert sub.class_ids == [2, 7] and sub.class_names == ["2", "7"]
    assert len(sub) == int(((full.labels == 2) | (full.labels == 7)).sum())
    orig = torch.tensor(sub.class_ids)[sub.labels]
    assert torch.equal(sub.images, full.images[(full.labels == 2) | (full.labels == 7)])
    assert torch.equal(orig, full.labels[(full.labels == 2) | (full.labels == 7)])


def test_unknown_class():
    with pytest.raises(GankitError, match="--classes 42") as info:
        load_data("digits", image_size=8, classes=[3, 42])
    assert "\n" not in str(info.value)


def test_unknown_data_set():
    with pytest.raises(GankitError, match="unknown data set 'imagenet'"):
        load_data("imagenet")


# --- 2-D toy mixtures -----------------------------------------------------------------------------

@pytest.mark.parametrize("name,k", [("ring8", 8), ("grid25", 25)])
def test_toy_sets(name, k):
    data = load_data(name)
    assert data.images.shape == (50_000, 2) and data.images.dtype == torch.float32
    assert data.is_points and data.shape.point_dim == 2 and data.shape.num_classes == k
    assert sorted(data.labels.unique().tolist()) == list(range(k))
    centres, std = toy_modes(name)
    assert centres.shape == (k, 2)
    # Each point lies within 6σ of its own mode's centre.
    dist = (data.images - centres[data.labels]).norm(dim=1)
    assert dist.max() < 6 * std
    # Same data every time (its seed is fixed).
    assert torch.equal(load_data(name).images, data.images)


def test_ring8_geometry():
    centres, std = toy_modes("ring8")
    torch.testing.assert_close(centres.norm(dim=1), torch.full((8,), 2.0))
    assert std == 0.05
    grid, gstd = toy_modes("grid25")
    assert sorted(grid[:, 0].unique().tolist()) == [-4.0, -2.0, 0.0, 2.0, 4.0] and gstd == 0.05


# --- image folders (holdout=0: every image in the training split, to test decoding) ----------------

def save(img: Image.Image, path):
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return path


def make_folder(root):
    """cats/: RGB, grey, RGBA; dogs/: 16-bit grey, truncated PNG; a .txt file beside them."""
    save(Image.new("RGB", (20, 24), (10, 20, 30)), root / "cats" / "a_rgb.png")
    save(Image.new("L", (12, 12), 77), root / "cats" / "b_grey.png")
    save(Image.new("RGBA", (16, 16), (200, 100, 50, 40)), root / "cats" / "c_rgba.png")
    save(Image.fromarray(np.full((10, 10), 25700, dtype=np.uint16)), root / "dogs" / "d_grey16.png")
    good = save(Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)),
                root / "dogs" / "e_truncated.png")
    good.write_bytes(good.read_bytes()[:200])
    (root / "dogs" / "notes.txt").write_text("not an image")
    return root


def test_folder_of_mixed_images(tmp_path):
    root = make_folder(tmp_path / "pets")
    data = load_data(f"folder:{root}", image_size=8, holdout=0)
    assert data.class_names == ["cats", "dogs"]
    assert len(data) == 4  # the truncated PNG is skipped, the .txt ignored
    assert data.labels.tolist() == [0, 0, 0, 1]
    assert data.images.shape == (4, 3, 8, 8) and data.images.dtype == torch.uint8
    # Solid colours survive decoding, resizing and mode conversion exactly.
    assert data.images[0].flatten(1).unique(dim=1).tolist() == [[10], [20], [30]]
    assert (data.images[1] == 77).all()  # grey -> all three channels equal
    assert data.images[2].flatten(1).unique(dim=1).tolist() == [[200], [100], [50]]  # alpha dropped
    assert (data.images[3] == 100).all()  # 16-bit 25700 = 100 · 257 scaled to 8 bits, not clipped


def test_folder_of_grey_images_is_one_channel(tmp_path):
    for i in range(3):
        save(Image.new("L", (9, 9), 30 * i), tmp_path / "g" / f"{i}.png")
    data = load_data(f"folder:{tmp_path / 'g'}", image_size=16, holdout=0)
    assert data.images.shape == (3, 1, 16, 16)
    assert data.class_names == ["g"] and data.labels.tolist() == [0, 0, 0]
    assert [int(x.unique()) for x in data.images] == [0, 30, 60]


def test_folder_cache_follows_file_changes(tmp_path):
    img = save(Image.new("L", (9, 9), 10), tmp_path / "f" / "x.png")
    save(Image.new("L", (9, 9), 20), tmp_path / "f" / "y.png")
    first = load_data(f"folder:{tmp_path / 'f'}", image_size=8, holdout=0)
    assert torch.equal(load_data(f"folder:{tmp_path / 'f'}", image_size=8, holdout=0).images, first.images)
    assert list((tmp_path / "gankit-cache").rglob("*.pt"))  # the decode was cached under $GANKIT_CACHE
    Image.new("L", (9, 9), 90).save(img)  # new content and mtime
    os.utime(img, ns=(10**18, 10**18))
    again = load_data(f"folder:{tmp_path / 'f'}", image_size=8, holdout=0)
    assert int(again.images[0].unique()) == 90


def test_folder_bad_image_stop_names_the_file(tmp_path):
    root = make_folder(tmp_path / "pets")
    with pytest.raises(GankitError) as info:
        load_data(f"folder:{root}", image_size=8, holdout=0, on_bad_image="stop")
    message = str(info.value)
    assert str(root / "dogs" / "e_truncated.png") in message and "\n" not in message


def test_folder_empty_or_missing(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(GankitError, match="no images"):
        load_data(f"folder:{tmp_path / 'empty'}", image_size=8, holdout=0)
    (tmp_path / "text").mkdir()
    (tmp_path / "text" / "a.txt").write_text("x")
    with pytest.raises(GankitError, match="no images"):
        load_data(f"folder:{tmp_path / 'text'}", image_size=8, holdout=0)
    with pytest.raises(GankitError, match="does not exist"):
        load_data(f"folder:{tmp_path / 'nowhere'}", image_size=8, holdout=0)


def test_folder_of_only_broken_images(tmp_path):
    (tmp_path / "b").mkdir()
    (tmp_path / "b" / "x.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    with pytest.raises(GankitError, match="no readable images"):
        load_data(f"folder:{tmp_path / 'b'}", image_size=8, holdout=0)


# --- IDX files, offline -----------------------------------------------------------------------------

def idx_bytes(array: np.ndarray) -> bytes:
    """IDX: magic 0 0 0x08 (uint8) ndim, big-endian int32 dims, then the data."""
    return bytes([0, 0, 8, array.ndim]) + struct.pack(f">{array.ndim}i", *array.shape) + array.tobytes()


def write_mnist(root, n_train=7, n_test=3, gz=True):
    raw = root / "MNIST" / "raw"
    raw.mkdir(parents=True)
    rng = np.random.default_rng(0)
    arrays = {}
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        for stem, arr in ((f"{prefix}-images-idx3-ubyte", images), (f"{prefix}-labels-idx1-ubyte", labels)):
            if gz:
                with gzip.open(raw / (stem + ".gz"), "wb") as fh:
                    fh.write(idx_bytes(arr))
            else:
                (raw / stem).write_bytes(idx_bytes(arr))
        arrays[prefix] = (images, labels)
    return arrays


@pytest.mark.parametrize("gz", [True, False])
def test_idx_offline(tmp_path, gz):
    arrays = write_mnist(tmp_path / "root", gz=gz)
    data = load_data("mnist", data_dir=str(tmp_path / "root"), image_size=28)
    images, labels = arrays["train"]
    assert data.images.shape == (7, 1, 28, 28) and data.images.dtype == torch.uint8
    assert torch.equal(data.images[:, 0], torch.from_numpy(images))
    assert torch.equal(data.labels, torch.from_numpy(labels.astype(np.int64)))
    test = load_data("mnist", data_dir=str(tmp_path / "root"), image_size=32, split="test")
    assert test.images.shape == (3, 1, 32, 32)
    assert torch.equal(test.images[:, 0, 2:30, 2:30], torch.from_numpy(arrays["t10k"][0]))
    assert DATASETS["mnist"].locate([tmp_path / "root"]) == str(tmp_path / "root" / "MNIST" / "raw")


def test_idx_found_through_gankit_data(tmp_path, monkeypatch):
    write_mnist(tmp_path / "envroot")
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "envroot"))
    assert len(load_data("mnist", image_size=28)) == 7


def test_idx_corrupt_file(tmp_path):
    write_mnist(tmp_path / "root", gz=False)
    f = tmp_path / "root" / "MNIST" / "raw" / "train-images-idx3-ubyte"
    f.write_bytes(f.read_bytes()[:500])
    with pytest.raises(GankitError, match="not a readable IDX file") as info:
        load_data("mnist", data_dir=str(tmp_path / "root"), image_size=28)
    assert str(f) in str(info.value)


def test_idx_count_mismatch(tmp_path):
    write_mnist(tmp_path / "root", gz=False)
    raw = tmp_path / "root" / "MNIST" / "raw"
    (raw / "train-labels-idx1-ubyte").write_bytes(idx_bytes(np.zeros(4, dtype=np.uint8)))
    with pytest.raises(GankitError, match="do not match"):
        load_data("mnist", data_dir=str(tmp_path / "root"), image_size=28)


def test_missing_data_set_offline(tmp_path, monkeypatch):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("GANKIT_DATA", str(tmp_path / "env-data"))
    try:
        load_data("mnist", data_dir=str(tmp_path / "nothing"), image_size=28)
    except GankitError as err:
        message = str(err)
    else:
        pytest.skip("the download succeeded: this machine is online")
    assert "--data-dir" in message and "\n" not in message
    assert str(tmp_path / "nothing" / "MNIST" / "raw") in message


# --- real data beside the checkout (slow) -------------------------------------------------------------

@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_DATA / "MNIST" / "raw").is_dir(), reason="../shared/data/MNIST is not beside the checkout")
def test_real_mnist():
    data = load_data("mnist", data_dir=str(SHARED_DATA), image_size=32)
    assert data.images.shape == (60_000, 1, 32, 32)
    assert torch.bincount(data.labels).tolist() == [5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949]
    assert (data.images[:, :, :2] == 0).all()  # padded border
    test = load_data("mnist", data_dir=str(SHARED_DATA), image_size=28, split="test")
    assert test.images.shape == (10_000, 1, 28, 28)


def test_decode_dataset_of_a_torchvision_set_is_cached(tmp_path):
    """The path CelebA and Flowers-102 take: (PIL image, target) items decoded at the training
    size in worker processes, then read back from the cache."""
    from torchvision.datasets import FakeData

    from gankit.data.decode import cache_dir, decode_dataset

    ds = FakeData(size=300, image_size=(3, 50, 40), num_classes=4, random_offset=7)
    images, kept = decode_dataset(ds, 32, key="fake")
    assert images.shape == (300, 3, 32, 32) and images.dtype == torch.uint8
    torch.testing.assert_close(kept, torch.arange(300))
    assert len(list(cache_dir().glob("*.pt"))) == 1
    again, _ = decode_dataset(ds, 32, key="fake")
    assert torch.equal(images, again)
