"""gankit sample RUN --out DIR/: the samples as a data set torchvision's ImageFolder reads."""
import json

from torchvision.datasets import ImageFolder

import gankit
from gankit import Config
from gankit.cli import main

TINY = dict(data="digits", ngf=8, ndf=8, batch_size=32, device="cpu", max_steps=2)


def test_a_conditional_run_writes_balanced_class_folders(tmp_path):
    gankit.train(Config(model="cdcgan", out=str(tmp_path / "r"), **TINY))
    assert main(["sample", str(tmp_path / "r"), "--n", "30", "--out", str(tmp_path / "s") + "/"]) == 0
    manifest = json.loads((tmp_path / "s" / "manifest.json").read_text())
    assert manifest["counts"] == {str(k): 3 for k in range(10)} and manifest["labelled"]
    assert (manifest["step"], manifest["generator"], manifest["checkpoint"], manifest["seed"]) == (2, "raw", "last", 0)
    folder = ImageFolder(str(tmp_path / "s"))
    assert len(folder) == 30 and folder.classes == [str(k) for k in range(10)]
    assert folder[0][0].size == (32, 32)
    assert not list(tmp_path.glob(".s.partial"))


def test_an_unconditional_run_of_several_classes_invents_no_labels(tmp_path, capsys):
    gankit.train(Config(model="dcgan", out=str(tmp_path / "r"), **TINY))
    assert main(["sample", str(tmp_path / "r"), "--n", "5", "--out", str(tmp_path / "s")]) == 0
    assert "unconditional over 10 classes" in capsys.readouterr().err
    assert sorted(p.name for p in (tmp_path / "s").iterdir()) == ["manifest.json", "unlabelled"]
    assert len(list((tmp_path / "s" / "unlabelled").glob("*.png"))) == 5


def test_a_one_class_run_names_its_class(tmp_path):
    gankit.train(Config(model="dcgan", classes=[3], out=str(tmp_path / "r"), **TINY))
    assert main(["sample", str(tmp_path / "r"), "--n", "4", "--out", str(tmp_path / "s")]) == 0
    assert json.loads((tmp_path / "s" / "manifest.json").read_text())["counts"] == {"3": 4}


def test_a_non_empty_folder_is_never_overwritten(tmp_path, capsys):
    gankit.train(Config(model="dcgan", out=str(tmp_path / "r"), **TINY))
    (tmp_path / "s").mkdir()
    (tmp_path / "s" / "mine.txt").write_text("keep")
    assert main(["sample", str(tmp_path / "r"), "--n", "4", "--out", str(tmp_path / "s")]) != 0
    assert "exists and is not empty" in capsys.readouterr().err
    assert (tmp_path / "s" / "mine.txt").read_text() == "keep"
