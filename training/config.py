"""Settings as frozen dataclasses, parsed from params.yaml with strict validation.

Every field carries its allowed range (or choices) in its metadata, so a broken value is
rejected before any training with a message naming the key and what it may be. The live
lab builds the same dataclasses with `dataclasses.replace` and `clamp`.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

ROOT = Path(__file__).resolve().parent.parent
PARAMS = ROOT / "params.yaml"


class ConfigError(ValueError):
    """A setting is unknown, of the wrong type or out of range; the message names the key."""


REQUIRED = dataclasses.MISSING


def opt(default=REQUIRED, *, lo=None, hi=None, choices=None, help=""):
    """A dataclass field with its allowed range or choices attached. Without a default the setting
    is required: the stages' own settings have none, so params.yaml is their only source."""
    meta = {"lo": lo, "hi": hi, "choices": choices, "help": help}
    if default is REQUIRED:
        return field(metadata=meta)
    if isinstance(default, (list, tuple)):
        return field(default_factory=lambda d=tuple(default): d, metadata=meta)
    if dataclasses.is_dataclass(default):
        return field(default_factory=lambda d=default: d, metadata=meta)
    return field(default=default, metadata=meta)


def allowed(f: dataclasses.Field) -> str:
    m = f.metadata
    if m.get("choices"):
        return "one of " + ", ".join(map(repr, m["choices"]))
    lo, hi = m.get("lo"), m.get("hi")
    if lo is not None and hi is not None:
        return f"{lo} ≤ value ≤ {hi}"
    if lo is not None:
        return f"value ≥ {lo}"
    if hi is not None:
        return f"value ≤ {hi}"
    return "any value"


PRECISIONS = ("fp32", "bf16")  # training precisions (params key `precision`, or a stage's run.train.precision)


# ---------------------------------------------------------------------------------------------
# The settings of one training run. Fields marked "per run" may differ between the runs that
# the engine trains together as one batched model; the others must be shared by the batch.


@dataclass(frozen=True)
class ModelConfig:
    arch: str = opt("mlp", choices=("mlp", "cnn"), help="network family")
    width: int = opt(512, lo=1, hi=8192, help="hidden units per layer (MLP)")
    depth: int = opt(2, lo=1, hi=8, help="hidden layers (MLP)")
    filters: int = opt(32, lo=1, hi=512, help="filters per conv layer (CNN; the paper uses 200)")
    dense: tuple[int, ...] = opt((384, 192), lo=1, hi=4096, help="dense hidden units after the convs (CNN)")
    crop: int = opt(2, lo=0, hi=8, help="pixels cut from each border before the convs (CNN; 32 -> 28)")
    dropout: float = opt(0.0, lo=0.0, hi=0.95, help="drop probability on hidden units (per run)")
    input_dropout: float = opt(0.0, lo=0.0, hi=0.95, help="drop probability on input pixels (per run)")
    input_noise: float = opt(0.0, lo=0.0, hi=10.0, help="std of Gaussian noise on normalised inputs (per run)")
    hidden_noise: float = opt(0.0, lo=0.0, hi=5.0, help="std of Gaussian noise on hidden activations (per run)")


