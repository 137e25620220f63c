"""Every registered model: output shapes and ranges, one real training step, conditional class
counts, minibatch discrimination, and the layer tables of SPEC §2 at their default widths."""
from __future__ import annotations

import pytest
import torch
from torch import nn

from conftest import make_cfg, random_images, random_points
from gankit import Config, GankitError
from gankit.data.shape import DataShape
from gankit.models import MODELS, build_models
from gankit.models.minibatch_disc import MinibatchDiscrimination
from gankit.training.trainer import GANTrainer

CPU = torch.device("cpu")


def model_cases():
    """(model, channels, size) for every model: image models at 32 and 64 px (the MLP GANs
    also at MNIST's native 28 px) in 1 and 3 channels; gan2d on 2-D points."""
    cases = []
    for name, spec in MODELS.items():
        if spec.data_kind == "points":
            cases.append(pytest.param(name, None, None, id=f"{name}-points"))
            continue
        sizes = (28, 32, 64) if name in ("gan", "cgan") else (32, 64)
        for channels in (1, 3):
            for size in sizes:
                cases.append(pytest.param(name, channels, size, id=f"{name}-c{channels}-{size}px"))
    return cases


def test_cases_cover_every_model():
    spec_models = {"gan", "cgan", "dcgan", "dcgan-upsample", "cdcgan", "wgan", "wgan-gp", "lsgan", "gan2d"}  # SPEC §2
    assert set(MODELS.names()) == spec_models | {"dcgan-plus"}  # and the preset E14 chose (issue 16)
    spec_models |= {"dcgan-plus"}
    assert {c.values[0] for c in model_cases()} == spec_models


def setup(name, channels, size, num_classes=10, **overrides):
    """(cfg, data) for a tiny model and 32 random samples of the right shape."""
    if size is None:
        cfg = make_cfg(name, batch_size=4, **overrides)
        data = random_points(32, num_classes=8)
    else:
        cfg = make_cfg(name, image_size=size, batch_size=4, **overrides)
        data = random_images(32, channels, size, num_classes)
    return cfg, data


def labels_for(cfg, n, num_classes):
    return torch.arange(n) % num_classes if MODELS[cfg.model].conditional else None


@pytest.mark.parametrize("name,channels,size", model_cases())
def test_output_shapes(name, channels, size):
    cfg, data = setup(name, channels, size)
    torch.manual_seed(0)
    g, d = build_models(cfg, data.shape)
    g.eval(), d.eval()
    z = torch.randn(5, cfg.z_dim)
    y = labels_for(cfg, 5, data.shape.num_classes)
    with torch.no_grad():
        x = g(z, y)
        if size is None:
            assert x.shape == (5, 2)
        else:
            assert x.shape == (5, channels, size, size)
            assert x.min() >= -1 and x.max() <= 1
            assert x.std() > 0  # not a constant image
        out = d(x, y)
    assert out.shape == (5,)
    assert torch.isfinite(out).all()


def assert_step_trains(cfg, data, check_each_param=True):
    """One real GANTrainer step: finite statistics, finite non-zero gradients in G and D, and
    both networks changed by their optimizers."""
    trainer = GANTrainer(cfg, data, CPU)
    before_g = [p.detach().clone() for p in trainer.G.parameters()]
    before_d = [p.detach().clone() for p in trainer.D.parameters()]
    batches = next(trainer.epoch_batches())
    assert len(batches) == cfg.n_critic
    stats = trainer.train_step(batches)
    assert stats.shape == (6,)
    assert torch.isfinite(stats).all(), stats
    for net in (trainer.G, trainer.D):
        params = dict(net.named_parameters())
        grads = {n: p.grad for n, p in params.items()}
        assert all(g is not None for g in grads.values()), [n for n, g in grads.items() if g is None]
        assert all(torch.isfinite(g).all() for g in grads.values())
        total = sum(float(g.abs().sum()) for g in grads.values())
        assert total > 0
        if check_each_param:
            zero = [n for n, g in grads.items() if not g.abs().sum() > 0]
            assert not zero, f"parameters without gradient: {zero}"
    assert any(not torch.equal(a, b) for a, b in zip(before_g, trainer.G.parameters()))
    assert any(not torch.equal(a, b) for a, b in zip(before_d, trainer.D.parameters()))
    return trainer


@pytest.mark.parametrize("name,channels,size", model_cases())
def test_one_training_step(name, channels, size):
    cfg, data = setup(name, channels, size)
    assert_step_trains(cfg, data)


