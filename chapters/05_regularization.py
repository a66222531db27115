"""🛑 Regularization: a diet for the model. How much each explicit regularizer holds back the
memorization of random labels, and what it costs on real labels (E6): the MNIST sweep of every
regularizer beside the paper's own setting, CIFAR-10 with its CNN."""
import numpy as np
import pandas as pd
import streamlit as st

from explainer import artifacts as A, figdata as D, figures as F, palette as P, ui
from explainer import lab

MNIST, CIFAR, item_name = D.MNIST_REG, D.CIFAR_REG, D.item_name
SWEEPS = {"mnist10k": "🔢 MNIST digits, a small MLP", "mnist": "🔢 MNIST digits, a small MLP",
          "cifar10": "🖼️ CIFAR-10, the paper's CNN"}
PAPER_CNN = "50,000 images, 200 filters per conv layer, dense layers of 384 and 192 units, SGD for 100 epochs"
OPTIMIZER = {"sgd": "SGD", "adam": "Adam"}


def deals(ds: str) -> str:
    """Per regularizer of one sweep: the setting that holds random labels back most while losing little clean
    accuracy, as the claims stage found it (findings.csv, keys deal/<regularizer>)."""
    try:
        f = A.table("claims", "findings", needs=["key", "item", "answer", "why"])
    except A.Missing:
        return ""
    rows = f[f["key"].str.startswith("deal/") & (f["item"] == ds)]
    lines = [f"**{P.REG_NAME.get(k.removeprefix('deal/'), k.removeprefix('deal/'))}** "
             + (f"({a}): {w}" if a != "none" else f": {w}") for k, a, w in zip(rows["key"], rows["answer"], rows["why"])]
    return ("The best deal per regularizer, as the scoreboard's rule finds it:\n\n- " + "\n- ".join(lines)) if lines else ""


