"""The `gankit` command end to end on the always-available digits (SPEC §7): train, resume,
sample, interpolate, --config files, --help, and the one-line errors (exit 2, no traceback)."""
from __future__ import annotations

import contextlib
import io
import json
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from PIL import Image

from gankit.cli import main
from gankit.models import MODELS

TINY = ["--ngf", "8", "--ndf", "8", "-q"]
METRIC_KEYS = {"epoch", "step", "loss_d", "loss_g", "d_real", "d_fake", "time", "images_per_s"}
STEPS_PER_EPOCH = 1437 // 64  # digits at the default batch size, remainder dropped


def grid_size(cols: int, rows: int, px: int = 32, pad: int = 2) -> tuple[int, int]:
    """(width, height) of a torchvision grid: ``pad`` px around and between images."""
    return cols * (px + pad) + pad, rows * (px + pad) + pad


def quiet_main(argv) -> tuple[int, str, str]:
    """main() with stdout/stderr captured (for module-scoped fixtures, where capsys is not available)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in argv])
    return code, out.getvalue(), err.getvalue()


def cli(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def assert_user_error(result, *fragments: str) -> str:
    """Exit 2 and exactly one line on stderr, ``gankit: error: ...``, with each fragment."""
    code, out, err = result
    assert code == 2, (code, out, err)
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("gankit: error: ")
    for fragment in fragments:
        assert fragment in lines[0], (fragment, lines[0])
    return lines[0]


def read_metrics(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


def load_ckpt(run) -> dict:
    return torch.load(run / "checkpoints" / "last.pt", weights_only=True)


@pytest.fixture(scope="module")
def dcgan_run(tmp_path_factory):
    """One epoch of a tiny DCGAN on digits: (run dir, exit code, stdout). Read-only for tests;
    copy it (``copy_run``) before changing anything."""
    run = tmp_path_factory.mktemp("cli") / "D"
    code, out, _ = quiet_main(["train", "--model", "dcgan", "--data", "digits", "--epochs", "1", *TINY, "--out", run])
    return run, code, out


@pytest.fixture(scope="module")
def cdcgan_run(tmp_path_factory):
    """A few steps of a tiny conditional DCGAN on digits (2 fixed z per class)."""
    run = tmp_path_factory.mktemp("cli") / "C"
    code, out, err = quiet_main(["train", "--model", "cdcgan", "--data", "digits", "--max-steps", "3",
                                 "--n-fixed", "2", *TINY, "--out", run])
    assert code == 0, err
    return run


@pytest.fixture
def copy_run(dcgan_run, tmp_path):
    run = tmp_path / "R"
    shutil.copytree(dcgan_run[0], run)
    return run


# --- train, resume ----------------------------------------------------------------------------------

def test_train_writes_the_run_dir(dcgan_run):
    run, code, out = dcgan_run
    assert code == 0
    assert out.strip() == str(run)  # stdout carries only the run directory
    for rel in ("config.json", "metrics.jsonl", "samples/epoch_001.png", "losses.png", "checkpoints/last.pt"):
        assert (run / rel).is_file(), rel
    doc = json.loads((run / "config.json").read_text())
    assert doc["config"]["model"] == "dcgan" and doc["config"]["ngf"] == 8 and doc["config"]["lr_g"] == 2e-4
    assert doc["data"]["shape"] == [1, 32, 32] and doc["data"]["num_images"] == 1437
    assert {"gankit", "torch"} <= set(doc["versions"])
    rows = read_metrics(run)
    assert rows and all(METRIC_KEYS <= set(r) for r in rows)
    steps = [r["step"] for r in rows]
    assert steps == sorted(set(steps)) and steps[-1] == STEPS_PER_EPOCH
    assert all(r["epoch"] == 1 for r in rows)
    assert all(np.isfinite([r[k] for k in METRIC_KEYS]).all() for r in rows)
    assert all(0 < r["d_real"] < 1 and 0 < r["d_fake"] < 1 for r in rows)  # BCE: probabilities
    with Image.open(run / "samples" / "epoch_001.png") as im:
        assert im.size == grid_size(8, 8)  # 64 fixed samples, 8 per row
    state = load_ckpt(run)
    assert (state["epoch"], state["batch"], state["step"]) == (1, 0, STEPS_PER_EPOCH)


def test_resume_adds_an_epoch(copy_run, capsys):
    code, out, err = cli(capsys, "resume", copy_run, "--epochs", "2", "-q")
    assert code == 0, err
    assert out.strip() == str(copy_run)
    assert (copy_run / "samples" / "epoch_002.png").is_file()
    rows = read_metrics(copy_run)
    assert [r["step"] for r in rows][-1] == 2 * STEPS_PER_EPOCH
    assert [r["epoch"] for r in rows][-1] == 2
    steps = [r["step"] for r in rows]
    assert steps == sorted(set(steps))  # no duplicated rows
    assert load_ckpt(copy_run)["epoch"] == 2


def test_resume_of_a_finished_run_asks_for_more_epochs(dcgan_run, capsys):
    assert_user_error(cli(capsys, "resume", dcgan_run[0], "-q"), "already trained 1 epochs", "--epochs")


def test_max_steps_stops_mid_epoch(tmp_path, capsys):
    run = tmp_path / "M"
    code, out, err = cli(capsys, "train", "--model", "dcgan", "--data", "digits", "--max-steps", "5", *TINY, "--out", run)
    assert code == 0, err
    assert (run / "samples" / "epoch_001.png").is_file()
    assert (run / "losses.png").is_file()
    state = load_ckpt(run)
    assert (state["epoch"], state["batch"], state["step"]) == (0, 5, 5)
    assert read_metrics(run)[-1]["step"] == 5
    assert_user_error(cli(capsys, "resume", run, "-q"), "max_steps")


def test_config_file_and_flags(tmp_path, capsys):
    toml = tmp_path / "F.toml"
    toml.write_text('model = "dcgan"\ndata = "digits"\nngf = 8\nndf = 8\nmax_steps = 2\nbatch_size = 32\n'
                    'lr_g = 0.001\nz_prior = "uniform"\n')
    run = tmp_path / "T"
    code, out, err = cli(capsys, "train", "--config", toml, "--lr-g", "0.005", "--out", run, "-q")
    assert code == 0, err
    cfg = json.loads((run / "config.json").read_text())["config"]
    assert cfg["lr_g"] == 0.005  # the flag beats the file
    assert (cfg["ngf"], cfg["ndf"], cfg["batch_size"], cfg["max_steps"], cfg["z_prior"]) == (8, 8, 32, 2, "uniform")
    assert cfg["lr_d"] == 2e-4  # neither sets it: the preset
    assert load_ckpt(run)["step"] == 2


def test_config_file_errors(tmp_path, capsys):
    toml = tmp_path / "F.toml"
    toml.write_text('model = "dcgan"\nlearning_rate = 0.1\n')
    assert_user_error(cli(capsys, "train", "--config", toml, "--out", tmp_path / "x", "-q"), "learning_rate")
    assert_user_error(cli(capsys, "train", "--config", tmp_path / "nope.toml", "-q"), "not found")


def test_default_out_is_under_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, out, err = cli(capsys, "train", "--model", "gan", "--data", "digits", "--max-steps", "1", *TINY)
    assert code == 0, err
    run = tmp_path / out.strip()
    assert run.parent == tmp_path / "runs" and run.name.startswith("gan-digits-")
    assert (run / "checkpoints" / "last.pt").is_file()


def test_toy_points_run(tmp_path, capsys):
    run = tmp_path / "P"
    code, _, err = cli(capsys, "train", "--model", "gan2d", "--data", "ring8", "--max-steps", "3", *TINY, "--out", run)
    assert code == 0, err
    assert (run / "samples" / "epoch_001.png").is_file()
    code, _, err = cli(capsys, "sample", run, "--n", "50", "--out", tmp_path / "p.npz")
    assert code == 0, err
    with np.load(tmp_path / "p.npz") as f:
        assert f["images"].shape == (50, 2) and f["images"].dtype == np.float32


# --- sample, interpolate ----------------------------------------------------------------------------

def test_sample_png(dcgan_run, tmp_path, capsys):
    out_file = tmp_path / "x.png"
    code, out, err = cli(capsys, "sample", dcgan_run[0], "--n", "16", "--out", out_file)
    assert code == 0, err
    assert out.strip() == str(out_file)
    with Image.open(out_file) as im:
        assert im.size == grid_size(4, 4) == (4 * 34 + 2, 4 * 34 + 2)


def test_sample_npz(dcgan_run, tmp_path, capsys):
    for seed, name in ((0, "a.npz"), (0, "b.npz"), (1, "c.npz")):
        code, _, err = cli(capsys, "sample", dcgan_run[0], "--n", "10", "--seed", seed, "--out", tmp_path / name)
        assert code == 0, err
    arrays = {}
    for name in ("a.npz", "b.npz", "c.npz"):
        with np.load(tmp_path / name) as f:
            arrays[name] = (f["images"], f["labels"])
    images, labels = arrays["a.npz"]
    assert images.shape == (10, 1, 32, 32) and images.dtype == np.uint8
    assert labels.shape == (10,) and (labels == -1).all()  # unconditional: no label
    assert images.std() > 0
    np.testing.assert_array_equal(arrays["b.npz"][0], images)  # same seed, same images
    assert not np.array_equal(arrays["c.npz"][0], images)


def test_interpolate_png(dcgan_run, tmp_path, capsys):
    out_file = tmp_path / "i.png"
    code, out, err = cli(capsys, "interpolate", dcgan_run[0], "--steps", "5", "--rows", "2", "--out", out_file)
    assert code == 0, err
    with Image.open(out_file) as im:
        assert im.size == grid_size(5, 2)


def test_interpolate_strips_go_from_z1_to_z2(dcgan_run):
    from gankit import load

    run = load(dcgan_run[0], device="cpu")
    strips = run.interpolate(steps=5, rows=2, seed=3).view(2, 5, 1, 32, 32)
    # Neighbours along a strip are closer than its two ends.
    ends = (strips[:, 0].float() - strips[:, -1].float()).abs().mean()
    step = (strips[:, 0].float() - strips[:, 1].float()).abs().mean()
    assert step < ends
    assert torch.equal(run.interpolate(steps=5, rows=2, seed=3), strips.view(10, 1, 32, 32))


def test_conditional_grid_has_a_row_per_class(cdcgan_run):
    with Image.open(cdcgan_run / "samples" / "epoch_001.png") as im:
        assert im.size == grid_size(2, 10)  # 2 fixed z (columns) × 10 classes (rows)


def test_sample_of_a_class(cdcgan_run, tmp_path, capsys):
    code, _, err = cli(capsys, "sample", cdcgan_run, "--n", "12", "--class", "3", "--out", tmp_path / "y.npz")
    assert code == 0, err
    with np.load(tmp_path / "y.npz") as f:
        assert f["images"].shape == (12, 1, 32, 32) and f["images"].dtype == np.uint8
        assert (f["labels"] == 3).all()
    code, _, err = cli(capsys, "sample", cdcgan_run, "--n", "20", "--out", tmp_path / "all.npz")
    assert code == 0, err
    with np.load(tmp_path / "all.npz") as f:
        assert f["labels"].tolist() == list(range(10)) * 2  # balanced over the classes
    code, _, err = cli(capsys, "sample", cdcgan_run, "--n", "20", "--out", tmp_path / "all.png")
    assert code == 0, err
    with Image.open(tmp_path / "all.png") as im:
        assert im.size == grid_size(10, 2)  # a column per class


def test_class_subset_run_samples_original_labels(tmp_path, capsys):
    run = tmp_path / "S"
    code, _, err = cli(capsys, "train", "--model", "cgan", "--data", "digits", "--classes", "3,5", "--max-steps", "2",
                       "--batch-size", "16", *TINY, "--out", run)
    assert code == 0, err
    code, _, err = cli(capsys, "sample", run, "--n", "4", "--class", "5", "--out", tmp_path / "five.npz")
    assert code == 0, err
    with np.load(tmp_path / "five.npz") as f:
        assert (f["labels"] == 5).all() and f["images"].shape == (4, 1, 28, 28)
    assert_user_error(cli(capsys, "sample", run, "--class", "4", "--out", tmp_path / "four.png"), "class 4")


# --- help and the entry point -----------------------------------------------------------------------

@pytest.mark.parametrize("command,flags", [
    ("train", ["--lr-g", "--lr-d", "--z-prior", "--minibatch-disc", "--config", "--max-steps", "--classes", "--betas"]),
    ("resume", ["--epochs", "--max-steps"]),
    ("sample", ["--n", "--class", "--seed", "--out"]),
    ("interpolate", ["--steps", "--rows", "--out"]),
    ("models", []),
    ("datasets", ["--data-dir"]),
])
def test_help(command, flags, capsys):
    with pytest.raises(SystemExit) as info:
        main([command, "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: gankit " + command)
    for flag in flags:
        assert flag in out


def test_models_command_in_a_subprocess():
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.run([sys.executable, "-m", "gankit", "models"], capture_output=True, text=True, env=env,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    listed = [line.split()[0] for line in proc.stdout.splitlines()]
    assert listed == MODELS.names()


def test_datasets_command(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    code, out, _ = cli(capsys, "datasets", "--data-dir", tmp_path / "d")
    assert code == 0
    lines = out.splitlines()
    digits = lines.index(next(l for l in lines if l.startswith("digits ")))
    assert "available" in lines[digits + 1] and "not offline" not in lines[digits + 1]
    mnist = lines.index(next(l for l in lines if l.startswith("mnist ")))
    assert "not offline" in lines[mnist + 1]


# --- one-line errors -------------------------------------------------------------------------------

def test_unknown_model(tmp_path, capsys):
    out = tmp_path / "X"
    assert_user_error(cli(capsys, "train", "--model", "nope", "--data", "digits", "--out", out, "-q"),
                      "unknown model 'nope'", "dcgan")
    assert not out.exists()


def test_unknown_data_set(tmp_path, capsys):
    out = tmp_path / "X"
    assert_user_error(cli(capsys, "train", "--model", "dcgan", "--data", "nope", "--out", out, "-q"),
                      "unknown data set 'nope'")
    assert not out.exists()  # bad data leaves nothing behind


@pytest.mark.parametrize("flag,value", [("--batch-size", "0"), ("--lr-g", "-1"), ("--lr-d", "abc"),
                                        ("--betas", "1.5,0.9"), ("--image-size", "30"), ("--z-prior", "cauchy"),
                                        ("--epochs", "2.5"), ("--optimizer", "lbfgs")])
def test_option_out_of_range(flag, value, tmp_path, capsys):
    assert_user_error(cli(capsys, "train", "--model", "dcgan", "--data", "digits", flag, value,
                          "--out", tmp_path / "X", "-q"), flag)
    assert not (tmp_path / "X").exists()


def test_batch_larger_than_data(tmp_path, capsys):
    assert_user_error(cli(capsys, "train", "--model", "dcgan", "--data", "digits", "--classes", "3",
                          "--batch-size", "500", "--out", tmp_path / "X", "-q"), "--batch-size")


def test_sample_without_checkpoint(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert_user_error(cli(capsys, "sample", tmp_path / "empty", "--out", tmp_path / "x.png"), "no checkpoint")
    assert_user_error(cli(capsys, "resume", tmp_path / "empty", "-q"), "no checkpoint")
    assert_user_error(cli(capsys, "interpolate", tmp_path / "empty", "--out", tmp_path / "x.png"), "no checkpoint")


def test_checkpoint_of_another_width(copy_run, tmp_path, capsys):
    state = load_ckpt(copy_run)
    state["config"]["ngf"] = 16
    torch.save(state, copy_run / "checkpoints" / "last.pt")
    assert_user_error(cli(capsys, "sample", copy_run, "--out", tmp_path / "x.png"), "does not fit")
    assert_user_error(cli(capsys, "resume", copy_run, "--epochs", "2", "-q"), "does not fit")


def test_truncated_checkpoint(copy_run, tmp_path, capsys):
    ckpt = copy_run / "checkpoints" / "last.pt"
    ckpt.write_bytes(ckpt.read_bytes()[: ckpt.stat().st_size // 2])
    assert_user_error(cli(capsys, "sample", copy_run, "--out", tmp_path / "x.png"), "corrupt or truncated")
    assert_user_error(cli(capsys, "resume", copy_run, "--epochs", "2", "-q"), "corrupt or truncated")


class RunsCode:
    """Unpickling this runs a shell command."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
