"""``--precision bf16``: every model trains under bfloat16 autocast with losses close to fp32's
and finite gradients, yet not identical (autocast is really on); weights, optimizer state and
checkpoints stay fp32; a bf16 run resumes exactly; other precisions are one-line errors."""
from __future__ import annotations

import dataclasses
import json
import logging

import pytest
import torch

import gankit
from gankit import Config, GankitError
from gankit.cli import main
from gankit.data import load_run_data
from gankit.losses import gradient_penalty
from gankit.models import MODELS
from gankit.training.checkpoint import read_checkpoint
from gankit.training.runner import resume
from gankit.training.trainer import GANTrainer

TINY = dict(ngf=8, ndf=8, batch_size=16, device="cpu")
STEPS = 50
# Mean |loss_bf16 − loss_fp32| over the steps may be RTOL of the fp32 loss's scale (the larger of its
# mean size and its range over the run, as the Wasserstein losses start near 0) plus ATOL. bf16 keeps
# 8 significant bits (≈ 0.4 % per rounding) and two seeded runs drift apart a little more each step:
# after 50 steps the models sat at 0.02 of their scale or less, except WGAN's loss_g. Its clipped
# critic scores only ≈ 1e-4, a difference of terms ~100 times larger, so at bf16's resolution of those
# terms; even fp32 with NCHW instead of NHWC convolutions drifts 0.12 of its scale from the reference
# (bf16: 0.17, i.e. 8e-5). ATOL is that floor, far below every other loss (≥ 0.004 here).
RTOL, ATOL = 0.1, 1e-4


def data_for(name: str) -> dict:
    """The always-available data each model fits: digits images (28 px for the MLP GANs, whose
    native size it is), or the 2-D ring for the toy MLP."""
    if MODELS[name].data_kind == "points":
        return dict(data="ring8")
    return dict(data="digits", image_size=28 if name in ("gan", "cgan") else 32)


# dcgan-plus is dcgan's networks at 10× the learning rate: there two trajectories that start one
# rounding apart separate within these steps however exact bf16 is, so its numerics are compared
# at dcgan's rate (its EMA stays on).
SAME_RATE = {"dcgan-plus": dict(lr_g=2e-4, lr_d=2e-4)}


def seeded_steps(name: str, precision: str, steps: int = STEPS) -> tuple[torch.Tensor, GANTrainer]:
    """(steps, len(stat_names)) statistics of ``steps`` seeded training steps, and the trainer."""
    cfg = Config(model=name, precision=precision, **TINY, **data_for(name), **SAME_RATE.get(name, {})).resolved()
    trainer = GANTrainer(cfg, load_run_data(cfg), torch.device("cpu"))
    stats, batches = [], trainer.epoch_batches()
    while len(stats) < steps:
        for group in batches:
            stats.append(trainer.train_step(group))
            if len(stats) == steps:
                break
        else:  # the epoch is used up: the next one, as the loop does
            trainer.epoch, trainer.batch = trainer.epoch + 1, 0
            batches = trainer.epoch_batches()
    return torch.stack(stats), trainer


@pytest.mark.parametrize("name", MODELS.names())
def test_bf16_losses_follow_fp32_with_finite_gradients(name):
    fp32, _ = seeded_steps(name, "fp32")
    bf16, trainer = seeded_steps(name, "bf16")
    assert not torch.equal(bf16, fp32)  # autocast really ran: bf16 rounding changed the numbers
    for i, stat in enumerate(("loss_d", "loss_g")):
        ref, got = fp32[:, i], bf16[:, i]
        scale = max(ref.abs().mean().item(), (ref.max() - ref.min()).item())
        assert (got - ref).abs().mean().item() <= RTOL * scale + ATOL, (stat, got, ref)
    for net in (trainer.G, trainer.D):
        for pname, p in net.named_parameters():
            assert p.dtype == torch.float32, pname  # autocast never changes the weights
            assert p.grad is not None and p.grad.dtype == torch.float32 and p.grad.isfinite().all(), pname