@dataclass(frozen=True)
class AugmentConfig:
    rotation: float = opt(0.0, lo=0.0, hi=180.0, help="max rotation in degrees, one draw per batch (per run)")
    pixel_noise: float = opt(0.0, lo=0.0, hi=1.0, help="std of Gaussian pixel noise, pixels in [0, 1] (per run)")
    brightness: float = opt(0.0, lo=0.0, hi=0.9, help="brightness factor drawn from [1-b, 1+b] (per run)")
    contrast: float = opt(0.0, lo=0.0, hi=0.9, help="contrast factor drawn from [1-c, 1+c] (per run)")
    saturation: float = opt(0.0, lo=0.0, hi=0.9, help="saturation factor from [1-s, 1+s]; colour images only (per run)")
    hue: float = opt(0.0, lo=0.0, hi=0.5, help="hue shift drawn from [-h, h]; colour images only (per run)")

    @property
    def active(self) -> bool:
        return any(getattr(self, f.name) > 0 for f in dataclasses.fields(self))


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = opt("sgd", choices=("sgd", "adam"), help="update rule")
    lr: float = opt(0.01, lo=1e-6, hi=10.0, help="learning rate per step")
    momentum: float = opt(0.0, lo=0.0, hi=0.999, help="SGD momentum")
    lr_step: int = opt(0, lo=0, hi=10000, help="epochs between learning-rate decays; 0 keeps it constant")
    lr_gamma: float = opt(0.5, lo=0.01, hi=1.0, help="factor applied at each decay")
    batch_size: int = opt(128, lo=1, hi=65536, help="examples per step")
    epochs: int = opt(10, lo=0, hi=100000, help="passes over the training set")
    weight_decay: float = opt(0.0, lo=0.0, hi=1.0, help="L2 penalty coefficient (per run)")
    adv_weight: float = opt(0.0, lo=0.0, hi=1.0, help="weight of the loss on LASS adversarial samples (per run)")
    adv_steps: int = opt(5, lo=1, hi=100, help="LASS iterations per batch when adversarial training")
    augment: AugmentConfig = opt(AugmentConfig(), help="per-batch augmentation")
    precision: str = opt("fp32", choices=PRECISIONS,
                         help="training forward/backward: fp32, or bf16 autocast over fp32 weights and optimiser "
                              "state (falls back to fp32 where the device has no bf16; measurements always run in fp32)")


# The fields that may differ inside one batched model; everything else must match.
PER_RUN_MODEL = ("dropout", "input_dropout", "input_noise", "hidden_noise")
PER_RUN_TRAIN = ("weight_decay", "adv_weight", "augment")


@dataclass(frozen=True)
class RunSpec:
    """One independent training run: its seed and settings."""

    seed: int = opt(0, lo=0, hi=2**31 - 1, help="seed of the init, the shuffle and the noise")
    model: ModelConfig = opt(ModelConfig())
    train: TrainConfig = opt(TrainConfig())

    def batch_key(self) -> tuple:
        """Runs with the same key can be trained together as one batched model."""
        m = dataclasses.replace(self.model, **{k: 0.0 for k in PER_RUN_MODEL})
        t = dataclasses.replace(self.train, weight_decay=0.0, adv_weight=0.0, augment=AugmentConfig())
        return (m, t)


# ---------------------------------------------------------------------------------------------
# Parsing and validation


def _type_name(tp) -> str:
    return getattr(tp, "__name__", str(tp))


def _check_scalar(value, tp, f, where):
    if tp is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{where}: expected true or false, got {value!r}")
        return value
    if tp is int:
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, float) and value.is_integer():
                value = int(value)
            else:
                raise ConfigError(f"{where}: expected a whole number ({allowed(f)}), got {value!r}")
    elif tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value != value:  # NaN too
            raise ConfigError(f"{where}: expected a number ({allowed(f)}), got {value!r}")
        value = float(value)
    elif tp is str:
        if not isinstance(value, str):
            raise ConfigError(f"{where}: expected text ({allowed(f)}), got {value!r}")
    m = f.metadata
    if m.get("choices") and value not in m["choices"]:
        raise ConfigError(f"{where} = {value!r} is not allowed; allowed: {allowed(f)}")
    if tp in (int, float):
        if (m.get("lo") is not None and value < m["lo"]) or (m.get("hi") is not None and value > m["hi"]):
            raise ConfigError(f"{where} = {value!r} is out of range; allowed: {allowed(f)}")
    return value


def _check(value, tp, f, where):
    if dataclasses.is_dataclass(tp):
        return parse(tp, value, where)
    origin = typing.get_origin(tp)
    if origin is tuple:
        inner = typing.get_args(tp)[0]
        if not isinstance(value, (list, tuple)):
            raise ConfigError(f"{where}: expected a list of {_type_name(inner)}, got {value!r}")
        return tuple(_check(v, inner, f, f"{where}[{i}]") for i, v in enumerate(value))
    if origin in (typing.Union, types.UnionType):  # Optional[x]
        if value is None:
            return None
        inner = [a for a in typing.get_args(tp) if a is not type(None)][0]
        return _check(value, inner, f, where)
    return _check_scalar(value, tp, f, where)


