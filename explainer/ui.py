"""Page widgets shared by the story: the friendly missing-artifact note, a chart with its caption,
provenance and CSV download, digit grids, the dataset picker and number formatting."""
from __future__ import annotations

import io
import re
from typing import Callable, Sequence

import numpy as np
import pandas as pd
import streamlit as st
from PIL import Image

from . import alttext, artifacts as A

DATASET_NAME = {"mnist10k": "MNIST (10k-digit sample)", "mnist": "MNIST", "cifar10": "CIFAR-10",
                "cifar10s": "CIFAR-10 (700-image sample)"}


# The scoreboard's verdicts (training/stages/claims.py VERDICTS), in the order pages list them, with badges.
VERDICTS = ["reproduced", "partly", "depends on definition", "not resolved", "not reproduced", "not run"]
VERDICT_BADGE = {"reproduced": "✅", "partly": "🌗", "depends on definition": "🔀", "not resolved": "❔",
                 "not reproduced": "❌", "not run": "⏸️"}


# An emoji: a character Unicode draws as an emoji by default, or any symbol with the emoji variation selector
# (U+FE0F), and the parts a zero-width joiner adds to it (🧑‍🎓). Arrows and shapes drawn as text (→ ● ▲) are not.
_EMOJI_BMP = ("\u231A\u231B\u23E9-\u23EC\u23F0\u23F3\u25FD\u25FE\u2614\u2615\u2648-\u2653\u267F\u2693"
              "\u26A1\u26AA\u26AB\u26BD\u26BE\u26C4\u26C5\u26CE\u26D4\u26EA\u26F2\u26F3\u26F5\u26FA\u26FD"
              "\u2705\u270A\u270B\u2728\u274C\u274E\u2753-\u2755\u2757\u2795-\u2797\u27B0\u27BF\u2B1B"
              "\u2B1C\u2B50\u2B55")
_ONE_EMOJI = f"(?:[\U0001F000-\U0001FAFF{_EMOJI_BMP}]\uFE0F?|[\u00A9\u00AE\u203C-\u2BFF]\uFE0F)"
EMOJI = re.compile(f"{_ONE_EMOJI}(?:\u200D{_ONE_EMOJI})*")
# The coloured squares that key a chart's colours (🟦 real labels): meant to be read, by their name ("blue square").
COLOUR_KEYS = frozenset("🟦🟪🟥🟧🟩")


def quiet(text: str) -> str:
    """Markdown whose decorative emoji a screen reader skips (each in an aria-hidden span; colour keys stay).
    For st.markdown / st.caption with unsafe_allow_html=True (`md`, `small`): a heading, button, expander
    or alert takes its emoji as `icon=` instead (an alert's leading one is taken as its icon by itself),
    which Streamlit draws hidden from screen readers."""
    return EMOJI.sub(lambda m: m[0] if m[0] in COLOUR_KEYS else f'<span aria-hidden="true">{m[0]}</span>', text)


def md(text: str, where=st) -> None:
    """st.markdown of `text` with its decorative emoji hidden from screen readers (`quiet`)."""
    where.markdown(quiet(text), unsafe_allow_html=True)


def small(text: str, where=st) -> None:
    """st.caption of `text` with its decorative emoji hidden from screen readers (`quiet`)."""
    where.caption(quiet(text), unsafe_allow_html=True)


def pct(x: float, digits: int = 0) -> str:
    """0.9134 -> '91%' (digits=0) or '91.3%' (digits=1); NaN -> 'n/a'."""
    return "n/a" if x is None or pd.isna(x) else f"{100 * float(x):.{digits}f}%"


def num(x: float, digits: int = 2) -> str:
    return "n/a" if x is None or pd.isna(x) else f"{float(x):.{digits}f}"


def missing(err: A.Missing, what: str = "this part of the story") -> None:
    """The friendly note shown instead of a chart whose artifact is absent or unreadable."""
    st.info(f"🧩 **Waiting for numbers: {what[0].lower() + what[1:]}.** {err.what}.\n\n"
            f"Regenerate it with `{err.command}` (or everything with `dvc repro`), then reload the page. "
            "Every other page keeps working meanwhile.")