def test_the_precision_helpers():
    """fp32 calls the networks with no autocast at all (the same numbers as calling them directly);
    bf16 returns fp32 outputs that differ, and a gradient penalty in fp32 close to fp32's."""
    cfg = Config(model="wgan-gp", **TINY, **data_for("wgan-gp")).resolved()
    data = load_run_data(cfg)
    fp32, bf16 = (GANTrainer(dataclasses.replace(cfg, precision=p), data, torch.device("cpu")) for p in ("fp32", "bf16"))
    z, _ = fp32.fake_inputs(8)
    with torch.no_grad():
        assert torch.equal(fp32.generate(z, None), fp32.G(z, None))
        fake = fp32.G(z, None)
        assert torch.equal(fp32.critic(fake, None), fp32.D(fake, None))
        out = bf16.critic(fake, None)
    assert out.dtype == torch.float32 and not torch.equal(out, fp32.D(fake, None))
    real, eps = fake.flip(0), torch.rand(8, 1, 1, 1)
    # The fresh critic's ‖∇ f‖ ≈ 1e-3 leaves the penalty ≈ 1 whatever the precision: scaled to ‖∇ f‖ ≈ 2.
    scaled = lambda t: lambda x, y: 2500 * t.critic(x, y)  # noqa: E731
    penalties = [gradient_penalty(scaled(t), real, fake, None, eps) for t in (fp32, bf16)]
    assert 0.3 < penalties[0] < 3 and penalties[1].dtype == torch.float32 and penalties[1] != penalties[0]
    torch.testing.assert_close(penalties[1], penalties[0], rtol=0.02, atol=0)


def test_a_bf16_run_records_its_precision_and_saves_fp32_tensors(tmp_path, capsys):
    run = tmp_path / "run"
    code = main(["train", "--model", "dcgan", "--data", "digits", "--precision", "bf16", "--max-steps", "3",
                 "--ngf", "8", "--ndf", "8", "--batch-size", "16", "--device", "cpu", "-q", "--out", str(run)])
    assert code == 0, capsys.readouterr().err
    assert json.loads((run / "config.json").read_text())["config"]["precision"] == "bf16"
    state = read_checkpoint(run)
    assert state["config"]["precision"] == "bf16"
    tensors = {f"{part}.{key}": value for part in ("generator", "discriminator") for key, value in state[part].items()}
    for part in ("opt_g", "opt_d"):
        for index, slots in state[part]["state"].items():
            tensors.update({f"{part}.{index}.{key}": value for key, value in slots.items() if key != "step"})
    floats = {key: t.dtype for key, t in tensors.items() if t.is_floating_point()}
    assert floats and set(floats.values()) == {torch.float32}, floats


@pytest.mark.parametrize("model", ["dcgan", "wgan-gp"])
def test_a_bf16_run_resumes_exactly(model, tmp_path):
    """Batch norm (dcgan), the critic steps and the gradient penalty's noise (wgan-gp) under bf16
    autocast: stopped mid-epoch and resumed, the same weights as straight through."""
    common = dict(model=model, data="digits", precision="bf16", epochs=2, log_every=5, **TINY)
    steps = 1437 // (16 * (5 if model == "wgan-gp" else 1))  # per epoch at batch 16
    gankit.train(Config(out=str(tmp_path / "straight"), **common))
    gankit.train(Config(out=str(tmp_path / "stopped"), max_steps=steps + 3, **common))
    resume(tmp_path / "stopped", max_steps=10**6)
    a, b = read_checkpoint(tmp_path / "straight"), read_checkpoint(tmp_path / "stopped")
    assert a["step"] == b["step"] == 2 * steps and b["config"]["precision"] == "bf16"
    for net in ("generator", "discriminator"):
        for key in a[net]:
            assert torch.equal(a[net][key], b[net][key]), (net, key)


def test_other_precisions_are_one_line_errors(capsys):
    with pytest.raises(GankitError, match="--precision 'fp16' is not one of fp32, bf16"):
        Config(model="dcgan", precision="fp16").resolved()
    for argv in (["train", "--data", "digits", "--precision", "fp16"], ["bench", "--precision", "fp32,fp16"]):
        assert main(argv) == 2
        err = capsys.readouterr().err.strip()
        assert err.splitlines() == ["gankit: error: --precision 'fp16' is not one of fp32, bf16"], err


@pytest.mark.parametrize("capability, warned", [("AVX2", True), ("DEFAULT", True), ("AVX512", False)])
def test_bf16_on_a_cpu_without_bf16_arithmetic_warns(monkeypatch, caplog, capability, warned):
    """bf16 autocast is emulated on CPUs without AVX-512 (0.09x fp32 measured on an AVX2 CPU): one
    warning line that names the fix; fp32 never warns."""
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: capability)
    for precision in ("bf16", "fp32"):
        cfg = Config(model="dcgan", precision=precision, **TINY, **data_for("dcgan")).resolved()
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="gankit.training.trainer"):
            GANTrainer(cfg, load_run_data(cfg), torch.device("cpu"))
        expected = warned and precision == "bf16"
        assert ("use --precision fp32" in caplog.text) == expected, (capability, precision, caplog.text)
        if expected:
            assert capability in caplog.text and len(caplog.records) == 1
