"""Fault injection: hard kills, signals, a full disk, bad data, bad files, numerical blow-ups and
fuzzed configs. Each test injects the fault and checks that nothing is lost: the last complete
checkpoint loads, the run resumes, and the user reads one line, never a traceback."""
from __future__ import annotations

import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import gankit
from gankit import Config, GankitError
from gankit.cli import main
from gankit.training import hooks as H
from gankit.training.checkpoint import read_checkpoint
from gankit.training.loop import NonFiniteLoss

TINY = ["--model", "dcgan", "--data", "digits", "--ngf", "8", "--ndf", "8", "--batch-size", "16", "-q"]


def steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def gankit_process(*args: str, **popen) -> subprocess.Popen:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-m", "gankit", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env, **popen)


def wait_for_rows(run: Path, proc: subprocess.Popen, rows: int, timeout: float = 90) -> None:
    """Until metrics.jsonl has ``rows`` more lines than now (the run is training)."""
    start = len(steps(run)) if (run / "metrics.jsonl").exists() else 0
    deadline = time.monotonic() + timeout
    while not ((run / "metrics.jsonl").exists() and len(steps(run)) >= start + rows):
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no progress"
        time.sleep(0.02)


def wait_for_checkpoint(run: Path, proc: subprocess.Popen, timeout: float = 90) -> None:
    """Until ``checkpoints/last.pt`` exists (its atomic rename has happened)."""
    deadline = time.monotonic() + timeout
    while not (run / "checkpoints" / "last.pt").exists():
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no checkpoint"
        time.sleep(0.02)


def temporaries(run: Path) -> list[Path]:
    """Half-written files of atomic writes (``.NAME.XXXX.tmp``)."""
    return list(run.rglob(".*.tmp"))


# --- 1. hard kills -----------------------------------------------------------------------------