@pytest.mark.parametrize("writer", ["pickle", "torch.save"])
def test_hostile_pickle_is_not_executed(writer, tmp_path, capsys):
    run, marker = tmp_path / "H", tmp_path / "MARKER"
    (run / "checkpoints").mkdir(parents=True)
    ckpt = run / "checkpoints" / "last.pt"
    if writer == "pickle":
        with ckpt.open("wb") as fh:
            pickle.dump(RunsCode(marker), fh)
    else:
        torch.save({"generator": RunsCode(marker), "format": 1}, ckpt)
    assert_user_error(cli(capsys, "sample", run, "--out", tmp_path / "x.png"), "not executed")
    assert_user_error(cli(capsys, "resume", run, "-q"), "not executed")
    assert not marker.exists()
    if writer == "pickle":  # the file really is hostile: an unsafe load runs the command
        with ckpt.open("rb") as fh:
            pickle.load(fh)
        assert marker.exists()


def test_not_a_gankit_checkpoint(tmp_path, capsys):
    (tmp_path / "N" / "checkpoints").mkdir(parents=True)
    torch.save({"weights": torch.zeros(3)}, tmp_path / "N" / "checkpoints" / "last.pt")
    assert_user_error(cli(capsys, "sample", tmp_path / "N", "--out", tmp_path / "x.png"), "not a gankit checkpoint")


