"""The one Config: presets of SPEC §3, explicit values over presets, flag/TOML parsing, and
one-line errors naming the flag for every value out of range."""
from __future__ import annotations

import dataclasses

import pytest

from gankit import Config, GankitError
from gankit.config import FIELDS, load_toml, parse_value


def resolved(model: str, **kw) -> Config:
    return Config(model=model, **kw).resolved()


def test_gan_preset():
    c = resolved("gan")
    assert (c.optimizer, c.lr_g, c.lr_d, c.betas) == ("adam", 2e-3, 2e-3, (0.9, 0.999))
    assert (c.z_prior, c.z_dim, c.image_size, c.batch_size, c.epochs) == ("uniform", 100, 28, 64, 20)
    assert (c.init, c.loss, c.g_loss) == ("default", "bce", "non-saturating")
    assert (c.ngf, c.ndf) == (32, 32)


@pytest.mark.parametrize("model", ["dcgan", "cdcgan"])
def test_radford_presets(model):
    c = resolved(model)
    assert (c.optimizer, c.lr_g, c.lr_d, c.betas) == ("adam", 2e-4, 2e-4, (0.5, 0.999))
    assert (c.z_prior, c.z_dim, c.init, c.image_size, c.loss) == ("normal", 100, "dcgan", 32, "bce")


def test_dcgan_width_follows_image_size():
    assert (resolved("dcgan").ngf, resolved("dcgan").ndf) == (32, 32)
    c64 = resolved("dcgan", image_size=64)
    assert (c64.ngf, c64.ndf) == (64, 64)
    # An explicit width wins over the size-dependent preset.
    assert resolved("dcgan", image_size=64, ngf=16).ngf == 16


def test_dcgan_upsample_preset():
    c = resolved("dcgan-upsample")
    assert (c.image_size, c.epochs, c.n_fixed, c.batch_size) == (64, 10, 16, 64)
    assert (c.lr_g, c.betas, c.init) == (2e-4, (0.5, 0.999), "dcgan")


def test_wgan_preset():
    c = resolved("wgan")
    assert (c.optimizer, c.lr_g, c.lr_d, c.clip, c.n_critic, c.loss) == ("rmsprop", 5e-5, 5e-5, 0.01, 5, "wasserstein")
    assert c.gp_lambda == 0


def test_wgan_gp_preset():
    c = resolved("wgan-gp")
    assert (c.optimizer, c.lr_g, c.lr_d, c.betas, c.gp_lambda, c.loss) == ("adam", 1e-4, 1e-4, (0.0, 0.9), 10.0, "wasserstein")
    assert c.clip == 0


def test_lsgan_preset():
    c = resolved("lsgan")
    assert (c.loss, c.optimizer, c.betas) == ("least-squares", "adam", (0.5, 0.999))


def test_dcgan_plus_is_dcgan_with_the_sweeps_winning_settings():
    """E14's winner over 3 seeds: lr 2e-3 for both networks and an EMA of G; a flag still wins."""
    plus, plain = resolved("dcgan-plus"), resolved("dcgan")
    assert (plus.lr_g, plus.lr_d, plus.ema_decay, plus.ema_rampup) == (2e-3, 2e-3, 0.999, 0.05)
    assert (plus.ngf, plus.ndf, plus.betas, plus.init, plus.loss) == (plain.ngf, plain.ndf, plain.betas, plain.init, plain.loss)
    assert plain.ema_decay == 0.0 and resolved("dcgan-plus", ema_decay=0.0).ema_decay == 0.0


def test_dcgan_plus_adds_lazy_r1_as_the_r1_sweep_measured():
    """Issue 16's dcgan-plus-r1 sweep: γ 0.1 lowered FID; every 16th step kept time to quality under 60 s."""
    plus, plain = resolved("dcgan-plus"), resolved("dcgan")
    assert (plus.r1_gamma, plus.r1_every) == (0.1, 16) and (plain.r1_gamma, plain.r1_every) == (0.0, 1)
    assert resolved("dcgan-plus", r1_gamma=0.0).r1_gamma == 0.0  # the preset without R1, by flag


def test_dcgan_plus_trains_as_long_as_the_quality_goal_allows():
    """Issue 16: FID fell from 5 to 15 epochs on every seed; 17 epochs are ~29 min of one core."""
    assert resolved("dcgan-plus").epochs == 17 and resolved("dcgan-plus", epochs=5).epochs == 5


