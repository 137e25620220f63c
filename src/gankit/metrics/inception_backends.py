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

OpenVINO and ONNX Runtime never load into the process that calls them: each converted network
runs in a worker process (``Worker``, its code in ``inception_runtimes``), because OpenVINO beside
torch in one process crashed torch's next training steps. The images cross a pipe as float32
(~8.6 MB per batch of 8: milliseconds against the network's ~300 ms).

Converted networks are cached in ``$GANKIT_CACHE/inception/`` under the weights' sha256 and the
backend's version, written to a temporary folder and renamed into place, so a conversion is paid
once per machine and a torn one is never read.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import time
import weakref
from pathlib import Path
from typing import Callable, Optional

import torch
from torch import nn

from gankit.cache import cache_root
from gankit.errors import GankitError
from gankit.metrics.inception_runtimes import RUNTIMES, receive, send
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
def check_images(n: int = 4, seed: int = 0) -> torch.Tensor:
    """Fixed uint8 test images (n, 3, 299, 299): half pixel noise, half blocky low-frequency noise."""
    gen = torch.Generator().manual_seed(seed)
    fine = torch.randint(0, 256, (n - n // 2, 3, INPUT_SIZE, INPUT_SIZE), dtype=torch.uint8, generator=gen)
    coarse = torch.randint(0, 256, (n // 2, 3, 13, 13), dtype=torch.uint8, generator=gen)
    coarse = nn.functional.interpolate(coarse, size=(INPUT_SIZE, INPUT_SIZE), mode="nearest")
    return torch.cat([fine, coarse])


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

    def close(self) -> None:
        """Release what the backend holds outside this process (torch holds nothing)."""


BACKENDS.add("torch", Backend)


class WorkerBackend(Backend):
    """A backend that runs a converted copy of the trunk in a worker process of its own
    (``inception_runtimes`` says why), converted once per weights and runtime version and cached."""

    def __init__(self, net: nn.Module, weights_sha256: str, device: torch.device):
        self.runtime = RUNTIMES[self.name]
        self.device, self.version, self.worker = device, self.runtime.version(), None
        folder = converted_dir(self.name, self.version, weights_sha256)
        if not (folder / "record.json").is_file():
            convert_into(folder, lambda tmp: self.convert(net, tmp / self.suffix), lambda tmp: self.verify(net, tmp))
        self.worker = self.worker or Worker(self.name, folder / self.suffix)  # verify's worker, if it just ran

    @property
    def suffix(self) -> str:
        """The converted model's file name in its cache folder."""
        return self.runtime.suffix

    def convert(self, net: nn.Module, path: Path) -> None:
        """Convert ``net`` to ``path`` in a child process (torch and the runtime, nothing else)."""
        module_file = path.with_name("trunk.pt")
        torch.save(net, module_file)
        try:
            run_child(["convert", self.name, str(module_file), str(path)])
        finally:
            module_file.unlink(missing_ok=True)

    def verify(self, net: nn.Module, folder: Path) -> dict:
        """Start a worker on the model just converted into ``folder`` and compare it with torch
        on fixed inputs; the worker is kept if the model passes."""
        self.worker = Worker(self.name, folder / self.suffix)
        x = preprocess(check_images())
        with torch.no_grad():
            reference = net(x).float()
        diff = float((self(x) - reference).abs().max() / reference.abs().max())
        if not diff <= TOLERANCE:
            self.close()
            raise GankitError(f"the {self.name} Inception differs from torch's by {diff:.3g} relative (> {TOLERANCE})")
        return dict(max_relative_diff=diff, tolerance=TOLERANCE, **self.worker.info)

    def __call__(self, x: Tensor) -> Tensor:
        return torch.from_numpy(self.run(x.detach().cpu().float().contiguous().numpy()))

    def run(self, x):
        """float32 numpy (N, 3, 299, 299) → float32 numpy (N, 2048), computed by the worker."""
        return self.worker(x)

    def close(self) -> None:
        """Stop the worker (it also stops when this backend is collected or the program exits)."""
        if self.worker is not None:
            self.worker.close()
            self.worker = None


@BACKENDS.register("openvino")
class OpenVINOBackend(WorkerBackend):
    """Intel's OpenVINO on the CPU, f32 inference, one stream over this process's threads."""

    name, batch_size, requires = "openvino", 8, RUNTIMES["openvino"].requires


@BACKENDS.register("onnxruntime")
class ONNXRuntimeBackend(WorkerBackend):
    """Microsoft's ONNX Runtime, CPU execution provider, over this process's threads."""

    name, batch_size, requires = "onnxruntime", 4, RUNTIMES["onnxruntime"].requires


# --- the worker processes -----------------------------------------------------------------------
class Worker:
    """A runtime's worker process serving one converted model: ``worker(x)`` sends a float32
    (N, 3, 299, 299) batch and returns its (N, 2048) features. ``info`` is what the worker
    reported on start (runtime, version, properties). A worker that dies is a one-line GankitError
    with its last words."""

    def __init__(self, runtime: str, model: Path, threads: Optional[int] = None):
        self.runtime = runtime
        self.stderr = tempfile.TemporaryFile()
        command = ["serve", runtime, str(model), str(threads or torch.get_num_threads())]
        self.process = subprocess.Popen(worker_command(command), stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                        stderr=self.stderr, env=worker_env())
        self._stop = weakref.finalize(self, stop_worker, self.process, self.stderr)
        self.info = json.loads(self._expect(b"I"))

    def __call__(self, x):
        import numpy as np

        x = np.ascontiguousarray(x, dtype=np.float32)
        try:
            send(self.process.stdin, b"X", memoryview(x).cast("B"))
        except (OSError, ValueError):  # the worker is gone: _expect reports why
            pass
        return np.frombuffer(self._expect(b"F"), dtype=np.float32).reshape(len(x), -1)

    def _expect(self, kind: bytes) -> bytearray:
        try:
            got, payload = receive(self.process.stdout)
        except (OSError, ValueError, EOFError):
            got, payload = b"", bytearray()
        if got == kind:
            return payload
        reason = payload.decode(errors="replace") if got == b"E" else self.last_words()
        self.close()
        raise GankitError(f"the {self.runtime} Inception worker failed: {reason}")

    def last_words(self) -> str:
        """The last line the worker wrote to stderr, or how it ended."""
        code = self.process.poll() if self.process.poll() is not None else self.process.wait(timeout=5)
        self.stderr.seek(0)
        lines = [line for line in self.stderr.read().decode(errors="replace").splitlines() if line.strip()]
        return lines[-1][:300] if lines else f"it exited with code {code}"

    def close(self) -> None:
        """Ask the worker to quit and wait for it (killed after a few seconds)."""
        self._stop()


def stop_worker(process: subprocess.Popen, stderr) -> None:
    """Tell a worker to quit, close its pipes, and kill it if it lingers."""
    try:
        send(process.stdin, b"Q")
        process.stdin.close()
    except (OSError, ValueError):
        pass
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    process.stdout.close()
    stderr.close()


def worker_command(args: list[str]) -> list[str]:
    """This Python running ``gankit.metrics.inception_runtimes`` with ``args``."""
    return [sys.executable, "-m", "gankit.metrics.inception_runtimes", *args]


def worker_env() -> dict:
    """This process's environment, with gankit's own source folder first on the path (so a
    checkout run without installing finds the same code)."""
    source = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": source + (os.pathsep + path if path else "")}


def run_child(args: list[str]) -> None:
    """Run a one-off worker command to its end; a failure raises RuntimeError with its last words."""
    done = subprocess.run(worker_command(args), stdin=subprocess.DEVNULL, capture_output=True, env=worker_env())
    if done.returncode != 0:
        import io

        kind, payload = receive(io.BytesIO(done.stdout)) if len(done.stdout) >= 9 else (b"", b"")
        lines = [line for line in done.stderr.decode(errors="replace").splitlines() if line.strip()]
        raise RuntimeError(payload.decode(errors="replace") if kind == b"E" else
                           (lines[-1] if lines else f"exit code {done.returncode}"))


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