def test_checkpoint_from_the_future(copy_run, tmp_path, capsys):
    state = load_ckpt(copy_run)
    state["format"] = 99
    torch.save(state, copy_run / "checkpoints" / "last.pt")
    assert_user_error(cli(capsys, "sample", copy_run, "--out", tmp_path / "x.png"), "newer gankit", "99")


def test_class_on_unconditional_model(dcgan_run, tmp_path, capsys):
    assert_user_error(cli(capsys, "sample", dcgan_run[0], "--class", "3", "--out", tmp_path / "x.png"), "unconditional")
    assert_user_error(cli(capsys, "interpolate", dcgan_run[0], "--class", "3", "--out", tmp_path / "x.png"),
                      "unconditional")
    assert not (tmp_path / "x.png").exists()


def test_unknown_class_of_conditional_run(cdcgan_run, tmp_path, capsys):
    assert_user_error(cli(capsys, "sample", cdcgan_run, "--class", "42", "--out", tmp_path / "x.png"), "class 42")


def test_bad_sample_arguments(dcgan_run, tmp_path, capsys):
    assert_user_error(cli(capsys, "sample", dcgan_run[0], "--out", tmp_path / "x.jpg"), ".png", ".npz")
    assert_user_error(cli(capsys, "sample", dcgan_run[0], "--n", "0", "--out", tmp_path / "x.png"), "--n")
    assert_user_error(cli(capsys, "interpolate", dcgan_run[0], "--steps", "1", "--out", tmp_path / "x.png"), "--steps")


