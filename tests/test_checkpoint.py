"""Atomic writes and checkpoints: no torn or stray files, weights-only loading, the trainer's
state round trip, and one-line errors for checkpoints that do not fit or cannot be read."""
from __future__ import annotations

import os
import stat

import pytest
import torch

from conftest import make_cfg, random_images
from gankit import GankitError
from gankit.data.shape import DataShape
from gankit.models import build_models
from gankit.atomic import atomic_path, atomic_torch_save, atomic_write_text
from gankit.training.checkpoint import FORMAT, load_weights, read_checkpoint, save_checkpoint
from gankit.training.trainer import GANTrainer

CPU = torch.device("cpu")


# --- atomic writes -----------------------------------------------------------------------------------

def test_atomic_write_leaves_only_the_target(tmp_path):
    target = tmp_path / "sub" / "file.txt"
    atomic_write_text("hello", target)
    assert target.read_text() == "hello"
    atomic_write_text("again", target)
    assert target.read_text() == "again"
    assert os.listdir(target.parent) == ["file.txt"]


def test_interrupted_write_keeps_the_old_file(tmp_path):
    target = tmp_path / "file.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError, match="disk on fire"):
        with atomic_path(target) as tmp:
            assert tmp != target and tmp.parent == target.parent
            tmp.write_text("half of the new")
            raise RuntimeError("disk on fire")
    assert target.read_text() == "old"
    assert os.listdir(tmp_path) == ["file.txt"]


def test_interrupted_torch_save_keeps_the_old_checkpoint(tmp_path):
    target = tmp_path / "last.pt"
    atomic_torch_save({"x": torch.arange(3)}, target)
    with pytest.raises(Exception):
        atomic_torch_save({"x": torch.zeros(3), "bad": lambda: None}, target)  # a lambda cannot be pickled
    assert torch.equal(torch.load(target, weights_only=True)["x"], torch.arange(3))
    assert os.listdir(tmp_path) == ["last.pt"]


def test_atomic_files_get_the_usual_permissions(tmp_path):
    """An atomically written file is as readable as one written with open(): the umask decides,
    not the private mode of the temporary file (run dirs are read by other tools and users)."""
    plain = tmp_path / "plain.txt"
    plain.write_text("x")
    atomic_write_text("x", tmp_path / "atomic.txt")
    atomic_torch_save({}, tmp_path / "atomic.pt")
    want = stat.S_IMODE(plain.stat().st_mode)
    assert stat.S_IMODE((tmp_path / "atomic.txt").stat().st_mode) == want
    assert stat.S_IMODE((tmp_path / "atomic.pt").stat().st_mode) == want


# --- checkpoints --------------------------------------------------------------------------------------

@pytest.fixture
def trainer():
    cfg = make_cfg("dcgan", batch_size=4)
    t = GANTrainer(cfg, random_images(16, 1, 32), CPU)
    t.train_step(next(t.epoch_batches()))
    t.batch, t.step = 1, 1
    return t


def test_checkpoint_is_weights_only_loadable(trainer, tmp_path):
    path = tmp_path / "run" / "checkpoints" / "last.pt"
    save_checkpoint({**trainer.state_dict(), "config": trainer.cfg.to_dict(), "data": {"name": "random"}}, path)
    raw = torch.load(path, weights_only=True)  # no custom classes: the safe loader accepts it
    assert raw["format"] == FORMAT
    assert {"generator", "discriminator", "opt_g", "opt_d", "epoch", "batch", "step", "rng_cpu", "rng_noise",
            "fixed_z", "config", "data"} <= set(raw)
    assert raw["config"]["model"] == "dcgan"
    state = read_checkpoint(tmp_path / "run")  # a run directory means its checkpoints/last.pt
    assert (state["epoch"], state["batch"], state["step"]) == (0, 1, 1)
    for name, value in trainer.G.state_dict().items():
        torch.testing.assert_close(state["generator"][name], value, rtol=0, atol=0)


