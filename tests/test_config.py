"""One configuration path: dotted overrides (strings, values), presets, auto values, migration."""

import argparse
import re

import pytest
import torch

import svlib
from svlib.checkpoint import FORMAT_VERSION, load_checkpoint, load_generator
from svlib.config import (
    CLI_FLAGS,
    Config,
    add_config_arguments,
    apply_overrides,
    config_diff,
    config_from_arguments,
    field_help,
    get_preset,
    migrate_config_dict,
    resolve_auto,
)
from svlib.losses import auto_r1_gamma


def test_string_overrides_are_parsed_by_field_type():
    cfg = apply_overrides(
        get_preset("cpu"),
        [
            "train.lr_g=0.002",
            "G.motion.min_period=32",
            "train.batch_size=4",
            "train.betas=(0.1, 0.9)",
            "train.augment.disable=rotate90,xflip",
            "train.r1_gamma=none",
            "train.mirror=false",
            "train.amp=bf16",
            "D.holistic=0",
        ],
    )
    t = cfg.train
    assert (t.lr_g, t.batch_size, t.betas, t.r1_gamma, t.mirror, t.amp) == (
        0.002,
        4,
        (0.1, 0.9),
        None,
        False,
        "bf16",
    )
    assert cfg.G.motion.min_period == 32.0 and isinstance(cfg.G.motion.min_period, float)
    assert t.augment.disable == ("rotate90", "xflip") and cfg.D.holistic is False
    assert apply_overrides(cfg, ["G.motion=None"]).G.motion is None  # plain StyleGAN2 generator
    assert apply_overrides(cfg, ["train.augment.disable="]).train.augment.disable == ()


def test_value_overrides_are_type_checked():
    cfg = apply_overrides(get_preset("cpu"), {"train.lr_g": 1, "train.betas": [0.0, 0.9]})
    assert cfg.train.lr_g == 1.0 and isinstance(cfg.train.lr_g, float)
    assert cfg.train.betas == (0.0, 0.9)
    motion = svlib.MotionConfig(min_period=4.0)
    assert apply_overrides(cfg, {"G.motion": motion}).G.motion is motion