def test_train_into_an_existing_run(dcgan_run, capsys):
    run = dcgan_run[0]
    before = (run / "checkpoints" / "last.pt").read_bytes()
    assert_user_error(cli(capsys, "train", "--model", "dcgan", "--data", "digits", *TINY, "--out", run),
                      "already holds a run", "resume")
    assert (run / "checkpoints" / "last.pt").read_bytes() == before


def test_empty_checkpoint(copy_run, tmp_path, capsys):
    """A zero-byte last.pt (a full disk, an interrupted copy) is a one-line error too."""
    (copy_run / "checkpoints" / "last.pt").write_bytes(b"")
    assert_user_error(cli(capsys, "sample", copy_run, "--out", tmp_path / "x.png"), "corrupt or truncated")


def test_checkpoint_missing_entries(tmp_path, capsys):
    """A file with the format and generator entries but no config (another tool's, or an older
    layout) is refused with one line, not a KeyError traceback."""
    (tmp_path / "K" / "checkpoints").mkdir(parents=True)
    torch.save({"format": 1, "generator": {}}, tmp_path / "K" / "checkpoints" / "last.pt")
    assert_user_error(cli(capsys, "sample", tmp_path / "K", "--out", tmp_path / "x.png"), "checkpoint")
    assert_user_error(cli(capsys, "resume", tmp_path / "K", "-q"), "checkpoint")


