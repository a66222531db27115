"""🎬 Introduction: two students, one honest and one parroting, and the exam that tells them apart."""
from functools import partial

import streamlit as st

from explainer import artifacts as A, charts as C, palette as P, tidy as T, ui

FOLDER = "e5/mnist"

st.title("Learning, or just remembering?", icon="🎬")
st.markdown(
    "Two students get the same stack of practice exercises. The first one reads them with the right answers "
    "and slowly works out *why* each answer is right. The second one gets the very same exercises, but somebody "
    "shuffled the answer key: every answer is a coin toss. The second student memorizes the stack anyway, "
    "answer by answer.\n\n"
    "On the practice sheet they are indistinguishable. On a fresh exam they are not. Deep networks can play "
    "either student, and this app follows a 2017 paper that asked how to tell which one a network is being. "
    "Everything you see below was measured by this project's own pipeline, not copied from the paper."
)

try:
    summary = A.table(FOLDER, "summary", needs=["kind"], numeric=["p", "seed", "final_train_acc", "final_val_acc"])
except A.Missing as err:
    ui.missing(err, "The two-students teaser")
    st.stop()

worst = float(summary.loc[summary["kind"] == "randY", "p"].max()) if (summary["kind"] == "randY").any() else None
if worst is None or not (summary["kind"] == "none").any():
    ui.missing(A.Missing(f"`artifacts/{FOLDER}/summary.csv` has no real-label run or no random-label run", FOLDER),
               "The two-students teaser")
    st.stop()

pair = T.at_level(summary, {"none": 0.0, "randY": worst})
long = pair.melt(id_vars=["kind", "p", "seed"], value_vars=["final_train_acc", "final_val_acc"], var_name="on",
                 value_name="acc")
long["on"] = long["on"].map({"final_train_acc": "digits it studied", "final_val_acc": "digits it never saw"})
long["model"] = long["kind"].map({"none": "studied real labels", "randY": "studied shuffled labels"})
agg = T.spread(long, ["model", "on"], "acc")
score = agg.set_index(["model", "on"])["mean"]
real_train, real_val = score["studied real labels", "digits it studied"], score["studied real labels", "digits it never saw"]
rand_train, rand_val = score["studied shuffled labels", "digits it studied"], score["studied shuffled labels", "digits it never saw"]

st.subheader("Meet our two students", icon="🧑‍🎓")
left, right = st.columns(2)
left.metric("🟦 Real labels: on its training digits", ui.pct(real_train, 1))
left.metric("🟦 Real labels: on new digits", ui.pct(real_val, 1))
right.metric("🟪 Shuffled labels: on its training digits", ui.pct(rand_train, 1))
right.metric("🟪 Shuffled labels: on new digits", ui.pct(rand_val, 1), help="Guessing scores about 10 %.")

both_ace = all(ui.answer(f"fit/{kind}", "mnist", p)[0] == "yes" for kind, p in (("none", 0.0), ("randY", worst)))
verdict = (f"Both networks ace their own training digits ({ui.pct(real_train, 1)} and {ui.pct(rand_train, 1)})."
           if both_ace else
           f"On their own training digits they score {ui.pct(real_train, 1)} and {ui.pct(rand_train, 1)}.")
st.markdown(
    f"{verdict} The shuffled-label student got there by rote: with {ui.pct(worst)} of its labels drawn at random "
    f"there was no rule to find. Show both of them digits they never studied and the difference jumps out: "
    f"**{ui.pct(real_val, 1)}** for the real-label network against **{ui.pct(rand_val, 1)}** for the memorizer"
    + (", which is about what blind guessing among ten digits gets."
       if ui.answer("chance/randY", "mnist", worst)[0] == "yes" else ".")
)
scale = P.scale({"studied real labels": P.BLUE, "studied shuffled labels": P.MAGENTA}, agg["model"])
ui.chart(partial(C.grouped_bars, agg, x="on", color="model", scale=scale, y_title="accuracy at the end of training",
                 x_order=["digits it studied", "digits it never saw"]),
         caption=f"Accuracy after the last epoch, mean ± sd over {int(agg['n'].max())} seeds. Same MLP, same "
                 f"digits; only the labels it studied differ (random labels: p = {worst:g}).",
         data=agg, folder=FOLDER, key="intro-teaser")

try:
    teaser = A.table(FOLDER, "teaser", needs=["split"], numeric=["true_label", "pred_real", "pred_random"])
    gallery = A.arrays(FOLDER, "teaser_gallery", needs=["images"])
except A.Missing as err:
    ui.missing(err, "The gallery of new digits")
else:
    fresh = teaser.index[teaser["split"] == "val"][:12]
    right_real = int((teaser.loc[fresh, "pred_real"] == teaser.loc[fresh, "true_label"]).sum())
    right_rand = int((teaser.loc[fresh, "pred_random"] == teaser.loc[fresh, "true_label"]).sum())
    st.subheader("A pop quiz on new digits", icon="🔍")
    st.markdown(f"Twelve digits neither network has seen. The real-label student names **{right_real}** of them "
                f"correctly, the memorizer **{right_rand}**.")
    caps = [f"🟦 {teaser.at[i, 'pred_real']} · 🟪 {teaser.at[i, 'pred_random']}" for i in fresh]
    alts = [f"a handwritten {teaser.at[i, 'true_label']}; real-label model says {teaser.at[i, 'pred_real']}, "
            f"shuffled-label model says {teaser.at[i, 'pred_random']}" for i in fresh]
    ui.digits(gallery["images"][fresh.to_numpy()], caps, alts, width=72)
    st.caption("Under each digit: 🟦 what the real-label network answers, 🟪 what the shuffled-label network answers.")

st.markdown(
    "So a perfect training score proves nothing by itself. The rest of the story is detective work: which "
    "traces does memorizing leave behind, what makes a network more or less prone to it, and how can we "
    "push it towards the honest student?"
)
st.page_link("chapters/02_what_is_memorization.py", label="Next: what memorization really is", icon="🧠")
