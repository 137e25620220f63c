"""checkpoints/best.pt keeps the generator at the best recorded metric; sample, eval and the
rest load it with --checkpoint best."""
import json

import pytest

import gankit
from gankit import Config, GankitError
from gankit.cli import main
from gankit.training.checkpoint import read_checkpoint

TINY = dict(data="digits", ngf=8, ndf=8, batch_size=32, device="cpu", log_every=2, eval_every_steps=4,
            eval_metrics="classifier", eval_n=100)


def history(run_dir):
    return [json.loads(line) for line in (run_dir / "eval_history.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("metric, pick", [("auto", min), ("label_accuracy", max)])
def test_best_pt_holds_the_state_at_the_best_record(metric, pick, tmp_path):
    gankit.train(Config(model="cdcgan", max_steps=16, best_metric=metric, ema_decay=0.9, out=str(tmp_path / "r"), **TINY))
    rows = history(tmp_path / "r")
    name = "classifier_fid" if metric == "auto" else metric
    values = [r[name] for r in rows]
    assert len(values) == 4
    best = read_checkpoint(tmp_path / "r" / "checkpoints" / "best.pt")
    first_best = values.index(pick(values))
    assert best["best"] == dict(metric=name, value=pick(values), step=rows[first_best]["step"], epoch=rows[first_best]["epoch"])
    assert best["step"] == rows[first_best]["step"] and "generator_ema" in best
    run = gankit.load(tmp_path / "r", checkpoint="best")
    assert run.checkpoint == "best" and run.generator_kind == "ema"


def test_eval_and_sample_take_checkpoint_best(tmp_path, capsys):
    gankit.train(Config(model="dcgan", max_steps=12, out=str(tmp_path / "r"), **TINY))
    best_step = read_checkpoint(tmp_path / "r" / "checkpoints" / "best.pt")["step"]
    assert main(["eval", str(tmp_path / "r"), "--metrics", "classifier", "--n", "100", "--checkpoint", "best"]) == 0
    prov = json.loads((tmp_path / "r" / "eval.json").read_text())["provenance"]
    assert (prov["checkpoint"], prov["step"]) == ("best", best_step)
    assert "checkpoints/best.pt" in capsys.readouterr().out
    assert main(["sample", str(tmp_path / "r"), "--n", "4", "--checkpoint", "best", "--out", str(tmp_path / "s.png")]) == 0


def test_without_monitoring_there_is_no_best_and_it_says_so(tmp_path):
    gankit.train(Config(model="dcgan", max_steps=2, data="digits", ngf=8, ndf=8, batch_size=32, device="cpu",
                        out=str(tmp_path / "r")))
    assert not (tmp_path / "r" / "checkpoints" / "best.pt").exists()
    with pytest.raises(GankitError, match="has no checkpoints/best.pt: .*--eval-every N"):
        gankit.load(tmp_path / "r", checkpoint="best")


def test_a_best_metric_that_is_not_recorded_is_a_one_line_error(tmp_path):
    with pytest.raises(GankitError, match="--best-metric fid is not recorded by --eval-metrics classifier"):
        gankit.train(Config(model="dcgan", max_steps=4, best_metric="fid", out=str(tmp_path / "r"), **TINY))
