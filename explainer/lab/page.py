"""The live retrain panel: a visitor trains small networks on CPU, with the pipeline's own engine,
and watches memorization happen epoch by epoch.

A story page adds it with one line, `lab.retrain_panel("twin", key="exp")`; the Lab page
(chapters/12_lab.py) calls `run_panel` with the visitor's knobs. The panel is a fragment, so a click
on Train reruns only the panel, and the run trains in that script thread, one run per server at a
time (`Trainer.slot`, which waits visibly and always releases). After every epoch the chart is
redrawn and the run checks whether the visitor clicked again (Stop) or left: either ends it within
one epoch. A click elsewhere on the page reruns the whole script, which interrupts the run at its
next redraw; the partial result stays. Below the result, the session's last runs are compared
(compare.py). On a live server torch is imported in a background thread shortly after a page with
a panel first renders (not while it renders), never by the render itself.
"""
from __future__ import annotations

import sys
import time
import traceback

import streamlit as st

from .. import alttext, artifacts as A, ui
from . import chart as LC, compare
from .band import nearest
from .knobs import describe, lab_config, lab_link
from .presets import PRESETS, Preset
from .runtime import panel_trainer, stop_check, trainer
from .trainer import LiveResult, Trainer

REDRAW_S = 0.2   # seconds between chart redraws at least: every epoch, unless epochs come faster (5 Hz)


class _Cancelled(Exception):
    """The visitor clicked again (or left) while waiting for the trainer."""


def _flag_stop(key: str) -> None:
    st.session_state[f"{key}-stop-pressed"] = True


def retrain_panel(name: str, key: str) -> None:
    """A story page's "try it yourself": the preset's runs, a seed to vary, Train / Stop."""
    preset = PRESETS[name]
    panel_trainer()
    st.markdown(f"**{preset.title}.** {preset.blurb}")
    seed = st.number_input("Seed (the same seed gives the same run)", min_value=0, max_value=9999, value=0, step=1,
                           key=f"{key}-seed")
    preset = preset.with_seed(min(max(int(seed or 0), 0), 9999))
    run_panel(preset, key)
    ui.small("Open a run in the 🔬 Lab to change every knob: "
             + " · ".join(f"[{a.label}]({lab_link(a.knobs)})" for a in preset.arms))


@st.fragment
def run_panel(preset: Preset, key: str, preview: bool = False) -> None:
    """Train button, progress, one chart per arm, summary, and the session's runs compared. Shows the
    session's last result between runs. With `preview` (the Lab), the band of the settings is drawn
    before any run and the comparison is shown in place (a story page folds it away)."""
    arms = preset.arms
    left, right, _ = st.columns([1, 1, 2])
    clicked = left.button("Train", icon="▶️", key=f"{key}-train", type="primary", width="stretch")
    stop_slot = right.empty()
    last = None if clicked else st.session_state.get(f"{key}-result")
    if last and last["status"] == "running":  # the run was cut short by a click (Stop or another widget)
        last["status"] = "stop" if st.session_state.pop(f"{key}-stop-pressed", False) else "interrupted"
    shown = last["preset"].arms if last else arms
    status, progress, key_slot = st.empty(), st.empty(), st.empty()
    slots = [key_slot] + [c.empty() for c in st.columns(len(shown))]
    below = st.container()
    bands = [nearest(a.knobs) for a in arms]
    if clicked:
        _train(preset, bands, key, stop_slot, status, progress, slots, below)
    elif last:
        _draw(last["preset"].arms, last["rows"], last["bands"], slots)
        _summarize(last, below, stale=last["preset"].arms != arms)
    elif preview and any(b is not None for b in bands):
        _draw(arms, {i: [] for i in range(len(arms))}, bands, slots)
        _band_notes(arms, bands, below)
    elif preview:
        below.info("🧩 No results from the pipeline are close enough to these settings to draw behind your run "
                   "(`dvc repro` produces them). Press **Train** to draw your own run anyway.")
    compare.section(key, inline=preview)


def _draw(arms, rows: dict, bands, slots, drawn: dict | None = None) -> None:
    """slots[0] holds the colour key, slots[1:] one chart per arm. With `drawn` (arm -> rows drawn
    so far), only charts with new rows are redrawn."""
    if not drawn:
        slots[0].caption(LC.key_line(arms, any(b is not None for b in bands)))
    for i, (arm, slot) in enumerate(zip(arms, slots[1:])):
        n = len(rows.get(i, []))
        if drawn is not None and drawn.get(i) == n:
            continue
        spec = LC.panel(arm, rows.get(i, []), bands[i], arm.knobs.epochs)
        slot.vega_lite_chart(spec, width="stretch", alt=alttext.describe(spec) or f"{arm.label}: no epochs yet")
        if drawn is not None:
            drawn[i] = n


def _band_notes(arms, bands, box) -> None:
    lines = []
    for arm, band in zip(arms, bands):
        who = f"**{arm.label}**: " if len(arms) > 1 else ""
        if band is None:
            lines.append(f"- {who}no pipeline run is close to these settings, so there is no band.")
        else:
            lines.append(f"- {who}{band.name}" + (f" — differs: {band.differences}" if band.differences else
                                                  " — the same settings"))
    ui.small(f"Shaded: the range over seeds of the pipeline's nearest configuration (results: "
             f"{A.selected().label}).\n" + "\n".join(lines), box)