def _when(m: dict) -> str:
    return str(m.get("finished", "unknown date"))[:10]


def describe(m: dict, folder: str) -> str:
    """One markdown paragraph on what produced artifacts/<folder>."""
    if not m:
        return f"`{A.shown()}/{folder}` has no readable manifest, so its origin is unknown."
    data = "; ".join(f"{DATASET_NAME.get(name, name)}: {d.get('n_train', '?'):,} training / {d.get('n_val', '?'):,} "
                     f"validation examples from `{d.get('source', '?')}`" for name, d in m.get("datasets", {}).items())
    smoke = " ⚠️ *smoke profile: a seconds-long plumbing test, its numbers mean nothing*" if m.get("profile") == "smoke" else ""
    return (f"**Stage** `{m.get('stage', folder)}` · **profile** `{m.get('profile', '?')}`{smoke} · "
            f"**device** {m.get('device', '?')} ({m.get('device_name', '?')}) · **ran** {m.get('seconds', '?')} s, "
            f"finished {_when(m)} · **torch** {m.get('torch', '?')} · **git** `{m.get('git_revision', '?')}`\n\n"
            f"**Data** {data or 'not recorded'}")


def params_text(config: dict, indent: int = 0) -> str:
    """A stage's parameters as short YAML-like lines (cheaper to draw than an interactive JSON tree)."""
    lines = []
    for k, v in config.items():
        if isinstance(v, dict):
            lines.append(" " * indent + f"{k}:")
            lines.append(params_text(v, indent + 2))
        else:
            lines.append(" " * indent + f"{k}: {v}")
    return "\n".join(lines)


def provenance(folder: str, data: pd.DataFrame, key: str, table: Callable[[], pd.DataFrame] | None = None) -> None:
    """Under a chart: the numbers it draws as a small HTML table (`table()`, which a screen reader can walk,
    unlike a canvas grid) and the exact data as CSV, what produced it, how to rerun it and its parameters.
    The expander renders its content only once opened, so closed ones cost nothing on a page switch."""
    box = st.expander("Where these numbers come from · the data as a table and CSV", icon="🔎",
                      key=f"provenance-{key}",
                      on_change="rerun")
    if not box.open:
        return
    m = A.manifest(folder)
    with box:
        shown = table() if table is not None else pd.DataFrame()
        if len(shown):
            st.markdown("**The numbers drawn above** as a table (a long series at a dozen points; the CSV has "
                        "every value):")
            st.table(shown, alt=f"The chart's numbers: {len(shown)} rows ({shown.index.name or 'values'}), "
                                f"{len(shown.columns)} columns")
        st.download_button("The data drawn above (CSV)", icon="⬇️", data=lambda: data.to_csv(index=False),
                           file_name=f"{key}.csv", mime="text/csv", key=f"download-{key}", on_click="ignore")
        md(describe(m, folder))
        st.markdown("**Reproduce** (rewrites this folder from `params.yaml`):")
        st.code(A.reproduce(folder), language="bash", wrap_lines=True)
        if m.get("config"):
            st.markdown("**Parameters** of the stage:")
            st.code(params_text(m["config"]), language=None)


def fingerprint(data: pd.DataFrame) -> int:
    """A cheap content hash of a small table (columns and values)."""
    values = int(pd.util.hash_pandas_object(data, index=False).sum()) if len(data) else 0
    return hash((tuple(map(str, data.columns)), values, len(data)))


@st.cache_data(show_spinner=False, max_entries=256)
def _spec(key: str, data_hash: int, _build: Callable) -> dict:
    # Building an Altair chart and validating it against the Vega-Lite schema costs 0.1-0.3 s per chart;
    # the builders are unit-tested with validation on, so here the finished spec is cached, unvalidated.
    spec = _build().to_dict(validate=False)
    # the chart's height is its plot's height; axes and the legend below it add to it (Streamlit's default
    # "fit" would squeeze the plot to make room for a bottom legend). Faceted and concatenated charts size
    # their own panels: "fit" autosizing is for single views only (on a facet it draws nothing at all).
    if not _compound(spec):
        spec["autosize"] = {"type": "fit-x", "contains": "padding"}
    return spec


