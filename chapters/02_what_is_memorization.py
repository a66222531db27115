"""🧠 What is memorization? Storing the specifics vs finding the rule, shown on digits and accuracies, and on
a digit the visitor draws for both students (explainer/digit.py)."""
from functools import partial

import streamlit as st

from explainer import artifacts as A, charts as C, digit as D, palette as P, tidy as T, ui

FOLDER = "e5/mnist"

st.title("Remembering is not understanding", icon="🧠")
st.markdown(
    "A student who crams stores each exercise as it is: *this page, this picture, this answer*. A student who "
    "understands stores a rule: *a loop on top of a stem is a nine*. Both can recite the practice sheet. Only the "
    "rule carries over to handwriting the student has never seen.\n\n"
    "For a network the practice sheet is its **training set** and the fresh exam is a held-out **validation "
    "set**. Memorization shows up as a gap between the two; generalization is what survives the trip from one "
    "to the other. Why care? Because a model in the wild only ever meets new inputs."
)

try:
    teaser = A.table(FOLDER, "teaser", needs=["split"], numeric=["true_label", "random_label", "pred_real", "pred_random"])
    gallery = A.arrays(FOLDER, "teaser_gallery", needs=["images"])
except A.Missing as err:
    ui.missing(err, "The gallery of memorized digits")
else:
    studied = teaser.index[teaser["split"] == "train"][:12]
    parrot = int((teaser.loc[studied, "pred_random"] == teaser.loc[studied, "random_label"]).sum())
    truthful = int((teaser.loc[studied, "pred_real"] == teaser.loc[studied, "true_label"]).sum())
    st.subheader("The parrot's flash cards", icon="🦜")
    st.markdown(
        "Below are training digits from the shuffled-label run, each with the label the network was *told* "
        f"(usually nonsense). The memorizing network repeats the told label on **{parrot} of {len(studied)}**; "
        f"the real-label network, trained on the true labels of the same digits, names **{truthful}** correctly."
    )
    caps = [f"told {teaser.at[i, 'random_label']} · 🟪 {teaser.at[i, 'pred_random']} · 🟦 {teaser.at[i, 'pred_real']}"
            for i in studied]
    alts = [f"a handwritten {teaser.at[i, 'true_label']} labelled {teaser.at[i, 'random_label']}; the shuffled-label "
            f"model says {teaser.at[i, 'pred_random']}, the real-label model says {teaser.at[i, 'pred_real']}"
            for i in studied]
    ui.digits(gallery["images"][studied.to_numpy()], caps, alts, width=84)
    st.caption("Under each digit: the label the shuffled-label network studied, what it answers (🟪), and what "
               "the real-label network answers (🟦).")

st.subheader("The gap, condition by condition", icon="📏")
try:
    summary = A.table(FOLDER, "summary", needs=["kind"], numeric=["p", "seed", "final_train_acc", "final_val_acc"])
except A.Missing as err:
    ui.missing(err, "The train-versus-validation comparison")
else:
    full = {"none": 0.0, **{k: float(summary.loc[summary["kind"] == k, "p"].max())
                            for k in ("randY", "randX") if (summary["kind"] == k).any()}}
    rows = T.with_condition(T.at_level(summary, full)).melt(
        id_vars=["condition", "seed"], value_vars=["final_train_acc", "final_val_acc"], var_name="split", value_name="acc")
    rows["split"] = rows["split"].map({"final_train_acc": "training set", "final_val_acc": "validation set"})
    agg = T.spread(rows, ["condition", "split"], "acc")
    gap = agg.pivot(index="condition", columns="split", values="mean")
    gap["gap"] = gap["training set"] - gap["validation set"]
    sentences = [f"**{c}**: {ui.pct(r['training set'])} on the training set, {ui.pct(r['validation set'])} on "
                 f"validation" for c, r in gap.iterrows()]
    st.markdown(
        "Same network, same optimiser, three kinds of training data: real digits, digits with shuffled labels, and "
        "random static in place of the pictures (labels kept). " + "; ".join(sentences) + ". "
        "The training bars tell you how much got stored; only the validation bars tell you how much was understood."
    )
    scale = P.scale(P.KIND_COLOR, agg["condition"])
    ui.chart(partial(C.grouped_bars, agg, x="split", color="condition", scale=scale, y_title="accuracy after the last epoch"),
             caption="Accuracy after the last epoch on the training set (as labelled, shuffled or not) and on clean "
                     f"validation digits, mean ± sd over seeds; random conditions at p = {max(full.values()):g}.",
             data=agg, folder=FOLDER, key="memo-gap")

