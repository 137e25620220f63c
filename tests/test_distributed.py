"""DDP on the CPU: 2 processes with the gloo backend, launched by torchrun and `--nproc`."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from torch import nn

import gankit
from gankit.cli import main
from gankit.training.checkpoint import read_checkpoint
from gankit.training.distributed import CrossRankBatchNorm2d, convert_cross_rank_bn
from gankit.training.launch import strip_nproc

sys.path.insert(0, str(Path(__file__).parent))
from distributed_worker import CONFIGS, config  # noqa: E402

TINY = ["--model", "dcgan", "--data", "digits", "--ngf", "8", "--ndf", "8", "--batch-size", "8", "-q"]
EXPECTED_FILES = {"checkpoints", "config.json", "losses.png", "metrics.jsonl", "samples"}


def gankit_cli(*args: str, **popen) -> subprocess.Popen:
    """``python -m gankit ARGS`` in a new session (so a test can signal the whole job)."""
    return subprocess.Popen([sys.executable, "-m", "gankit", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True, **popen)


def steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def relative_difference(a: dict, b: dict) -> float:
    """Largest |a − b| / max|b| over the floating tensors of two state dicts."""
    return max(((a[k] - b[k]).abs().max() / b[k].abs().max().clamp_min(1e-12)).item()
               for k in b if b[k].is_floating_point())


@pytest.fixture(scope="module")
def two_rank_runs(tmp_path_factory):
    """Every config of distributed_worker.CONFIGS trained by torchrun with 2 processes."""
    root = tmp_path_factory.mktemp("ddp")
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2",
                           str(Path(__file__).parent / "distributed_worker.py"), str(root)],
                          capture_output=True, text=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 0, done.stderr[-2000:]
    return root


@pytest.mark.parametrize("name", list(CONFIGS))
def test_two_processes_give_the_weights_of_one_with_twice_the_batch(name, two_rank_runs, tmp_path):
    """World 2 × batch B = one process × batch 2B: the same data, noise, gradient penalty,
    clipping and (with --sync-bn) batch-norm statistics, so the same weights (float64)."""
    torch.set_default_dtype(torch.float64)
    try:
        gankit.train(config(name, str(tmp_path / "one"), 2 * CONFIGS[name][1]))
    finally:
        torch.set_default_dtype(torch.float32)
    two, one = read_checkpoint(two_rank_runs / name), read_checkpoint(tmp_path / "one")
    assert two["world_size"] == 2 and one["world_size"] == 1 and two["step"] == one["step"] == 6
    for net in ("generator", "discriminator"):
        assert relative_difference(two[net], one[net]) < 1e-9, net
    # Only rank 0 wrote: the standard files, one metrics row per window.
    assert {p.name for p in (two_rank_runs / name).iterdir()} == EXPECTED_FILES
    assert steps(two_rank_runs / name) == [3, 6]


def test_without_sync_bn_the_batch_statistics_are_each_ranks_own(two_rank_runs, tmp_path):
    """The control: a batch-normed model trained with per-rank statistics is not the 2B run."""
    torch.set_default_dtype(torch.float64)
    try:
        gankit.train(config("dcgan-sync-bn", str(tmp_path / "one"), 16))
    finally:
        torch.set_default_dtype(torch.float32)
    separate = read_checkpoint(two_rank_runs / "dcgan-per-rank-bn")["discriminator"]
    assert relative_difference(separate, read_checkpoint(tmp_path / "one")["discriminator"]) > 1e-4


def test_cross_rank_batch_norm_is_batch_norm_outside_a_job():
    """Without a process group it is BatchNorm2d, with BatchNorm2d's state dict."""
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 4, 3), nn.BatchNorm2d(4), nn.Sequential(nn.BatchNorm2d(4)))
    reference = [m.state_dict() for m in net]
    x = torch.randn(6, 1, 8, 8)
    expected = net(x)
    net.load_state_dict({f"{i}.{k}": v for i, sd in enumerate(reference) for k, v in sd.items()})
    synced = convert_cross_rank_bn(net)
    assert isinstance(synced[1], CrossRankBatchNorm2d) and isinstance(synced[2][0], CrossRankBatchNorm2d)
    assert set(synced.state_dict()) == {f"{i}.{k}" for i, sd in enumerate(reference) for k in sd}
    assert torch.allclose(synced(x), expected)


