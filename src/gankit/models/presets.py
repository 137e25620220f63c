"""Every model name of the spec: an architecture plus the settings of its source document.

WGAN, WGAN-GP and LSGAN are the DCGAN networks with another loss and optimizer, so they are
presets here, not network files of their own.
"""
from __future__ import annotations

from functools import partial

from gankit.models.conditional import build_cdcgan
from gankit.models.dcgan import build_dcgan
from gankit.models.mlp import build_mlp, build_toy_mlp
from gankit.models.upsample import build_upsample
from gankit.models.spec import ModelSpec
from gankit.registry import Registry

MODELS: Registry[ModelSpec] = Registry("model")

# Adam as Radford et al. 2016 and the PyTorch DCGAN example use it.
RADFORD_ADAM = dict(optimizer="adam", lr_g=2e-4, lr_d=2e-4, betas=(0.5, 0.999), init="dcgan")
CONV_SIZES = (16, 32, 64, 128)


def width_for(small: int, large: int):
    """A width preset that depends on the image size: ``small`` up to 32 px, ``large`` above."""
    return lambda values: small if (values["image_size"] or 32) <= 32 else large


MODELS.add("gan", ModelSpec(
    build=build_mlp, source="tutorial 7a (Goodfellow et al. 2014)",
    description="vanilla MLP GAN: G 100→32→64→128→784, D 784→128→64→32→1",
    preset=dict(optimizer="adam", lr_g=2e-3, lr_d=2e-3, betas=(0.9, 0.999), init="default",
                z_prior="uniform", image_size=28, batch_size=64, epochs=20, ngf=32, ndf=32, loss="bce"),
))
MODELS.add("cgan", ModelSpec(
    build=partial(build_mlp, conditional=True), conditional=True,
    source="Mirza & Osindero 2014; recipe measured in gankit (issue 15): Adam 1e-3, matching-aware D (Reed et al. 2016)",
    description="conditional MLP GAN: z ⊕ one-hot(y) → 128→256→512 → image, image ⊕ one-hot(y) → 512→256→128 → "
                "logit. With Radford's Adam 2e-4 the label is ignored (label accuracy 0.10 at 2,000 and 3,748 steps, "
                "3–8 classes); lr 1e-3 lifts it to 0.79 at 6,000 steps and a D that also scores real images with "
                "a wrong label as fake (--mismatch 0.5) to 0.89",
    preset=dict(RADFORD_ADAM, lr_g=1e-3, lr_d=1e-3, init="default", image_size=28, batch_size=64, epochs=20,
                n_fixed=10, ngf=128, ndf=128, loss="bce", mismatch=0.5),
))
MODELS.add("dcgan", ModelSpec(
    build=build_dcgan, sizes=CONV_SIZES, source="practical work 3-d (32 px), Radford et al. 2016 (64 px)",
    description="DCGAN: strided ConvT generator, strided Conv discriminator, batch norm",
    preset=dict(RADFORD_ADAM, image_size=32, batch_size=64, epochs=5, loss="bce",
                ngf=width_for(32, 64), ndf=width_for(32, 64)),
))
MODELS.add("dcgan-upsample", ModelSpec(
    build=build_upsample,
    sizes=CONV_SIZES, source="STAT3007 tutorial",
    description="DCGAN with nearest-upsample + 3×3 conv generator, 64 px",
    preset=dict(RADFORD_ADAM, image_size=64, batch_size=64, epochs=10, n_fixed=16, ngf=64, ndf=64, loss="bce"),
))
MODELS.add("cdcgan", ModelSpec(
    build=build_cdcgan, conditional=True, sizes=CONV_SIZES,
    source="practical work 3-d (layers, Adam 2e-4); recipe measured in gankit (issue 15): MSGAN's mode-seeking "
           "term (Mao et al. 2019) and a matching-aware D (Reed et al. 2016)",
    description="conditional DCGAN: label branches concatenated in both networks. The practical's plain recipe "
                "(--mode-seeking 0 --mismatch 0) ignores z at step 1,000 — every row of the class grid alike, "
                "intra-class feature diversity 0.47, label accuracy 0.69; --mode-seeking 0.5 --mismatch 0.5 (the "
                "default), seeds 0/1/2: label accuracy 0.974/0.966/0.962, diversity 0.94/0.96/0.97, 10/10 classes "
                "(mode-seeking 1 gave 0.972/0.955/0.928)",
    preset=dict(RADFORD_ADAM, image_size=32, batch_size=64, epochs=5, n_fixed=10, ngf=128, ndf=64, loss="bce",
                mode_seeking=0.5, mismatch=0.5),
))
MODELS.add("dcgan-plus", ModelSpec(
    build=build_dcgan, sizes=CONV_SIZES,
    source="gankit's E14 sweep (issue 16): Radford et al.'s DCGAN with 10× their learning rate and an EMA of G "
           "(Karras et al. 2018, ramped up as in StyleGAN2-ADA); lazy R1 (Mescheder et al. 2018, StyleGAN2's "
           "every 16th D step) from the dcgan-plus-r1 sweep",
    description="DCGAN (same networks) with Adam 2e-3/β1 0.5 for both, G's weights averaged (decay 0.999) and "
                "R1 at γ 0.1 on every 16th D step: in E14 (MNIST, 1,000 steps, seeds 0/1/2) lr 2e-3 + EMA alone "
                "reached 10/10 classes with class KL ≤ 0.02 on every seed (classifier FID 76 ± 2 against 561 ± 154 "
                "for dcgan's defaults). 17 epochs (~30 min of one CPU core, 18 of two): 15 beat 5 on every MNIST "
                "seed at the 10k-vs-test protocol. R1 at γ 0.1 lowers FID on both sets (every 4th step, seeds 0/1/2: MNIST "
                "6.14 ± 0.38 vs 6.72 ± 0.61 without, Fashion-MNIST 12.86 ± 0.27 vs 14.44 ± 0.20); every 16th "
                "step keeps time to quality under 60 s (49.9/54.4 s against 56.9/84.3 every 4th and 53.6/64.5 "
                "without) and scores MNIST 5.89 ± 0.10 and Fashion-MNIST 13.08 ± 0.28, below Lucic et al.'s "
                "best (6.7 ± 0.4, 21.5 ± 1.6) on every seed. "
                "--r1-gamma 0 gives the preset without R1",
    preset=dict(RADFORD_ADAM, lr_g=2e-3, lr_d=2e-3, ema_decay=0.999, r1_gamma=0.1, r1_every=16, image_size=32,
                batch_size=64, epochs=17, loss="bce", ngf=width_for(32, 64), ndf=width_for(32, 64)),
))
MODELS.add("wgan", ModelSpec(
    build=build_dcgan, sizes=CONV_SIZES, source="Arjovsky et al. 2017",
    description="Wasserstein GAN: DCGAN nets, critic clipped to ±0.01, RMSprop 5e-5, 5 critic steps",
    preset=dict(optimizer="rmsprop", lr_g=5e-5, lr_d=5e-5, init="dcgan", loss="wasserstein", clip=0.01,
                n_critic=5, image_size=32, batch_size=64, epochs=10, ngf=width_for(32, 64), ndf=width_for(32, 64)),
))
MODELS.add("wgan-gp", ModelSpec(
    build=partial(build_dcgan, critic_norm=None), sizes=CONV_SIZES, source="Gulrajani et al. 2017",
    description="WGAN with gradient penalty λ=10, critic without batch norm, Adam(1e-4, β=(0, 0.9))",
    preset=dict(optimizer="adam", lr_g=1e-4, lr_d=1e-4, betas=(0.0, 0.9), init="dcgan", loss="wasserstein",
                gp_lambda=10.0, n_critic=5, image_size=32, batch_size=64, epochs=10,
                ngf=width_for(32, 64), ndf=width_for(32, 64)),
))
MODELS.add("lsgan", ModelSpec(
    build=build_dcgan, sizes=CONV_SIZES, source="Mao et al. 2017",
    description="least-squares GAN: DCGAN nets, least-squares loss",
    preset=dict(RADFORD_ADAM, loss="least-squares", image_size=32, batch_size=64, epochs=5,
                ngf=width_for(32, 64), ndf=width_for(32, 64)),
))
MODELS.add("gan2d", ModelSpec(
    build=build_toy_mlp, data_kind="points", source="toy mixtures of Metz et al. 2017",
    description="MLP GAN for 2-D points (ring8, grid25): 3×128 hidden units each",
    preset=dict(optimizer="adam", lr_g=1e-3, lr_d=1e-3, betas=(0.5, 0.999), init="default", z_dim=16,
                batch_size=256, epochs=20, ngf=128, ndf=128, loss="bce", n_fixed=1024),
))