def _compound(spec: dict) -> bool:
    return any(k in spec for k in ("facet", "hconcat", "vconcat", "concat"))


@st.cache_data(show_spinner=False, max_entries=256)
def _alt(key: str, data_hash: int, _build: Callable) -> str:
    """The chart's text alternative (explainer/alttext), read off its cached spec."""
    return alttext.describe(_spec(key, data_hash, _build))


@st.cache_data(show_spinner=False, max_entries=64)
def _table(key: str, data_hash: int, _build: Callable) -> pd.DataFrame:
    """The small table behind the chart (explainer/alttext), built only when its panel is opened."""
    return alttext.table(_spec(key, data_hash, _build))


def chart(build: Callable, *, caption: str, data: pd.DataFrame, folder: str, key: str,
          alt_text: str | None = None) -> None:
    """Draws `build()` (an Altair chart drawn from `data`) full width with its caption, its text alternative
    (`alt_text`, else one read off the chart: axes, series and their key numbers) and provenance. The spec
    is cached per `key` and content of `data`, so `key` must name every other input of the chart (e.g. the
    data set or noise level picked)."""
    h = fingerprint(data)
    spec = _spec(key, h, build)
    st.vega_lite_chart(spec, width="content" if _compound(spec) else "stretch",
                       alt=alt_text or _alt(key, h, build) or caption, key=f"chart-{key}")
    st.caption(f"{caption} {result_set_note(folder)}")
    provenance(folder, data, key, table=lambda: _table(key, h, build))


def result_set_note(folder: str | None = None) -> str:
    """Which result set a chart or table shows, for its caption (the sidebar switches it); where the selected
    set is partial and lacks `folder`, the set shown instead, and why."""
    chosen = A.selected()
    shown = A.source(folder) if folder else chosen
    if shown != chosen:
        return f"· *Results: {shown.label}, since the selected set ({chosen.label}) has no `{folder}`.*"
    return f"· *Results: {chosen.label}.*"


def enlarge(img: np.ndarray, factor: int = 3) -> np.ndarray:
    """Nearest-neighbour upscaling, so a 28-px digit stays crisp instead of browser-blurred."""
    return np.repeat(np.repeat(img, factor, axis=0), factor, axis=1)


@st.cache_data(show_spinner=False, max_entries=64)
def _pngs(images: np.ndarray, factor: int) -> list[bytes]:
    out = []
    for im in images:
        buf = io.BytesIO()
        Image.fromarray(enlarge(np.asarray(im, dtype=np.uint8), factor)).save(buf, format="PNG")
        out.append(buf.getvalue())
    return out


def digits(images, captions: list[str] | None, alts: list[str], width: int = 84) -> None:
    """A wrapping grid of small images (uint8), each with alt text and, optionally, a caption under it.
    Encoded once as lossless PNG (cached), not as Streamlit's default JPEG."""
    if not len(images):
        return
    st.image(_pngs(np.stack([np.asarray(im) for im in images]), 3), caption=captions, width=width, alt=alts)


