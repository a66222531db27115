"""🔬 The Lab: every knob of a live retrain (data size, label or input noise, width, depth, dropout,
weight decay, augmentation, optimiser, learning rate, epochs, seed), kept in the URL."""
import streamlit as st

from explainer.live_lab import lab_panel

st.title("🔬 The lab: cram or learn, you decide")
st.markdown(
    "Your turn to run the experiment. Pick how many digits the network studies, how many of them get **wrong "
    "labels** (randY) or **static instead of a picture** (randX), how big the network is and how it is held back, "
    "then press **Train**. It trains right here on this server's CPU with the same code as every chart in this app. "
    "The blue line is how well it does on training digits whose label is real, the red-pink one on those whose label "
    "was shuffled (the ones it can only memorize), the green one on digits it has never seen."
)
st.markdown(
    "A few things to try: random labels at 100 % with a narrow and then a wide network · the same with dropout 0.6 · "
    "50 % shuffled labels for 60 epochs, and watch where validation accuracy peaks · 2,000 digits instead of 500."
)
lab_panel()
