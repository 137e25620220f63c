"""What E12 shows of the autoencoder baseline beyond its samples: its reconstructions of test
images, its best case. The run itself is an ordinary run (``--trainer autoencoder``): its G
decodes, and the encoder is kept as its D in ``checkpoints/last.pt``."""
from __future__ import annotations

from pathlib import Path

import torch

from gankit.data import load_run_data
from gankit.models.autoencoder import Encoder
from gankit.sampling import Run, to_uint8
from gankit.training.checkpoint import load_weights, read_checkpoint
from gankit.plots import save_image_grid

N_SHOWN = 16  # test images in reconstructions.png (originals above, reconstructions below)


def load_encoder(run: Run) -> Encoder:
    """The trained encoder of an autoencoder run (its checkpoint's discriminator), in eval mode."""
    encoder = Encoder(run.shape, run.config.z_dim, run.config.ndf)
    load_weights(encoder, read_checkpoint(run.checkpoint_path)["discriminator"], "encoder", run.dir)
    return encoder.to(next(run.generator.parameters()).device).eval()


@torch.no_grad()
def reconstruct(run: Run, encoder: Encoder, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """uint8 (N, C, H, W) -> their uint8 reconstructions G(E(x))."""
    device = next(encoder.parameters()).device
    decoder = run.generator.decoder
    out = [decoder(encoder(images[i:i + batch].to(device).float() / 127.5 - 1)) for i in range(0, len(images), batch)]
    return to_uint8(torch.cat(out).cpu())


def save_reconstructions(run: Run, folder: Path) -> None:
    """``reconstructions.png``: the first test images above their reconstructions; and
    ``code_samples.png``: 64 images the run generates (decoded codes of the fitted Gaussian)."""
    originals = load_run_data(run.config, "test").images[:N_SHOWN]
    save_image_grid(torch.cat([originals, reconstruct(run, load_encoder(run), originals)]),
                    folder / "reconstructions.png", nrow=N_SHOWN)
    save_image_grid(run.sample(64, seed=run.config.seed), folder / "code_samples.png", nrow=8)
