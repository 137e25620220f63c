"""Train the autoencoder baseline of E12 into a run directory laid out like a GAN run
(``config.json``, ``metrics.jsonl`` with ``loss_recon``, ``checkpoints/last.pt``,
``reconstructions.png``), so reports read it the same way. Stops on Ctrl-C/SIGTERM with a
checkpoint and continues from it when started again."""
from __future__ import annotations

import json
import time
from pathlib import Path

import torch
import torch.nn.functional as F

from gankit.config import Config
from gankit.data import load_run_data
from gankit.models.autoencoder import ConvAutoencoder
from gankit.models.init import INITS
from gankit.training.atomic import atomic_torch_save
from gankit.training.optim import make_optimizer
from gankit.training.run_dir import RunDir, truncate_metrics, write_config_json
from gankit.training.distributed import resolve_device
from gankit.training.signals import StopFlag, stop_on_signals
from gankit.training.trainer import epoch_order

KIND = "autoencoder"
N_SHOWN = 16  # test images in reconstructions.png (originals above, reconstructions below)


def build(cfg: Config, data) -> ConvAutoencoder:
    """The autoencoder for resolved ``cfg``: the DCGAN networks of the same widths and z size."""
    torch.manual_seed(cfg.seed)
    model = ConvAutoencoder(data.shape, cfg.z_dim, cfg.ngf, cfg.ndf)
    INITS[cfg.init](model)
    return model


def total_steps(cfg: Config, batches_per_epoch: int) -> int:
    """Steps of ``epochs``, capped by ``max_steps``."""
    steps = cfg.epochs * batches_per_epoch
    return min(steps, cfg.max_steps) if cfg.max_steps else steps


def train_autoencoder(config: Config, folder: Path) -> str:
    """Train (or continue) the baseline in ``folder``; returns "done" or the signal name."""
    cfg = config.resolved()
    data = load_run_data(cfg)
    device = resolve_device(cfg.device)
    run = RunDir(Path(folder))
    run.checkpoint.parent.mkdir(parents=True, exist_ok=True)
    model = build(cfg, data).to(device)
    opt = make_optimizer(cfg.optimizer, model.parameters(), cfg.lr_g, cfg.betas)
    step, seconds = 0, 0.0
    if run.checkpoint.exists():
        state = torch.load(run.checkpoint, map_location=device, weights_only=True)
        model.load_state_dict(state["autoencoder"])
        opt.load_state_dict(state["optimizer"])
        step, seconds = state["step"], state["train_seconds"]
        truncate_metrics(run.metrics, step)
    info = dict(name=data.name, num_images=len(data), shape=list(data.shape.sample_shape),
                class_names=data.class_names, class_ids=data.class_ids)
    write_config_json(run, dict(cfg.to_dict(), trainer=KIND), info)
    images = data.images.to(device)
    per_epoch = len(images) // cfg.batch_size
    last = total_steps(cfg, per_epoch)

    def save() -> None:
        atomic_torch_save(dict(kind=KIND, config=cfg.to_dict(), data=info, autoencoder=model.state_dict(),
                               optimizer=opt.state_dict(), step=step, last_step=last, train_seconds=seconds), run.checkpoint)

    ended, window, started = "done", [], time.perf_counter()
    with stop_on_signals(StopFlag()) as stop:
        while step < last and not stop:
            epoch, batch = divmod(step, per_epoch)
            idx = epoch_order(len(images), cfg.seed, epoch)[batch * cfg.batch_size:(batch + 1) * cfg.batch_size]
            x = images[idx.to(device)].float() / 127.5 - 1
            loss = F.mse_loss(model(x), x)  # the reconstruction objective, nothing adversarial
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
            window.append(loss.detach())
            if step % cfg.log_every == 0 or step == last:
                elapsed = time.perf_counter() - started
                seconds += elapsed
                row = dict(epoch=epoch + 1, step=step, loss_recon=float(torch.stack(window).mean()),
                           time=round(seconds, 3), images_per_s=round(len(window) * cfg.batch_size / elapsed, 1))
                with run.metrics.open("a") as fh:
                    fh.write(json.dumps(row) + "\n")
                window, started = [], time.perf_counter()
                if cfg.checkpoint_every and step % cfg.checkpoint_every == 0:
                    save()
        ended = stop.reason or "done"
    save()
    save_reconstructions(model, cfg, run.root)
    return ended


@torch.no_grad()
def reconstruct(model: ConvAutoencoder, images: torch.Tensor, batch: int = 500) -> torch.Tensor:
    """uint8 (N, C, H, W) -> their uint8 reconstructions."""
    from gankit.run import to_uint8

    model.eval()
    device = next(model.parameters()).device
    out = [model(images[i:i + batch].to(device).float() / 127.5 - 1) for i in range(0, len(images), batch)]
    return to_uint8(torch.cat(out).cpu())


@torch.no_grad()
def code_samples(model: ConvAutoencoder, train_images: torch.Tensor, n: int, seed: int = 0,
                 fit_count: int = 10_000, batch: int = 500) -> torch.Tensor:
    """n uint8 images generated by the autoencoder: codes drawn from a Gaussian fitted (mean and
    full covariance) to the codes of ``fit_count`` training images, then decoded. A plain
    autoencoder has no prior of its own; this is the usual way to sample from one, and what the
    documents' "autoencoder images" are compared as."""
    from gankit.run import to_uint8

    model.eval()
    device = next(model.parameters()).device
    x = train_images[:fit_count]
    codes = torch.cat([model.encoder(x[i:i + batch].to(device).float() / 127.5 - 1) for i in range(0, len(x), batch)])
    codes = codes.double().cpu()
    mean, cov = codes.mean(0), torch.cov(codes.T) + 1e-6 * torch.eye(codes.shape[1], dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    z = mean + torch.randn(n, codes.shape[1], generator=gen, dtype=torch.float64) @ torch.linalg.cholesky(cov).T
    z = z.float().to(device)
    return to_uint8(torch.cat([model.decoder(z[i:i + batch]) for i in range(0, n, batch)]).cpu())


def load_autoencoder(folder: Path) -> tuple[ConvAutoencoder, Config]:
    """The trained baseline of a folder written by ``train_autoencoder`` (on the CPU)."""
    state = torch.load(RunDir(Path(folder)).checkpoint, map_location="cpu", weights_only=True)
    cfg = Config.from_dict(state["config"])
    from gankit.models.spec import DataShape

    c, _, size = state["data"]["shape"]
    model = ConvAutoencoder(DataShape(c, size, len(state["data"]["class_names"])), cfg.z_dim, cfg.ngf, cfg.ndf)
    model.load_state_dict(state["autoencoder"])
    return model.eval(), cfg


def save_reconstructions(model: ConvAutoencoder, cfg: Config, root: Path) -> None:
    """``reconstructions.png``: the first test images above their reconstructions; and
    ``code_samples.png``: 64 images decoded from the fitted code Gaussian (``code_samples``)."""
    from gankit.plots import save_image_grid

    test = load_run_data(cfg, "test")
    originals = test.images[:N_SHOWN]
    save_image_grid(torch.cat([originals, reconstruct(model, originals)]), root / "reconstructions.png", nrow=N_SHOWN)
    train = load_run_data(cfg)
    save_image_grid(code_samples(model, train.images, 64, cfg.seed), root / "code_samples.png", nrow=8)
