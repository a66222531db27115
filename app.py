"""The frame of the story: page config, navigation over chapters/ in docs/STORY.md's order and a sidebar
saying what produced the numbers. Run: `streamlit run app.py`.

The story lives in chapters/, not pages/: Streamlit treats a pages/ folder next to the entry script as a
legacy multipage app until the first run of this script, so a visitor whose first request deep-links to
a page (e.g. /training-time on a freshly started server) would get that page without this frame.
"""
from __future__ import annotations

import sys
import traceback

import streamlit as st

from explainer import artifacts as A
from explainer.lab import runtime
from explainer.story import CHAPTERS, ROOT, STORY
from explainer.ui import DATASET_NAME, md

st.set_page_config(layout="centered",  # each chapter sets its own tab title and icon via st.Page
                   initial_sidebar_state="auto")


# What the theme cannot say (tests/test_a11y.py checks each in a browser):
# - keyboard focus as a solid 2 px ring in the palette's blue, offset from the control: at least 3:1 against the
#   light and dark backgrounds and sidebars. Streamlit's own is a half-transparent shadow (about 2:1 on white);
#   its sidebar links and radio options only darken their background a little. A radio's or slider's input is
#   visually hidden, so its label or thumb carries the ring.
# - captions in 75 % of the text colour instead of at 60 % opacity (3.9:1 on white, under 4.5:1, and their links
#   faded with them), in either theme;
# - code in the text colour: the highlighter's blues and greys fall under 4.5:1 on the code background;
# - radio options and checkboxes at least 24 px tall, and a 24 px target around each help icon (WCAG 2.5.8).
STYLE = """<style>
:is(a, button, summary, input, select, textarea, [role="slider"], [role="option"], [role="tab"], [role="radio"],
    [role="checkbox"], [role="switch"], [tabindex]):focus-visible,
label:has(input:focus-visible), [data-testid="stSlider"] div:has(> div > input:focus-visible) {
  outline: 2px solid #0077BB !important;
  outline-offset: 2px !important;
}
[data-testid="stCaptionContainer"] { opacity: 1 !important; color: color-mix(in srgb, currentColor 75%, transparent); }
.stCode .token { color: inherit !important; }
.stCode .token.comment { font-style: italic; }
:is([data-testid="stRadio"], [data-testid="stCheckbox"]) label { min-height: 24px; }
[data-testid="stTooltipHoverTarget"] > button { min-width: 24px; min-height: 24px; }
</style>"""

HOW_GPU = ("A GPU set comes from one command on a GPU machine, `python -m training.run_profile --profile gpu "
           "--out results/gpu` (the `gpu` profile: CIFAR-10 with the paper's CNN, the MNIST sample at the paper's "
           "width 4096; {minutes} on one H200 by the planner's estimate; `tools/gpu_run.sh` runs it against a "
           "deadline and brings back what finished), committed beside `artifacts/`. "
           "It then appears here, and is shown by default unless under-trained (random labels not memorized).")


def result_set_switch() -> None:
    """The sidebar's choice of result set (kept in the session and in the link as ?results=NAME)."""
    sets = A.result_sets()
    names = [s.name for s in sets]
    if st.session_state.get(A.STATE_KEY) not in names:  # first run of a session, or a set that went away
        asked = st.query_params.get("results")
        st.session_state[A.STATE_KEY] = asked if asked in names else names[0]
    md("#### 🗂️ Result set", st.sidebar)
    if len(sets) > 1:
        labels = {s.name: s.label for s in sets}
        st.sidebar.radio("Which runs the pages show", names, key=A.STATE_KEY, format_func=labels.get,
                         help="Every chart and the scoreboard say which set they show. The default is the "
                              "largest-scale set present.")
    else:
        st.sidebar.caption(f"**{sets[0].label}**, the only set here.")
        st.sidebar.caption(HOW_GPU.format(minutes=gpu_minutes()))
    if st.session_state[A.STATE_KEY] != names[0] or "results" in st.query_params:
        st.query_params["results"] = st.session_state[A.STATE_KEY]  # a shared link shows the same set
    result_set_state(A.selected())


