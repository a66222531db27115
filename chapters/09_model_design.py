"""🏗️ Implications for model design: an explorer over every measured grid (E3, E4, E5, E6, augmentation:
explainer/catalog.py). Pick a width, a data size, a noise level and a regularizer; see what the nearest
measured runs say."""
from functools import partial

import pandas as pd
import streamlit as st

from explainer import artifacts as A, catalog as X, charts as C, palette as P, ui

st.title("Designing against memorization", icon="🏗️")
st.markdown(
    "The lessons so far, as a design checklist: size the network to the data, feed it as many and as varied "
    "examples as you can, add a little friction, and do not train forever. How much each knob matters depends "
    "on the others, so instead of another chart here is a console. Set the knobs and the app looks up the runs "
    "our pipeline actually measured. If nobody ran exactly your setting, it tells you which measured setting is "
    "closest and how it differs: no interpolation, no made-up numbers."
)

table, problems = X.measured()
if table.empty:
    ui.missing(A.Missing("none of the measured grids (E3, E4, E5, E6, augmentation) has a summary yet",
                         problems[0] if problems else ""), "The design explorer")
    st.stop()
if problems:
    st.caption("Grids not measured yet (the explorer uses the rest): "
               + ", ".join(f"`artifacts/{folder}`" for folder in problems) + ".")

nets = sorted({f"{d}|{a}" for d, a in zip(table["dataset"], table["arch"])}, key=lambda n: (not n.startswith("mnist"), n))
label = {n: f"{n.split('|')[1].upper()} on {ui.DATASET_NAME.get(n.split('|')[0], n.split('|')[0])}" for n in nets}
chosen = nets[0] if len(nets) == 1 else st.segmented_control(
    "Network and data", nets, default=nets[0], format_func=label.get, key="design-net", required=True) or nets[0]
net = chosen.split("|")
table = table[(table["dataset"] == net[0]) & (table["arch"] == net[1])]
unit = "units per layer" if net[1] == "mlp" else "filters per conv layer"

st.subheader("The console", icon="🎛️")
left, right = st.columns(2)
widths = sorted({int(w) for w in table["width"].dropna()} | {2 ** k for k in range(2, 13)})
sizes = sorted({int(n) for n in table["n_train"].dropna()} | {100, 500, 1000, 2000, 4000, 8000})
width = left.select_slider(f"Width ({unit})", widths, value=int(table["width"].mode().iloc[0]), key=f"design-width-{chosen}")
n_train = right.select_slider("Training examples", sizes, value=int(table["n_train"].mode().iloc[0]), key=f"design-n-{chosen}")
kind = left.radio("Noise", ["none", "randY", "randX"], format_func=lambda k: {"none": "clean data", "randY": "random labels (randY)",
                  "randX": "random inputs (randX)"}[k], key="design-kind", horizontal=True)
p = 0.0 if kind == "none" else right.select_slider("Share corrupted (p)", [round(0.1 * i, 1) for i in range(1, 11)],
                                                   value=0.4, format_func=lambda v: f"{v:.0%}", key="design-p")
