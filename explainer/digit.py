"""Your own digit (page 2, chapters/02_what_is_memorization.py): a drawing from the canvas turned into an
MNIST-style 28 x 28 input, and the two students of e5 (the real-label and the shuffled-label MLP whose
checkpoints training/stages/e5_partial_noise.py writes) answering it.

Pure NumPy + PIL, no torch, so the story pages stay light: the forward pass re-does training/models.py
BatchedMLP.forward for one run (normalise with the stored mean/std, then dense + ReLU layers, a linear
read-out) on the tensors `run_state` saved: weights.i (1, in, out), biases.i (1, out), mean, std.
tests/test_digit.py checks it against the torch model on real digits.
"""
from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from pathlib import Path

import altair as alt
import numpy as np
import pandas as pd
from PIL import Image

from . import artifacts as A

FOLDER = "e5/mnist"
STUDENTS = {"model_real": "real-label student", "model_random": "shuffled-label student"}
SIDE, BOX = 28, 20   # MNIST: the digit's larger side scaled to 20 px, in a 28 x 28 frame
INK = 0.1            # pixels brighter than this (0..1) count as ink for the bounding box


# ---------------------------------------------------------------------------------------------
# The drawing -> what the network sees


def canvas(key: str) -> np.ndarray | None:
    """The drawing pad (streamlit-drawable-canvas): the visitor's strokes as RGBA, or None while empty.
    Outside a served session (the prefetch's bare runs of the story pages) the component cannot be
    declared, so the pad is simply not drawn there."""
    from streamlit.errors import StreamlitAPIException

    try:
        from streamlit_drawable_canvas import st_canvas

        drawn = st_canvas(stroke_width=22, stroke_color="#FFFFFF", background_color="#000000", height=280, width=280,
                          drawing_mode="freedraw", return_image_data=True, key=key)
    except StreamlitAPIException:
        return None
    return drawn.image_data


def ink_of(image: np.ndarray) -> np.ndarray:
    """A drawing (H, W) grey, (H, W, 3) RGB or (H, W, 4) RGBA, uint8 or floats in [0, 1], as ink in
    [0, 1] (float32): luminance composited over black, so light strokes on a dark or transparent
    background are ink and the background is 0."""
    a = np.asarray(image)
    a = a.astype(np.float32) / 255.0 if a.dtype == np.uint8 else a.astype(np.float32)
    if a.ndim == 2:
        return np.clip(a, 0, 1)
    gray = a[..., :3] @ np.float32([0.299, 0.587, 0.114]) if a.shape[-1] >= 3 else a[..., 0]
    if a.shape[-1] in (2, 4):
        gray = gray * a[..., -1]
    return np.clip(gray, 0, 1)


def preprocess(image: np.ndarray) -> np.ndarray | None:
    """The drawing as an MNIST digit: cropped to the ink's bounding box, scaled (antialiased, aspect kept)
    so its larger side is 20 px, pasted into a 28 x 28 frame with its centre of mass at the centre
    (pixel 14, 14, as in MNIST); (28, 28) float32 in [0, 1]. None when nothing is drawn."""
    ink = ink_of(image)
    rows, cols = np.nonzero((ink > INK).any(1))[0], np.nonzero((ink > INK).any(0))[0]
    if not len(rows):
        return None
    crop = ink[rows[0]:rows[-1] + 1, cols[0]:cols[-1] + 1]
    h, w = crop.shape
    scale = BOX / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    glyph = np.asarray(Image.fromarray(np.uint8(np.round(crop * 255))).resize(size, Image.Resampling.LANCZOS),
                       dtype=np.float32) / 255.0
    if glyph.sum() <= 0:
        return None
    gh, gw = glyph.shape
    cy = (glyph.sum(1) @ np.arange(gh)) / glyph.sum()
    cx = (glyph.sum(0) @ np.arange(gw)) / glyph.sum()
    top = int(np.clip(round(SIDE / 2 - cy), 0, SIDE - gh))
    left = int(np.clip(round(SIDE / 2 - cx), 0, SIDE - gw))
    out = np.zeros((SIDE, SIDE), dtype=np.float32)
    out[top:top + gh, left:left + gw] = glyph
    return out