@pytest.mark.parametrize("name", ["cgan", "cdcgan"])
@pytest.mark.parametrize("num_classes", [3, 102])
def test_conditional_class_counts(name, num_classes):
    cfg, data = setup(name, 1, 32, num_classes=num_classes)
    assert data.shape.num_classes == num_classes
    trainer = assert_step_trains(cfg, data)
    g = trainer.G.eval()
    y = torch.tensor([0, num_classes - 1])
    with torch.no_grad():
        x = g(torch.zeros(2, cfg.z_dim), y)
    assert x.shape == (2, 1, 32, 32)
    # The label reaches the output: the same z with another class gives another image.
    assert not torch.equal(x[0], x[1])
    assert trainer.fixed_y is not None and int(trainer.fixed_y.max()) == num_classes - 1


def test_conditional_needs_two_classes():
    cfg = make_cfg("cdcgan")
    with pytest.raises(GankitError, match="conditional"):
        build_models(cfg, DataShape(channels=1, size=32, num_classes=1))


def test_image_model_refuses_points_and_bad_sizes():
    with pytest.raises(GankitError, match="gan2d"):
        build_models(make_cfg("dcgan"), DataShape(point_dim=2, num_classes=8))
    with pytest.raises(GankitError, match="image"):
        build_models(make_cfg("gan2d"), DataShape(channels=1, size=32))
    with pytest.raises(GankitError, match="--image-size"):
        build_models(make_cfg("dcgan"), DataShape(channels=1, size=28))


@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_minibatch_discrimination(name):
    size = 28 if name == "gan" else 32
    cfg, data = setup(name, 1, size, minibatch_disc=True)
    trainer = assert_step_trains(cfg, data)
    mbd = [m for m in trainer.D.modules() if isinstance(m, MinibatchDiscrimination)]
    assert len(mbd) == 1 and bool(mbd[0].initialised)
    assert mbd[0].theta.grad is not None and mbd[0].theta.grad.abs().sum() > 0

    d = trainer.D.eval()
    x = torch.rand(4, 1, size, size) * 2 - 1
    out = d(x)
    assert out.shape == (4,)
    # Each output depends on the other samples of the batch: making sample 1 a copy of
    # sample 0 changes D's output for sample 0 (in eval mode: no dropout, no batch-norm batch
    # statistics, so without the layer it would stay the same).
    x2 = x.clone()
    x2[1] = x[0]
    assert not torch.allclose(d(x2)[0], out[0])


@pytest.mark.parametrize("name", ["gan", "dcgan"])
def test_without_minibatch_discrimination_samples_are_independent(name):
    size = 28 if name == "gan" else 32
    cfg, data = setup(name, 1, size)
    torch.manual_seed(0)
    _, d = build_models(cfg, data.shape)
    d.eval()
    assert not any(isinstance(m, MinibatchDiscrimination) for m in d.modules())
    x = torch.rand(4, 1, size, size) * 2 - 1
    x2 = x.clone()
    x2[1] = x[0]
    torch.testing.assert_close(d(x2)[0], d(x)[0])


# --- the layer tables of SPEC §2 ----------------------------------------------------------------

def describe(module: nn.Module) -> list[tuple]:
    """The leaf layers of ``module`` in order, each as a comparable tuple."""
    out = []
    for m in module.modules():
        if list(m.children()) or isinstance(m, (nn.Identity, nn.Flatten)):
            continue
        if isinstance(m, nn.ConvTranspose2d):
            out.append(("ConvT", m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0], m.bias is not None))
        elif isinstance(m, nn.Conv2d):
            out.append(("Conv", m.in_channels, m.out_channels, m.kernel_size[0], m.stride[0], m.padding[0], m.bias is not None))
        elif isinstance(m, nn.Linear):
            out.append(("Linear", m.in_features, m.out_features, m.bias is not None))
        elif isinstance(m, nn.BatchNorm2d):
            out.append(("BN", m.num_features))
        elif isinstance(m, nn.LeakyReLU):
            out.append(("LReLU", m.negative_slope))
        elif isinstance(m, nn.ReLU):
            out.append(("ReLU",))
        elif isinstance(m, nn.Tanh):
            out.append(("Tanh",))
        elif isinstance(m, nn.Dropout):
            out.append(("Dropout", m.p))
        elif isinstance(m, nn.Upsample):
            out.append(("Up", m.size, m.mode))
        else:
            out.append((type(m).__name__,))
    return out


