"""The FID Inception's backends: the shared preprocessing bit-exact to torch-fidelity, every
installed backend's features equal to torch-fidelity's extractor, the on-disk cache of conversions,
and how ``auto`` chooses and falls back."""
from __future__ import annotations

import logging
import sys

import pytest
import torch

from gankit.errors import GankitError
from gankit.metrics import inception as inc
from gankit.metrics import inception_backends as B

tf = pytest.importorskip("torch_fidelity.interpolate_compat_tensorflow")

INSTALLED = [name for name in B.BACKENDS if B.installed(name)]
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def weights(tmp_path_factory):
    """The converted FID weights, once for the module (kept outside the per-test caches)."""
    return inc.convert_weights(tmp_path_factory.mktemp("weights") / inc.CONVERTED_FILE)


@pytest.fixture(scope="module")
def reference(weights):
    """torch-fidelity's own extractor and its features (its own resize) of fixed images."""
    extractor = inc.InceptionFeatures(weights, backend="torch", device="cpu").net
    images = inc.check_images(3, seed=7)
    with torch.no_grad():
        return images, extractor(images)[0].double()


@pytest.mark.parametrize("shape", [(2, 3, 32, 32), (2, 1, 28, 28), (1, 3, 64, 48), (1, 3, 299, 299), (1, 1, 400, 300)])
def test_resize_is_bit_exact_to_torch_fidelity(shape):
    x = torch.randint(0, 256, shape, generator=torch.Generator().manual_seed(0)).float()
    expected = tf.interpolate_bilinear_2d_like_tensorflow1x(x, size=(299, 299), align_corners=False)
    assert torch.equal(B.tf1_resize(x), expected)


def test_grey_preprocessing_equals_repeated_rgb():
    grey = torch.randint(0, 256, (2, 1, 32, 32), dtype=torch.uint8, generator=torch.Generator().manual_seed(1))
    out = B.preprocess(grey)
    assert out.shape == (2, 3, 299, 299) and out.is_contiguous()
    assert torch.equal(out, B.preprocess(grey.repeat(1, 3, 1, 1)))
    assert out.min() >= -1 and out.max() <= 127 / 128


@pytest.mark.parametrize("name", INSTALLED)
def test_every_backend_matches_torch_fidelity(name, weights, reference):
    """Features within 1e-5 relative (the issue's bar) of torch-fidelity's extractor."""
    images, expected = reference
    ours = inc.InceptionFeatures(weights, backend=name, device="cpu")(images)
    assert ours.shape == (3, 2048) and ours.dtype == torch.float64
    assert float((ours - expected).abs().max() / expected.abs().max()) <= 1e-5


def test_a_fast_backend_is_installed_for_this_suite():
    """CI installs OpenVINO (a dependency), so the tests above compare something; onnxruntime is
    tested wherever `gankit[onnx]` is installed; a machine without either still works on torch."""
    assert "openvino" in INSTALLED


@pytest.mark.parametrize("name", [n for n in INSTALLED if n != "torch"])
def test_conversion_is_cached_per_weights_and_version(name, weights, monkeypatch):
    first = inc.InceptionFeatures(weights, backend=name, device="cpu")
    folder = B.converted_dir(name, first.backend.version, first.weights_sha256)
    assert (folder / "record.json").is_file() and (folder / B.RUNTIMES[name].suffix).is_file()
    assert first.weights_sha256[:16] in folder.name and first.backend.version in folder.name
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporaries left
    monkeypatch.setattr(B.BACKENDS[name], "convert", lambda *a: pytest.fail("converted again"))
    again = inc.InceptionFeatures(weights, backend=name, device="cpu")
    images = inc.check_images(2, seed=3)
    assert torch.equal(first(images), again(images))


def test_a_torn_conversion_is_redone(weights):
    name = next(n for n in INSTALLED if n != "torch")
    version = B.RUNTIMES[name].version()
    folder = B.converted_dir(name, version, inc.sha256_file(weights))
    folder.mkdir(parents=True)
    (folder / B.RUNTIMES[name].suffix).write_text("half a model")  # no record.json: never trusted
    inc.InceptionFeatures(weights, backend=name, device="cpu")
    assert (folder / "record.json").is_file()


