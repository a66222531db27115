"""The live lab's settings: the fixed ones from params.yaml (`lab:`), and the knobs a visitor turns,
one frozen dataclass with ranges sized for 2 CPU cores, with its round trip to the URL.

Every value a visitor can send (a widget, a shared link) goes through `training.config.clamp`, so a
negative, huge or non-numeric value is pulled back into range and named in a note; nothing here
imports torch, so a page that only shows a preset stays fast.
"""
from __future__ import annotations

import dataclasses
import functools
import math
import re
import typing
from dataclasses import dataclass
from typing import Mapping, NamedTuple
from urllib.parse import urlencode

from training.config import clamp, load_params, opt, parse

MAX_TEXT = 24  # characters of a query-parameter value that are looked at at all


@dataclass(frozen=True)
class LabConfig:
    """params.yaml `lab:` (its comments say what each one is for); no defaults: the file is the only source."""

    dataset: str = opt(choices=("mnist10k",), help="data set of every live run (the shipped sample)")
    n_val: int = opt(lo=10, hi=2000, help="clean validation digits scored every epoch")
    subset_seed: int = opt(lo=0, hi=2**31 - 1, help="seed of the stratified training and validation subsets")
    momentum: float = opt(lo=0.0, hi=0.999, help="SGD momentum (Adam has none)")
    threads: int = opt(lo=1, hi=64, help="torch CPU threads of a live run")
    budget_s: float = opt(lo=1.0, hi=3600.0, help="wall-clock seconds a run may take")
    wait_s: float = opt(lo=1.0, hi=3600.0, help="seconds a click waits for another visitor's run")
    cache_runs: int = opt(lo=0, hi=10000, help="finished runs kept for identical clicks")


@functools.cache
def lab_config() -> LabConfig:
    """params.yaml's `lab:` section, read and checked once per process."""
    return parse(LabConfig, load_params().get("lab"), "lab")


@dataclass(frozen=True)
class Knobs:
    """One live run. Limits keep a run on 2 CPU cores within the time budget."""

    n_train: int = opt(500, lo=100, hi=2000, help="training digits (stratified subset of the 8,000)")
    noise: str = opt("randY", choices=("none", "randY", "randX"), help="what is corrupted: labels or inputs")
    noise_pct: int = opt(50, lo=0, hi=100, help="percent of the training digits corrupted")
    width: int = opt(128, lo=4, hi=1024, help="hidden units per layer")
    depth: int = opt(2, lo=1, hi=4, help="hidden layers")
    dropout: float = opt(0.0, lo=0.0, hi=0.9, help="drop probability of hidden units")
    weight_decay: float = opt(0.0, lo=0.0, hi=0.1, help="L2 penalty coefficient")
    rotation: float = opt(0.0, lo=0.0, hi=45.0, help="augmentation: max rotation, degrees either way")
    pixel_noise: float = opt(0.0, lo=0.0, hi=0.5, help="augmentation: std of Gaussian pixel noise, pixels in [0, 1]")
    optimizer: str = opt("adam", choices=("sgd", "adam"), help="update rule (SGD with the lab's momentum)")
    lr: float = opt(0.001, lo=0.0001, hi=0.5, help="learning rate per step")
    batch_size: int = opt(64, lo=16, hi=500, help="examples per step")
    epochs: int = opt(30, lo=1, hi=200, help="passes over the training set")
    seed: int = opt(0, lo=0, hi=9999, help="seed of the init, the data order and the corruption draw")
    twin: bool = opt(False, help="Lab only: also train the same network on clean labels, side by side")

    @property
    def p(self) -> float:
        """Corrupted fraction in [0, 1]; 0 when nothing is corrupted."""
        return self.noise_pct / 100 if self.noise != "none" else 0.0

    @property
    def kind(self) -> str:
        return self.noise if self.p > 0 else "none"


FIELDS = {f.name: f for f in dataclasses.fields(Knobs)}
TYPES = typing.get_type_hints(Knobs)