def test_nproc_trains_writes_once_and_resumes_with_other_world_sizes(tmp_path):
    """`gankit train --nproc 2`: one run directory, rank 0's output only; then resume with 1
    process and again with 2 — the steps continue without gaps or duplicates."""
    run = tmp_path / "run"
    job = gankit_cli("train", "--nproc", "2", *TINY, "--max-steps", "8", "--log-every", "4", "--out", str(run),
                     cwd=tmp_path)
    out, err = job.communicate(timeout=180)
    assert job.returncode == 0, err
    assert out.strip() == str(run) and "Traceback" not in err and err.count("checkpoint:") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run"]  # nothing else written anywhere
    assert {p.name for p in run.iterdir()} == EXPECTED_FILES and steps(run) == [4, 8]
    state = read_checkpoint(run)
    assert state["world_size"] == 2 and state["batch"] == 8  # 8 global batches of 2 × 8 images

    gankit.resume(run, max_steps=12)  # one process: batch 8 -> the same 128 images used
    state = read_checkpoint(run)
    assert state["world_size"] == 1 and state["batch"] == 16 + 4 and steps(run) == [4, 8, 12]

    job = gankit_cli("resume", str(run), "--nproc", "2", "--max-steps", "16", "-q", cwd=tmp_path)
    out, err = job.communicate(timeout=180)
    assert job.returncode == 0, err
    state = read_checkpoint(run)
    assert state["world_size"] == 2 and state["batch"] == 10 + 4 and steps(run) == [4, 8, 12, 16]


def rank_pids(launcher: subprocess.Popen, timeout: float = 60) -> dict[int, int]:
    """RANK -> pid of the launcher's worker processes."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        pids = {}
        for child in Path(f"/proc/{launcher.pid}/task/{launcher.pid}/children").read_text().split():
            try:  # a short-lived helper child (the launcher's startup) may exit between listing and reading
                env = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
            except (ProcessLookupError, FileNotFoundError):
                continue
            rank = next((int(v[5:]) for v in env if v.startswith(b"RANK=")), None)
            if rank is not None:
                pids[rank] = int(child)
        if len(pids) == 2:
            return pids
        time.sleep(0.2)
    raise AssertionError("the launcher did not start 2 ranks")


def wait_for_checkpoint(run: Path, job: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while not (run / "checkpoints" / "last.pt").exists():
        assert job.poll() is None and time.time() < deadline, job.stderr.read() if job.poll() is not None else "slow"
        time.sleep(0.2)
    time.sleep(1.0)  # a few more steps


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the ranks through /proc (Linux)")
def test_killing_one_rank_ends_the_job_with_a_clear_message_and_an_intact_checkpoint(tmp_path):
    run = tmp_path / "run"
    job = gankit_cli("train", "--nproc", "2", *TINY, "--epochs", "1000", "--log-every", "2", "--checkpoint-every",
                     "4", "--out", str(run))
    pids = rank_pids(job)
    wait_for_checkpoint(run, job)
    os.kill(pids[1], signal.SIGKILL)
    out, err = job.communicate(timeout=120)
    assert job.returncode == 1
    assert "rank 1" in err and "was killed by SIGKILL" in err and "Traceback" not in err
    assert "lost contact with another process of the job" in err  # rank 0's own line
    state = read_checkpoint(run)  # complete, loadable
    assert steps(run)[-1] >= state["step"] >= 4
    gankit.resume(run, max_steps=state["step"] + 2)  # truncates rows logged after the checkpoint
    assert steps(run) == list(range(2, state["step"] + 3, 2))


@pytest.mark.skipif(not Path("/proc/self/task").exists(), reason="finds the ranks through /proc (Linux)")
def test_ctrl_c_stops_every_rank_at_the_same_step_with_a_checkpoint(tmp_path):
    run = tmp_path / "run"
    job = gankit_cli("train", "--nproc", "2", *TINY, "--epochs", "1000", "--log-every", "2", "--out", str(run),
                     "--checkpoint-every", "4")
    try:
        rank_pids(job)
        wait_for_checkpoint(run, job)
    except BaseException:  # a 1,000-epoch job left running would slow every later test
        os.killpg(job.pid, signal.SIGKILL)
        raise
    os.killpg(job.pid, signal.SIGINT)  # what Ctrl-C in the terminal does
    out, err = job.communicate(timeout=120)
    assert job.returncode == 130, err
    assert "stopped by SIGINT; checkpoint saved" in err and "--nproc 2" in err and "Traceback" not in err
    state = read_checkpoint(run)
    assert state["step"] == steps(run)[-1] and state["step"] % 2 == 0  # the ranks agreed at a log window


def test_nproc_flag_checks_and_strip():
    assert strip_nproc(["train", "--nproc", "2", "--model", "gan", "--nproc=3", "-q"]) == ["train", "--model", "gan", "-q"]
    assert main(["train", "--nproc", "0"]) == 2
