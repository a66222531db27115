"""The Lab page's controls: every knob of a live run, kept in the URL's query parameters.

On a session's first render the knobs come from the URL (a shared link restores them), clamped
into range with a visible note for each value that was changed; after that the widgets hold them
and every change is written back to the URL. Widget values pass through the same clamp, so
nothing reaches the trainer unchecked.
"""
from __future__ import annotations

import streamlit as st

from .live import panel_trainer, run_panel
from .live_knobs import FIELDS, clamp_knobs, from_query, lab_arms, to_query

WIDTHS = (4, 8, 16, 32, 64, 128, 256, 512, 1024)
LRS = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.5)
DECAYS = (0.0, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)
BATCHES = (16, 32, 64, 128, 256, 500)
NOISE = {"none": "nothing (clean data)", "randY": "labels (randY)", "randX": "inputs (randX)"}


def _with(options: tuple, value) -> list:
    """The option list plus the current value, so a clamped value from a link is always selectable."""
    return sorted(set(options) | {value})


def _init(key: str) -> None:
    if st.session_state.get(f"{key}-init"):
        return
    knobs, notes = from_query(st.query_params.to_dict())
    for name in FIELDS:
        st.session_state[f"{key}-{name}"] = getattr(knobs, name)
    st.session_state[f"{key}-notes"] = notes
    st.session_state[f"{key}-init"] = True


def _controls(key: str) -> None:
    k = lambda name: f"{key}-{name}"  # noqa: E731
    ss = st.session_state
    data, net, train = st.columns(3)
    with data:
        st.markdown("**📦 Data**")
        st.slider("Training digits", 100, 2000, step=50, key=k("n_train"), help=FIELDS["n_train"].metadata["help"])
        st.selectbox("Corrupt…", list(NOISE), format_func=NOISE.get, key=k("noise"))
        st.slider("…this share of them (%)", 0, 100, step=5, key=k("noise_pct"), disabled=ss[k("noise")] == "none")
        st.checkbox("Also train a clean-label twin", key=k("twin"), help=FIELDS["twin"].metadata["help"])
    with net:
        st.markdown("**🧠 Network**")
        st.select_slider("Width (units per layer)", _with(WIDTHS, ss[k("width")]), key=k("width"))
        st.slider("Depth (hidden layers)", 1, 4, key=k("depth"))
        st.slider("Dropout", 0.0, 0.9, step=0.05, key=k("dropout"))
        st.select_slider("Weight decay", _with(DECAYS, ss[k("weight_decay")]), key=k("weight_decay"),
                         format_func=lambda v: f"{v:g}")
    with train:
        st.markdown("**🏋️ Training**")
        st.radio("Optimiser", ["adam", "sgd"], key=k("optimizer"), horizontal=True,
                 format_func=lambda v: {"adam": "Adam", "sgd": "SGD (momentum 0.9)"}[v])
        st.select_slider("Learning rate", _with(LRS, ss[k("lr")]), key=k("lr"), format_func=lambda v: f"{v:g}")
        st.select_slider("Batch size", _with(BATCHES, ss[k("batch_size")]), key=k("batch_size"))
        st.slider("Epochs", 1, 200, key=k("epochs"))
        st.number_input("Seed", 0, 9999, step=1, key=k("seed"))
    with st.expander("🦸 Augmentation (per batch)", expanded=bool(ss[k("rotation")] or ss[k("pixel_noise")])):
        st.slider("Rotation, ± degrees", 0.0, 45.0, step=5.0, key=k("rotation"))
        st.slider("Pixel noise (std, pixels in 0–1)", 0.0, 0.5, step=0.05, key=k("pixel_noise"))


def lab_panel(key: str = "lab") -> None:
    """Every knob, the URL round trip, and the run panel with the nearest pipeline band as a preview."""
    panel_trainer()
    _init(key)
    for note in st.session_state.pop(f"{key}-notes", []) or []:
        st.warning(f"🔧 A setting in the link was out of range and was clamped: {note}.")
    _controls(key)
    knobs, notes = clamp_knobs({name: st.session_state[f"{key}-{name}"] for name in FIELDS})
    for note in notes:  # widgets keep to their ranges; this catches a value sent around them
        st.warning(f"🔧 A setting was out of range and was clamped: {note}.")
    query = to_query(knobs)
    if st.query_params.to_dict() != query:
        st.query_params.from_dict(query)
    st.caption("🔗 These settings live in the page's address: copy it to share this exact run. "
               "Limits for this 2-core server: up to 2,000 digits, width 1,024, 200 epochs, one run at a time.")
    run_panel(lab_arms(knobs), key, "lab", preview=True)