def test_interpolate_npz(dcgan_run, tmp_path, capsys):
    code, _, err = cli(capsys, "interpolate", dcgan_run[0], "--steps", "3", "--rows", "2", "--out", tmp_path / "i.npz")
    assert code == 0, err
    with np.load(tmp_path / "i.npz") as f:
        assert f["images"].shape == (6, 1, 32, 32) and f["images"].dtype == np.uint8
        # Same convention as `sample`: -1 (no label) for an unconditional model, never a
        # wrapped-around 255 that reads as a class.
        assert f["labels"].tolist() == [-1] * 6


def test_interpolate_npz_of_a_class(cdcgan_run, tmp_path, capsys):
    code, _, err = cli(capsys, "interpolate", cdcgan_run, "--steps", "3", "--rows", "2", "--class", "3",
                       "--out", tmp_path / "i.npz")
    assert code == 0, err
    with np.load(tmp_path / "i.npz") as f:
        assert f["images"].shape == (6, 1, 32, 32)
        assert f["labels"].tolist() == [3] * 6  # every strip is of the requested class


def test_non_finite_loss_stops_with_one_line(tmp_path, capsys):
    run = tmp_path / "NaN"
    result = cli(capsys, "train", "--model", "gan", "--data", "digits", "--optimizer", "sgd", "--lr-g", "1e20",
                 "--lr-d", "1e20", "--max-steps", "20", "--log-every", "1", *TINY, "--out", run)
    assert_user_error(result, "became", "--lr-d")
    assert not (run / "checkpoints" / "last.pt").exists()  # no bad state saved


