"""🛑 Regularization: a diet for the model. How much each explicit regularizer holds back the
memorization of random labels, and what it costs on real data (E6)."""
import pandas as pd
import streamlit as st

from explainer import artifacts as A, charts as C, paper, palette as P, tidy as T, ui

FAMILIES = ["dropout", "input_dropout", "input_noise", "hidden_noise", "weight_decay", "adversarial"]
KEEP = 0.03  # clean validation accuracy a regularizer may lose and still count as "keeping" generalization

st.title("🛑 Regularization: putting the model on a diet")
st.markdown(
    "If a network crams because it has room and time to spare, make cramming harder. Regularizers add friction: "
    "**dropout** switches random units off at every step, **input dropout** and **input noise** blur the "
    "picture, **hidden noise** jiggles the inner activations, **weight decay** taxes large weights, and "
    "**adversarial training** makes the network defend each example against the nastiest small nudge.\n\n"
    "A good diet keeps the nutrients and cuts the junk: the network should still learn real digits well while "
    "refusing to store random labels. Each regularizer was run at several strengths, once on real labels and "
    "once on random labels."
)

found, absent = {}, []
for fam in FAMILIES:
    try:
        found[fam] = A.table(f"e6/{fam}", "summary", needs=["labels"],
                             numeric=["seed", "strength", "final_train_acc", "best_val_acc"])
    except A.Missing as err:
        absent.append((fam, err))
if not found:
    ui.missing(absent[0][1], "The regularizer sweep (E6)")
    st.stop()
if absent:
    st.caption("Not measured yet: " + ", ".join(f"{P.REG_NAME[f]} (`{e.command}`)" for f, e in absent) + ".")

rows = []
for fam, s in found.items():
    rnd = T.spread(s[s["labels"] == "random"], ["strength"], "final_train_acc").set_index("strength")
    real = T.spread(s[s["labels"] == "real"], ["strength"], "best_val_acc").set_index("strength")
    both = rnd.join(real, lsuffix="_random", rsuffix="_real", how="inner").reset_index()
    both["regularizer"] = P.REG_NAME[fam]
    rows.append(both)
trade = pd.concat(rows, ignore_index=True)
trade = trade.rename(columns={"mean_random": "random_label_train_acc", "mean_real": "clean_best_val_acc"})

st.subheader("⚖️ Memorization held back vs generalization kept")
deals = []
for reg, g in trade.groupby("regularizer"):
    g = g.sort_values("strength")
    base = g.iloc[0]
    ok = g[g["clean_best_val_acc"] >= base["clean_best_val_acc"] - KEEP]
    best = ok.loc[ok["random_label_train_acc"].idxmin()]
    deals.append((reg, base, best))
deals.sort(key=lambda d: d[2]["random_label_train_acc"])
lines = [f"**{reg}** at strength {best['strength']:g}: random labels fitted {ui.pct(best['random_label_train_acc'])} "
         f"(vs {ui.pct(base['random_label_train_acc'])} at its weakest setting), clean accuracy {ui.pct(best['clean_best_val_acc'])}"
         for reg, base, best in deals]
st.markdown(
    "Each point is one strength of one regularizer: how much of a random-label training set it still fits (left is "
    "better) against the best clean validation accuracy the same setting reaches on real labels (up is better). "
    f"The best deal per regularizer, losing at most {KEEP:.0%} of clean accuracy:\n\n- " + "\n- ".join(lines)
)
ref = paper.REG_FRONTIER.rename(columns={"x": "random_label_train_acc", "best_val_acc": "clean_best_val_acc"})
chart = C.tradeoff(trade, ref)
ui.chart(chart, caption="Final training accuracy on random labels (x) against best validation accuracy when trained "
                        "on real labels (y), one point per regularizer strength, mean over seeds; lines join "
                        "increasing strengths. Grey diamonds: the paper's best CIFAR-10 settings.",
         data=trade, folder=f"e6/{next(iter(found))}", key="reg-tradeoff")

st.subheader("🐢 Slowing the memorizer down")
fam = st.segmented_control("Regularizer", list(found), default=list(found)[0], format_func=P.REG_NAME.get,
                           key="reg-family", required=True) or list(found)[0]
folder = f"e6/{fam}"
try:
    curves = A.table(folder, "curves", needs=["labels"], numeric=["seed", "strength", "epoch", "train_acc"])
except A.Missing as err:
    ui.missing(err, "The training curves of this regularizer")
else:
    rand = curves[curves["labels"] == "random"].assign(level=lambda d: d["strength"].map(lambda v: f"strength {v:g}"))
    agg = T.spread(rand, ["level", "strength", "epoch"], "train_acc")
    strengths = sorted(agg["strength"].unique())
    colours = {f"strength {v:g}": P.p_color(i / max(len(strengths) - 1, 1)) for i, v in enumerate(strengths)}
    last = agg[agg["epoch"] == agg["epoch"].max()].set_index("strength")["mean"]
    st.markdown(f"Training accuracy on **random labels** with {P.REG_NAME[fam]}: after {int(agg['epoch'].max())} "
                f"epochs it reaches {ui.pct(last.iloc[0])} at strength {strengths[0]:g} and {ui.pct(last.iloc[-1])} at "
                f"strength {strengths[-1]:g}.")
    ui.chart(C.bands(agg, color="level", scale=P.scale(colours, agg["level"]), y_title="training accuracy, random labels"),
             caption=f"{P.REG_NAME[fam].capitalize()}: training accuracy on random labels per epoch, one line per "
                     "strength, mean ± sd over seeds.", data=agg, folder=folder, key=f"reg-curves-{fam}")

st.page_link("pages/06_data_augmentation.py", label="Next: exercise for the model", icon="🦸")
