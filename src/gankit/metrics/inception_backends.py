"""Where the FID Inception's convolutions run: torch, OpenVINO or ONNX Runtime, chosen by name.

Every backend computes the same function — torch-fidelity's ``FeatureExtractorInceptionV3`` up to
its 2048-d pool features — from the same preprocessed input: the TensorFlow 1.x bilinear resize
to 299×299 and the (x − 128) / 128 scaling stay in torch (``preprocess``, bit-exact to
torch-fidelity), and only the network (``trunk``) moves. The backends differ in speed, not in
numbers: each conversion is checked against torch on fixed images before it is used (relative
max difference ≤ ``TOLERANCE``), and ``gankit bench --inception`` measures them side by side.

Measured on the 2-core AVX-512 CPU these were written on (fp32, the trunk alone, batch 8):
torch 13 images/s, ONNX Runtime 1.32 29, OpenVINO 2026.4 30 (the table in the README). So on a
CPU ``auto`` takes OpenVINO when installed, then ONNX Runtime, then torch; on a GPU, torch.
OpenVINO is pinned to f32 inference: on CPUs with bf16 instructions it would otherwise pick bf16,
whose features are off by ~20 %.

Converted networks are cached in ``$GANKIT_CACHE/inception/`` under the weights' sha256 and the
backend's version, written to a temporary folder and renamed into place, so a conversion is paid
once per machine and a torn one is never read.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from gankit.errors import GankitError
from gankit.registry import Registry

log = logging.getLogger(__name__)

INPUT_SIZE = 299
TOLERANCE = 1e-5  # max |difference| / max |feature| a converted trunk may show against torch's
CPU_PREFERENCE = ("openvino", "onnxruntime", "torch")  # fastest exact first, by the measurements above
# The extractor's layers from the scaled 299×299 input to the pool features, in forward order.
TRUNK_LAYERS = ("Conv2d_1a_3x3", "Conv2d_2a_3x3", "Conv2d_2b_3x3", "MaxPool_1", "Conv2d_3b_1x1", "Conv2d_4a_3x3",
                "MaxPool_2", "Mixed_5b", "Mixed_5c", "Mixed_5d", "Mixed_6a", "Mixed_6b", "Mixed_6c", "Mixed_6d",
                "Mixed_6e", "Mixed_7a", "Mixed_7b", "Mixed_7c", "AvgPool")

Tensor = torch.Tensor
BackendFactory = Callable[[nn.Module, str, torch.device], "Backend"]
BACKENDS: Registry[BackendFactory] = Registry("Inception backend")


# --- the shared preprocessing -------------------------------------------------------------------
def tf1_resize(x: Tensor, size: int = INPUT_SIZE) -> Tensor:
    """TensorFlow 1.x bilinear resize (``align_corners=False``) of float (N, C, H, W) to
    (N, C, size, size), bit-exact to torch-fidelity's ``interpolate_bilinear_2d_like_tensorflow1x``
    (method "slow"): the same lerps, done along x on the H input rows first and then along y, so
    each output value is computed by the same float operations on a fraction of the data."""
    x_lo, x_hi, dx = _tf1_grid(x.shape[3], size, x.device)
    y_lo, y_hi, dy = _tf1_grid(x.shape[2], size, x.device)
    left = x.index_select(3, x_lo)
    rows = left + (x.index_select(3, x_hi) - left) * dx  # (N, C, H, size)
    top = rows.index_select(2, y_lo)
    return top + (rows.index_select(2, y_hi) - top) * dy.view(-1, 1)


def _tf1_grid(n_in: int, n_out: int, device) -> tuple[Tensor, Tensor, Tensor]:
    """Source indices (low, high) and weights of TF1's half-open sampling grid, as torch-fidelity
    computes them (float32 positions, truncated)."""
    grid = torch.arange(0, n_out, 1, dtype=torch.float32, device=device) * torch.tensor(n_in / n_out, dtype=torch.float32)
    lo = grid.long()
    return lo, (lo + 1).clamp_max(n_in - 1), grid - lo.float()


def preprocess(images: Tensor) -> Tensor:
    """uint8 (N, 3 or 1, H, W) → float32 (N, 3, 299, 299) scaled (x − 128) / 128, as torch-fidelity's
    extractor sees it. Grey images are resized once and then repeated: the same numbers, a third
    of the work."""
    x = tf1_resize(images.float())
    x = (x - 128) / 128
    return x.expand(-1, 3, -1, -1).contiguous() if x.shape[1] == 1 else x


def trunk(extractor: nn.Module) -> nn.Sequential:
    """torch-fidelity's extractor from the scaled 299×299 input to the (N, 2048) pool features:
    its own modules (shared, not copied), in the order of its ``forward``."""
    return nn.Sequential(*(getattr(extractor, name) for name in TRUNK_LAYERS), nn.Flatten(1)).eval()


# --- the backends -------------------------------------------------------------------------------
class Backend:
    """Runs the trunk on preprocessed float32 (N, 3, 299, 299) and returns float32 (N, 2048) on
    the CPU. ``name`` and ``version`` go into ``eval.json``; ``batch_size`` is the batch it runs
    fastest at."""

    name = "torch"
    batch_size = 50
    requires: tuple[str, ...] = ()  # modules it imports beyond torch; their PyPI names are the same

    def __init__(self, net: nn.Module, weights_sha256: str, device: torch.device):
        self.device = device
        self.version = torch.__version__
        # Channels-last convolutions: ~1.5× on a CPU's oneDNN, features equal to 1e-5.
        self.net = net.to(device, memory_format=torch.channels_last)

    def __call__(self, x: Tensor) -> Tensor:
        with torch.no_grad():
            return self.net(x.to(self.device).contiguous(memory_format=torch.channels_last)).float().cpu()


BACKENDS.add("torch", Backend)


class ConvertedBackend(Backend, ABC):
    """A backend that runs a converted copy of the trunk, cached on disk per weights and version."""

    suffix = ""  # the converted model's file name in its cache folder

    def __init__(self, net: nn.Module, weights_sha256: str, device: torch.device):
        self.device, self.version = device, self.runtime_version()
        folder = converted_dir(self.name, self.version, weights_sha256)
        if not (folder / "record.json").is_file():
            convert_into(folder, lambda tmp: self.convert(net, tmp / self.suffix), lambda tmp: self.verify(net, tmp))
        self.session = self.load(folder / self.suffix)

    def verify(self, net: nn.Module, folder: Path) -> dict:
        """Load the model just converted into ``folder`` and compare it with torch on fixed inputs."""
        from gankit.metrics.inception import check_images

        self.session = self.load(folder / self.suffix)
        x = preprocess(check_images())
        with torch.no_grad():
            reference = net(x).float()
        diff = float((self(x) - reference).abs().max() / reference.abs().max())
        if not diff <= TOLERANCE:
            raise GankitError(f"the {self.name} Inception differs from torch's by {diff:.3g} relative (> {TOLERANCE})")
        return dict(max_relative_diff=diff, tolerance=TOLERANCE)

    def __call__(self, x: Tensor) -> Tensor:
        return torch.from_numpy(self.run(x.detach().cpu().float().contiguous().numpy()))

    # What each runtime provides.
    @abstractmethod
    def runtime_version(self) -> str:
        """The runtime's version, part of the cache key."""

    @abstractmethod
    def convert(self, net: nn.Module, path: Path) -> None:
        """Write the runtime's model of ``net`` to ``path``."""

    @abstractmethod
    def load(self, path: Path):
        """The runnable session of the model at ``path``."""

    @abstractmethod
    def run(self, x):
        """float32 numpy (N, 3, 299, 299) → float32 numpy (N, 2048)."""


