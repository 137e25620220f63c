"""The reference loop users start from: pytorch/examples ``dcgan/main.py``, re-implemented plainly
on the same data and networks, so ``gankit bench`` can time both in one invocation.

What it keeps from the example: a map-style data set that makes a PIL image per item and applies
``Resize`` + ``ToTensor`` + ``Normalize``; a ``DataLoader`` (batch 64, shuffled, 2 workers); the D
step in two backward passes (real, then fake); a fresh label tensor per step; ``.item()`` of every
loss and D output every step (the example prints them). The networks are gankit's (logits, so
``BCEWithLogitsLoss`` stands in for ``Sigmoid`` + ``BCELoss``).
"""
from __future__ import annotations

import time
import torch
from torch import nn


class PILImages(torch.utils.data.Dataset):
    """uint8 (N, C, H, W) images served as torchvision's MNIST serves them: a PIL image per item,
    then the transform."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, size: int):
        from torchvision import transforms

        self.images, self.labels = images, labels
        channels = images.shape[1]
        self.transform = transforms.Compose([transforms.Resize(size), transforms.ToTensor(),
                                             transforms.Normalize((0.5,) * channels, (0.5,) * channels)])

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):
        from PIL import Image

        array = self.images[i].permute(1, 2, 0).numpy()
        image = Image.fromarray(array[..., 0] if array.shape[2] == 1 else array, mode="L" if array.shape[2] == 1 else "RGB")
        return self.transform(image), int(self.labels[i])


def baseline_images_per_s(G: nn.Module, D: nn.Module, images: torch.Tensor, labels: torch.Tensor, size: int,
                          z_dim: int, conditional: bool, lr: float = 2e-4, batch_size: int = 64,
                          warmup: int = 5, steps: int = 30, workers: int = 2,
                          device: torch.device = torch.device("cpu")) -> float:
    """Images per second of the example's loop over ``steps`` steps after ``warmup``."""
    loader = torch.utils.data.DataLoader(PILImages(images, labels, size), batch_size=batch_size, shuffle=True,
                                         num_workers=workers, drop_last=True, persistent_workers=workers > 0)
    criterion = nn.BCEWithLogitsLoss()
    opt_d = torch.optim.Adam(D.parameters(), lr=lr, betas=(0.5, 0.999))
    opt_g = torch.optim.Adam(G.parameters(), lr=lr, betas=(0.5, 0.999))
    real_label, fake_label = 1.0, 0.0
    done, started = 0, None
    while True:
        for real_cpu, y in loader:
            if done == warmup:
                started = time.perf_counter()
            # (1) Update D network: maximize log(D(x)) + log(1 - D(G(z)))
            D.zero_grad()
            real = real_cpu.to(device)
            y = y.to(device) if conditional else None
            b = real.size(0)
            label = torch.full((b,), real_label, dtype=real.dtype, device=device)
            output = D(real, y)
            err_d_real = criterion(output, label)
            err_d_real.backward()
            d_x = output.sigmoid().mean().item()
            noise = torch.randn(b, z_dim, device=device)
            fake = G(noise, y)
            label.fill_(fake_label)
            output = D(fake.detach(), y)
            err_d_fake = criterion(output, label)
            err_d_fake.backward()
            d_g_z1 = output.sigmoid().mean().item()
            err_d = err_d_real + err_d_fake
            opt_d.step()
            # (2) Update G network: maximize log(D(G(z)))
            G.zero_grad()
            label.fill_(real_label)
            output = D(fake, y)
            err_g = criterion(output, label)
            err_g.backward()
            d_g_z2 = output.sigmoid().mean().item()
            opt_g.step()
            _ = (err_d.item(), err_g.item(), d_x, d_g_z1, d_g_z2)  # the example prints these every step
            done += 1
            if done == warmup + steps:
                if device.type == "cuda":
                    torch.cuda.synchronize(device)
                return steps * batch_size / (time.perf_counter() - started)
