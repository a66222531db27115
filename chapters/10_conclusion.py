"""🎉 Conclusion: the scoreboard. Each claim of the paper, our measured numbers, and whether our runs
reproduce it, as decided by a written rule in training/stages/claims.py (never typed in)."""
from functools import partial

import streamlit as st

from explainer import artifacts as A, charts as C, palette as P, ui

FOLDER = "claims"
VERDICTS = ["reproduced", "partly", "not reproduced", "not run"]
BADGE = {"reproduced": "✅", "partly": "🌗", "not reproduced": "❌", "not run": "⏸️"}
COLOR = {"reproduced": P.TEAL, "partly": "#DDAA33", "not reproduced": P.RED, "not run": P.GREY}

SCALE_NOTE = {
    "cpu": "a 10,000-digit MNIST sample, a few thousand CIFAR-10 images, narrow networks, a few dozen epochs on two "
           "CPU cores",
    "gpu": "the 10,000-digit MNIST sample at the paper's width 4,096 and all 50,000 CIFAR-10 images with the paper's "
           "CNN, but far fewer epochs, seeds and settings than the paper, in one ten-minute GPU run",
    "smoke": "a seconds-long plumbing test whose numbers mean nothing",
}
chosen = A.selected()
st.title("🎉 The scoreboard")
st.markdown(
    "Time to grade the paper against our own runs. Each claim below was checked by a rule written in code (it "
    "is printed under every claim) that reads only the result tables; nobody typed a verdict in. Our runs are "
    f"much smaller than the paper's ({SCALE_NOTE.get(chosen.profile, 'see the sidebar')}), so *partly* is an honest "
    "and common grade."
)

try:
    claims = A.table(FOLDER, "claims", needs=["id", "kind", "claim", "paper", "ours", "verdict", "rule"])
except A.Missing as err:
    ui.missing(err, "The scoreboard")
    st.stop()

st.info(f"🗂️ These verdicts read the result set **{chosen.label}**"
        + (" (the sidebar switches it)." if len(A.result_sets()) > 1 else "."))

claims = claims.fillna("")
tested = claims[claims["kind"] == "experiment"]
counts = tested["verdict"].value_counts().reindex(VERDICTS, fill_value=0)
st.markdown("Of the paper's **{}** experimental claims: ".format(len(tested))
            + ", ".join(f"{BADGE[v]} **{n}** {v}" for v, n in counts.items()) + ".")

tally = counts.rename_axis("verdict").reset_index(name="claims")
ui.chart(partial(C.verdict_bar, tally, COLOR),
         caption="How many of the paper's experimental claims our runs reproduce, partly reproduce, do not reproduce, "
                 "or could not test yet (their stage has not run).", data=tally, folder=FOLDER, key="scoreboard-tally")

st.subheader("🏆 The four big conclusions")
for _, row in claims[claims["kind"] == "conclusion"].iterrows():
    with st.container(border=True):
        st.markdown(f"{BADGE.get(row['verdict'], '❔')} **{row['claim']}**  \n*{row['verdict']}* · evidence: {row['ours']}")

st.subheader("🔎 Claim by claim")
show = st.segmented_control("Show", ["all", *VERDICTS], default="all", key="scoreboard-filter", required=True) or "all"
for _, row in tested.iterrows():
    if show != "all" and row["verdict"] != show:
        continue
    with st.container(border=True):
        page = f" · story page {int(row['page'])}" if str(row.get("page", "")).isdigit() else ""
        st.markdown(f"{BADGE.get(row['verdict'], '❔')} **{row['id']}** · {row['experiment']}{page}  \n{row['claim']}")
        st.markdown(f"**Paper:** {row['paper']}  \n**Ours:** {row['ours']}  \n**Verdict:** {row['verdict']}")
        st.caption(f"Rule: {row['rule']}")
        if row.get("rule_change"):
            st.caption(f"✏️ Rule changed: {row['rule_change']}")

changed = tested[tested["rule_change"] != ""] if "rule_change" in tested.columns else tested.iloc[0:0]
if len(changed):
    st.subheader("✏️ Rules that changed, and why")
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
