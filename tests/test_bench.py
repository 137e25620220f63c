"""`gankit bench`: the baseline loop is the example's (PIL pipeline, real updates), the measured
numbers are positive and scale as they should, and bad input is one line."""
from __future__ import annotations

import pytest
import torch

from gankit.bench.baseline import PILImages, baseline_images_per_s
from gankit.bench.measure import Job, build, cpu_peak_gflops, flops_per_step, run_job
from gankit.cli import main


def test_the_baseline_pipeline_gives_the_same_pixels_as_the_in_memory_path():
    gen = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (4, 1, 28, 28), dtype=torch.uint8, generator=gen)
    x, label = PILImages(images, torch.arange(4), 28)[2]
    torch.testing.assert_close(x, images[2].float() / 127.5 - 1)  # ToTensor + Normalize(0.5, 0.5)
    assert label == 2 and PILImages(images, torch.arange(4), 32)[0][0].shape == (1, 32, 32)


def test_the_baseline_loop_trains_the_networks():
    _, data, trainer = build(Job("dcgan-32", "baseline", "digits", None, "cpu", 1, 2, dict(ngf=4, ndf=4)))
    before = [p.detach().clone() for p in trainer.G.parameters()]
    rate = baseline_images_per_s(trainer.G, trainer.D, data.images, data.labels, 32, 100, False,
                                 batch_size=16, warmup=1, steps=2, workers=0)
    assert rate > 0
    assert any(not torch.equal(a, b) for a, b in zip(before, trainer.G.parameters()))


@pytest.mark.parametrize("name", ["gan", "dcgan-32", "cdcgan"])
def test_gankit_jobs_report_positive_throughput_and_flops(name):
    out = run_job(Job(name, "gankit", "digits", None, "cpu", 1, 2, dict(ngf=4, ndf=4, batch_size=16)))
    assert out["images_per_s"] > 0 and out["peak_rss_mb"] > 0 and out["flops_per_step"] > 0


def test_a_step_the_flop_counter_cannot_follow_counts_as_unknown(monkeypatch):
    """The gradient penalty's double backward is one such step (in torch 2.14); the bench then shows
    no FLOPs rather than failing."""
    _, _, trainer = build(Job("wgan-gp", "gankit", "digits", None, "cpu", 0, 1, dict(ngf=4, ndf=4, batch_size=16)))

    def untraceable(batches):
        raise RuntimeError("the counter cannot follow this step")

    monkeypatch.setattr(trainer, "train_step", untraceable)
    assert flops_per_step(trainer) is None


def test_the_table_has_a_row_per_precision_with_the_baseline_beside_fp32(monkeypatch):
    from gankit.bench import table

    jobs = []

    baseline_rates = iter([40.0, 60.0])

    def fake_process(fn, job):
        assert fn is table.run_job
        jobs.append((job.loop, job.extra.get("precision")))
        rate = next(baseline_rates) if job.loop == "baseline" else {"fp32": 100.0, "bf16": 150.0}[job.extra["precision"]]
        return dict(images_per_s=rate, flops_per_step=10**9, steps_per_s=rate / 64, peak_rss_mb=500.0)

    monkeypatch.setattr(table, "in_fresh_process", fake_process)
    lines = []
    fp32, bf16 = table.run_bench(["dcgan-32"], data="digits", say=lines.append)
    # The baseline runs twice (its speed varies between invocations): both shown, the ratio from their mean.
    assert jobs == [("gankit", "fp32"), ("gankit", "bf16"), ("baseline", None), ("baseline", None)]
    assert fp32["baseline_runs"] == [40.0, 60.0] and fp32["baseline"] == 50.0
    assert (fp32["ratio"], fp32["vs_fp32"], bf16["ratio"], bf16["vs_fp32"]) == (2.0, None, None, 1.5)
    assert fp32["peak_fraction"] > 0 and bf16["peak_fraction"] is None  # the peak estimate is fp32's
    assert [line.split()[:2] for line in lines[2:]] == [["dcgan-32", "fp32"], ["dcgan-32", "bf16"]]
    assert "40.0 / 60.0" in lines[2] and "2.00x" in lines[2] and "1.50x" in lines[3]
    assert len(lines[2]) == len(lines[3]) == len(table.HEADER)
    table.run_bench(["dcgan-32"], data="digits", say=lines.append, precisions=["bf16"])
    assert jobs[4:] == [("gankit", "bf16")]  # no fp32 row: no baseline to compare with


