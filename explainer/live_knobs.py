"""The live lab's knobs: one frozen dataclass with ranges sized for 2 CPU cores, the presets of the
story pages, and the round trip to the URL's query parameters.

Every value a visitor can send (a widget, a shared link) goes through `training.config.clamp`, so a
negative, huge or non-numeric value is pulled back into range and named in a note; nothing here
imports torch, so a page that only shows a preset stays fast.
"""
from __future__ import annotations

import dataclasses
import math
import re
import typing
from dataclasses import dataclass
from typing import Mapping, NamedTuple
from urllib.parse import urlencode

from training.config import clamp, opt

MAX_TEXT = 24  # characters of a query-parameter value that are looked at at all


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
    optimizer: str = opt("adam", choices=("sgd", "adam"), help="update rule (SGD with momentum 0.9)")
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


class Preset(NamedTuple):
    page: int          # the story page that shows it
    title: str         # the panel's heading line
    blurb: str         # what the visitor is about to see (markdown)
    arms: tuple[Arm, ...]


def _k(**kw) -> Knobs:
    return dataclasses.replace(Knobs(), **kw)


# One preset per page that retrains, each on the settings of a pipeline configuration (E6 and the
# augmentation stage: 500 digits, MLP 2x128, Adam lr 0.001, batch 64, 30 epochs) so the shaded band
# behind the run is the same experiment; each finishes in a few seconds on 2 cores (benchmarks/bench_live.py).
CLEAN, RANDOM = _k(noise="none", noise_pct=0), _k(noise="randY", noise_pct=100)
PRESETS: dict[str, Preset] = {
    "capacity": Preset(3, "A narrow and a wide network, same noisy labels",
                       "Both see the same 500 digits, **40 % of them relabelled at random**. One network has "
                       "16 units per layer, the other 128. Which one crams the wrong labels, and which one "
                       "ends up better on new digits?",
                       (Arm("narrow · 16 units", _k(width=16, noise_pct=40)),
                        Arm("wide · 128 units", _k(width=128, noise_pct=40)))),
    "twin": Preset(4, "Real labels vs random labels, same network, same start",
                   "Two copies of one network start from the **same weights** on the same 500 digits: one gets "
                   "the real labels, the other **labels drawn at random**.",
                   (Arm("real labels", CLEAN), Arm("random labels", RANDOM))),
    "regularization": Preset(5, "Dropout and weight decay against random labels",
                             "Three copies of one network, all on 500 digits with **random labels**: no "
                             "regularizer, **dropout 0.6**, and **weight decay 0.01**. Which holds back the cramming?",
                             (Arm("no regularizer", RANDOM), Arm("dropout 0.6", dataclasses.replace(RANDOM, dropout=0.6)),
                              Arm("weight decay 0.01", dataclasses.replace(RANDOM, weight_decay=0.01)))),
    "augmentation": Preset(6, "Augmentation against random labels",
                           "Three copies of one network on 500 digits with **random labels**: one sees the digits as "
                           "they are, one sees every batch **rotated by up to ±30°**, one sees them under **pixel "
                           "noise** (std 0.3).",
                           (Arm("no augmentation", RANDOM), Arm("rotation ±30°", dataclasses.replace(RANDOM, rotation=30.0)),
                            Arm("pixel noise 0.3", dataclasses.replace(RANDOM, pixel_noise=0.3)))),
    "early-stopping": Preset(8, "Watch validation accuracy peak, then fall",
                             "One network on 500 digits, **half of them relabelled at random**. Watch the clean "
                             "digits get learned first, the relabelled ones crammed later, and validation accuracy "
                             "peak in between.",
                             (Arm("50 % random labels", _k(noise_pct=50)),)),
}


def lab_arms(knobs: Knobs) -> tuple[Arm, ...]:
    """The Lab's runs: the visitor's settings, plus a clean-label twin when asked (and it differs)."""
    main = dataclasses.replace(knobs, twin=False)
    name = f"{'random labels' if main.kind == 'randY' else 'random inputs'} {main.noise_pct} %" \
        if main.kind != "none" else "your network"
    arms = [Arm(name, main)]
    if knobs.twin and main.kind != "none":
        arms.insert(0, Arm("clean twin", dataclasses.replace(main, noise="none", noise_pct=0)))
    return tuple(arms)


# ---------------------------------------------------------------------------------------------
# Untrusted input: query parameters (text) and widget values, clamped into Knobs


def _tidy(raw) -> object:
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
    known = {k: _coerce(k, _tidy(v)) for k, v in values.items() if k in FIELDS}
    knobs, notes = clamp(Knobs, known)
    return knobs, notes


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
    noise = "clean labels" if k.kind == "none" else \
        f"{k.noise_pct} % {'random labels' if k.kind == 'randY' else 'random inputs'}"
    regs = [f"dropout {k.dropout:g}" if k.dropout else "", f"weight decay {k.weight_decay:g}" if k.weight_decay else "",
            f"rotation ±{k.rotation:g}°" if k.rotation else "", f"pixel noise {k.pixel_noise:g}" if k.pixel_noise else ""]
    extra = ", ".join(r for r in regs if r)
    return (f"MLP {k.depth}×{k.width} · {k.n_train:,} digits, {noise}" + (f" · {extra}" if extra else "")
            + f" · {k.optimizer.upper() if k.optimizer == 'sgd' else 'Adam'} lr {k.lr:g}, batch {k.batch_size}"
            f" · {k.epochs} epochs · seed {k.seed}")