HEADS = {"done": "✅ **Done.**",
         "cached": "⚡ **Served from the cache**: this exact run (same settings, same seed) was trained on this "
                   "server before, and the same seed gives the same result.",
         "stop": "⏹️ **Stopped** (you pressed Stop).",
         "interrupted": "⏸️ **Interrupted** (the page was used while training).",
         "failed": "😵 **The run failed on the server.**",
         "cancelled": "Cancelled while waiting for the trainer."}


def _summarize(result: dict, box, stale: bool = False) -> None:
    preset, rows = result["preset"], result["rows"]
    arms = preset.arms
    numbers = [LC.stats(rows.get(i, [])) for i in range(len(arms))]
    state = result["status"]
    with box:
        if stale:
            ui.small("⬆️ Your last run; the settings have changed since. Press Train to run the new ones.")
        head = HEADS.get(state, "") if state != "deadline" else \
            f"⏱️ **Stopped at the time budget** ({lab_config().budget_s:.0f} s per run on this server)."
        took = f" {result['seconds']:.1f} s of training" if result.get("seconds") else ""
        ui.md(f"{head}{took}\n\n" + LC.summary_lines(arms, numbers))
        if state in ("done", "cached"):
            text = preset.sentence(numbers)
            if text:
                st.info(f"👀 **What you just saw:** {text}")
        _band_notes(arms, result["bands"], st)
        st.caption("Settings: " + " | ".join(f"{a.label}: {describe(a.knobs)}" for a in arms))


def _train(preset: Preset, bands, key, stop_slot, status, progress, slots, below) -> None:
    t, arms = trainer(), preset.arms
    store = {"preset": preset, "bands": bands, "rows": {i: [] for i in range(len(arms))}, "status": "running",
             "seconds": 0.0}
    st.session_state.pop(f"{key}-stop-pressed", None)
    hit = t.cached(arms)
    if hit is None:
        stop_slot.button("Stop", icon="⏹️", key=f"{key}-stop", on_click=_flag_stop, args=(key,), width="stretch")
        try:
            hit = _run_locked(t, arms, bands, store, key, status, progress, slots)
        except TimeoutError as err:
            status.warning(f"⏳ The trainer stayed busy: {err}.")
            return
        except _Cancelled:
            status.caption("Cancelled while waiting for the trainer.")
            store["status"] = "cancelled"
            return
        except Exception:  # a bug or the machine ran out of something: say so, keep the page alive
            print(traceback.format_exc(), file=sys.stderr)
            status.error("😵 This run failed on the server; the trainer is free again. Try fewer epochs or a "
                         "smaller network.")
            store["status"] = "failed"
            return
        stop_slot.empty()
    else:
        status.empty()
    store["rows"] = {int(i): g.to_dict("records") for i, g in hit.frame.groupby("run")}
    store["status"] = "cached" if hit.cached else (hit.stopped or "done")
    store["seconds"] = hit.seconds
    st.session_state[f"{key}-result"] = store
    compare.remember(st.session_state, arms, store["rows"], store["status"])
    progress.empty()
    _draw(arms, store["rows"], bands, slots)
    _summarize(store, below)


def _run_locked(t: Trainer, arms, bands, store, key, status, progress, slots) -> LiveResult:
    """Wait for the trainer (showing that we wait), then train with a redraw after every epoch."""
    st.session_state[f"{key}-result"] = store  # kept up to date, so a Stop shows what was trained so far

    stop = stop_check()

    def waiting(seconds: float) -> None:
        if stop():
            raise _Cancelled
        left = t.left_s()
        status.info(f"⏳ **Waiting for the trainer** ({seconds:.0f} s): another visitor's run is in progress"
                    + (f", about {left:.0f} s left" if left else "") + ". Yours starts as soon as it frees up.")

    with t.slot(waiting) as waited:
        hit = t.cached(arms)  # an identical run may have finished while we waited
        if hit is not None:
            return hit
        while not t.wait_warm(0.25):  # each status update is a point where Stop can interrupt
            status.info("🔥 Warming up the trainer (loading torch and the digits, once per server)…")
        ui.small("🏋️ Training on this server's CPU"
                 + (f" (waited {waited:.0f} s for the trainer)" if waited >= 1 else ""), status)
        last_draw, drawn = [0.0], {}

        def on_epoch(r: dict) -> None:
            store["rows"] = r["rows"]
            done, total, secs = r["done"], r["total"], r["seconds"]
            left = secs / done * (total - done) if done else float("nan")
            progress.progress(min(done / total, 1.0), text=f"epoch {done} of {total} · {secs:.1f} s"
                              + (f" · about {left:.0f} s left" if left == left else ""))
            now = time.monotonic()
            if now - last_draw[0] >= REDRAW_S or done in (0, total):
                last_draw[0] = now
                _draw(arms, r["rows"], bands, slots, drawn)

        result = t.run(arms, on_epoch=on_epoch, stop=stop)
    t.remember(result)
    return result