def test_a_bf16_job_runs_gankits_loop_under_autocast():
    job = Job("dcgan-32", "gankit", "digits", None, "cpu", 1, 2, dict(ngf=4, ndf=4, batch_size=16, precision="bf16"))
    _, _, trainer = build(job)
    assert trainer.bf16 and run_job(job)["images_per_s"] > 0


def test_flops_per_step_scale_with_the_batch_and_the_critic_steps():
    def flops(**extra):
        _, _, trainer = build(Job("dcgan-32", "gankit", "digits", None, "cpu", 0, 1, dict(ngf=4, ndf=4, **extra)))
        return flops_per_step(trainer)

    assert flops(batch_size=32) == pytest.approx(2 * flops(batch_size=16), rel=1e-9)
    one, five = flops(batch_size=16), flops(batch_size=16, n_critic=5, loss="wasserstein")
    assert one < five < 5 * one  # four more D updates, the same single G update


def test_peak_estimate_and_bad_models(capsys):
    peak, how = cpu_peak_gflops()
    assert peak > 0 and "cores" in how
    assert main(["bench", "--models", "stylegan"]) == 2
    assert "no model 'stylegan'" in capsys.readouterr().err
    assert main(["bench", "--models", "dcgan-32", "--precision", "fp16"]) == 2
    assert "--precision 'fp16' is not one of fp32, bf16" in capsys.readouterr().err


def test_time_to_quality_stops_at_the_first_record_that_meets_the_criterion(tmp_path):
    import json

    from gankit.bench.quality import StopAtQuality
    from gankit.training.signals import StopFlag

    history, stop = tmp_path / "eval_history.jsonl", StopFlag()
    watcher = StopAtQuality(history, stop, max_kl=0.02, started=0.0)

    class Trainer:
        step, train_seconds = 10, 1.0

    def record(step, covered, kl):
        Trainer.step = step
        with history.open("a") as fh:
            fh.write(json.dumps(dict(step=step, classes_covered=covered, classes_total=10, class_kl=kl)) + "\n")
        watcher.on_log(Trainer, {})

    record(10, 9, 0.01)  # a class missing
    record(20, 10, 0.05)  # every class, but too uneven
    assert watcher.reached is None and stop.reason is None
    record(30, 10, 0.01)
    assert watcher.reached["step"] == 30 and stop.reason == "quality reached"


def test_time_to_quality_reports_a_bar_it_does_not_reach(tmp_path):
    from gankit.bench.quality import time_to_quality

    lines = []
    out = time_to_quality(str(tmp_path / "ttq"), data="digits", max_kl=-1.0, every=10, max_steps=30, say=lines.append)
    assert out["reached"] is None and [c[0] for c in out["curve"]] == [10, 20, 30]
    assert lines[0] == "quality not reached by step 30" and "classifier-FID curve" in lines[-1]


def test_memory_is_recorded_per_epoch(tmp_path):
    from gankit.bench.quality import memory_over_epochs

    rss = memory_over_epochs(str(tmp_path / "m"), data="digits", epochs=3, classes=[3],
                             extra=dict(ngf=4, ndf=4, batch_size=16))
    assert len(rss) == 3 and all(r > 50 for r in rss)
    assert max(rss) - min(rss) < 0.25 * min(rss)  # a tiny run must not grow by a quarter in three epochs


def test_scaling_measures_each_size_and_batch_and_draws_the_plot(tmp_path):
    """A miniature `gankit bench --scaling`: every (size, batch) measured in its own process, FLOPs
    per step proportional to the batch and growing with the size, eval timed per count, files written."""
    import json

    from gankit.bench.scaling import run_scaling

    lines = []
    result = run_scaling("digits", None, "cpu", tmp_path / "scaling", scale=0.01, sizes=(16, 32), batches=(8, 16),
                         eval_counts=(2, 4), say=lines.append)
    rows = result["training"]
    assert [(r["size"], r["batch"]) for r in rows] == [(16, 8), (16, 16), (32, 8), (32, 16)]
    assert all(r["images_per_s"] > 0 and r["rss_mb"] > 0 and r["gflops"] > 0 for r in rows)
    by = {(r["size"], r["batch"]): r["gflop_per_step"] for r in rows}
    assert by[16, 16] == pytest.approx(2 * by[16, 8], rel=1e-6) and by[32, 8] > by[16, 8]
    assert set(result["eval"]["seconds"]) == {2, 4} and result["eval"]["per_1000_s"] > 0
    assert json.loads((tmp_path / "scaling" / "scaling.json").read_text())["training"] == rows
    assert (tmp_path / "scaling" / "scaling.png").stat().st_size > 10_000
    assert "per 1,000 samples" in lines[-2]