def test_every_preset_resolves_completely():
    from gankit.models import MODELS

    for name in MODELS.names():
        c = resolved(name)
        unset = [f.name for f in dataclasses.fields(c)
                 if getattr(c, f.name) is None and f.name not in ("data_dir", "classes", "per_class", "max_steps", "out")]
        assert not unset, (name, unset)


def test_explicit_values_override_presets():
    c = resolved("gan", lr_g=0.1, lr_d=0.05, betas=(0.1, 0.2), z_prior="normal", image_size=32, epochs=3,
                 init="dcgan", ngf=7)
    assert (c.lr_g, c.lr_d, c.betas, c.z_prior, c.image_size, c.epochs, c.init, c.ngf) == \
        (0.1, 0.05, (0.1, 0.2), "normal", 32, 3, "dcgan", 7)
    assert resolved("wgan", clip=0.0).clip == 0.0  # 0 turns clipping off; it is not "unset"
    assert resolved("wgan-gp", gp_lambda=0.0).gp_lambda == 0.0


def test_resolved_is_a_copy():
    c = Config(model="dcgan")
    r = c.resolved()
    assert c.lr_g is None and r.lr_g == 2e-4
    assert r.resolved() == r


def test_unknown_model():
    with pytest.raises(GankitError, match="unknown model 'stylegan'") as info:
        Config(model="stylegan").resolved()
    assert "dcgan" in str(info.value)  # lists the known ones


@pytest.mark.parametrize("field,value,flag", [
    ("batch_size", 0, "--batch-size"),
    ("lr_g", -1.0, "--lr-g"),
    ("lr_d", 0.0, "--lr-d"),
    ("lr_g", float("nan"), "--lr-g"),
    ("betas", (1.5, 0.9), "--betas"),
    ("betas", (0.5, -0.1), "--betas"),
    ("z_prior", "cauchy", "--z-prior"),
    ("image_size", 30, "--image-size"),
    ("epochs", 0, "--epochs"),
    ("n_critic", 0, "--n-critic"),
    ("clip", -0.01, "--clip"),
    ("optimizer", "lbfgs", "--optimizer"),
    ("device", "tpu", "--device"),
    ("precision", "fp16", "--precision"),
])
def test_out_of_range_names_the_flag(field, value, flag):
    with pytest.raises(GankitError) as info:
        Config(model="dcgan", **{field: value}).resolved()
    message = str(info.value)
    assert flag in message and "\n" not in message


def test_parse_classes():
    assert parse_value("classes", "3") == [3]
    assert parse_value("classes", "0,1,2") == [0, 1, 2]
    assert parse_value("classes", " 4, 7 ") == [4, 7]
    assert parse_value("classes", [3, 5]) == [3, 5]  # TOML list
    with pytest.raises(GankitError, match="--classes"):
        parse_value("classes", "three")


def test_parse_betas():
    assert parse_value("betas", "0.5,0.999") == (0.5, 0.999)
    assert parse_value("betas", [0, 0.9]) == (0.0, 0.9)
    for bad in ("0.5", "0.1,0.2,0.3", "a,b"):
        with pytest.raises(GankitError, match="--betas"):
            parse_value("betas", bad)


@pytest.mark.parametrize("raw,want", [("true", True), ("1", True), ("yes", True), ("on", True), (True, True),
                                      ("false", False), ("0", False), ("no", False), ("off", False), (False, False)])
def test_parse_bool(raw, want):
    assert parse_value("minibatch_disc", raw) is want


def test_parse_numbers_and_strings():
    assert parse_value("epochs", "12") == 12
    assert parse_value("lr_g", "1e-3") == 1e-3
    assert parse_value("model", "wgan") == "wgan"
    assert parse_value("max_steps", None) is None
    for name, bad in (("epochs", "2.5"), ("epochs", 2.5), ("lr_g", "fast"), ("minibatch_disc", "maybe")):
        with pytest.raises(GankitError, match="--" + name.replace("_", "-")) as info:
            parse_value(name, bad)
        assert "\n" not in str(info.value)


def test_parse_unknown_field():
    with pytest.raises(GankitError, match="'learning_rate'"):
        parse_value("learning_rate", "0.1", "cli")


