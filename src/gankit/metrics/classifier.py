"""A domain classifier for digit-like and other small data sets, trained once on the real
training set and cached, that turns generated images into numbers a CPU gives in seconds:
label accuracy of conditional samples, classes covered, the KL divergence of the samples' class
histogram to the real one (mode collapse), and a Fréchet distance on its penultimate features.

The network is a small CNN on 32×32 inputs (three conv-BN-ReLU-pool blocks of 16, 32 and 64
channels, then 128 units), trained for a few epochs with small random shifts.
"""
from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import torch
import torch.nn.functional as F
from torch import nn

from gankit.atomic import atomic_torch_save
from gankit.cache import cache_root
from gankit.data import dataset_spec, load_data
from gankit.data.base import fit_images
from gankit.errors import GankitError

log = logging.getLogger(__name__)
INPUT_SIZE = 32


class DomainClassifier(nn.Module):
    """uint8 or [-1, 1] images (B, C, H, W) -> class logits (B, K); ``features`` gives (B, 128)."""

    def __init__(self, channels: int, num_classes: int):
        super().__init__()

        def block(c_in: int, c_out: int) -> list[nn.Module]:
            return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.BatchNorm2d(c_out), nn.ReLU(True), nn.MaxPool2d(2)]

        # ~2.5 M multiply-adds per image: cheap enough to train on 60,000 images in minutes on a CPU.
        self.body = nn.Sequential(*block(channels, 16), *block(16, 32), *block(32, 64),  # (B, 64, 4, 4)
                                  nn.Flatten(), nn.Dropout(0.3), nn.Linear(64 * 16, 128), nn.ReLU(True))
        self.head = nn.Linear(128, num_classes)

    @staticmethod
    def prepare(images: torch.Tensor) -> torch.Tensor:
        """uint8 images of any size -> float in [-1, 1] at 32×32."""
        x = images.float() / 127.5 - 1 if images.dtype == torch.uint8 else images.float()
        if x.shape[-1] != INPUT_SIZE:
            x = F.interpolate(x, size=(INPUT_SIZE, INPUT_SIZE), mode="bilinear", antialias=True, align_corners=False)
        return x

    def features(self, images: torch.Tensor) -> torch.Tensor:
        return self.body(self.prepare(images))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(images))