def n_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def default_models(model: str, channels: int = 1, size: int | None = None, num_classes: int = 10):
    overrides = {} if size is None else dict(image_size=size)
    cfg = Config(model=model, **overrides).resolved()
    shape = DataShape(channels=channels, size=cfg.image_size, num_classes=num_classes)
    torch.manual_seed(0)
    return cfg, *build_models(cfg, shape)


def test_gan_layers():
    cfg, g, d = default_models("gan")
    assert (cfg.z_dim, cfg.image_size) == (100, 28)
    act = [("LReLU", 0.2), ("Dropout", 0.3)]
    assert describe(g) == [("Linear", 100, 32, True), *act, ("Linear", 32, 64, True), *act,
                           ("Linear", 64, 128, True), *act, ("Linear", 128, 784, True), ("Tanh",)]
    assert describe(d) == [("Linear", 784, 128, True), *act, ("Linear", 128, 64, True), *act,
                           ("Linear", 64, 32, True), *act, ("Linear", 32, 1, True)]
    # weights + biases of each Linear
    assert n_params(g) == (100 * 32 + 32) + (32 * 64 + 64) + (64 * 128 + 128) + (128 * 784 + 784) == 114_800
    assert n_params(d) == (784 * 128 + 128) + (128 * 64 + 64) + (64 * 32 + 32) + (32 * 1 + 1) == 110_849


def test_dcgan_32_layers():
    cfg, g, d = default_models("dcgan")
    assert (cfg.ngf, cfg.ndf, cfg.image_size) == (32, 32, 32)
    assert describe(g) == [
        ("ConvT", 100, 128, 4, 1, 0, False), ("BN", 128), ("ReLU",),
        ("ConvT", 128, 64, 4, 2, 1, False), ("BN", 64), ("ReLU",),
        ("ConvT", 64, 32, 4, 2, 1, False), ("BN", 32), ("ReLU",),
        ("ConvT", 32, 1, 4, 2, 1, False), ("Tanh",)]
    lrelu = ("LReLU", 0.2)
    assert describe(d) == [
        ("Conv", 1, 32, 4, 2, 1, False), ("BN", 32), lrelu,
        ("Conv", 32, 64, 4, 2, 1, False), ("BN", 64), lrelu,
        ("Conv", 64, 128, 4, 2, 1, False), ("BN", 128), lrelu,
        ("Conv", 128, 1, 4, 1, 0, False)]
    # conv weights in*out*4*4, no biases; each BN has a weight and a bias per channel
    assert n_params(g) == (100 * 128 * 16 + 2 * 128) + (128 * 64 * 16 + 2 * 64) + (64 * 32 * 16 + 2 * 32) + 32 * 1 * 16 == 369_600
    assert n_params(d) == (1 * 32 * 16 + 2 * 32) + (32 * 64 * 16 + 2 * 64) + (64 * 128 * 16 + 2 * 128) + 128 * 16 == 166_848


def test_dcgan_32_feature_map_sizes():
    _, g, d = default_models("dcgan")
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append(tuple(o.shape[1:])))
             for m in list(g.modules()) + list(d.modules()) if isinstance(m, (nn.ConvTranspose2d, nn.Conv2d))]
    g.eval(), d.eval()
    with torch.no_grad():
        d(g(torch.randn(2, 100)))
    for h in hooks:
        h.remove()
    assert seen == [(128, 4, 4), (64, 8, 8), (32, 16, 16), (1, 32, 32),  # G
                    (32, 16, 16), (64, 8, 8), (128, 4, 4), (1, 1, 1)]  # D


def test_dcgan_64_is_radford():
    cfg, g, d = default_models("dcgan", channels=3, size=64)
    assert (cfg.ngf, cfg.ndf) == (64, 64)
    g_convs = [l for l in describe(g) if l[0] == "ConvT"]
    assert [l[1:3] for l in g_convs] == [(100, 512), (512, 256), (256, 128), (128, 64), (64, 3)]
    assert [l[3:6] for l in g_convs] == [(4, 1, 0)] + [(4, 2, 1)] * 4
    d_layers = describe(d)
    assert [l[1:3] for l in d_layers if l[0] == "Conv"] == [(3, 64), (64, 128), (128, 256), (256, 512), (512, 1)]
    assert d_layers[1] == ("LReLU", 0.2)  # Radford: no batch norm on the first block
    assert [l[1] for l in d_layers if l[0] == "BN"] == [128, 256, 512]
    with torch.no_grad():
        assert g.eval()(torch.randn(2, 100)).shape == (2, 3, 64, 64)