def result_set_state(chosen: A.ResultSet) -> None:
    """What the chosen set lacks: an under-trained run (never the default), a partial run's missing stages
    (and which set the pages show for them), each stage's status from resultset.json."""
    if chosen.under_trained:
        st.sidebar.warning(f"⚠️ **Under-trained:** {chosen.info.get('under_trained_why', '')}. Pages still show it "
                           "when picked, but never by default.")
    if not chosen.partial:
        return
    instead = A.elsewhere()
    labels = {s.name: s.label for s in A.result_sets()}
    note = "; ".join(f"**{labels.get(name, name)}** for " + ", ".join(f"`{f}`" for f in folders)
                     for name, folders in _by_set(instead).items())
    st.sidebar.caption(f"**Partial set:** {chosen.held} of {len(chosen.stages)} stages finished. "
                       + (f"The pages show the rest from {note}." if note else ""))
    with st.sidebar.expander("Stages of this set"):
        st.markdown("\n".join(f"- `{name}` {s.get('status', '?')}" + (f": {s['why']}" if s.get("why") else "")
                              for name, s in chosen.stages.items()))


def _by_set(folders: dict[str, str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for folder, name in folders.items():
        out.setdefault(name, []).append(folder)
    return out


def gpu_minutes() -> str:
    """The planner's estimate for the gpu profile, as recorded by the plan stage (if present)."""
    try:
        plan = A.table("plan", "plan", needs=("profile", "device", "minutes"), numeric=("minutes",))
    except A.Missing:
        return "a few minutes"
    rows = plan[(plan.profile == "gpu") & (plan.device == "h200")]
    return f"about {rows.minutes.sum():.0f} min" if len(rows) else "a few minutes"


def provenance_badge() -> None:
    """What produced the numbers on every page: profile, datasets, device, date, how to reproduce."""
    found = A.manifests()
    md("#### 🧾 Where the numbers come from", st.sidebar)
    if not found:
        st.sidebar.info("No measured results yet. Run `dvc repro` to produce them; pages explain what is missing.")
        return
    profiles = sorted({m.get("profile", "?") for m in found.values()})
    devices = sorted({f"{m['device']} ({m['device_name']})" for m in found.values() if "device_name" in m})
    sizes: dict[str, set] = {}
    for m in found.values():
        for name, d in m.get("datasets", {}).items():
            sizes.setdefault(DATASET_NAME.get(name, name), set()).add(d.get("n_train", 0))
    latest = max(found.values(), key=lambda m: str(m.get("finished", "")))
    finished = str(latest.get("finished", ""))[:10] or "unknown"
    others = len({m.get("git_revision", "?") for m in found.values()}) - 1
    lines = [f"- **profile** {', '.join(f'`{p}`' for p in profiles)}",
             *[f"- **{name}** " + ", ".join(f"{n:,}" for n in sorted(ns)) + " training examples"
               for name, ns in sorted(sizes.items())],
             f"- **device** {', '.join(devices)}",
             f"- **finished** {finished} · **git** `{latest.get('git_revision', '?')}`"
             + (f" (+{others} older)" if others else ""),
             f"- **stages** {len(found)} result folders"]
    st.sidebar.markdown("\n".join(lines))
    if "smoke" in profiles:
        st.sidebar.warning("Some results come from the *smoke* profile (a seconds-long plumbing test): "
                           "their numbers mean nothing. `dvc repro` writes the real ones.")
    st.sidebar.markdown("Reproduce everything: `dvc repro` · details on the last page.")


st.html(STYLE)  # a style-only block takes no room on the page
pages = [st.Page(c.file, title=c.title, icon=c.icon, url_path=c.url or None, default=not c.url) for c in CHAPTERS]
page = st.navigation(pages, position="sidebar", expanded=True)
result_set_switch()
provenance_badge()
try:
    page.run()
except Exception:  # a safety net only: pages guard their artifacts themselves, tests assert this never shows
    print(traceback.format_exc(), file=sys.stderr)
    st.error("😵 This page tripped over something unexpected. The other pages still work; the details are in "
             "the server log. Please report it with the page name.")
if runtime.serving():  # once per server process: fill the other story pages' caches in the background
    runtime.start([ROOT / c.file for c in STORY])