def adversarial_story(g: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """Adversarial training + dropout against dropout alone at the same rate (claim E6b): a small table of
    random-label fit per dropout rate and adversarial weight, and the scoreboard's verdict on it."""
    drop = g[g["reg"] == "dropout"].set_index("strength")
    adv = g[(g["reg"] == "adversarial") & (g["strength"] > 0)]
    if drop.empty or adv.empty:
        return pd.DataFrame(), ""
    rows = []
    for rate, a in adv.groupby("dropout"):
        same = drop.index[np.isclose(drop.index, rate)]
        if len(same):
            rows.append({"dropout": f"{rate:g}", "alone": drop.loc[same[0], "random_label_train_acc"],
                         **{f"+ adv. {w:g}": v for w, v in zip(a["strength"], a["random_label_train_acc"])}})
    flips = adv["random_adv_flipped"].mean() if "random_adv_flipped" in adv else float("nan")
    try:
        claims = A.table("claims", "claims", needs=["id", "verdict", "ours"]).set_index("id")
        said = (f" The scoreboard, seed by seed (claim E6b): **{claims.at['E6b', 'verdict']}**."
                if "E6b" in claims.index else "")
    except A.Missing:
        said = ""
    return pd.DataFrame(rows), (
        (f"The search flipped the prediction of {ui.pct(flips, 1)} of the random-label training points per "
         "batch; only those carry an adversarial loss. " if pd.notna(flips) else "") + said)


def ours_vs_paper() -> str:
    """What the two sweeps ran on, from their manifests, against the paper's CIFAR-10 setting."""
    parts = []
    for item, what, noun in (("dropout", "MNIST", "digits"), ("cifar_dropout", "CIFAR-10", "images")):
        m = A.manifest(f"e6/{item}")
        cfg, data = m.get("config", {}), next(iter(m.get("datasets", {}).values()), {})
        model, train = cfg.get("run", {}).get("model", {}), cfg.get("run", {}).get("train", {})
        if not cfg:
            continue
        net = (f"{model.get('filters')} filters per conv layer, dense layers of "
               + " and ".join(map(str, model.get("dense", []))) + " units" if model.get("arch") == "cnn"
               else f"a {model.get('depth')}×{model.get('width')} MLP")
        n = data.get("n_train")
        parts.append(f"**{what}**: {f'{n:,}' if isinstance(n, int) else '?'} training {noun}, {net}, "
                     f"{OPTIMIZER.get(train.get('optimizer'), train.get('optimizer'))} for {train.get('epochs')} "
                     f"epochs, {len(cfg.get('seeds', []))} seeds per setting")
    return ("How ours differs from the paper, which trains on CIFAR-10 only (" + PAPER_CNN + "): "
            + "; ".join(parts) + ". Fewer images leave fewer random labels to store, a narrower network has less "
            "room to store them, and fewer epochs leave less time: our absolute numbers are not the paper's, only "
            "the comparisons between settings are meant to carry over.") if parts else ""


st.title("Regularization: putting the model on a diet", icon="🛑")
st.markdown(
    "If a network crams because it has room and time to spare, make cramming harder. Regularizers add friction: "
    "**dropout** switches random units off at every step, **input dropout** and **input noise** blur the "
    "picture, **hidden noise** jiggles the inner activations, **weight decay** taxes large weights, and "
    "**adversarial training** makes the network defend each example against the nastiest small nudge that "
    "changes its answer.\n\n"
    "A good diet keeps the nutrients and cuts the junk: the network should still learn real images well while "
    "refusing to store random labels. Each regularizer was run at several strengths, once on real labels and "
    "once on random labels: every regularizer on MNIST digits, and the paper's own setting, CIFAR-10 with a "
    "small convolutional network, for dropout with and without adversarial training."
)


def sweep_panel(ds: str, trade: pd.DataFrame, front: pd.DataFrame) -> None:
    g = trade[trade["dataset"] == ds]
    f = front[front["dataset"] == ds] if len(front) else front
    ui.md(f"#### {SWEEPS[ds]}")
    if g.empty:
        ui.missing(A.Missing(f"no E6 item on {ui.DATASET_NAME.get(ds, ds)} has written its `settings.csv` yet",
                             f"e6/{'cifar_dropout' if ds == 'cifar10' else 'dropout'}"), f"The {SWEEPS[ds][2:]} sweep")
        return
    folder = f"e6/{g['item'].iloc[0]}"
    if deals(ds):
        st.markdown(deals(ds))
    F.tradeoff(g, ds, folder)
    if len(f):
        F.frontier(f, ds, folder)
    table, story = adversarial_story(g)
    if len(table):
        st.markdown("Random labels fitted, dropout alone against dropout + adversarial training (adv. = the "
                    "adversarial loss's weight):")
        st.dataframe(table.map(lambda v: v if isinstance(v, str) else ui.pct(v, 1)), hide_index=True,
                     width="content")
    if story:
        st.markdown(story)


def measured_story() -> None:
    """The measured sweeps side by side, then the random-label curves of one item."""
    trade, front, absent = D.sweep()
    st.subheader("Memorization held back vs generalization kept", icon="⚖️")
    if trade.empty:
        ui.missing(A.Missing("`artifacts/e6/<regularizer>/settings.csv` has not been produced yet", "e6/dropout"),
                   "The regularizer sweep (E6)")
    else:
        st.markdown(
            "For every setting we know two things: how much of a random-label training set it still fits (less is "
            "better: less memorized) and the best validation accuracy the same setting reaches on real labels (more "
            "is better). The paper's marks: dropout keeps 76.3% clean accuracy while fitting only about 16% of the "
            "random labels, and adversarial training on top of dropout keeps the same at about 10% (its Fig. 10).")
        if [i for i in absent if i in MNIST + CIFAR]:
            st.caption("Not measured yet: " + ", ".join(f"{item_name(i)} (`{A.reproduce('e6/' + i)}`)" for i in absent) + ".")
        mnist = [d for d in ("mnist10k", "mnist") if d in set(trade["dataset"])][:1] or ["mnist10k"]
        for col, ds in zip(st.columns(2), [*mnist, "cifar10"]):
            with col:
                sweep_panel(ds, trade, front)
        note = ours_vs_paper()
        if note:
            st.markdown(note)

    st.subheader("Slowing the memorizer down", icon="🐢")
    present = [i for i in MNIST + CIFAR if A.available(f"e6/{i}", "curves")]
    if not present:
        ui.missing(A.Missing("`artifacts/e6/<regularizer>/curves.csv` has not been produced yet", "e6/dropout"),
                   "The training curves of the regularizers")
        return
    item = st.segmented_control("Regularizer", present, default=present[0], format_func=item_name, key="reg-family",
                                required=True) or present[0]
    try:
        agg = D.random_label_curves(item)
    except A.Missing as err:
        ui.missing(err, "The training curves of this regularizer")
        return
    levels = list(dict.fromkeys(agg.sort_values(["strength", "dropout"])["level"]))
    last = agg[agg["epoch"] == agg["epoch"].max()].set_index("level")["mean"]
    st.markdown(f"Training accuracy on **random labels** with {item_name(item)}: after {int(agg['epoch'].max())} "
                f"epochs it reaches {ui.pct(last[levels[0]])} with {levels[0]} and {ui.pct(last[levels[-1]])} with "
                f"{levels[-1]}. In the paper, after 100 epochs on CIFAR-10: 99% with no regularizer, 72% with dropout, "
                "51% with adversarial training + dropout (its Fig. 11).")
    F.reg_curves(agg, item, item_name(item))


measured_story()
st.subheader("Try it yourself", icon="🧑‍🔬")
lab.retrain_panel("regularization", key="reg-live")
st.page_link("chapters/06_data_augmentation.py", label="Next: exercise for the model", icon="🦸")