def test_dcgan_upsample_layers():
    cfg, g, d = default_models("dcgan-upsample")
    assert (cfg.image_size, cfg.ngf, cfg.ndf) == (64, 64, 64)
    layers = describe(g)
    assert [l[1] for l in layers if l[0] == "Up"] == [4, 8, 16, 32, 64]
    assert all(l[2] == "nearest" for l in layers if l[0] == "Up")
    convs = [l for l in layers if l[0] == "Conv"]
    assert [l[1:3] for l in convs] == [(100, 512), (512, 256), (256, 128), (128, 64), (64, 1)]
    assert all(l[3:6] == (3, 1, 1) for l in convs)
    kinds = [l[0] for l in layers]
    assert kinds == ["Up", "Conv", "BN", "ReLU"] * 4 + ["Up", "Conv", "Tanh"]
    d_layers = describe(d)
    d_convs = [l for l in d_layers if l[0] == "Conv"]
    assert [l[1:6] for l in d_convs] == [(1, 64, 4, 2, 1), (64, 128, 4, 2, 1), (128, 256, 4, 2, 1),
                                         (256, 512, 4, 2, 1), (512, 1, 4, 1, 0)]
    assert d_layers[1] == ("LReLU", 0.2)  # BN except the first block
    assert [l[1] for l in d_layers if l[0] == "BN"] == [128, 256, 512]
    with torch.no_grad():
        assert g.eval()(torch.randn(2, 100)).shape == (2, 1, 64, 64)


def test_cdcgan_32_layers():
    cfg, g, d = default_models("cdcgan")
    assert (cfg.ngf, cfg.ndf) == (128, 64)
    assert describe(g) == [
        ("ConvT", 100, 256, 4, 1, 0, False), ("BN", 256), ("ReLU",),  # z branch
        ("ConvT", 10, 256, 4, 1, 0, False), ("BN", 256), ("ReLU",),  # y branch; concat -> 512
        ("ConvT", 512, 256, 4, 2, 1, False), ("BN", 256), ("ReLU",),
        ("ConvT", 256, 128, 4, 2, 1, False), ("BN", 128), ("ReLU",),
        ("ConvT", 128, 1, 4, 2, 1, False), ("Tanh",)]
    lrelu = ("LReLU", 0.2)
    assert describe(d) == [
        ("Conv", 1, 64, 4, 2, 1, False), lrelu,  # x branch
        ("Conv", 10, 64, 4, 2, 1, False), lrelu,  # y branch (one-hot planes); concat -> 128
        ("Conv", 128, 256, 4, 2, 1, False), ("BN", 256), lrelu,
        ("Conv", 256, 512, 4, 2, 1, False), ("BN", 512), lrelu,
        ("Conv", 512, 1, 4, 1, 0, False)]
    # The SPEC row does not mention biases; like the DCGAN rows, the layers have none.
    assert n_params(g) == (100 * 256 * 16 + 2 * 256) + (10 * 256 * 16 + 2 * 256) + (512 * 256 * 16 + 2 * 256) \
        + (256 * 128 * 16 + 2 * 128) + 128 * 1 * 16 == 3_075_840
    assert n_params(d) == 1 * 64 * 16 + 10 * 64 * 16 + (128 * 256 * 16 + 2 * 256) + (256 * 512 * 16 + 2 * 512) \
        + 512 * 16 == 2_642_432


def test_wgan_gp_critic_has_no_batch_norm():
    _, _, d = default_models("wgan-gp")
    assert not any(isinstance(m, nn.BatchNorm2d) for m in d.modules())
    _, _, d = default_models("wgan")
    assert any(isinstance(m, nn.BatchNorm2d) for m in d.modules())


def test_dcgan_init():
    cfg = Config(model="dcgan").resolved()
    assert cfg.init == "dcgan"
    torch.manual_seed(0)
    g, d = build_models(cfg, DataShape(channels=1, size=32))
    conv, bn = g.net[0].weight, g.net[1]  # ConvT(100, 128): 204,800 weights
    assert abs(conv.mean().item()) < 0.001
    assert conv.std().item() == pytest.approx(0.02, rel=0.02)  # N(0, 0.02)
    assert bn.weight.mean().item() == pytest.approx(1.0, abs=0.01)  # N(1, 0.02)
    assert bn.weight.std().item() == pytest.approx(0.02, rel=0.3)
    assert torch.equal(bn.bias, torch.zeros_like(bn.bias))