@BACKENDS.register("openvino")
class OpenVINOBackend(ConvertedBackend):
    """Intel's OpenVINO runtime on the CPU, f32 inference, one stream over this process's threads."""

    name, suffix, batch_size, requires = "openvino", "inception.xml", 8, ("openvino",)

    def runtime_version(self) -> str:
        import openvino

        return openvino.__version__.split("-")[0]

    def convert(self, net: nn.Module, path: Path) -> None:
        import warnings

        import openvino as ov

        with warnings.catch_warnings():  # convert_model traces with torch.jit, which warns of its deprecation
            warnings.simplefilter("ignore", FutureWarning)
            model = ov.convert_model(net.to(memory_format=torch.contiguous_format),
                                     example_input=torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE))
        model.reshape([-1, 3, INPUT_SIZE, INPUT_SIZE])  # any batch, fixed image size
        ov.save_model(model, str(path), compress_to_fp16=False)  # fp16 weights would not be exact

    def load(self, path: Path):
        import openvino as ov

        return ov.Core().compile_model(str(path), "CPU", {
            "INFERENCE_PRECISION_HINT": "f32", "PERFORMANCE_HINT": "LATENCY",
            "INFERENCE_NUM_THREADS": torch.get_num_threads(), "CPU_DENORMALS_OPTIMIZATION": True})

    def run(self, x):
        return self.session(x)[0]