def test_load_toml(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text('model = "gan"\nlr_g = 0.01\nclasses = [3]\nbetas = [0.5, 0.9]\nminibatch_disc = true\n'
                 'epochs = 7\ndata = "digits"\n')
    values = load_toml(f)
    assert values == dict(model="gan", lr_g=0.01, classes=[3], betas=(0.5, 0.9), minibatch_disc=True,
                          epochs=7, data="digits")
    c = Config(**values).resolved()
    assert (c.lr_g, c.lr_d, c.classes, c.epochs) == (0.01, 2e-3, [3], 7)  # the rest from the preset


def test_load_toml_accepts_dashed_keys(tmp_path):
    f = tmp_path / "run.toml"
    f.write_text('lr-g = 0.5\nbatch-size = 8\n')
    assert load_toml(f) == dict(lr_g=0.5, batch_size=8)


def test_load_toml_unknown_key(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('model = "gan"\nlearning_rate = 0.1\n')
    with pytest.raises(GankitError) as info:
        load_toml(f)
    message = str(info.value)
    assert "learning_rate" in message and str(f) in message and "\n" not in message


def test_load_toml_bad_value_names_file_and_flag(tmp_path):
    f = tmp_path / "bad.toml"
    f.write_text('epochs = "many"\n')
    with pytest.raises(GankitError, match="--epochs") as info:
        load_toml(f)
    assert str(f) in str(info.value)


def test_load_toml_invalid_and_missing(tmp_path):
    f = tmp_path / "broken.toml"
    f.write_text("model = \n")
    with pytest.raises(GankitError, match="not valid TOML"):
        load_toml(f)
    with pytest.raises(GankitError, match="not found"):
        load_toml(tmp_path / "absent.toml")


def test_dict_round_trip():
    c = resolved("wgan-gp", classes=[3], minibatch_disc=True)
    d = c.to_dict()
    assert d["betas"] == [0.0, 0.9]
    assert Config.from_dict(d) == c
    assert set(d) == set(FIELDS)


def test_spec_fields_exist():
    # SPEC §7's field list: each is a Config field (CLI --field-name, TOML field_name).
    spec = ("model data data_dir image_size classes epochs max_steps batch_size z_dim z_prior ngf ndf optimizer "
            "lr_g lr_d betas g_loss n_critic clip gp_lambda init minibatch_disc seed device out").split()
    assert set(spec) <= set(FIELDS)
    from gankit.training.optim import OPTIMIZERS

    assert OPTIMIZERS.names() == ["adam", "rmsprop", "sgd", "adadelta", "adagrad"]  # the one list, checked in resolved()
    assert set(FIELDS["g_loss"].metadata["choices"]) == {"non-saturating", "saturating", "feature-matching"}


def test_conditional_grids_are_ten_per_class():
    """A row per class of 10 samples, as the practical work's class grid (not 64 per class)."""
    from gankit.models import MODELS

    for name, spec in MODELS.items():
        if spec.conditional:
            assert Config(model=name).resolved().n_fixed == 10, name


def test_every_fallback_lives_on_its_field_and_fills_what_no_preset_sets():
    from gankit.models import MODELS

    fallbacks = {name: f.metadata["fallback"] for name, f in FIELDS.items() if "fallback" in f.metadata}
    assert fallbacks["z_dim"] == 100 and fallbacks["betas"] == (0.5, 0.999)
    assert all(FIELDS[name].default is None for name in fallbacks)  # only preset fields fall back
    c = Config(model="dcgan").resolved()
    for name, value in fallbacks.items():
        if name not in MODELS["dcgan"].preset:
            assert getattr(c, name) == value, name
    sources = Config(model="dcgan", lr_g=1e-3).sources({"model": "flag", "lr_g": "TOML"})
    assert (sources["lr_g"], sources["lr_d"], sources["z_dim"], sources["seed"]) == ("TOML", "preset", "fallback", "default")


@pytest.mark.parametrize("field, value, flag", [("loss", "wgan", "--loss"), ("init", "xavier", "--init"),
                                                ("optimizer", "lbfgs", "--optimizer")])
def test_registry_fields_are_checked_against_their_registry(field, value, flag):
    with pytest.raises(GankitError, match=f"{flag} '{value}' is not one of "):
        Config(model="dcgan", **{field: value}).resolved()
