"""The moving average of G's weights (--ema-decay): it never changes training, it is the
average it claims to be, and sampling, grids and eval use it unless told --generator raw."""
import json

import pytest
import torch

import gankit
from gankit import Config, GankitError
from gankit.cli import main
from gankit.training.checkpoint import read_checkpoint
from gankit.training.ema import ramped_decay
from gankit.training.runner import prepare

TINY = dict(data="digits", ngf=8, ndf=8, batch_size=32, device="cpu")


def test_the_average_follows_g_and_leaves_training_alone():
    cfg = Config(model="dcgan", ema_decay=0.9, ema_rampup=0, **TINY).resolved()
    trainer, _ = prepare(cfg)
    plain, _ = prepare(Config(model="dcgan", **TINY).resolved())
    batches = trainer.epoch_batches()
    plain_batches = plain.epoch_batches()
    trainer.train_step(next(batches))
    plain.train_step(next(plain_batches))
    first = [p.detach().clone() for p in trainer.G.parameters()]
    assert all(torch.equal(a, p) for a, p in zip(trainer.G_ema.module.parameters(), first))  # the first update copies
    trainer.train_step(next(batches))
    plain.train_step(next(plain_batches))
    for avg, p0, p1 in zip(trainer.G_ema.module.parameters(), first, trainer.G.parameters()):
        torch.testing.assert_close(avg, 0.9 * p0 + 0.1 * p1)
    for avg, b in zip(trainer.G_ema.module.buffers(), trainer.G.buffers()):  # batch-norm statistics too
        if b.is_floating_point():
            assert not torch.equal(avg, b)
    assert all(torch.equal(a, b) for a, b in zip(trainer.G.parameters(), plain.G.parameters()))
    assert not torch.equal(trainer.fixed_samples(), plain.fixed_samples())  # the grid shows the average
    assert trainer.G.training and not trainer.G_ema.module.training


@pytest.mark.parametrize("steps, half_life", [(1, 0.05), (20, 1.0), (200, 10.0), (20_000, 692.8)])
def test_the_average_ramps_up_to_its_decay(steps, half_life):
    # rampup 0.05: the half-life is 5 % of the steps taken (1 step at step 20, 10 at step 200)
    # until it reaches 0.999's own (692.8 steps) at step 13,863
    assert ramped_decay(0.999, 0.05, steps) == pytest.approx(0.5 ** (1 / half_life), rel=1e-4)
    assert ramped_decay(0.999, 0.0, steps) == pytest.approx(0.999)


def test_a_short_run_averages_recent_weights_not_the_untrained_g():
    """At step 200 a ramped average sits within a few steps of G; a plain 0.999 one is still
    mostly the weights of the first step."""
    def distance_after(rampup: float) -> float:
        trainer, _ = prepare(Config(model="dcgan", ema_decay=0.999, ema_rampup=rampup, **TINY).resolved())
        batches = trainer.epoch_batches()
        start = [p.detach().clone() for p in trainer.G.parameters()]
        for _ in range(200):
            try:
                trainer.train_step(next(batches))
            except StopIteration:
                batches = trainer.epoch_batches()
        with torch.no_grad():
            moved = sum((p - s).norm() for p, s in zip(trainer.G.parameters(), start))
            gap = sum((a - p).norm() for a, p in zip(trainer.G_ema.module.parameters(), trainer.G.parameters()))
        return float(gap / moved)

    assert distance_after(0.05) < 0.3 < 0.6 < distance_after(0.0)


def test_runs_sample_with_the_average_unless_told_raw(tmp_path):
    run = gankit.train(Config(model="dcgan", ema_decay=0.99, max_steps=6, out=str(tmp_path / "ema"), **TINY))
    assert run.generator_kind == "ema"
    state = read_checkpoint(tmp_path / "ema")
    assert state["ema_updates"] == 6
    ema, raw = gankit.load(tmp_path / "ema"), gankit.load(tmp_path / "ema", generator="raw")
    assert (ema.generator_kind, raw.generator_kind) == ("ema", "raw")
    assert torch.equal(ema.sample(8), run.sample(8))
    assert not torch.equal(ema.sample(8), raw.sample(8))
    with pytest.raises(GankitError, match="--generator 'best' is not one of ema, raw"):
        gankit.load(tmp_path / "ema", generator="best")

    gankit.train(Config(model="dcgan", max_steps=2, out=str(tmp_path / "plain"), **TINY))
    assert gankit.load(tmp_path / "plain").generator_kind == "raw"
    with pytest.raises(GankitError, match="keeps no moving average of G .* use --generator raw"):
        gankit.load(tmp_path / "plain", generator="ema")


def test_the_cli_chooses_the_generator_and_eval_records_it(tmp_path, capsys):
    gankit.train(Config(model="dcgan", ema_decay=0.99, max_steps=4, out=str(tmp_path / "r"), **TINY))
    assert main(["sample", str(tmp_path / "r"), "--n", "4", "--generator", "raw", "--out", str(tmp_path / "s.npz")]) == 0
    import numpy as np
    raw = np.load(tmp_path / "s.npz")["images"]
    assert np.array_equal(raw, gankit.load(tmp_path / "r", generator="raw").sample(4).numpy())
    assert main(["eval", str(tmp_path / "r"), "--metrics", "classifier", "--n", "200", "--generator", "raw"]) == 0
    assert json.loads((tmp_path / "r" / "eval.json").read_text())["provenance"]["generator"] == "raw"
    assert "raw generator" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["sample", str(tmp_path / "r"), "--generator", "best", "--out", str(tmp_path / "x.png")])