@BACKENDS.register("onnxruntime")
class ONNXRuntimeBackend(ConvertedBackend):
    """Microsoft's ONNX Runtime, CPU execution provider, over this process's threads."""

    name, suffix, batch_size, requires = "onnxruntime", "inception.onnx", 4, ("onnxruntime", "onnx")  # torch's exporter needs onnx

    def runtime_version(self) -> str:
        import onnxruntime

        return onnxruntime.__version__

    def convert(self, net: nn.Module, path: Path) -> None:
        import warnings

        with warnings.catch_warnings():  # the TorchScript exporter's deprecation notice
            warnings.simplefilter("ignore")
            torch.onnx.export(net.to(memory_format=torch.contiguous_format),
                              (torch.zeros(1, 3, INPUT_SIZE, INPUT_SIZE),), str(path), dynamo=False,
                              input_names=["x"], output_names=["features"], dynamic_axes={"x": {0: "n"}})

    def load(self, path: Path):
        import onnxruntime as ort

        options = ort.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()
        # Idle threads that spin fight torch's for the cores between batches: 20 -> 28 images/s here.
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def run(self, x):
        return self.session.run(None, {"x": x})[0]


# --- choosing and caching -----------------------------------------------------------------------
def installed(name: str) -> bool:
    """Whether the packages backend ``name`` needs can be imported (torch always can)."""
    import importlib.util

    return all(importlib.util.find_spec(module) is not None for module in BACKENDS[name].requires)


def backend_order(requested: str, device: torch.device) -> list[str]:
    """The backends to try, best first: the one asked for, or for ``auto`` torch on a GPU and the
    fastest installed exact one on a CPU. Asking for one that cannot run is a one-line error."""
    if requested != "auto":
        BACKENDS[requested]  # an unknown name is a one-line error listing the names
        if requested != "torch" and device.type != "cpu":
            raise GankitError(f"the {requested} Inception backend runs on the CPU only; use --inception-backend torch "
                              f"on {device.type}")
        if not installed(requested):
            raise GankitError(f"the {requested} Inception backend is not installed: "
                              f"pip install {' '.join(BACKENDS[requested].requires)}")
        return [requested]
    if device.type != "cpu":
        return ["torch"]
    return [name for name in CPU_PREFERENCE if installed(name)]


def make_backend(net: nn.Module, weights_sha256: str, device: torch.device, requested: str = "auto") -> Backend:
    """The first backend of ``backend_order`` that converts and verifies; under ``auto`` a failed
    conversion is a warning and the next one is tried (torch always works)."""
    order = backend_order(requested, device)
    for name in order:
        try:
            return BACKENDS[name](net, weights_sha256, device)
        except Exception as err:  # noqa: BLE001 - any runtime failure: fall back to the next, exact one
            if requested != "auto" or name == order[-1]:
                raise GankitError(f"the {name} Inception backend failed: {str(err).splitlines()[0][:200]}") from None
            log.warning("the %s Inception backend failed (%s): using the next one", name, type(err).__name__)
    raise AssertionError("unreachable: torch is always in the order")


def converted_dir(backend: str, version: str, weights_sha256: str) -> Path:
    """The cache folder of one converted trunk: backend, its version and the weights it came from."""
    from gankit.metrics.inception import cache_root

    return cache_root() / "inception" / f"{backend}-{version}-{weights_sha256[:16]}"


def convert_into(folder: Path, convert: Callable[[Path], None], verify: Callable[[Path], dict]) -> None:
    """Convert into a temporary sibling folder, verify, write ``record.json`` and rename the
    folder into place (a concurrent conversion that got there first wins; ours is dropped)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
    try:
        started = time.perf_counter()
        convert(tmp)
        record = dict(verify(tmp), seconds=round(time.perf_counter() - started, 1), torch=torch.__version__,
                      created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
        (tmp / "record.json").write_text(json.dumps(record, indent=2) + "\n")
        if folder.exists() and not (folder / "record.json").is_file():
            shutil.rmtree(folder, ignore_errors=True)  # a stale conversion without its record
        try:
            os.rename(tmp, folder)
        except OSError:
            if not (folder / "record.json").is_file():
                raise
            return  # another process converted it meanwhile: use theirs
        log.info("converted the FID Inception for %s in %.1f s: %s", folder.name, record["seconds"], folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
