"""🔬 The Lab: every knob of a live retrain (data size, label or input noise, width, depth, dropout,
weight decay, augmentation, optimiser, learning rate, epochs, seed), kept in the URL.

On a session's first render the knobs come from the URL (a shared link restores them), clamped into
range with a visible note for each value that was changed; after that the widgets hold them and every
change is written back to the URL. Widget values pass through the same clamp, so nothing reaches the
trainer unchecked. The panel below them (explainer/lab) trains, draws and compares the runs.
"""
import streamlit as st

from explainer import lab, ui
from explainer.lab.knobs import FIELDS, clamp_knobs, from_query, lab_config, to_query
from explainer.lab.presets import lab_preset
from explainer.lab.runtime import panel_trainer

KEY = "lab"
WIDTHS = (4, 8, 16, 32, 64, 128, 256, 512, 1024)
LRS = (0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 0.5)
DECAYS = (0.0, 0.0001, 0.0003, 0.001, 0.003, 0.01, 0.03, 0.1)
BATCHES = (16, 32, 64, 128, 256, 500)
NOISE = {"none": "nothing (clean data)", "randY": "labels (randY)", "randX": "inputs (randX)"}


def k(name: str) -> str:
    """The widget key of a knob."""
    return f"{KEY}-{name}"


def with_value(options: tuple, value) -> list:
    """The option list plus the current value, so a clamped value from a link is always selectable."""
    return sorted(set(options) | {value})


def init_from_link() -> None:
    if st.session_state.get(k("init")):
        return
    knobs, notes = from_query(st.query_params.to_dict())
    for name in FIELDS:
        st.session_state[k(name)] = getattr(knobs, name)
    st.session_state[k("notes")] = notes
    st.session_state[k("init")] = True


def controls() -> None:
    ss, sgd = st.session_state, f"SGD (momentum {lab_config().momentum:g})"
    data, net, train = st.columns(3)
    with data:
        ui.md("**📦 Data**")
        st.slider("Training digits", 100, 2000, step=50, key=k("n_train"), help=FIELDS["n_train"].metadata["help"])
        st.selectbox("Corrupt…", list(NOISE), format_func=NOISE.get, key=k("noise"))
        st.slider("…this share of them (%)", 0, 100, step=5, key=k("noise_pct"), disabled=ss[k("noise")] == "none")
        st.checkbox("Also train a clean-label twin", key=k("twin"), help=FIELDS["twin"].metadata["help"])
    with net:
        ui.md("**🧠 Network**")
        st.select_slider("Width (units per layer)", with_value(WIDTHS, ss[k("width")]), key=k("width"))
        st.slider("Depth (hidden layers)", 1, 4, key=k("depth"))
        st.slider("Dropout", 0.0, 0.9, step=0.05, key=k("dropout"))
        st.select_slider("Weight decay", with_value(DECAYS, ss[k("weight_decay")]), key=k("weight_decay"),
                         format_func=lambda v: f"{v:g}")
    with train:
        ui.md("**🏋️ Training**")
        st.radio("Optimiser", ["adam", "sgd"], key=k("optimizer"), horizontal=True,
                 format_func=lambda v: {"adam": "Adam", "sgd": sgd}[v])
        st.select_slider("Learning rate", with_value(LRS, ss[k("lr")]), key=k("lr"), format_func=lambda v: f"{v:g}")
        st.select_slider("Batch size", with_value(BATCHES, ss[k("batch_size")]), key=k("batch_size"))
        st.slider("Epochs", 1, 200, key=k("epochs"))
        st.number_input("Seed", 0, 9999, step=1, key=k("seed"))
    with st.expander("Augmentation (per batch)", icon="🦸", expanded=bool(ss[k("rotation")] or ss[k("pixel_noise")])):
        st.slider("Rotation, ± degrees", 0.0, 45.0, step=5.0, key=k("rotation"))
        st.slider("Pixel noise (std, pixels in 0–1)", 0.0, 0.5, step=0.05, key=k("pixel_noise"))


st.title("The lab: cram or learn, you decide", icon="🔬")
st.markdown(
    "Your turn to run the experiment. Pick how many digits the network studies, how many of them get **wrong "
    "labels** (randY) or **static instead of a picture** (randX), how big the network is and how it is held back, "
    "then press **Train**. It trains right here on this server's CPU with the same code as every chart in this app. "
    "The blue line is how well it does on training digits whose label is real, the red-pink one on those whose label "
    "was shuffled (the ones it can only memorize), the green one on digits it has never seen."
)
st.markdown(
    "A few things to try: random labels at 100 % with a narrow and then a wide network · the same with dropout 0.6 · "
    "50 % shuffled labels for 60 epochs, and watch where validation accuracy peaks · 2,000 digits instead of 500. "
    "Your last five runs stay below, in one chart, to compare."
)
panel_trainer()
init_from_link()
for note in st.session_state.pop(k("notes"), []) or []:
    st.warning(f"🔧 A setting in the link was out of range and was clamped: {note}.")
controls()
knobs, notes = clamp_knobs({name: st.session_state[k(name)] for name in FIELDS})
for note in notes:  # widgets keep to their ranges; this catches a value sent around them
    st.warning(f"🔧 A setting was out of range and was clamped: {note}.")
query = to_query(knobs)
if "results" in st.query_params:  # the sidebar's result set travels with a shared link too
    query["results"] = st.query_params["results"]
if st.query_params.to_dict() != query:
    st.query_params.from_dict(query)
ui.small("🔗 These settings live in the page's address: copy it to share this exact run. "
           "Limits for this 2-core server: up to 2,000 digits, width 1,024, 200 epochs, one run at a time.")
lab.run_panel(lab_preset(knobs), KEY, preview=True)