def mosaic(images, columns: int, gap: int = 2, fill: int = 128) -> np.ndarray:
    """Small uint8 images (N, H, W) tiled into one picture, `columns` per row with `gap` px between:
    one image to send instead of N (a page switch fetches every image separately)."""
    images = np.asarray(images)
    n, h, w = images.shape[:3]
    rows = -(-n // columns)
    out = np.full((rows * (h + gap) - gap, columns * (w + gap) - gap, *images.shape[3:]), fill, dtype=np.uint8)
    for i, im in enumerate(images):
        r, c = divmod(i, columns)
        out[r * (h + gap): r * (h + gap) + h, c * (w + gap): c * (w + gap) + w] = im
    return out


def picture(image: np.ndarray, caption: str, alt: str, width: int | str = "content") -> None:
    """One composed picture (e.g. a `mosaic`), upscaled crisply and sent as PNG."""
    st.image(_pngs(np.asarray(image)[None], 3)[0], caption=caption, width=width, alt=alt)


def to_gray(w: np.ndarray) -> np.ndarray:
    """A signed weight image as uint8: 0 -> mid grey, the largest |weight| -> black or white."""
    scale = np.abs(w).max() or 1.0
    return np.clip(127.5 + 127.5 * w / scale, 0, 255).astype(np.uint8)


def dataset_of(folder: str) -> str:
    """The data set a stage item ran on, as its manifest records it (item `mnist` is the 10k sample on a
    laptop and all of MNIST at paper scale)."""
    try:
        return A.manifest(folder).get("config", {}).get("dataset") or folder.rsplit("/", 1)[-1]
    except A.Missing:
        return folder.rsplit("/", 1)[-1]


def dataset_picker(key: str, folder: str, options=("mnist", "cifar10")) -> str:
    """A segmented control over the items (data sets) present under artifacts/<folder>/ (the first if one)."""
    present = [d for d in options if A.present(f"{folder}/{d}")] or [options[0]]
    if len(present) == 1:
        return present[0]
    name = {d: DATASET_NAME.get(dataset_of(f"{folder}/{d}"), d) for d in present}
    return st.segmented_control("Dataset", present, default=present[0], format_func=name.get,
                                key=key, required=True) or present[0]


# ---------------------------------------------------------------------------------------------
# Predict, then reveal


def _skip(state: str) -> None:
    st.session_state[state] = True


def _keep(widget: str, kept: str) -> None:
    st.session_state[kept] = st.session_state.get(widget)


def guess(key: str, question: str, options: Sequence[str]) -> str | None:
    """A question before a key chart. Returns the visitor's pick, "" after "Just show me", or None while
    unanswered: the page then holds back the chart and the numbers that answer it. The guess lives in
    this session only (st.session_state); nothing is stored or sent anywhere."""
    skipped, kept, options = f"guess-{key}-skipped", f"guess-{key}-kept", list(options)
    before = st.session_state.get(kept)  # widget state is dropped when its page is left; this copy is not
    with st.container(border=True):
        md(f"🤔 **Your guess first.** {question}")
        pick = st.radio(question, options, index=options.index(before) if before in options else None,
                        key=f"guess-{key}", label_visibility="collapsed", on_change=_keep,
                        args=(f"guess-{key}", kept))
        if pick is None and not st.session_state.get(skipped):
            st.button("Just show me", key=f"guess-{key}-show", on_click=_skip, args=(skipped,))
            st.caption("The chart and what our runs measured appear once you answer.")
            return None
    return pick or ""


def reveal(pick: str | None, truth: str, why: str) -> None:
    """After the chart: whether the guess matched our runs, or just the answer after "Just show me"."""
    if pick is None:
        return
    if truth == "not resolved":
        st.info(f"📏 **Our runs cannot tell:** the difference lies inside their spread over seeds. {why}")
    elif truth == "not run":
        st.info(f"⏸️ **Not measured in this result set yet.** {why}")
    elif not pick:
        st.success(f"📏 **What our runs say:** {truth}. {why}")
    elif pick == truth:
        st.success(f"✅ **Your guess matches our runs:** {truth}. {why}")
    else:
        st.warning(f"🔁 **Our runs say otherwise:** {truth}, not “{pick}”. {why}")


def answer(key: str, item: str = "", p: float | None = None) -> tuple[str, str]:
    """(answer, why) of a statement the claims stage judged for the pages (artifacts.finding); when the
    result set has no such finding, ("not run", the reason), which reveal() says as such."""
    try:
        return A.finding(key, item, p)
    except A.Missing as err:
        return "not run", str(err)