def kill_inside_a_checkpoint_write(run: Path, proc: subprocess.Popen, timeout: float = 20) -> None:
    """SIGKILL as soon as a temporary checkpoint file exists (a write under way), or at the timeout."""
    deadline = time.monotonic() + timeout
    while not list((run / "checkpoints").glob(".last.pt.*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.0005)
    proc.kill()


def test_sigkill_at_twenty_random_moments_never_tears_a_checkpoint_or_the_log(tmp_path):
    """SIGKILL 20 times — at random moments, and every third time as soon as a checkpoint write
    has begun — in a run that checkpoints every step; after each, the checkpoint loads and the
    run resumes; at the end the metrics log has every step exactly once."""
    rng = random.Random(8)
    run = tmp_path / "run"
    # A wide D makes each checkpoint (weights + Adam moments) ~30 MB: a write takes a while.
    args = [*TINY, "--ndf", "128", "--epochs", "1000", "--log-every", "1", "--checkpoint-every", "1"]
    mid_write = 0
    for trial in range(20):
        proc = gankit_process(*(["train", *args, "--out", str(run)] if trial == 0 else ["resume", str(run), "-q"]))
        try:
            wait_for_rows(run, proc, 1)
            if trial == 0:  # a run killed before its first save has nothing to resume: let it make one
                wait_for_checkpoint(run, proc)
            if trial % 3 == 2:
                kill_inside_a_checkpoint_write(run, proc)
            else:
                time.sleep(rng.uniform(0, 0.6))
                proc.kill()
            proc.wait(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
        mid_write += bool(list((run / "checkpoints").glob(".last.pt.*.tmp")))
        state = read_checkpoint(run)  # never torn: loads completely
        assert state["step"] >= 1 and steps(run)[-1] >= state["step"]
    final = read_checkpoint(run)["step"] + 3
    gankit.resume(run, max_steps=final)
    assert steps(run) == list(range(1, final + 1))  # no step duplicated or missing
    assert temporaries(run) == []  # resume cleared what the kills left behind
    print(f"kills inside a checkpoint write: {mid_write}/20")
    assert mid_write >= 3


# --- 2. SIGINT and SIGTERM -----------------------------------------------------------------------

@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_saves_a_checkpoint_and_the_run_continues(sig, code, tmp_path):
    run = tmp_path / "run"
    proc = gankit_process("train", *TINY, "--epochs", "1000", "--log-every", "1", "--out", str(run))
    wait_for_rows(run, proc, 3)
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == code and f"stopped by {sig.name}; checkpoint saved" in err and "Traceback" not in err
    stopped_at = read_checkpoint(run)["step"]
    assert steps(run)[-1] == stopped_at
    gankit.resume(run, max_steps=stopped_at + 2)
    assert steps(run) == list(range(1, stopped_at + 3))


# --- 3. a full disk ----------------------------------------------------------------------------

@pytest.fixture
def tiny_disk(tmp_path):
    """A 3 MB tmpfs; skipped where mounting is not allowed (no root or no CAP_SYS_ADMIN)."""
    mount = tmp_path / "disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(mount)], capture_output=True)
    if made.returncode:
        pytest.skip(f"cannot mount a tmpfs here ({made.stderr.decode().strip() or 'not permitted'})")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_full_disk_gives_one_line_and_keeps_the_previous_checkpoint(tiny_disk, capsys):
    """The run fills a 3 MB disk with sample grids and checkpoints until a write fails."""
    run = tiny_disk / "run"
    code = main(["train", *TINY, "--ndf", "32", "--epochs", "1000", "--max-steps", "100000", "--log-every", "5",
                 "--checkpoint-every", "5", "--out", str(run)])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "No space left on device" in err
    assert "is intact" in err and f"gankit resume {run}" in err
    state = read_checkpoint(run)  # the previous checkpoint, complete
    assert state["step"] >= 5 and temporaries(run) == []
    shutil.move(str(run), str(tiny_disk.parent / "moved"))  # "free disk space": move it somewhere roomier
    gankit.resume(tiny_disk.parent / "moved", max_steps=state["step"] + 5)


def test_a_file_size_limit_is_a_full_disk_too(tmp_path):
    """Without a mount: RLIMIT_FSIZE makes writes past 2 MB fail (EFBIG), as a full disk would."""
    run = tmp_path / "run"

    def limit():
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a failed write, not a killed process
        resource.setrlimit(resource.RLIMIT_FSIZE, (2 * 2**20, 2 * 2**20))

    proc = gankit_process("train", *TINY, "--ndf", "128", "--max-steps", "20", "--log-every", "5", "--out", str(run),
                          preexec_fn=limit)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 2 and "Traceback" not in err, err
    assert "could not write checkpoint" in err and "File too large" in err and "free disk space" in err
    assert "no checkpoint had been saved yet" in err and temporaries(run) == []


# --- 4. bad data -------------------------------------------------------------------------------

def make_messy_folder(root: Path) -> dict[str, int]:
    """A folder data set with every kind of trouble; returns how many files of each kind."""
    rng = np.random.default_rng(0)
    root.mkdir()

    def noise(shape, dtype=np.uint8, high=256):
        return rng.integers(0, high, shape).astype(dtype)

    for i in range(6):
        Image.fromarray(noise((40, 40, 3))).save(root / f"rgb{i}.png")
    Image.fromarray(noise((40, 40))).save(root / "grey.png")
    Image.fromarray(noise((40, 40, 4))).save(root / "rgba.png")
    Image.fromarray(noise((40, 40), np.uint16, 65536)).save(root / "sixteen-bit.png")
    Image.fromarray(noise((1, 1, 3))).save(root / "tiny.png")
    Image.fromarray(noise((30, 90, 3))).save(root / "wide.jpg")
    Image.fromarray(noise((40, 40), np.uint8)).convert("P").save(root / "palette.gif")
    good = (root / "rgb0.png").read_bytes()
    (root / "truncated.png").write_bytes(good[: len(good) // 2])
    (root / "corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0" + os.urandom(500))
    (root / "empty.png").write_bytes(b"")
    (root / "text.png").write_text("not an image at all")
    (root / "notes.txt").write_text("a README among the images")
    (root / "labels.csv").write_text("a,b\n1,2\n")
    # A decompression bomb: small on disk, 20,000 × 20,000 pixels (400 M) when decoded.
    Image.new("L", (20_000, 20_000)).save(root / "huge.png", optimize=True)
    return dict(loadable=12, unreadable=5, non_image=2)


def test_a_messy_folder_loads_what_it_can_and_counts_the_rest(tmp_path, caplog):
    from gankit.data import load_data

    kinds = make_messy_folder(tmp_path / "messy")
    with caplog.at_level("WARNING"):
        data = load_data(f"folder:{tmp_path / 'messy'}", image_size=16, holdout=0)  # every image decoded
    assert len(data) == kinds["loadable"] and data.images.shape[1:] == (3, 16, 16)
    assert data.images.dtype == torch.uint8
    warnings = " ".join(r.getMessage() for r in caplog.records)
    assert f"skipped {kinds['unreadable']} unreadable image(s)" in warnings
    assert f"ignored {kinds['non_image']} non-image file(s)" in warnings


def test_a_messy_folder_with_stop_names_the_first_bad_file(tmp_path, capsys):
    make_messy_folder(tmp_path / "messy")
    code = main(["train", "--model", "dcgan", "--data", f"folder:{tmp_path / 'messy'}", "--image-size", "16",
                 "--on-bad-image", "stop", "--out", str(tmp_path / "run"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "unreadable image" in err and str(tmp_path / "messy") in err
    assert not (tmp_path / "run").exists()  # bad data leaves nothing behind


def test_a_messy_folder_trains(tmp_path, capsys):
    make_messy_folder(tmp_path / "messy")
    assert main(["train", "--model", "dcgan", "--data", f"folder:{tmp_path / 'messy'}", "--image-size", "16",
                 "--batch-size", "4", "--ngf", "4", "--ndf", "4", "--max-steps", "3", "--out", str(tmp_path / "run"),
                 "-q"]) == 0
    assert read_checkpoint(tmp_path / "run")["step"] == 3


def test_an_empty_folder_and_one_of_only_bad_files(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_bytes(b"junk")
    for folder, message in ((tmp_path / "empty", "no images"), (bad, "no readable images among 1 files")):
        assert main(["train", "--data", f"folder:{folder}", "--out", str(tmp_path / "run"), "-q"]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1


# --- 5. bad files ------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run = tmp_path_factory.mktemp("faults") / "run"
    gankit.train(Config(model="dcgan", data="digits", ngf=8, ndf=8, batch_size=16, max_steps=2, out=str(run)))
    return run


class RunsCode:
    """Unpickling this calls os.system: a checkpoint crafted to run code."""

    def __reduce__(self):
        return (os.system, ("touch HACKED",))


def corrupt(path: Path, how: str, run: Path) -> None:
    data = path.read_bytes()
    if how == "truncated":
        path.write_bytes(data[: len(data) // 3])
    elif how == "flipped bytes":
        middle = len(data) // 2
        path.write_bytes(data[:middle] + bytes(b ^ 0xFF for b in data[middle:middle + 4096]) + data[middle + 4096:])
    elif how == "empty":
        path.write_bytes(b"")
    elif how == "future version":
        state = torch.load(path, weights_only=True)
        torch.save({**state, "format": 99}, path)
    elif how == "code-running pickle":
        torch.save({"model": RunsCode()}, path)
    elif how == "another model":
        other = run.parent / "other"
        gankit.train(Config(model="wgan-gp", data="digits", ngf=16, ndf=8, batch_size=16, max_steps=1, out=str(other)))
        shutil.copy(other / "checkpoints" / "last.pt", path)


@pytest.mark.parametrize("how, message", [
    ("truncated", "is corrupt or truncated"),
    ("flipped bytes", "fails its checksum"),
    ("empty", "is corrupt or truncated"),
    ("future version", "written by a newer gankit"),
    ("code-running pickle", "it was not executed"),
    ("another model", "does not fit this model"),
])
def test_a_bad_checkpoint_is_one_line(how, message, finished_run, tmp_path, capsys, monkeypatch):
    run = tmp_path / "run"
    shutil.copytree(finished_run, run)
    monkeypatch.chdir(tmp_path)
    if how == "another model":  # keep the config of the original run: the weights are the wrong ones
        monkeypatch.setattr("gankit.training.runner.read_checkpoint",
                            lambda path: {**read_checkpoint(path), "config": read_checkpoint(finished_run)["config"]})
    corrupt(run / "checkpoints" / "last.pt", how, run)
    assert main(["resume", str(run), "--max-steps", "4", "-q"]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    assert not (tmp_path / "HACKED").exists()
    if how != "another model":  # (a whole checkpoint of another model samples as that model)
        assert main(["sample", str(run), "--out", str(tmp_path / "s.png")]) == 2


# --- 6. numerical faults -----------------------------------------------------------------------

class Inject(H.Hook):
    """At the log window of ``step``, apply ``fault`` to the trainer."""

    def __init__(self, step: int, fault):
        self.step, self.fault = step, fault

    def on_log(self, trainer, row):
        if trainer.step == self.step:
            self.fault(trainer)


def nan_weight(trainer):
    with torch.no_grad():
        next(trainer.D.parameters()).view(-1)[0] = float("nan")


def nan_batch(trainer):
    real_input = trainer.to_model_input

    def poisoned(x):
        out = real_input(x).clone()
        out.view(-1)[0] = float("nan")
        return out

    trainer.to_model_input = poisoned


@pytest.mark.parametrize("fault", [nan_weight, nan_batch])
def test_a_nan_stops_the_run_naming_the_step_and_keeps_the_last_good_checkpoint(fault, tmp_path):
    from gankit.training.runner import train

    cfg = Config(model="dcgan", data="digits", ngf=8, ndf=8, batch_size=16, epochs=5, log_every=2,
                 checkpoint_every=4, out=str(tmp_path / "run"))
    with pytest.raises(NonFiniteLoss, match=r"at step 9 \(epoch 1\).*last good checkpoint is kept"):
        train(cfg, hooks=[Inject(8, fault)])
    state = read_checkpoint(tmp_path / "run")
    assert state["step"] == 8 and all(v.isfinite().all() for v in state["discriminator"].values()
                                      if v.is_floating_point())
    assert steps(tmp_path / "run") == [2, 4, 6, 8]


@pytest.mark.parametrize("model", ["dcgan", "gan", "wgan-gp"])
def test_an_absurd_learning_rate_stops_with_one_line(model, tmp_path, capsys):
    code = main(["train", "--model", model, "--data", "digits", "--ngf", "8", "--ndf", "8", "--batch-size", "16",
                 "--lr-d", "1e12", "--lr-g", "1e12", "--max-steps", "200", "--log-every", "2", "--out",
                 str(tmp_path / "run"), "-q"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1, err
    assert ("at step" in err or "in steps" in err) and "became" in err and "last good checkpoint is kept" in err


# --- 7. config fuzzing -------------------------------------------------------------------------

from dataclasses import fields  # noqa: E402

from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from gankit.cli import build_parser  # noqa: E402
from gankit.cli.commands import config_from_args  # noqa: E402
from gankit.models import MODELS  # noqa: E402
from gankit.training.runner import prepare  # noqa: E402

FUZZED = {f.name: f for f in fields(Config) if f.name not in ("out", "data_dir", "device")}
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-10**15, 10**15), st.floats(allow_nan=True, allow_infinity=True),
                 st.text(max_size=10), st.lists(st.one_of(st.integers(-3, 300), st.text(max_size=3)), max_size=4),
                 st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))


def plausible(name: str):
    """Values near the valid range of field ``name`` (small, so valid ones build quickly)."""
    meta = FUZZED[name].metadata
    if "choices" in meta:
        return st.sampled_from(meta["choices"])
    kind = str(FUZZED[name].type)
    if "list[int]" in kind:
        return st.lists(st.integers(-2, 12), max_size=3)
    if "tuple" in kind:
        return st.tuples(st.floats(-0.5, 1.5), st.floats(-0.5, 1.5))
    if kind == "bool":
        return st.booleans()
    if "float" in kind:
        return st.floats(-1e-3, 1.0) | st.sampled_from([0.0, -1.0, float("nan"), float("inf"), 1e300])
    if "int" in kind:
        return st.integers(-2, 24)
    return st.text(max_size=8)


def mostly(good, bad, one_in: int = 10):
    """``good`` values, and ``bad`` ones about once in ``one_in`` draws (so most examples get
    past parsing and combinations reach the data and the networks)."""
    return st.integers(1, one_in).flatmap(lambda k: bad if k == 1 else good)


CONFIGS = st.fixed_dictionaries(
    {"model": mostly(st.sampled_from(list(MODELS.names())), st.text(max_size=6)),
     "data": st.sampled_from(["digits", "ring8", "grid25", "nope", "folder:/nonexistent", ""])},
    optional={name: mostly(plausible(name), JUNK, 20) for name in FUZZED if name not in ("model", "data")})


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(values=CONFIGS)
def test_fuzzed_configs_are_valid_or_one_line_errors(values):
    """Everything train does before its first step — parse, fill presets, check ranges, load the
    data, check metrics, build the networks — either works or raises one GankitError line."""
    try:
        cfg = Config.from_dict(values, "fuzz").resolved()
        prepare(cfg)
    except GankitError as err:
        assert str(err) and "\n" not in str(err)


FLAGS = ["--" + name.replace("_", "-") for name in FUZZED]


@settings(max_examples=250, deadline=None, suppress_health_check=list(HealthCheck))
@given(pairs=st.lists(st.tuples(st.sampled_from(FLAGS), st.text(st.characters(blacklist_categories=["Cs"]), max_size=12)
                                .filter(lambda v: not v.startswith("-") and "\x00" not in v)), max_size=5))
def test_fuzzed_command_lines_are_valid_or_one_line_errors(pairs):
    """Random strings for the flags of ``gankit train`` go through the same parsing and checks."""
    argv = ["train"] + [part for flag, value in pairs for part in (flag, value)]
    try:
        Config.resolved(config_from_args(build_parser().parse_args(argv)))
    except GankitError as err:
        assert str(err) and "\n" not in str(err)
