"""The story pages' live runs: each preset owns its runs (arms), the prose that introduces them and the
"what you just saw" sentence, written from the measured numbers so it stays true whatever the run did.
The Lab's runs are a preset too (`lab_preset`), built from the visitor's knobs.

Each preset sits on the settings of a pipeline configuration (E6 and the augmentation stage: 500
digits, MLP 2x128, Adam lr 0.001, batch 64, 30 epochs), so the shaded band behind a run is the same
experiment; each finishes in a few seconds on 2 cores (benchmarks/bench_live.py).
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Callable

from ..ui import pct
from .knobs import Arm, Knobs, lab_arms

Numbers = list[dict]  # one `chart.stats` dict per arm


@dataclass(frozen=True)
class Preset:
    title: str                                   # the panel's heading line
    blurb: str                                   # what the visitor is about to see (markdown)
    arms: tuple[Arm, ...]
    say: Callable[[tuple[Arm, ...], Numbers], str]  # the sentence, from the arms and their numbers
    page: int = 12                               # the story page that shows it (12: the Lab)

    def with_seed(self, seed: int) -> Preset:
        return dataclasses.replace(self, arms=tuple(Arm(a.label, dataclasses.replace(a.knobs, seed=seed))
                                                    for a in self.arms))

    def sentence(self, numbers: Numbers) -> str:
        """What the run showed, in one sentence ("" until every arm has numbers)."""
        return self.say(self.arms, numbers) if numbers and all(numbers) else ""


def _fit_phrase(s: dict) -> str:
    if s["fit_epoch"] is not None:
        return f"fitted every training digit by epoch {s['fit_epoch']}"
    return f"reached {pct(s['train'], 1)} on the training digits by epoch {s['epochs']}"


def _corrupted_name(k: Knobs) -> str:
    return "shuffled labels" if k.kind == "randY" else "noise images"


def _twin(arms, numbers) -> str:
    real, rand = numbers
    return (f"Same network, same start, same digits: with real labels it {_fit_phrase(real)} and gets "
            f"**{pct(real['val'])}** of new digits right; with random labels it {_fit_phrase(rand)} too, yet gets "
            f"**{pct(rand['val'])}** of new digits right — chance is 10 %. Fitting the training set is not learning.")


def _capacity(arms, numbers) -> str:
    narrow, wide = numbers
    verdict = ("by the end the small network is the better one on new digits" if narrow["val"] >= wide["val"]
               else "here the extra units still pay off on new digits at the end")
    return (f"The wide network agrees with **{pct(wide['corrupted'])}** of the shuffled labels by epoch "
            f"{wide['epochs']}, the narrow one with **{pct(narrow['corrupted'])}**: more units, more room to cram. "
            f"On new digits the wide one peaked at {pct(wide['best_val'], 1)} (epoch {wide['best_epoch']}) and "
            f"ended at {pct(wide['val'], 1)}, the narrow one ended at {pct(narrow['val'], 1)}: {verdict}.")


def _held_back(arms, numbers) -> str:
    """A baseline on random labels against the arms that try to hold the cramming back."""
    base, *others = numbers
    parts = ", ".join(f"{a.label} **{pct(s['train'])}**" for a, s in zip(arms[1:], others))
    best_arm, best = min(zip(arms[1:], others), key=lambda t: t[1]["train"])
    tail = (f"{best_arm.label} held the cramming back the most." if best["train"] < base["train"] - 0.05 else
            "none of them held the cramming back by much in this run.")
    return (f"By epoch {base['epochs']} the network fits **{pct(base['train'])}** of the random labels with "
            f"{arms[0].label}; {parts}. {tail[0].upper() + tail[1:]}")


def _peak(arms, numbers) -> str:
    """One noisy run: where validation accuracy peaked, and whether the cramming has begun."""
    s, shuffled = numbers[-1], _corrupted_name(arms[-1].knobs)
    if s["val"] < s["best_val"] - 0.01:
        return (f"Validation accuracy peaked at **{pct(s['best_val'], 1)} in epoch {s['best_epoch']}**, when the "
                f"network agreed with only {pct(s['corrupted_at_best'])} of the {shuffled}; by epoch {s['epochs']} "
                f"it agreed with {pct(s['corrupted'])} of them and validation fell to **{pct(s['val'], 1)}**. "
                f"Stopping at epoch {s['best_epoch']} keeps the patterns and skips the cramming.")
    return (f"Validation accuracy reached {pct(s['best_val'], 1)} (epoch {s['best_epoch']}) and has not fallen "
            f"yet: by epoch {s['epochs']} the network agrees with {pct(s['corrupted'])} of the {shuffled}. "
            "Train longer, or with more capacity, to see the cramming begin.")


def _clean(arms, numbers) -> str:
    s = numbers[-1]
    return (f"On clean labels the network {_fit_phrase(s)} and gets **{pct(s['val'], 1)}** of new digits right "
            f"(best {pct(s['best_val'], 1)} in epoch {s['best_epoch']}).")


def _twin_noise(arms, numbers) -> str:
    """The Lab's clean twin beside a noisy run."""
    twin, noisy = numbers
    return (f"The clean twin ends at **{pct(twin['val'], 1)}** on new digits, the run on "
            f"{arms[1].label} at **{pct(noisy['val'], 1)}** (best {pct(noisy['best_val'], 1)} in epoch "
            f"{noisy['best_epoch']}), while it agrees with {pct(noisy['corrupted'])} of its "
            f"{_corrupted_name(arms[1].knobs)}.")