st.subheader("Draw a digit", icon="✏️")
try:
    students = {name: D.student(name) for name in D.STUDENTS}
except A.Missing as err:
    ui.missing(err, "The draw-a-digit exam")
else:
    st.markdown(
        "Your turn to set the exam. Draw one digit, 0 to 9, big and in the middle of the black square. Neither "
        "student has ever seen your handwriting, so this is a fresh validation question: the real-label student "
        "can use the rule it found, the shuffled-label student only has its rote-learned flash cards."
    )
    st.space(16)  # room for the canvas's toolbar, which pops up above it on hover
    pad, sees = st.columns([3, 2], vertical_alignment="top")
    attempt = st.session_state.setdefault("digit-attempt", 0)  # a new key gives a fresh, empty canvas
    with pad:
        image = D.canvas(key=f"digit-canvas-{attempt}")
    x28 = D.preprocess(image) if image is not None else None
    if x28 is None:
        sees.info("✏️ **The square is empty.** Draw a digit with your mouse or finger; both students answer as soon "
                  "as you lift it. Hover over the square for undo and the bin.")
    else:
        with sees:
            ui.picture(ui.enlarge(D.to_uint8(x28), 2), "What the networks see: your digit at 28 × 28 pixels, "
                       "centred like an MNIST digit", "your drawing as the 28 by 28 pixel input", width=168)
            st.button("Wipe and draw another", icon="🧽", key="digit-wipe",
                      on_click=lambda: st.session_state.update({"digit-attempt": attempt + 1}))
        probs = {name: D.predict(s, x28)[0] for name, s in students.items()}
        real, rand = (int(probs[n].argmax()) for n in D.STUDENTS)
        sure_real, sure_rand = (probs[n].max() for n in D.STUDENTS)
        agree = ("They agree, which for the shuffled-label student is mostly luck." if real == rand else
                 "They disagree; if the blue answer is what you drew, the rule beat the flash cards.")
        st.markdown(f"🟦 The **real-label student** says **{real}** ({D.sure(sure_real)} sure). "
                    f"🟪 The **shuffled-label student** says **{rand}** ({D.sure(sure_rand)} sure). {agree}")
        left, right = st.columns(2)
        for col, name, color, emoji in ((left, "model_real", P.BLUE, "🟦"), (right, "model_random", P.MAGENTA, "🟪")):
            with col:
                title = f"{emoji} {D.STUDENTS[name]}: {int(probs[name].argmax())}"
                st.altair_chart(D.confidence_chart(probs[name], color, title), width="stretch", key=f"digit-{name}",
                                alt=f"bar chart of the {D.STUDENTS[name]}'s confidence in each digit; its answer "
                                    f"is {int(probs[name].argmax())}")
        st.caption("Each student's confidence in every digit (softmax of its outputs; the bars add up to 100 %), "
                   "its answer in full colour. The shuffled-label student was trained on the same digits with "
                   "labels drawn at random, so even a confident answer from it says nothing about your digit.")

st.subheader("Inside the first layer", icon="🔬")
try:
    weights = A.arrays(FOLDER, "first_layer", needs=["real", "random"])
except A.Missing as err:
    ui.missing(err, "The first-layer pictures")
else:
    smooth_real, smooth_rand = T.smoothness(weights["real"]), T.smoothness(weights["random"])
    st.markdown(
        "Each little square is what one hidden unit of the first layer looks for: its 784 input weights laid out "
        "as a 28 × 28 picture (light = positive, dark = negative). A quick way to compare the two networks is how "
        "much neighbouring pixels agree (their correlation, 0 for pure static): "
        f"**{ui.num(smooth_real)}** for the real-label network, **{ui.num(smooth_rand)}** for the memorizer "
        "(one network of each, 16 units: a picture, not a test)."
    )
    left, right = st.columns(2)
    with left:
        ui.picture(ui.mosaic([ui.to_gray(w) for w in weights["real"][:16]], 4), "🟦 trained on real labels",
                   "first-layer weights of 16 hidden units of the real-label model")
    with right:
        ui.picture(ui.mosaic([ui.to_gray(w) for w in weights["random"][:16]], 4), "🟪 trained on shuffled labels",
                   "first-layer weights of 16 hidden units of the shuffled-label model")
    st.caption("First-layer weights of 16 hidden units of each network (seed 0), each scaled to its own range.")

st.page_link("chapters/03_factors.py", label="Next: what makes a model memorize", icon="📊")
