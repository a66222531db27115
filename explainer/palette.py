"""One colour-blind-safe palette for the whole app (Paul Tol's "vibrant" and "muted" sets), so the same
condition has the same colour on every page. Every colour keeps enough contrast on Streamlit's light
(#ffffff) and dark (#171614) backgrounds. Hue is never the only cue: every series of a chart also has
its own marker shape and line dash (SHAPES, DASHES; `charts.series_style` hands them out), and areas and
cells carry printed labels, values or stripes (`chartkit.direct_labels`, `chartkit.stripes`).
"""
from __future__ import annotations

import altair as alt

BLUE, ORANGE, MAGENTA, TEAL, CYAN, RED, GREY = "#0077BB", "#EE7733", "#EE3377", "#009988", "#33BBEE", "#CC3311", "#999999"

# Training conditions (the `kind` column): real data, random inputs, random labels.
KIND_NAME = {"none": "real", "randX": "random inputs", "randY": "random labels"}
KIND_COLOR = {"real": BLUE, "random inputs": ORANGE, "random labels": MAGENTA}
# ... and their marker shape and line dash on every chart (a dash is [on, off, ...] px).
KIND_SHAPE = {"real": "circle", "random inputs": "square", "random labels": "triangle-up"}
KIND_DASH = {"real": [1, 0], "random inputs": [7, 3], "random labels": [2, 2]}

# The shapes and dashes other series take in turn (the diamond is kept for the paper's reference marks).
SHAPES = ["circle", "square", "triangle-up", "cross", "triangle-down", "triangle-right", "triangle-left", "wedge"]
DASHES = [[1, 0], [7, 3], [2, 2], [9, 3, 2, 3], [4, 4], [12, 3], [2, 5], [6, 2, 2, 2, 2, 2]]

# What a model says about a training example whose label may have been shuffled (the memorization clock).
STATE_NAME = {"given": "answers its shuffled label (memorized)", "true": "answers the true digit",
              "neither": "neither"}
STATE_COLOR = {STATE_NAME["given"]: MAGENTA, STATE_NAME["true"]: BLUE, "neither": GREY}
# ... their names as printed on the areas themselves, and the state drawn striped as well: magenta and blue
# are the same grey to a greyscale projector or a reader without colour vision.
STATE_SHORT = {STATE_NAME["given"]: "memorized", STATE_NAME["true"]: "true digit", "neither": "neither"}
STRIPED = STATE_NAME["given"]

# Accuracy measured on which examples.
SPLIT_COLOR = {"clean training examples": BLUE, "relabelled training examples": MAGENTA,
               "training set as given": ORANGE, "validation (clean)": TEAL}

# Explicit regularizers (E6) and the augmentations (page 6); "none" is the unregularized baseline.
REG_NAME = {"none": "none", "dropout": "dropout", "input_dropout": "input dropout", "input_noise": "input noise",
            "hidden_noise": "hidden noise", "weight_decay": "weight decay", "adversarial": "adversarial + dropout"}
REG_COLOR = {"none": GREY, "dropout": TEAL, "input dropout": CYAN, "input noise": "#DDAA33",
             "hidden noise": "#CC6677", "weight decay": "#AA4499", "adversarial + dropout": ORANGE}

# Augmentations (page 6), by family; strengths of one family share its colour and differ by dash.
AUG_NAME = {"none": "none", "rotation": "rotation", "pixel_noise": "pixel noise", "intensity": "intensity jitter",
            "colour": "colour jitter"}
AUG_COLOR = {"none": GREY, "rotation": TEAL, "pixel noise": CYAN, "intensity jitter": "#DDAA33",
             "colour jitter": "#AA4499"}

PAPER_COLOR = GREY  # the paper's reference values: grey diamonds / dashed rules on every chart
PAPER_SHAPE = "diamond"

# Noise level p in [0, 1]: one sequential ramp (the middle of matplotlib's "plasma", readable on both
# backgrounds) with a fixed domain, so p = 0.4 has the same colour on every page.
_PLASMA = ["#8f0da4", "#b12a90", "#cc4778", "#e16462", "#f2844b", "#fca636"]  # plasma at 0.3, 0.4, ..., 0.8


def p_color(p: float) -> str:
    """The colour of noise level p (0 <= p <= 1): clean data (p = 0) is the app's "real" blue, noisy levels
    are interpolated along the ramp."""
    if float(p) <= 0:
        return BLUE
    t = min(float(p), 1.0) * (len(_PLASMA) - 1)
    i = min(int(t), len(_PLASMA) - 2)
    a, b = (tuple(int(h[k:k + 2], 16) for k in (1, 3, 5)) for h in _PLASMA[i:i + 2])
    mix = [round(x + (y - x) * (t - i)) for x, y in zip(a, b)]
    return "#" + "".join(f"{v:02x}" for v in mix)


def p_name(p: float) -> str:
    return f"p = {p:g}"


def p_scale(levels) -> alt.Scale:
    """A nominal colour scale over the levels drawn ('p = 0.2', ...), each with its fixed colour."""
    levels = sorted(set(float(p) for p in levels))
    return alt.Scale(domain=[p_name(p) for p in levels], range=[p_color(p) for p in levels])


def scale(mapping: dict[str, str], present) -> alt.Scale:
    """A colour scale over the values actually drawn, each keeping its app-wide colour."""
    seen = [v for v in mapping if v in set(present)]
    extra = [v for v in dict.fromkeys(present) if v not in mapping]
    return alt.Scale(domain=seen + extra, range=[mapping[v] for v in seen] + [GREY] * len(extra))


def kind_name(kind: str, p: float | None = None) -> str:
    """'real', 'random labels', or with a level: 'random labels, p = 0.4'."""
    name = KIND_NAME.get(kind, kind)
    return name if p is None or kind == "none" else f"{name}, p = {p:g}"