def parse(cls, data: Mapping[str, Any] | None, where: str = ""):
    """Build `cls` from a mapping, rejecting unknown keys, wrong types and out-of-range values."""
    data = {} if data is None else data
    if dataclasses.is_dataclass(data):
        return data
    if not isinstance(data, Mapping):
        raise ConfigError(f"{where or cls.__name__}: expected a mapping of settings, got {data!r}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"unknown key {key!r}; allowed keys here: {', '.join(sorted(fields))}")
    missing = [n for n, f in fields.items() if n not in data and f.default is REQUIRED and f.default_factory is REQUIRED]
    if missing:
        key = f"{where}.{missing[0]}" if where else missing[0]
        raise ConfigError(f"{key} is not set; every setting of a stage lives in params.yaml "
                          f"({fields[missing[0]].metadata.get('help') or 'see its field'}; allowed: {allowed(fields[missing[0]])})")
    values = {}
    for name, value in data.items():
        values[name] = _check(value, hints[name], fields[name], f"{where}.{name}" if where else name)
    return cls(**values)


def to_dict(obj) -> dict:
    """A plain, YAML/JSON-friendly dict of a config dataclass (tuples become lists)."""

    def plain(v):
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(obj))


def clamp(cls, data: Mapping[str, Any]) -> tuple[Any, list[str]]:
    """Like `parse`, but pull each bad value back into range instead of failing (live lab).

    Returns the config and one human-readable note per value that was changed.
    """
    notes: list[str] = []
    fields = {f.name: f for f in dataclasses.fields(cls)}
    hints = typing.get_type_hints(cls)
    values = {}
    for name, raw in data.items():
        if name not in fields:
            notes.append(f"ignored unknown setting {name!r}")
            continue
        f, tp = fields[name], hints[name]
        default = cls().__getattribute__(name)
        if dataclasses.is_dataclass(tp):
            sub, sub_notes = clamp(tp, raw if isinstance(raw, Mapping) else {})
            values[name], notes = sub, notes + sub_notes
            continue
        try:
            values[name] = _check(raw, tp, f, name)
            continue
        except ConfigError:
            pass
        m = f.metadata
        value = default
        if tp in (int, float):
            try:
                number = float(raw)
                if number != number or number in (float("inf"), float("-inf")):
                    raise ValueError
                lo = m.get("lo") if m.get("lo") is not None else number
                hi = m.get("hi") if m.get("hi") is not None else number
                value = tp(min(max(number, lo), hi))
            except (TypeError, ValueError):
                value = default
        notes.append(f"{name}: {raw!r} is outside {allowed(f)}; used {value!r}")
        values[name] = value
    return cls(**values), notes


def load_params(path: Path | str = PARAMS) -> dict:
    with open(path) as fh:
        params = yaml.safe_load(fh) or {}
    if not isinstance(params, dict):
        raise ConfigError(f"{path}: expected a mapping at the top level")
    return params


def stage_section(params: Mapping[str, Any], stage: str) -> tuple[str, dict]:
    """The settings of one stage for the active profile: the stage's section, with the profile's
    overrides (params['profiles'][profile][stage]) merged on top, key by key."""
    profile = params.get("profile", "cpu")
    profiles = params.get("profiles", {}) or {}
    if profile != "cpu" and profile not in profiles:
        raise ConfigError(f"profile = {profile!r} is not defined; allowed: 'cpu', " + ", ".join(map(repr, profiles)))
    if stage not in params:
        raise ConfigError(f"params file has no section {stage!r}")
    merged = _merge(params[stage] or {}, (profiles.get(profile) or {}).get(stage) or {})
    return profile, merged


def _merge(base: Mapping, over: Mapping) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else v
    return out
