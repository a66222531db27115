"""🛑 Regularization: a diet for the model. How much each explicit regularizer holds back the
memorization of random labels, and what it costs on real data (E6)."""
from functools import partial

import pandas as pd
import streamlit as st

from explainer import artifacts as A, charts as C, paper, palette as P, tidy as T, ui

FAMILIES = ["dropout", "input_dropout", "input_noise", "hidden_noise", "weight_decay", "adversarial"]
KEEP = 0.03  # clean validation accuracy a regularizer may lose and still count as "keeping" generalization
SUMMARY = dict(needs=["labels"], numeric=["seed", "strength", "dropout", "final_train_acc", "best_val_acc"])


def setting(fam: str, strength: float, dropout: float) -> str:
    return f"weight {strength:g}, dropout {dropout:g}" if fam == "adversarial" else f"strength {strength:g}"


@A.derived
def sweep() -> tuple[pd.DataFrame, pd.DataFrame, list[str]]:
    """Per family and setting: random-label training accuracy and clean best validation accuracy (seed
    means), the Fig. 10 frontiers, and the families not measured yet."""
    rows, fronts, absent = [], [], []
    for fam in FAMILIES:
        try:
            s = A.table(f"e6/{fam}", "summary", **SUMMARY)
        except A.Missing:
            absent.append(fam)
            continue
        keys = ["strength", "dropout"]
        rnd = s[s["labels"] == "random"].groupby(keys)["final_train_acc"].mean().rename("random_label_train_acc")
        real = s[s["labels"] == "real"].groupby(keys)["best_val_acc"].mean().rename("clean_best_val_acc")
        both = pd.concat([rnd, real], axis=1, join="inner").reset_index()
        both["regularizer"] = P.REG_NAME[fam]
        both["setting"] = [setting(fam, a, b) for a, b in zip(both["strength"], both["dropout"])]
        both["rank"] = both[["strength", "dropout"]].apply(tuple, axis=1).rank(method="dense")
        rows.append(both)
        try:
            f = A.table(f"e6/{fam}", "frontier", numeric=["x", "best_val_acc"])
            fronts.append(f.assign(regularizer=P.REG_NAME[fam]))
        except A.Missing:
            pass
    trade = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame()
    front = pd.concat(fronts, ignore_index=True) if fronts else pd.DataFrame()
    return trade, front, absent


@A.derived
def random_label_curves(fam: str):
    c = A.table(f"e6/{fam}", "curves", needs=["labels"], numeric=["seed", "strength", "dropout", "epoch", "train_acc"])
    rand = c[c["labels"] == "random"].copy()
    rand["level"] = [setting(fam, a, b) for a, b in zip(rand["strength"], rand["dropout"])]
    return T.spread(rand, ["level", "strength", "dropout", "epoch"], "train_acc")


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

def measured_story() -> None:
    """The measured sweep: trade-off, frontier and random-label curves (returns early when E6 is missing)."""
    trade, front, absent = sweep()
    if trade.empty:
        ui.missing(A.Missing("`artifacts/e6/<regularizer>/summary.csv` has not been produced yet", "e6/dropout"),
                   "The regularizer sweep (E6)")
        return
    if absent:
        st.caption("Not measured yet: " + ", ".join(f"{P.REG_NAME[f]} (`{A.reproduce('e6/' + f)}`)" for f in absent) + ".")
    first = next(f for f in FAMILIES if f not in absent)

    st.subheader("⚖️ Memorization held back vs generalization kept")
    deals = []
    for reg, g in trade.groupby("regularizer"):
        base = g[(g["strength"] == 0) & (g["dropout"] == 0)]
        base = base.iloc[0] if len(base) else g.sort_values(["strength", "dropout"]).iloc[0]
        ok = g[g["clean_best_val_acc"] >= base["clean_best_val_acc"] - KEEP]
        deals.append((reg, base, ok.loc[ok["random_label_train_acc"].idxmin()]))
    deals.sort(key=lambda d: d[2]["random_label_train_acc"])
    lines = [f"**{reg}** ({best['setting']}): random labels fitted {ui.pct(best['random_label_train_acc'])} (none: "
             f"{ui.pct(base['random_label_train_acc'])}), clean accuracy {ui.pct(best['clean_best_val_acc'])} (none: "
             f"{ui.pct(base['clean_best_val_acc'])})" for reg, base, best in deals]
    st.markdown(
        "For every setting we know two things: how much of a random-label training set it still fits (less is "
        "better: less memorized) and the best validation accuracy the same setting reaches on real labels (more is "
        f"better). The best deal per regularizer, losing at most {KEEP:.0%} of clean accuracy:\n\n- " + "\n- ".join(lines)
    )
    ref = paper.REG_FRONTIER.rename(columns={"x": "random_label_train_acc", "best_val_acc": "clean_best_val_acc"})
    ui.chart(partial(C.tradeoff, trade, ref),
             caption="Each point is one setting: final training accuracy on random labels (x) against best validation "
                     "accuracy when trained on real labels (y), means over seeds; lines join a regularizer's settings. "
                     "Up and to the left is better. Grey diamonds: the paper's best CIFAR-10 settings.",
             data=trade, folder=f"e6/{first}", key="reg-tradeoff")
    if not front.empty:
        ui.chart(partial(C.frontier, front, paper.REG_FRONTIER),
                 caption="The same as a frontier (the paper's Fig. 10): the best clean validation accuracy any setting of a "
                         "regularizer reaches while fitting at most x of the random labels.",
                 data=front, folder=f"e6/{first}", key="reg-frontier")

    st.subheader("🐢 Slowing the memorizer down")
    present = [f for f in FAMILIES if f not in absent]
    fam = st.segmented_control("Regularizer", present, default=first, format_func=P.REG_NAME.get, key="reg-family",
                               required=True) or first
    try:
        agg = random_label_curves(fam)
    except A.Missing as err:
        ui.missing(err, "The training curves of this regularizer")
    else:
        levels = list(dict.fromkeys(agg.sort_values(["strength", "dropout"])["level"]))
        colours = {lvl: P.p_color(i / max(len(levels) - 1, 1)) for i, lvl in enumerate(levels)}
        last = agg[agg["epoch"] == agg["epoch"].max()].set_index("level")["mean"]
        st.markdown(f"Training accuracy on **random labels** with {P.REG_NAME[fam]}: after {int(agg['epoch'].max())} "
                    f"epochs it reaches {ui.pct(last[levels[0]])} with {levels[0]} and {ui.pct(last[levels[-1]])} with "
                    f"{levels[-1]}.")
        ui.chart(partial(C.bands, agg, color="level", scale=P.scale(colours, agg["level"]),
                         y_title="training accuracy, random labels"),
                 caption=f"{P.REG_NAME[fam].capitalize()}: training accuracy on random labels per epoch, one line per "
                         "setting, mean ± sd over seeds (the paper's Fig. 11).", data=agg, folder=f"e6/{fam}",
                 key=f"reg-curves-{fam}")


measured_story()
st.subheader("🧑‍🔬 Try it yourself")
from explainer import live  # noqa: E402  (torch is imported only when Train is clicked)
live.retrain_panel("regularization", key="reg-live")
st.page_link("chapters/06_data_augmentation.py", label="Next: exercise for the model", icon="🦸")