def test_a_conversion_that_disagrees_is_refused(weights, monkeypatch):
    name = next(n for n in INSTALLED if n != "torch")
    real_run = B.BACKENDS[name].run
    monkeypatch.setattr(B.BACKENDS[name], "run", lambda self, x: real_run(self, x) * 1.001)
    with pytest.raises(GankitError, match=f"the {name} Inception backend failed: .*differs from torch's"):
        inc.InceptionFeatures(weights, backend=name, device="cpu")
    assert not any(B.converted_dir(name, "x", "y").parent.iterdir())  # nothing cached


def test_auto_order_and_errors(monkeypatch):
    assert B.backend_order("auto", torch.device("cuda")) == ["torch"]
    assert B.backend_order("auto", CPU) == [n for n in B.CPU_PREFERENCE if n in INSTALLED]
    assert B.backend_order("auto", CPU)[-1] == "torch"
    with pytest.raises(GankitError, match="unknown Inception backend 'tensorrt': choose one of torch"):
        B.backend_order("tensorrt", CPU)
    with pytest.raises(GankitError, match="runs on the CPU only"):
        B.backend_order("openvino", torch.device("cuda"))
    monkeypatch.setattr(B, "installed", lambda name: name == "torch")
    with pytest.raises(GankitError, match="not installed: pip install onnxruntime onnx"):
        B.backend_order("onnxruntime", CPU)
    assert B.backend_order("auto", CPU) == ["torch"]


def test_auto_falls_back_when_a_conversion_fails(weights, monkeypatch, caplog):
    def broken(self, net, path):
        raise RuntimeError("no such op")

    for name in INSTALLED:
        if name != "torch":
            monkeypatch.setattr(B.BACKENDS[name], "convert", broken)
    with caplog.at_level(logging.WARNING):
        extractor = inc.InceptionFeatures(weights, device="cpu")
    assert extractor.backend.name == "torch"
    assert "Inception backend failed (RuntimeError): using the next one" in caplog.text


@pytest.fixture(scope="module")
def openvino_backend(weights):
    """One OpenVINO worker for the tests that read its properties (each start converts and checks it)."""
    if "openvino" not in INSTALLED:
        pytest.skip("OpenVINO is not installed")
    backend = inc.InceptionFeatures(weights, backend="openvino", device="cpu").backend
    yield backend
    backend.close()


def test_openvino_runs_in_f32_even_where_its_default_is_bf16(openvino_backend):
    """On CPUs with bf16 instructions OpenVINO's default inference precision is bf16 (features ~20 %
    off): the compiled network must say f32."""
    assert openvino_backend.worker.info["inference_precision"] == "f32"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads thread affinities from /proc")
def test_openvino_workers_are_not_pinned_to_one_core(openvino_backend):
    """OpenVINO pins its threads from core 0 up by default: three concurrent one-thread evals ran at
    33 % each on core 0 while core 1 idled. After a batch, every worker thread may run on every core
    this process may (the worker has already run: the backend checks it against torch on start)."""
    import os

    pid = openvino_backend.worker.info["pid"]
    masks = {tid: os.sched_getaffinity(int(tid)) for tid in os.listdir(f"/proc/{pid}/task")}
    assert all(mask == os.sched_getaffinity(0) for mask in masks.values()), masks
    assert openvino_backend.worker.info["cpu_pinning"] is False


@pytest.mark.parametrize("name", [n for n in INSTALLED if n != "torch"])
def test_the_runtime_never_loads_into_this_process(name, weights):
    """OpenVINO beside torch in one process crashed later training: the runtime lives in a worker
    process, and the features still arrive."""
    import sys

    backend = inc.InceptionFeatures(weights, backend=name, device="cpu").backend
    assert name not in sys.modules and backend.worker.info["pid"] != __import__("os").getpid()
    assert backend.worker.process.poll() is None
    backend.close()
    assert backend.worker is None


def test_a_worker_that_dies_is_a_one_line_error(weights):
    name = next(n for n in INSTALLED if n != "torch")
    extractor = inc.InceptionFeatures(weights, backend=name, device="cpu")
    extractor.backend.worker.process.kill()
    with pytest.raises(GankitError, match=f"the {name} Inception worker failed: "):
        extractor(inc.check_images(1))
