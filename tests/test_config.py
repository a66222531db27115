"""Strict parsing of settings (unknown key, wrong type, out of range -> ConfigError naming the key and
its allowed range) and the live lab's `clamp`, which pulls hostile values back into range."""
from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from training.config import (AugmentConfig, ConfigError, ModelConfig, RunSpec, TrainConfig, clamp, opt, parse,
                             stage_section, to_dict)


@dataclass(frozen=True)
class Noise:
    kind: str = opt("randY", choices=("randX", "randY"), help="noise kind")
    p: float = opt(0.4, lo=0.0, hi=1.0, help="fraction of corrupted examples")
    levels: tuple[float, ...] = opt((0.2, 0.4), lo=0.0, hi=1.0, help="fractions")


def error(cls, mapping, where="") -> str:
    with pytest.raises(ConfigError) as err:
        parse(cls, mapping, where)
    return str(err.value)


def test_defaults_and_nested_parse_round_trip():
    spec = parse(RunSpec, {"seed": 3, "model": {"arch": "cnn", "dense": [16, 8]},
                           "train": {"lr": 1, "augment": {"rotation": 10}}})
    assert spec.seed == 3 and spec.model.dense == (16, 8) and spec.model.arch == "cnn"
    assert spec.train.lr == 1.0 and isinstance(spec.train.lr, float)
    assert spec.train.augment == AugmentConfig(rotation=10.0) and spec.train.augment.active
    assert parse(RunSpec, to_dict(spec)) == spec
    assert parse(RunSpec, None) == RunSpec()


@pytest.mark.parametrize("mapping, names", [
    ({"p": 1.5}, ["p = 1.5", "0.0 ≤ value ≤ 1.0"]),
    ({"p": -0.1}, ["p = -0.1", "0.0 ≤ value ≤ 1.0"]),
    ({"p": float("nan")}, ["p:", "0.0 ≤ value ≤ 1.0"]),
    ({"levels": [0.5, 2.0]}, ["levels[1] = 2.0", "0.0 ≤ value ≤ 1.0"]),
    ({"levels": 0.5}, ["levels: expected a list"]),
    ({"kind": "randZ"}, ["kind = 'randZ'", "'randX', 'randY'"]),
    ({"p": "half"}, ["p: expected a number", "got 'half'"]),
    ({"p": True}, ["p: expected a number"]),
    ({"q": 0.1}, ["unknown key 'q'", "kind, levels, p"]),
])
def test_bad_values_name_the_field_and_its_range(mapping, names):
    message = error(Noise, mapping)
    for part in names:
        assert part in message


def test_bad_run_settings_name_the_nested_key():
    message = error(RunSpec, {"model": {"width": 0}})
    assert "model.width = 0" in message and "1 ≤ value ≤ 8192" in message
    message = error(RunSpec, {"train": {"optimizer": "rmsprop"}})
    assert "train.optimizer = 'rmsprop'" in message and "'sgd', 'adam'" in message
    assert "unknown key 'model.widht'" in error(RunSpec, {"model": {"widht": 64}})
    assert "train.epochs: expected a whole number" in error(RunSpec, {"train": {"epochs": 2.5}})
    message = error(RunSpec, {"train": {"precision": "fp16"}})
    assert "train.precision = 'fp16' is not allowed" in message and "'fp32', 'bf16'" in message
    assert "e5.run.train.augment.hue = 0.9" in error(RunSpec, {"train": {"augment": {"hue": 0.9}}}, "e5.run")
    assert "expected a mapping" in error(RunSpec, {"model": 5})
    assert parse(TrainConfig, {"epochs": 3.0}).epochs == 3  # a whole float is a fine int


def test_clamp_pulls_hostile_values_into_range_with_notes():
    cfg, notes = clamp(TrainConfig, {"lr": -1, "batch_size": 1e12, "epochs": "abc", "momentum": float("nan"),
                                     "optimizer": "rmsprop", "weight_decay": float("inf"), "adv_weight": 0.5,
                                     "augment": {"rotation": 1000}, "colour": "red"})
    assert cfg.lr == 1e-6 and cfg.batch_size == 65536 and isinstance(cfg.batch_size, int)
    assert cfg.epochs == TrainConfig().epochs and cfg.momentum == TrainConfig().momentum
    assert cfg.optimizer == "sgd" and cfg.weight_decay == TrainConfig().weight_decay
    assert cfg.adv_weight == 0.5 and cfg.augment.rotation == 180.0
    assert not any(math.isnan(v) for v in (cfg.lr, cfg.momentum, cfg.weight_decay))
    joined = "\n".join(notes)
    for key in ("lr", "batch_size", "epochs", "momentum", "optimizer", "weight_decay", "rotation", "colour"):
        assert key in joined
    assert "adv_weight" not in joined                 # a good value passes silently
    assert len(notes) == 8
    # every clamped config is one that parse accepts
    assert parse(TrainConfig, to_dict(cfg)) == cfg


def test_clamp_leaves_good_values_alone():
    cfg, notes = clamp(ModelConfig, {"width": 128, "dropout": 0.5})
    assert cfg == ModelConfig(width=128, dropout=0.5) and notes == []


def test_stage_section_merges_the_profile():
    params = {"profile": "smoke", "e9": {"n": 10, "run": {"model": {"width": 64, "depth": 2}}},
              "profiles": {"smoke": {"e9": {"run": {"model": {"width": 8}}}}}}
    profile, section = stage_section(params, "e9")
    assert profile == "smoke" and section == {"n": 10, "run": {"model": {"width": 8, "depth": 2}}}
    with pytest.raises(ConfigError, match="'gpu' is not defined"):
        stage_section({**params, "profile": "gpu"}, "e9")
    with pytest.raises(ConfigError, match="no section 'e7'"):
        stage_section(params, "e7")