@pytest.mark.parametrize(
    "override, message",
    [
        (["train.batch_size=2.5"], "train.batch_size: expected int, got '2.5'"),
        ({"train.batch_size": 2.0}, "train.batch_size: expected int, got 2.0"),
        ({"train.compile": 1}, "train.compile: expected bool, got 1"),
        (["train.mirror=maybe"], "train.mirror: expected bool"),
        (["train.betas=1,2,3"], "train.betas: expected tuple[float, float]"),
        (["train.amp=bf17"], "train.amp: expected one of auto, bf16, fp16, off, got 'bf17'"),
        (["G.motion=default"], "G.motion: expected MotionConfig | None"),
        (["train.lr_g"], "must look like FIELD=VALUE"),
    ],
)
def test_bad_values_name_the_field_type_and_value(override, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        apply_overrides(get_preset("cpu"), override)


def test_unknown_names_suggest_close_matches():
    with pytest.raises(
        ValueError, match=r"unknown config field 'train.lr_gg'; did you mean train.lr_g"
    ):
        apply_overrides(get_preset("cpu"), ["train.lr_gg=1"])
    with pytest.raises(ValueError, match="'G.motion.min_perod'.*G.motion.min_period"):
        apply_overrides(get_preset("cpu"), {"G.motion.min_perod": 1.0})
    with pytest.raises(ValueError, match="unknown config field 'nonsense'$"):
        apply_overrides(get_preset("cpu"), ["nonsense=1"])
    no_motion = apply_overrides(get_preset("cpu"), ["G.motion=none"])
    with pytest.raises(ValueError, match="G.motion.min_period: G.motion is None"):
        apply_overrides(no_motion, ["G.motion.min_period=4"])


def test_get_preset_shortcuts_and_overrides_share_the_path():
    cfg = get_preset("cpu", {"train.lr_g": 1e-3}, resolution=64, num_frames=2)
    assert (cfg.G.resolution, cfg.D.resolution) == (64, 64)
    assert (cfg.D.num_frames, cfg.sampling.num_frames) == (2, 2)
    assert cfg.train.lr_g == 1e-3 and get_preset("cpu").train.lr_g == 0.0025  # a fresh copy
    with pytest.raises(ValueError, match="unknown preset 'nope'"):
        get_preset("nope")
    with pytest.raises(ValueError, match="power of two"):
        get_preset("cpu", resolution=48)


def test_cli_flags_are_aliases_of_fields_with_their_comments_as_help():
    ap = argparse.ArgumentParser()
    add_config_arguments(ap)
    a = ap.parse_args(
        "--preset tiny --lr 0.001 --no-mirror --compile --num-frames 2 --gamma 0.5 "
        "--set train.lr_d=0.003 G.motion.max_period=32 --set train.seed=7".split()
    )
    cfg = config_from_arguments(a)
    assert (cfg.train.lr_g, cfg.train.lr_d) == (0.001, 0.003)  # --set is applied after the flags
    assert cfg.train.mirror is False and cfg.train.compile is True and cfg.train.r1_gamma == 0.5
    assert cfg.D.num_frames == cfg.sampling.num_frames == 2
    assert cfg.G.motion.max_period == 32.0 and cfg.train.seed == 7
    for names in CLI_FLAGS.values():
        assert all(field_help(n) for n in names)  # every aliased field has a comment
    assert "grid spacing δz" in field_help("G.motion.min_period")
    assert "plain StyleGAN2 image generator" in field_help("G.motion")  # block comment above


def test_dict_round_trip_and_unknown_keys():
    for name in svlib.PRESETS:
        cfg = get_preset(name)
        assert Config.from_dict(cfg.to_dict()) == cfg
    d = get_preset("cpu").to_dict()
    d["G"]["motion"] = None
    assert Config.from_dict(d).G.motion is None
    d["train"]["augment_p"] = 0.5
    with pytest.raises(ValueError, match="train.augment_p"):
        Config.from_dict(d)


def test_resolve_auto_matches_the_heuristics():
    cfg = get_preset("paper256")
    r = resolve_auto(cfg)
    assert (r.train.r1_gamma, r.train.ema_kimg, r.train.augment.kimg) == (0.2048, 20.0, 100.0)
    assert cfg.train.r1_gamma is None  # a copy: the input keeps its autos
    r = resolve_auto(get_preset("paper1024"))
    assert r.train.r1_gamma == auto_r1_gamma(1024, 16) and r.train.ema_kimg == 16 * 10 / 32
    explicit = get_preset("cpu", {"train.r1_gamma": 1.0, "train.ema_kimg": 3.0})
    assert (
        resolve_auto(explicit).train.r1_gamma == 1.0
        and resolve_auto(explicit).train.ema_kimg == 3.0
    )


def test_config_diff_names_every_field():
    a = resolve_auto(get_preset("cpu"))
    b = resolve_auto(get_preset("cpu", {"train.lr_g": 0.002, "train.log_every": 5}))
    assert config_diff(a, b) == ["train.lr_g: 0.0025 -> 0.002", "train.log_every: 10 -> 5"]
    assert config_diff(a, b, ignore=["train.log_every"]) == ["train.lr_g: 0.0025 -> 0.002"]
    assert config_diff(a, a) == []


def _v1_config(cfg):
    """The config dict as svlib wrote it before format version 2: ADA fields flat, autos null."""
    d = cfg.to_dict()
    aug = d["train"].pop("augment")
    d["train"].update(
        augment=aug["mode"],
        augment_p=aug["p"],
        augment_pipe=aug["pipe"],
        augment_disable=aug["disable"],
        ada_target=aug["target"],
        ada_interval=aug["interval"],
        ada_kimg=100.0,
    )
    for k in ("xflip", "rotate90", "xint_max", "scale_std"):  # never stored in version 1
        assert k in aug
    return d


def test_old_config_dicts_are_migrated():
    cfg = get_preset("cpu", {"train.augment.disable": ("rotate90",), "train.augment.p": 0.2})
    old = _v1_config(cfg)
    assert old["train"]["r1_gamma"] is None and old["train"]["augment"] == "ada"
    new = migrate_config_dict(old)
    assert new == resolve_auto(cfg).to_dict() | {"train": new["train"]}
    assert Config.from_dict(new) == resolve_auto(
        apply_overrides(cfg, {"train.augment.kimg": 100.0})
    )
    assert migrate_config_dict(new) == new  # current dicts pass through unchanged


def test_old_checkpoints_load_through_the_migration(tmp_path):
    cfg = get_preset("tiny")
    torch.manual_seed(0)
    G, _ = svlib.build_models(cfg)
    path = tmp_path / "v1.pt"
    torch.save(
        {
            "format": "svlib-checkpoint",
            "format_version": 1,
            "config": _v1_config(cfg),
            "G_ema": G.state_dict(),
        },
        path,
    )
    ck = load_checkpoint(path)
    assert ck["format_version"] == FORMAT_VERSION
    assert Config.from_dict(ck["config"]).train.augment.interval == 2
    assert ck["config"]["train"]["r1_gamma"] == auto_r1_gamma(16, 4)
    G2, cfg2 = load_generator(path)
    assert cfg2.name == "tiny"
    assert all(torch.equal(a, b) for a, b in zip(G2.state_dict().values(), G.state_dict().values()))


@pytest.mark.parametrize("name", ["demo32", "periodic32"])
def test_shipped_checkpoints_load(name):
    from svlib import book

    path = book.ASSETS / f"{name}.pt"
    raw = torch.load(path, weights_only=True)
    aug = raw["config"]["train"]["augment"]  # format 1 wrote the mode alone, format 2 the config
    assert raw["format_version"] in (1, 2) and (aug == "ada" or aug["mode"] == "ada")
    ck = load_checkpoint(path)
    cfg = Config.from_dict(ck["config"])
    assert cfg.train.augment.mode == "ada" and cfg.train.augment.kimg == 100.0
    assert cfg.train.r1_gamma == auto_r1_gamma(32, 8) and cfg.train.ema_kimg == 8 * 10 / 32
    G, cfg2 = load_generator(path)
    assert cfg2 == cfg and G.cfg.resolution == 32