class Arm(NamedTuple):
    """One run of a live retrain: a short name for its chart panel and its knobs."""

    label: str
    knobs: Knobs


def noise_name(k: Knobs) -> str:
    """'clean labels', '50 % random labels' or '50 % random inputs'."""
    if k.kind == "none":
        return "clean labels"
    return f"{k.noise_pct} % {'random labels' if k.kind == 'randY' else 'random inputs'}"


def lab_arms(knobs: Knobs) -> tuple[Arm, ...]:
    """The Lab's runs: the visitor's settings, plus a clean-label twin when asked (and it differs)."""
    main = dataclasses.replace(knobs, twin=False)
    arms = [Arm(noise_name(main) if main.kind != "none" else "your network", main)]
    if knobs.twin and main.kind != "none":
        arms.insert(0, Arm("clean twin", dataclasses.replace(main, noise="none", noise_pct=0)))
    return tuple(arms)


# ---------------------------------------------------------------------------------------------
# Untrusted input: query parameters (text) and widget values, clamped into Knobs


def _plain_text(raw) -> object:
    """A query-parameter value as text with only the characters a number or a choice can hold,
    so a note that quotes it cannot carry markup or a link."""
    if isinstance(raw, (list, tuple)):
        raw = raw[-1] if raw else ""
    if not isinstance(raw, str):
        return raw
    return re.sub(r"[^0-9A-Za-z.+\-]", "", raw[:MAX_TEXT])


def _coerce(name: str, raw):
    """Text from a URL to the field's type when it reads cleanly; anything else is left for `clamp`
    to reject (it then falls back to the default and says so)."""
    tp = TYPES[name]
    if not isinstance(raw, str):
        return raw
    if tp is bool:
        return {"1": True, "true": True, "yes": True, "on": True,
                "0": False, "false": False, "no": False, "off": False}.get(raw.lower(), raw)
    if tp in (int, float):
        try:
            value = float(raw)
        except ValueError:
            return raw
        if not math.isfinite(value):
            return raw
        return int(value) if tp is int and value.is_integer() else value
    return raw


def clamp_knobs(values: Mapping[str, object]) -> tuple[Knobs, list[str]]:
    """Knobs from untrusted values (unknown keys are ignored), plus one note per value changed."""
    known = {name: _coerce(name, _plain_text(v)) for name, v in values.items() if name in FIELDS}
    return clamp(Knobs, known)


def from_query(params: Mapping[str, object]) -> tuple[Knobs, list[str]]:
    """The Lab's knobs from a URL's query parameters."""
    return clamp_knobs(dict(params))


def to_query(knobs: Knobs) -> dict[str, str]:
    """Only the settings that differ from the defaults, so shared links stay short."""
    base = Knobs()
    out = {}
    for name in FIELDS:
        value = getattr(knobs, name)
        if value != getattr(base, name):
            out[name] = str(int(value)) if isinstance(value, bool) else f"{value:g}" if isinstance(value, float) \
                else str(value)
    return out


def lab_link(knobs: Knobs, page: str = "lab") -> str:
    """A relative link that opens the Lab with these settings."""
    query = urlencode(to_query(dataclasses.replace(knobs, twin=False)))
    return f"{page}?{query}" if query else page


def describe(k: Knobs) -> str:
    """One line naming a run's settings."""
    regs = [f"dropout {k.dropout:g}" if k.dropout else "", f"weight decay {k.weight_decay:g}" if k.weight_decay else "",
            f"rotation ±{k.rotation:g}°" if k.rotation else "",
            f"pixel noise {k.pixel_noise:g}" if k.pixel_noise else ""]
    extra = ", ".join(r for r in regs if r)
    return (f"MLP {k.depth}×{k.width} · {k.n_train:,} digits, {noise_name(k)}" + (f" · {extra}" if extra else "")
            + f" · {'SGD' if k.optimizer == 'sgd' else 'Adam'} lr {k.lr:g}, batch {k.batch_size}"
            f" · {k.epochs} epochs · seed {k.seed}")