def _lab_sentence(arms, numbers) -> str:
    if len(arms) == 2:
        return _twin_noise(arms, numbers)
    return _peak(arms, numbers) if arms[-1].knobs.kind != "none" else _clean(arms, numbers)


def lab_preset(knobs: Knobs) -> Preset:
    """The Lab's runs as a preset: the visitor's settings (and a clean twin), with a sentence for any of them."""
    return Preset("Your run", "", lab_arms(knobs), _lab_sentence)


def _k(**kw) -> Knobs:
    return dataclasses.replace(Knobs(), **kw)


CLEAN, RANDOM = _k(noise="none", noise_pct=0), _k(noise="randY", noise_pct=100)
PRESETS: dict[str, Preset] = {
    "capacity": Preset(
        "A narrow and a wide network, same noisy labels",
        "Both see the same 500 digits, **40 % of them relabelled at random**. One network has 16 units per layer, "
        "the other 128. Which one crams the wrong labels, and which one ends up better on new digits?",
        (Arm("narrow · 16 units", _k(width=16, noise_pct=40)), Arm("wide · 128 units", _k(width=128, noise_pct=40))),
        _capacity, page=3),
    "twin": Preset(
        "Real labels vs random labels, same network, same start",
        "Two copies of one network start from the **same weights** on the same 500 digits: one gets the real "
        "labels, the other **labels drawn at random**.",
        (Arm("real labels", CLEAN), Arm("random labels", RANDOM)), _twin, page=4),
    "regularization": Preset(
        "Dropout and weight decay against random labels",
        "Three copies of one network, all on 500 digits with **random labels**: no regularizer, **dropout 0.6**, "
        "and **weight decay 0.01**. Which holds back the cramming?",
        (Arm("no regularizer", RANDOM), Arm("dropout 0.6", dataclasses.replace(RANDOM, dropout=0.6)),
         Arm("weight decay 0.01", dataclasses.replace(RANDOM, weight_decay=0.01))), _held_back, page=5),
    "augmentation": Preset(
        "Augmentation against random labels",
        "Three copies of one network on 500 digits with **random labels**: one sees the digits as they are, one "
        "sees every batch **rotated by up to ±30°**, one sees them under **pixel noise** (std 0.3).",
        (Arm("no augmentation", RANDOM), Arm("rotation ±30°", dataclasses.replace(RANDOM, rotation=30.0)),
         Arm("pixel noise 0.3", dataclasses.replace(RANDOM, pixel_noise=0.3))), _held_back, page=6),
    "early-stopping": Preset(
        "Watch validation accuracy peak, then fall",
        "One network on 500 digits, **half of them relabelled at random**. Watch the clean digits get learned "
        "first, the relabelled ones crammed later, and validation accuracy peak in between.",
        (Arm("50 % random labels", _k(noise_pct=50)),), _peak, page=8),
}