def test_flags_of_the_other_options(tmp_path, capsys):
    run = tmp_path / "O"
    code, _, err = cli(capsys, "train", "--model", "dcgan", "--data", "digits", "--minibatch-disc", "--loss", "hinge",
                       "--g-loss", "saturating", "--optimizer", "rmsprop", "--z-dim", "10", "--classes", "0,1",
                       "--batch-size", "16", "--max-steps", "2", *TINY, "--out", run)
    assert code == 0, err
    cfg = json.loads((run / "config.json").read_text())["config"]
    assert (cfg["minibatch_disc"], cfg["loss"], cfg["g_loss"], cfg["optimizer"], cfg["z_dim"], cfg["classes"]) == \
        (True, "hinge", "saturating", "rmsprop", 10, [0, 1])
    assert json.loads((run / "config.json").read_text())["data"]["class_ids"] == [0, 1]


def test_progress_bar_run(tmp_path, capsys):
    run = tmp_path / "B"
    code, out, err = cli(capsys, "train", "--model", "gan", "--data", "digits", "--max-steps", "3", "--log-every", "1",
                         "--ngf", "8", "--ndf", "8", "--out", run)
    assert code == 0, err
    assert out.strip() == str(run)
    assert "epoch 1" in err  # the bar goes to stderr; stdout stays the run directory