def test_trainer_state_round_trip(trainer, tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint({**trainer.state_dict(), "config": trainer.cfg.to_dict(), "data": {}}, path)
    fresh = GANTrainer(make_cfg("dcgan", batch_size=4, seed=5), random_images(16, 1, 32), CPU)
    assert not torch.equal(fresh.fixed_z, trainer.fixed_z)
    fresh.load_state_dict(read_checkpoint(path), path)
    for a, b in ((fresh.G, trainer.G), (fresh.D, trainer.D)):
        for (name, x), y in zip(a.state_dict().items(), b.state_dict().values()):
            torch.testing.assert_close(x, y, rtol=0, atol=0, msg=name)
    assert torch.equal(fresh.fixed_z, trainer.fixed_z)
    assert (fresh.epoch, fresh.batch, fresh.step) == (trainer.epoch, trainer.batch, trainer.step)
    assert torch.equal(fresh.noise.get_state(), trainer.noise.get_state())
    exp_avg = lambda opt: [s["exp_avg"] for s in opt.state_dict()["state"].values()]  # noqa: E731
    for x, y in zip(exp_avg(fresh.opt_g), exp_avg(trainer.opt_g)):
        torch.testing.assert_close(x, y, rtol=0, atol=0)


def test_generator_of_another_width_does_not_fit(trainer):
    wider, _ = build_models(make_cfg("dcgan", ngf=16), DataShape(channels=1, size=32))
    with pytest.raises(GankitError) as info:
        load_weights(wider, trainer.G.state_dict(), "generator", "runs/x")
    message = str(info.value)
    assert "\n" not in message
    assert "runs/x" in message and "generator" in message and "does not fit" in message
    assert "size mismatch" in message  # the first detail of PyTorch's error


def test_generator_of_another_model_does_not_fit(trainer):
    cond, _ = build_models(make_cfg("cdcgan"), DataShape(channels=1, size=32))
    with pytest.raises(GankitError, match="does not fit") as info:
        load_weights(cond, trainer.G.state_dict(), "generator", "ckpt")
    assert "\n" not in str(info.value)


def test_resuming_into_another_architecture(trainer, tmp_path):
    path = tmp_path / "last.pt"
    save_checkpoint({**trainer.state_dict(), "config": trainer.cfg.to_dict(), "data": {}}, path)
    other = GANTrainer(make_cfg("dcgan", batch_size=4, ndf=16), random_images(16, 1, 32), CPU)
    with pytest.raises(GankitError, match="discriminator does not fit"):
        other.load_state_dict(read_checkpoint(path), path)


def test_save_checkpoint_error_is_a_gankit_error(tmp_path):
    (tmp_path / "file").write_text("I am not a folder")
    with pytest.raises(GankitError, match="could not write checkpoint"):
        save_checkpoint({"generator": {}}, tmp_path / "file" / "last.pt")


def test_read_checkpoint_errors(tmp_path):
    with pytest.raises(GankitError, match="no checkpoint"):
        read_checkpoint(tmp_path / "missing.pt")
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(GankitError, match="not a gankit checkpoint"):
        read_checkpoint(tmp_path / "list.pt")
    save_checkpoint({"generator": {}}, tmp_path / "ok.pt")
    state = torch.load(tmp_path / "ok.pt", weights_only=True)
    state["format"] = FORMAT + 1
    torch.save(state, tmp_path / "future.pt")
    with pytest.raises(GankitError, match=f"checkpoint format {FORMAT + 1}"):
        read_checkpoint(tmp_path / "future.pt")


@pytest.mark.parametrize("keep", [0, 10, 1000])
def test_torn_checkpoint_is_a_gankit_error(keep, trainer, tmp_path):
    """A checkpoint cut short (a copy interrupted, a full disk) at any length, including an empty
    file, is one clear error, never a traceback."""
    path = tmp_path / "last.pt"
    save_checkpoint({**trainer.state_dict(), "config": trainer.cfg.to_dict(), "data": {}}, path)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(GankitError, match="corrupt or truncated") as info:
        read_checkpoint(path)
    assert "\n" not in str(info.value)


def test_tiny_epochs_do_not_each_rewrite_the_checkpoint(tmp_path, monkeypatch):
    """10-step epochs: saved every 4th epoch end (≥ 40 steps apart) and at the last step."""
    import gankit
    from gankit import Config
    from gankit.training import checkpoint as ckpt, hooks

    saved = []
    real_save = ckpt.save_checkpoint
    monkeypatch.setattr(hooks, "save_checkpoint", lambda state, path: (saved.append(state["step"]), real_save(state, path)))
    gankit.train(Config(model="dcgan", data="digits", per_class=32, batch_size=32, ngf=4, ndf=4, image_size=16,
                        max_steps=95, epochs=100, device="cpu", out=str(tmp_path / "r")))
    assert saved == [40, 80, 95]
    assert read_checkpoint(tmp_path / "r")["step"] == 95
