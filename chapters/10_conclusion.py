"""🎉 Conclusion: the scoreboard. Each claim of the paper, our measured numbers, and whether our runs
reproduce it, as decided by a written rule in training/stages/claims.py (never typed in)."""
from functools import partial

import pandas as pd
import streamlit as st

from explainer import artifacts as A, charts as C, palette as P, ui

FOLDER = "claims"
VERDICTS, BADGE = ui.VERDICTS, ui.VERDICT_BADGE
COLOR = {"reproduced": P.TEAL, "partly": "#DDAA33", "depends on definition": P.CYAN, "not resolved": "#BBBBBB",
         "not reproduced": P.RED, "not run": P.GREY}

SCALE_NOTE = {
    "cpu": "a 10,000-digit MNIST sample, a few thousand CIFAR-10 images, narrow networks, a few dozen epochs on two "
           "CPU cores",
    "gpu": "the 10,000-digit MNIST sample at the paper's width 4,096 and all 50,000 CIFAR-10 images with the paper's "
           "CNN, but far fewer epochs, seeds and settings than the paper, in one ten-minute GPU run",
    "smoke": "a seconds-long plumbing test whose numbers mean nothing",
}
chosen = A.selected()
st.title("The scoreboard", icon="🎉")
st.markdown(
    "Time to grade the paper against our own runs. Each claim below was checked by a rule written in code (it "
    "is printed under every claim) that reads only the result tables; nobody typed a verdict in. Our runs are "
    f"much smaller than the paper's ({SCALE_NOTE.get(chosen.profile, 'see the sidebar')}), so *partly* is an honest "
    "and common grade.\n\n"
    "Every effect is judged against its spread over seeds: a claim counts as **reproduced** only when every seed "
    "goes the paper's way or the mean difference is more than two standard errors from zero. Inside the spread it "
    "is **not resolved** (our runs cannot tell at this scale); the other way beyond the spread it is **not "
    "reproduced**. Where the paper's definition leaves a choice open and the two readings disagree, the verdict "
    "says **depends on definition** and shows both."
)

try:
    claims = A.table(FOLDER, "claims", needs=["id", "kind", "claim", "paper", "ours", "verdict", "rule"])
except A.Missing as err:
    ui.missing(err, "The scoreboard")
    st.stop()

st.info(f"🗂️ These verdicts read the result set **{chosen.label}**"
        + (" (the sidebar switches it)." if len(A.result_sets()) > 1 else "."))

claims = claims.fillna("")
# the story's own claims (kind "story": page 6's augmentation check) are graded the same way but are not the paper's
tested = claims[claims["kind"] == "experiment"]
extra = claims[claims["kind"] == "story"]
counts = tested["verdict"].value_counts().reindex(VERDICTS, fill_value=0)
ui.md("Of the paper's **{}** experimental claims: ".format(len(tested))
      + ", ".join(f"{BADGE[v]} **{n}** {v}" for v, n in counts.items()) + "."
      + (f" The story adds {len(extra)} claim{'s' if len(extra) != 1 else ''} of its own, graded separately "
         "below." if len(extra) else ""))

tally = counts.rename_axis("verdict").reset_index(name="claims")
ui.chart(partial(C.verdict_bar, tally, COLOR, "the paper's experimental claims"),
         caption="How many of the paper's experimental claims our runs reproduce, partly reproduce, reproduce under one "
                 "definition only, cannot resolve within their seed spread, do not reproduce, or could not test yet "
                 "(their stage has not run). The story's own claims are not counted here.",
         data=tally, folder=FOLDER, key="scoreboard-tally")

st.subheader("The four big conclusions", icon="🏆")
for _, row in claims[claims["kind"] == "conclusion"].iterrows():
    with st.container(border=True):
        ui.md(f"{BADGE.get(row['verdict'], '❔')} **{row['claim']}**  \n*{row['verdict']}* · evidence: {row['ours']}")



def claim_card(row) -> None:
    with st.container(border=True):
        page = f" · story page {int(row['page'])}" if str(row.get("page", "")).isdigit() else ""
        ui.md(f"{BADGE.get(row['verdict'], '❔')} **{row['id']}** · {row['experiment']}{page}  \n{row['claim']}")
        st.markdown(f"**Paper:** {row['paper']}  \n**Ours:** {row['ours']}  \n**Verdict:** {row['verdict']}")
        st.caption(f"Rule: {row['rule']}")
        if row.get("rule_change"):
            ui.small(f"✏️ Rule changed: {row['rule_change']}")


st.subheader("The paper's claims, one by one", icon="🔎")
show = st.segmented_control("Show", ["all", *VERDICTS], default="all", key="scoreboard-filter", required=True) or "all"
for _, row in tested.iterrows():
    if show == "all" or row["verdict"] == show:
        claim_card(row)
st.page_link("chapters/13_paper_figures.py", label="The same verdicts beside each of the paper's figures", icon="🖼️")

if len(extra):
    st.subheader("The story's own claim" + ("s" if len(extra) > 1 else ""), icon="🧪")
    st.markdown("Not claims of the paper: things this story asserts on its own (random labels on page 3, data "
                "augmentation on page 6), checked by written rules just like the paper's claims.")
    for _, row in extra.iterrows():
        claim_card(row)

graded = pd.concat([tested, extra])
changed = graded[graded["rule_change"] != ""] if "rule_change" in graded.columns else graded.iloc[0:0]
if len(changed):
    st.subheader("Rules that changed, and why", icon="✏️")
    st.markdown("A rule may change only to follow the paper's claim more faithfully, never to reach a verdict. "
                "These are every change since the scoreboard was first published:")
    for _, row in changed.iterrows():
        st.markdown(f"- **{row['id']}**: {row['rule_change']}")

held = claims[(claims["kind"] == "conclusion") & (claims["verdict"] == "reproduced")]["claim"].str.rstrip(".").tolist()
open_ = claims[(claims["kind"] == "conclusion") & (claims["verdict"] != "reproduced")]["claim"].str.rstrip(".").tolist()
st.markdown(
    "**What survives the trip to a laptop:** " + ("; ".join(held) if held else "no conclusion is fully reproduced yet")
    + ".  \n**Still open or only partly there:** " + ("; ".join(open_) if open_ else "nothing") + ". "
    "A grey grade means its experiment has not run yet; `dvc repro` fills it in."
)
st.page_link("chapters/11_final_thoughts.py", label="Last stop: final thoughts and how to reproduce all of this", icon="🏁")