# ---------------------------------------------------------------------------------------------
# The students


@dataclass(frozen=True)
class Student:
    """One e5 checkpoint as NumPy arrays: dense layers (in, out) + biases, and the input normalisation."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    mean: float
    std: float
    n_classes: int


@functools.lru_cache(maxsize=8)
def _load(path: str, mtime: int) -> Student:
    from safetensors.numpy import load_file  # numpy only, no torch

    t = load_file(path)
    about = json.loads(Path(path).with_suffix(".json").read_text())
    if about.get("arch", "mlp") != "mlp" or list(about.get("in_shape", [1, SIDE, SIDE])) != [1, SIDE, SIDE]:
        raise ValueError("not an MLP on 28 x 28 grey images")
    n = len([k for k in t if k.startswith("weights.")])
    weights = tuple(t[f"weights.{i}"][0].astype(np.float32) for i in range(n))
    biases = tuple(t[f"biases.{i}"][0].astype(np.float32) for i in range(n))
    std = max(float(t["std"].reshape(-1)[0]), 1e-6)   # training/models.py clamps it the same way
    return Student(weights, biases, float(t["mean"].reshape(-1)[0]), std, int(about.get("n_classes", 10)))


def student(name: str, folder: str = FOLDER) -> Student:
    """artifacts/<folder>/<name>.safetensors (+ .json) as a Student, cached per file and modification time;
    raises A.Missing (the page shows ui.missing) when absent or unreadable."""
    from safetensors import SafetensorError

    path = A._path(folder, f"{name}.safetensors")
    A._path(folder, f"{name}.json")
    try:
        return _load(str(path), path.stat().st_mtime_ns)
    except (OSError, ValueError, KeyError, IndexError, SafetensorError) as err:
        raise A.Missing(f"`{A.shown()}/{folder}/{name}.safetensors` could not be read ({type(err).__name__}: "
                        f"{err})", folder) from err


def logits(s: Student, x: np.ndarray) -> np.ndarray:
    """BatchedMLP.forward of one run in NumPy: x (N, 28, 28) or (28, 28) in [0, 1] -> (N, classes)."""
    h = ((np.asarray(x, dtype=np.float32).reshape(-1, SIDE * SIDE) - s.mean) / s.std).astype(np.float32)
    for i, (w, b) in enumerate(zip(s.weights, s.biases)):
        h = h @ w + b
        if i < len(s.weights) - 1:
            h = np.maximum(h, 0)
    return h


def predict(s: Student, x: np.ndarray) -> np.ndarray:
    """Softmax probabilities (N, classes) of x, as (N, 28, 28) or one (28, 28) image."""
    z = logits(s, x).astype(np.float64)
    z -= z.max(1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(1, keepdims=True)


# ---------------------------------------------------------------------------------------------
# On the page


def confidence_chart(probs: np.ndarray, color: str, title: str) -> alt.Chart:
    """Bars of one student's confidence in each class; its answer (the tallest) at full colour."""
    probs = np.asarray(probs, dtype=float).ravel()
    df = pd.DataFrame({"digit": [str(d) for d in range(len(probs))], "confidence": probs,
                       "answer": probs == probs.max()})
    return alt.Chart(df, title=alt.Title(title, fontSize=13, anchor="start")).mark_bar(color=color).encode(
        x=alt.X("digit:N", sort=None, title=None, axis=alt.Axis(labelAngle=0, labelFontSize=13)),
        y=alt.Y("confidence:Q", scale=alt.Scale(domain=[0, 1]), title="confidence",
                axis=alt.Axis(format="%", tickCount=5)),
        opacity=alt.condition("datum.answer", alt.value(1.0), alt.value(0.45)),
        tooltip=[alt.Tooltip("digit:N"), alt.Tooltip("confidence:Q", format=".1%")],
    ).properties(height=180)


def sure(p: float) -> str:
    """A confidence for the prose: '87%', never a rounded-up '100%' for a network that is 99.7% sure."""
    return "over 99%" if p > 0.99 else f"{100 * float(p):.0f}%"


def to_uint8(x28: np.ndarray) -> np.ndarray:
    return np.uint8(np.round(np.clip(x28, 0, 1) * 255))