@dataclass
class TrainedClassifier:
    """A classifier with the data it was trained for and its held-out accuracy."""

    net: DomainClassifier
    data: str
    class_ids: list[int]
    test_accuracy: float

    @torch.no_grad()
    def run(self, images: torch.Tensor, batch: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
        """(predicted class index (N,), penultimate features (N, 128) float64)."""
        self.net.eval()
        preds, feats = [], []
        for i in range(0, len(images), batch):
            f = self.net.features(images[i:i + batch])
            feats.append(f.double())
            preds.append(self.net.head(f).argmax(1))
        return torch.cat(preds), torch.cat(feats)


def classifier_dir() -> Path:
    return cache_root() / "classifiers"


def lift_background(x: torch.Tensor, gen: torch.Generator, max_lift: float = 0.4) -> torch.Tensor:
    """Raise the black level of half the images of a [-1, 1] batch by up to ``max_lift`` of the
    range. Early generators paint a grey background; without this the classifier reads every such
    image as one class and reports a mode collapse that is not there."""
    lift = torch.rand(len(x), 1, 1, 1, generator=gen) * max_lift * (torch.rand(len(x), 1, 1, 1, generator=gen) < 0.5)
    return (x + 1) * (1 - lift) + 2 * lift - 1


MIN_STEPS = 300  # a small set (a folder of a few hundred images) trains for more epochs, not fewer steps
MIN_IMAGES = 16


def classifier_schedule(n: int, epochs: int, batch_size: int) -> tuple[int, int]:
    """(epochs, batch size) for ``n`` training images: the batch shrinks to an eighth of a small
    set (at least 8), and the epochs grow until training takes ``MIN_STEPS`` steps."""
    if n < MIN_IMAGES:
        raise GankitError(f"the domain classifier needs at least {MIN_IMAGES} real training images, this set has {n}: "
                          "add images, or measure with --metrics fid,kid instead")
    batch = min(batch_size, max(8, n // 8))
    return max(epochs, -(-MIN_STEPS // (n // batch))), batch


def train_classifier(train_x: torch.Tensor, train_y: torch.Tensor, num_classes: int, epochs: int = 4,
                     seed: int = 0, batch_size: int = 128, shifts: bool = True, lift: bool = True,
                     val: Optional[tuple[torch.Tensor, torch.Tensor]] = None) -> DomainClassifier:
    """Adam with a one-cycle schedule; small random shifts (±2 px) and background lifts as
    augmentation (each can be turned off). Small sets get smaller batches and more epochs
    (``classifier_schedule``). With ``val`` = (images, labels), the weights of the epoch with the
    best validation accuracy are kept (``net.chosen_epoch`` says which)."""
    epochs, batch_size = classifier_schedule(len(train_x), epochs, batch_size)
    torch.manual_seed(seed)
    net = DomainClassifier(train_x.shape[1], num_classes)
    opt = torch.optim.Adam(net.parameters(), 2e-3)
    steps = epochs * (len(train_x) // batch_size)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 4e-3, total_steps=steps)
    gen = torch.Generator().manual_seed(seed)
    best = (-1.0, 0, None)  # (validation accuracy, epoch, weights)
    for epoch in range(1, epochs + 1):
        net.train()
        order = torch.randperm(len(train_x), generator=gen)
        for i in range(len(train_x) // batch_size):
            idx = order[i * batch_size:(i + 1) * batch_size]
            x = DomainClassifier.prepare(train_x[idx])
            if shifts:
                dx, dy = torch.randint(-2, 3, (2,), generator=gen).tolist()
                x = torch.roll(x, shifts=(dx, dy), dims=(2, 3))
            if lift:
                x = lift_background(x, gen)
            loss = F.cross_entropy(net.head(net.body(x)), train_y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
        if val is not None:
            score = accuracy(net, *val)
            if score > best[0]:
                best = (score, epoch, {k: v.clone() for k, v in net.state_dict().items()})
    if val is not None:
        net.load_state_dict(best[2])
    net.chosen_epoch = best[1] if val is not None else epochs
    return net.eval()


@torch.no_grad()
def accuracy(net: DomainClassifier, x: torch.Tensor, y: torch.Tensor) -> float:
    net.eval()
    correct = sum(int((net(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum()) for i in range(0, len(x), 1000))
    return correct / len(x)


def domain_classifier(data: str, data_dir: Optional[str] = None, classes=None, epochs: int = 6) -> TrainedClassifier:
    """The cached classifier of ``data`` (restricted to ``classes``), trained on first use on the
    training split and scored on the test split."""

    key = f"{data}|{sorted(classes) if classes else 'all'}|{epochs}|v4"
    path = classifier_dir() / f"{hashlib.sha1(key.encode()).hexdigest()[:16]}.pt"
    if path.exists():
        try:
            saved = torch.load(path, weights_only=True)
            net = DomainClassifier(saved["channels"], len(saved["class_ids"]))
            net.load_state_dict(saved["weights"])
            return TrainedClassifier(net.eval(), data, saved["class_ids"], saved["test_accuracy"])
        except (RuntimeError, KeyError, OSError, EOFError):
            log.warning("retraining the domain classifier: its cache %s is unreadable", path)
    train = load_data(data, data_dir, INPUT_SIZE, classes)
    if train.is_points:
        raise GankitError(f"{data} is 2-D points: use the mode-coverage metrics, not a classifier")
    test = load_data(data, data_dir, INPUT_SIZE, classes, split="test")
    log.info("training the %s domain classifier on %d images", data, len(train))
    net = train_classifier(train.images, train.labels, len(train.class_names), epochs)
    acc = accuracy(net, test.images, test.labels)
    log.info("%s domain classifier: test accuracy %.4f", data, acc)
    atomic_torch_save(dict(weights=net.state_dict(), channels=train.images.shape[1], class_ids=train.class_ids,
                           test_accuracy=acc), path)
    return TrainedClassifier(net, data, train.class_ids, acc)


def class_statistics(pred: torch.Tensor, reference: torch.Tensor, num_classes: int,
                     labels: Optional[torch.Tensor] = None) -> dict[str, float]:
    """Classes covered (those given at least a tenth of their fair share of samples), the
    KL(samples' class histogram ‖ reference histogram), and label accuracy when ``labels`` given."""
    p = torch.bincount(pred, minlength=num_classes).double()
    q = torch.bincount(reference, minlength=num_classes).double()
    p, q = p / p.sum(), q / q.sum()
    nz = p > 0
    stats = dict(classes_covered=int((p >= 0.1 / num_classes).sum()), classes_total=num_classes,
                 class_kl=float((p[nz] * (p[nz] / q[nz].clamp(min=1e-12)).log()).sum()))
    if labels is not None:
        stats["label_accuracy"] = float((pred == labels).double().mean())
    return stats


def match_classifier_input(images: torch.Tensor, cfg) -> torch.Tensor:
    """Generated uint8 images at the run's size -> the classifier's 32 px input, prepared the
    way its training data was: back to the data set's own size (undoing the run's padding or
    resizing), then padded or resized to 32 px as ``load_data`` does."""

    native = dataset_spec(cfg.data).native_size
    size = images.shape[-1]
    if native is None or size == native:
        return fit_images(images, INPUT_SIZE, "auto") if native else DomainClassifier.prepare(images)
    padded = cfg.fit == "pad" or (cfg.fit == "auto" and 0 < size - native <= 4)
    if padded:
        p = (size - native) // 2
        images = images[..., p:p + native, p:p + native]
    else:
        images = fit_images(images, native, "resize")
    return fit_images(images, INPUT_SIZE, "auto")