def test_default_init_keeps_pytorch_layers():
    cfg = Config(model="dcgan", init="default").resolved()
    torch.manual_seed(0)
    g, _ = build_models(cfg, DataShape(channels=1, size=32))
    conv, bn = g.net[0].weight, g.net[1]
    # PyTorch's ConvTranspose2d draws U(-b, b) with b = 1/sqrt(fan_in), fan_in = 128 * 4 * 4;
    # N(0, 0.02) would put some of 204,800 weights beyond b = 0.0221.
    bound = 1 / (128 * 16) ** 0.5
    assert conv.abs().max().item() <= bound
    assert conv.abs().max().item() > 0.95 * bound
    assert torch.equal(bn.weight, torch.ones_like(bn.weight))


def test_cdcgan_refuses_minibatch_discrimination():
    from gankit import GankitError

    with pytest.raises(GankitError, match="cdcgan has no minibatch discrimination"):
        build_models(Config(model="cdcgan", minibatch_disc=True, ngf=8, ndf=8).resolved(), DataShape(1, 32, 10))


def test_minibatch_discrimination_term_by_term():
    """o(x_i)_b = Σ_{j≠i} exp(−‖M_i,b − M_j,b‖_1) + bias_b with M_i = f(x_i)·T and T weight-normalised
    (Salimans et al. 2016 §3.2 and their released code), computed here by loops."""
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(6, n_kernels=3, kernel_dim=2).eval()
    with torch.no_grad():
        layer.log_scale.uniform_(-1, 1), layer.bias.uniform_(-1, 1)
    h = torch.randn(4, 6)
    T = layer.theta / layer.theta.norm(dim=0, keepdim=True) * layer.log_scale.exp()
    M = torch.einsum("na,abc->nbc", h, T)
    expected = torch.zeros(4, 3)
    for i in range(4):
        for b in range(3):
            expected[i, b] = sum(torch.exp(-(M[i, b] - M[j, b]).abs().sum()) for j in range(4) if j != i) + layer.bias[b]
    out = layer(h)
    assert out.shape == (4, 9) and torch.equal(out[:, :6], h)
    torch.testing.assert_close(out[:, 6:], expected)
    collapsed = layer(h[:1].repeat(4, 1))[:, 6:]  # four identical samples: every closeness sum is 3
    torch.testing.assert_close(collapsed, (3 + layer.bias).expand(4, 3).detach())


def test_minibatch_discrimination_initialises_from_its_first_batch():
    """The released code's data-dependent init: mean nearest-neighbour L1 distance 1 per kernel and
    zero-mean outputs on the first training batch; never again (and not in eval mode). Without it
    the distances between projections of 8,192 DCGAN features are large and every exp(−d) is ~0."""
    torch.manual_seed(0)
    layer = MinibatchDiscrimination(8192)
    h = torch.randn(64, 8192)
    layer.eval()(h)
    assert not bool(layer.initialised)
    o = layer.train()(h)[:, 8192:]
    assert bool(layer.initialised)
    nearest = layer.distances(h).min(2).values.mean(1)
    torch.testing.assert_close(nearest, torch.ones(100), rtol=1e-4, atol=1e-4)
    torch.testing.assert_close(o.mean(0), torch.zeros(100), rtol=0, atol=1e-4)
    assert float(o.detach().std()) > 0.01  # the statistics vary from sample to sample
    scale = layer.log_scale.clone()
    layer(torch.randn(64, 8192) * 3)
    assert torch.equal(layer.log_scale, scale)  # once only


@pytest.mark.parametrize("name", ["cgan", "cdcgan"])
def test_the_matching_aware_discriminator_scores_wrong_labels_as_fake(name):
    """GAN-CLS (Reed et al. 2016): with --mismatch the D step also scores real images under a wrong
    label, so the same seeded step gives another D loss, every gradient finite."""
    size = 28 if name == "cgan" else 32
    cfg, data = setup(name, 1, size, mismatch=0.0, mode_seeking=0.0)
    plain = GANTrainer(cfg, data, CPU).train_step(next(GANTrainer(cfg, data, CPU).epoch_batches()))
    cfg_mm, _ = setup(name, 1, size, mismatch=0.5, mode_seeking=0.0)
    trainer = assert_step_trains(cfg_mm, data)
    y = torch.arange(1000) % 10
    wrong = trainer.wrong_labels(y)
    assert bool((wrong != y).all()) and set(wrong.tolist()) == set(range(10))
    again = GANTrainer(cfg_mm, data, CPU)
    assert not torch.isclose(again.train_step(next(again.epoch_batches()))[0], plain[0])


