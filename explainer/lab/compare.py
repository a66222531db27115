"""The session's last live runs, side by side: every finished run of this visitor (on the Lab or any
story page's "Try it yourself") is remembered with its settings, up to CAP of them; a newer run pushes
the oldest out, except the one the visitor pinned. They are drawn in one chart (chart.overlay), each
with its settings and a link that reopens it in the Lab. Per session only (st.session_state): nothing
is shared between visitors, and nothing here trains.
"""
from __future__ import annotations

from typing import MutableMapping

import streamlit as st

from .. import alttext, ui
from . import chart as LC
from .knobs import Arm, describe, lab_link

CAP = 5                     # runs kept per session
RUNS = "lab-runs"           # session_state: the runs, oldest first (dicts: id, label, knobs, rows, status)
PINNED = "lab-runs-pinned"  # session_state: the id of the pinned run, or None
COUNT = "lab-runs-count"    # session_state: runs remembered so far (the next run's number)
PARTIAL = {"stop": "stopped early", "deadline": "stopped at the time budget"}


SHORT = {"n_train": "{:,} digits", "width": "width {}", "depth": "depth {}", "dropout": "dropout {:g}",
         "weight_decay": "weight decay {:g}", "rotation": "rotation ±{:g}°", "pixel_noise": "pixel noise {:g}",
         "optimizer": "{}", "lr": "lr {:g}", "batch_size": "batch {}", "epochs": "{} epochs", "seed": "seed {}"}
MAX_SHOWN = 3  # settings named in a run's short name at most


def runs(state: MutableMapping) -> list[dict]:
    """The remembered runs, oldest first, each with `pinned` set and `differs`: the settings (beyond its
    label, which names the noise) in which the runs shown differ, so that every name in the chart says
    what sets its run apart."""
    kept, pinned = state.get(RUNS, []), state.get(PINNED)
    varying = [name for name in SHORT if len({getattr(r["knobs"], name) for r in kept}) > 1][:MAX_SHOWN]
    return [{**r, "pinned": r["id"] == pinned,
             "differs": ", ".join(SHORT[name].format(getattr(r["knobs"], name)) for name in varying)} for r in kept]


def remember(state: MutableMapping, arms: tuple[Arm, ...], rows: dict[int, list], status: str) -> None:
    """Add each arm of a finished run. The same settings and seed are the same run: it moves to the end
    (keeping its pin) instead of appearing twice. Past CAP, the oldest unpinned runs go."""
    kept = list(state.get(RUNS, []))
    for i, arm in enumerate(arms):
        if not rows.get(i):
            continue
        same = [r for r in kept if r["knobs"] == arm.knobs]
        kept = [r for r in kept if r["knobs"] != arm.knobs]
        state[COUNT] = state.get(COUNT, 0) + 1
        run = {"id": state[COUNT], "label": arm.label, "knobs": arm.knobs, "rows": list(rows[i]), "status": status}
        if same and state.get(PINNED) == same[0]["id"]:
            state[PINNED] = run["id"]
        kept.append(run)
    while len(kept) > CAP:
        oldest = next((r for r in kept if r["id"] != state.get(PINNED)), kept[0])
        kept.remove(oldest)
    state[RUNS] = kept


def pin(state: MutableMapping, run_id: int) -> None:
    """Pin this run (one at a time); pinning the pinned run again unpins it."""
    state[PINNED] = None if state.get(PINNED) == run_id else run_id


def clear(state: MutableMapping) -> None:
    state[RUNS], state[PINNED] = [], None


def section(key: str, inline: bool = True) -> None:
    """The comparison: one chart of the runs, then each run's settings, link and pin; a Clear button.
    `inline` draws it in place (the Lab), else inside an expander (a story page's panel)."""
    shown = runs(st.session_state)
    if not shown:
        return
    box = st.container() if inline else st.expander(f"Compare your last runs ({len(shown)})", icon="🗂️")
    with box:
        ui.md(f"**🗂️ Your last runs** — this session's last {CAP} at most; 📌 pin one to keep it while "
              "newer runs push older ones out.")
        metric = st.segmented_control("Curve", list(LC.CURVES), format_func=LC.CURVES.get, default="val_acc",
                                      key=f"{key}-compare-curve") or "val_acc"
        spec = LC.overlay(shown, metric)
        st.vega_lite_chart(spec, width="stretch", alt=alttext.describe(spec) or None)
        lines = []
        for i, run in enumerate(shown):
            note = f" · *{PARTIAL[run['status']]}*" if run["status"] in PARTIAL else ""
            style = f"{LC.RUN_COLOR_NAMES[i]} {LC.RUN_SHAPE_NAMES[i]} {LC.RUN_DASH_NAMES[i]}"
            lines.append(f"- {style} · **{LC.run_name(run)}**: "
                         f"{describe(run['knobs'])}{note} · [🔗 open in the Lab]({lab_link(run['knobs'])})")
        ui.md("\n".join(lines))
        with st.container(horizontal=True):  # one row of buttons, wrapping on a phone
            for run in shown:
                st.button(f"Unpin #{run['id']}" if run["pinned"] else f"Pin #{run['id']}",
                          icon="📌" if run["pinned"] else None, key=f"{key}-pin-{run['id']}", on_click=pin,
                          args=(st.session_state, run["id"]))
            st.button("Clear", icon="🗑️", key=f"{key}-clear", on_click=clear, args=(st.session_state,),
                      help="Forget every run of this session (the server keeps nothing of them)")
