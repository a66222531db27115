"""The frame of the story: page config, navigation over chapters/ in STORY.md's order and a sidebar
saying what produced the numbers. Run: `streamlit run app.py`.

The story lives in chapters/, not pages/: Streamlit treats a pages/ folder next to the entry script as a
legacy multipage app until the first run of this script, so a visitor whose first request deep-links to
a page (e.g. /training-time on a freshly started server) would get that page without this frame.
"""
from __future__ import annotations

import sys
import traceback

import streamlit as st

from explainer import artifacts as A, prefetch
from explainer.story import CHAPTERS, ROOT, STORY
from explainer.ui import DATASET_NAME

st.set_page_config(layout="centered",  # each chapter sets its own tab title and icon via st.Page
                   initial_sidebar_state="auto")


def provenance_badge() -> None:
    """What produced the numbers on every page: profile, datasets, device, date, how to reproduce."""
    found = A.manifests()
    st.sidebar.markdown("#### 🧾 Where the numbers come from")
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


pages = [st.Page(c.file, title=c.title, icon=c.icon, url_path=c.url or None, default=not c.url) for c in CHAPTERS]
page = st.navigation(pages, position="sidebar", expanded=True)
provenance_badge()
try:
    page.run()
except Exception:  # a safety net only: pages guard their artifacts themselves, tests assert this never shows
    print(traceback.format_exc(), file=sys.stderr)
    st.error("😵 This page tripped over something unexpected. The other pages still work; the details are in "
             "the server log. Please report it with the page name.")
if prefetch.serving():  # once per server process: fill the other story pages' caches in the background
    prefetch.start([ROOT / c.file for c in STORY])