regs = ["none", *sorted(set(table["regularizer"]) - {"none"})]
reg = left.selectbox("Regularizer", regs, format_func=lambda r: P.REG_NAME.get(r, r.replace("_", " ")), key="design-reg")
levels = sorted(table.loc[table["regularizer"] == reg, "strength"].unique()) if reg != "none" else [0.0]
strength = levels[0] if len(levels) < 2 else right.select_slider("Strength", levels, value=levels[len(levels) // 2],
                                                                 key="design-strength")
want = {"width": width, "n_train": n_train, "kind": kind, "p": p, "regularizer": reg, "strength": float(strength)}
if reg == "adversarial":  # E6 pairs each adversarial weight with a hidden dropout rate: part of the setting
    paired = sorted(table.loc[table["regularizer"] == reg, "dropout"].unique())
    want["dropout"] = paired[0] if len(paired) < 2 else left.select_slider(
        "Paired hidden dropout", paired, value=paired[len(paired) // 2], key="design-adv-dropout")

st.subheader("What the runs say", icon="📋")
found, close = X.lookup(net[0], net[1], **want)
if "best_val_acc" not in found:
    st.info("No stage on this network measured validation accuracy yet; run `dvc repro` for E3 or E5.")
    st.stop()


def where(row) -> str:
    gaps = X.differences(row, want)
    return (f"{row['source']} (`artifacts/{row['folder']}`, {int(row['seeds'])} seed(s)): "
            + ("exactly your setting" if not gaps else "nearest measured, with " + "; ".join(gaps)))


best = found["best_val_acc"]
a, b, c = st.columns(3)
a.metric("Best validation accuracy", ui.pct(best["best_val_acc"], 1), help=where(best))
if "final_train_acc" in found:
    b.metric("Final training accuracy", ui.pct(found["final_train_acc"]["final_train_acc"], 1),
             help="On the training labels as given. " + where(found["final_train_acc"]))
if "fit_epoch" in found:
    fit = found["fit_epoch"]
    c.metric("Epochs to fit", "never" if fit["fitted_share"] == 0 else ui.num(fit["fit_epoch"], 0),
             help="First epoch at 100 % training accuracy (mean over the seeds that got there). " + where(fit))
lines = [f"- **{name}**: {where(row)}" for name, row in
         zip(["validation accuracy", "training accuracy", "time to fit"], [found.get(c) for c in X.OUTCOMES])
         if row is not None]
ui.md(("🎯 " if not X.differences(best, want) else "🧭 ") + "Where each number comes from:\n" + "\n".join(lines))
st.markdown(f"At its best epoch the nearest measured network reaches **{ui.pct(best['best_val_acc'])}** on clean "
            f"validation data (± {ui.pct(best['best_val_sd'], 1)} over seeds) while fitting "
            f"{ui.pct(best['final_train_acc'])} of its training labels as given.")

shown = close[["source", *X.SETTINGS, "dropout", "best_val_acc", "final_train_acc", "fit_epoch", "seeds",
               "distance"]].copy()
with st.expander("The three nearest measured configurations"):
    st.dataframe(shown, hide_index=True, width="stretch",
                 column_config={"best_val_acc": st.column_config.NumberColumn(format="percent"),
                                "final_train_acc": st.column_config.NumberColumn(format="percent")})

def sweep(row) -> pd.DataFrame:
    """Every configuration its stage measured with `row`'s data size and regularizer, ringing `row`."""
    out = table[(table["folder"] == row["folder"]) & (table["regularizer"] == row["regularizer"])
                & (table["n_train"] == row["n_train"])].copy()
    keys = ["source", *X.SETTINGS, "dropout"]
    out["your_pick"] = out[keys].astype(str).agg("|".join, axis=1) == "|".join(row[keys].astype(str))
    out["series"] = [P.kind_name(k) for k in out["kind"]]
    return out


# the answer's own stage, unless it measured a single width there: then the nearest stage that swept widths
slice_, shown_row, moved = sweep(best), best, False
if slice_["width"].nunique() < 2:
    scored = table[table["best_val_acc"].notna()]
    for _, row in X.nearest(scored, want, k=len(scored)).iterrows():
        if sweep(row)["width"].nunique() >= 2:
            slice_, shown_row, moved = sweep(row), row, True
            break
first = str(best["source"])[:1].upper() + str(best["source"])[1:]
note = ("" if not moved else f" {first} measured one width at this size, so this is the nearest "
        f"stage that swept widths; the ringed point is its closest configuration ({'; '.join(X.differences(shown_row, want)) or 'your setting'}).")
ui.chart(partial(C.design_slice, slice_, unit),
         caption=f"Every configuration measured by {shown_row['source']} with {int(shown_row['n_train']):,} training "
                 "examples and the same regularizer: best validation accuracy against width, coloured by noise level; "
                 "the large ringed point is the one answering your question." + note,
         data=slice_, folder=str(shown_row["folder"]), key=f"design-slice-{unit}")

st.page_link("chapters/10_conclusion.py", label="Next: the scoreboard", icon="🎉")