def test_mismatch_needs_a_conditional_model():
    cfg, data = setup("dcgan", 1, 32, mismatch=0.5)
    with pytest.raises(GankitError, match="--mismatch needs a conditional model"):
        GANTrainer(cfg, data, CPU)


def test_the_mode_seeking_term_on_known_images():
    """MSGAN (Mao et al. 2019): 1 / (mean|G1 − G2|₁ / mean|z1 − z2|₁ + ε) over the batch's two halves."""
    from gankit.losses import mode_seeking_penalty

    z = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 1.0]])  # |z1 − z2|: (2, 2) and (2, 0) -> mean 1.5
    fake = torch.tensor([[0.0], [0.0], [3.0], [1.5]])  # |G1 − G2|: 3 and 1.5 -> mean 2.25
    assert float(mode_seeking_penalty(fake, z)) == pytest.approx(1 / (2.25 / 1.5 + 1e-5))
    assert float(mode_seeking_penalty(torch.cat([fake[:2], fake[:2]]), z)) == pytest.approx(1e5)


@pytest.mark.parametrize("name", ["cgan", "cdcgan"])
def test_mode_seeking_pairs_share_labels_and_the_step_trains(name):
    size = 28 if name == "cgan" else 32
    cfg, data = setup(name, 1, size, mode_seeking=1.0, mismatch=0.0)
    trainer = assert_step_trains(cfg, data)
    z, y = trainer.fake_inputs(8)
    assert torch.equal(y[:4], y[4:]) and not torch.equal(z[:4], z[4:])
    plain_cfg, _ = setup(name, 1, size, mismatch=0.0, mode_seeking=0.0)
    plain, seeking = GANTrainer(plain_cfg, data, CPU), GANTrainer(cfg, data, CPU)
    assert not torch.isclose(plain.train_step(next(plain.epoch_batches()))[1],
                             seeking.train_step(next(seeking.epoch_batches()))[1])


def test_mode_seeking_needs_a_conditional_model():
    cfg, data = setup("dcgan", 1, 32, mode_seeking=1.0)
    with pytest.raises(GankitError, match="--mode-seeking needs a conditional model"):
        GANTrainer(cfg, data, CPU)


def test_feature_matching_on_known_features():
    """Salimans et al. 2016: the squared distance of the mean features, averaged over units; the
    real features are a fixed target."""
    from gankit.losses import feature_matching_loss

    real = torch.tensor([[1.0, 2.0], [3.0, 4.0]], requires_grad=True)  # mean (2, 3)
    fake = torch.tensor([[0.0, 0.0], [2.0, 2.0]], requires_grad=True)  # mean (1, 1)
    loss = feature_matching_loss(real, fake)
    assert float(loss.detach()) == pytest.approx((1 + 4) / 2)
    loss.backward()
    assert real.grad is None and torch.equal(fake.grad, torch.tensor([[-0.5, -1.0], [-0.5, -1.0]]))


@pytest.mark.parametrize("name, size, extra, width", [
    ("gan2d", None, {}, 4), ("gan2d", None, dict(minibatch_disc=True), 4 + 100),
    ("gan", 28, {}, 4), ("dcgan", 32, {}, 4 * 4 * 16), ("dcgan", 32, dict(minibatch_disc=True), 4 * 4 * 16 + 100),
    ("cdcgan", 32, {}, 4 * 4 * 32)])  # its trunk ends at 8 · ndf
def test_feature_matching_reads_the_input_of_ds_last_layer(name, size, extra, width):
    """f(x) is what D's last layer sees: after minibatch discrimination where D has it. The step
    trains G on it (finite gradients) and differs from the non-saturating step."""
    from gankit.models.features import LastHiddenLayer

    cfg, data = setup(name, 1, size, ndf=4, g_loss="feature-matching", **extra)
    trainer = assert_step_trains(cfg, data)
    record = LastHiddenLayer(trainer.D)
    x = next(trainer.epoch_batches())[0]
    trainer.critic(*x)
    assert record.value.shape == (4, width)
    plain = GANTrainer(setup(name, 1, size, ndf=4, **extra)[0], data, CPU)
    matched = GANTrainer(cfg, data, CPU)
    assert not torch.isclose(plain.train_step(next(plain.epoch_batches()))[1],
                             matched.train_step(next(matched.epoch_batches()))[1])