def test_folder_data_end_to_end(tmp_path, capsys):
    for cls, value in (("a", 40), ("b", 200)):
        for i in range(4):
            (tmp_path / "imgs" / cls).mkdir(parents=True, exist_ok=True)
            Image.new("L", (20, 20), value + i).save(tmp_path / "imgs" / cls / f"{i}.png")
    run = tmp_path / "F"
    code, _, err = cli(capsys, "train", "--model", "cdcgan", "--data", f"folder:{tmp_path / 'imgs'}", "--image-size", "16",
                       "--batch-size", "4", "--epochs", "1", "--n-fixed", "1", *TINY, "--out", run)
    assert code == 0, err
    info = json.loads((run / "config.json").read_text())["data"]
    # one image of each class is held out as the test split (--holdout 0.1, at least one per class)
    assert (info["num_images"], info["shape"], info["class_names"]) == (6, [1, 16, 16], ["a", "b"])
    assert load_ckpt(run)["step"] == 1


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is visible")
def test_cuda_without_gpu(tmp_path, capsys):
    assert_user_error(cli(capsys, "train", "--model", "dcgan", "--data", "digits", "--device", "cuda",
                          "--out", tmp_path / "X", "-q"), "--device cpu")


def test_sigterm_saves_a_checkpoint(tmp_path):
    run = tmp_path / "SIG"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-m", "gankit", "train", "--model", "dcgan", "--data", "digits",
                             "--epochs", "50", "--log-every", "1", *TINY, "--out", str(run)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        deadline = time.monotonic() + 90
        while not ((run / "metrics.jsonl").exists() and (run / "metrics.jsonl").read_text().strip()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "no metrics row within 90 s"
            time.sleep(0.05)
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, err
    assert "SIGTERM" in err and f"gankit resume {run}" in err and "Traceback" not in err
    assert out.strip() == str(run)
    state = load_ckpt(run)
    assert 0 < state["step"] < 50 * STEPS_PER_EPOCH
    assert read_metrics(run)[-1]["step"] == state["step"]


def test_train_dry_run_prints_the_resolved_config_and_writes_nothing(tmp_path, capsys):
    toml = tmp_path / "c.toml"
    toml.write_text("lr_d = 1e-4\n")
    code = main(["train", "--model", "cdcgan", "--config", str(toml), "--lr-g", "1e-3", "--out", str(tmp_path / "r"),
                 "--dry-run"])
    rows = {line.split()[0]: line.split()[1:] for line in capsys.readouterr().out.splitlines()}
    assert code == 0 and not (tmp_path / "r").exists()
    assert rows["lr_g"] == ["0.001", "flag"] and rows["lr_d"] == ["0.0001", "TOML"]
    assert rows["ngf"] == ["128", "preset"] and rows["z_dim"] == ["100", "fallback"] and rows["seed"] == ["0", "default"]


def test_help_shows_each_fields_fallback(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "(default: the model's preset, else 100)" in " ".join(capsys.readouterr().out.split())


def test_the_cli_and_the_api_share_their_defaults():
    """One table (gankit.defaults): a flag left out means what the API's keyword default means."""
    import inspect

    from gankit.cli import build_parser
    from gankit.metrics.augmentation import augment
    from gankit.metrics.evaluate import evaluate
    from gankit.sampling import Run, load

    def api(fn):
        return {k: p.default for k, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}

    parser = build_parser()
    ev = parser.parse_args(["eval", "r"])
    assert (tuple(ev.metrics.split(",")), ev.n, ev.reference, ev.seed) == \
        tuple(api(evaluate)[k] for k in ("metrics", "n", "reference", "seed"))
    sample, strip = parser.parse_args(["sample", "r", "--out", "x.png"]), parser.parse_args(["interpolate", "r", "--out", "x.png"])
    assert (sample.n, sample.seed) == (api(Run.sample)["n"], api(Run.sample)["seed"])
    assert (strip.steps, strip.rows) == (api(Run.interpolate)["steps"], api(Run.interpolate)["rows"])
    assert (sample.device, sample.checkpoint) == (api(load)["device"], api(load)["checkpoint"])
    assert tuple(parser.parse_args(["augment", "r"]).ratios) == api(augment)["ratios"]
    assert tuple(parser.parse_args(["augment", "r"]).conditions) == api(augment)["groups"]
