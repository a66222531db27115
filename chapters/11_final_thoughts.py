"""🏁 Final thoughts: the send-off, how to reproduce every figure, what ran where, and the data."""
import pandas as pd
import streamlit as st

from explainer import artifacts as A, paper, questions as Q, ui
from explainer.story import CHAPTERS

st.title("Final thoughts: less cramming, more understanding", icon="🏁")
st.markdown(
    "Deep networks are gifted crammers: give them enough room and enough epochs and they will store anything, "
    "even static. What keeps them honest is the same advice you would give a student: **more and more varied "
    "examples**, **a sensible amount of capacity**, **a little friction** (dropout, noise, augmentation) and "
    "**knowing when to stop**. None of these alone is magic; training well is a balancing act between learning "
    "enough and remembering too much.\n\n"
    "Do not take our word for any of it. Every number in this app can be regenerated on your own machine."
)

st.subheader("Reproduce every figure", icon="🔁")
st.page_link("chapters/13_paper_figures.py", label="The paper's figures side by side with ours, and their verdicts",
             icon="🖼️")
st.markdown("From a fresh clone (the results the pages show are already committed, so the app needs no training):")
st.code("pip install -r requirements.txt && streamlit run app.py     # the app, as you see it", language="bash",
        wrap_lines=True)  # wrapped: a block that scrolls sideways cannot be scrolled by keyboard
st.markdown("To regenerate the results themselves with the pipeline (CPU profile, the one shown here):")
st.code("pip install -r requirements-dev.txt\n"
        "dvc repro                       # every experiment; only stages whose code or params changed rerun\n"
        "dvc repro e5@mnist           # one experiment (stage@item)\n"
        "dvc metrics show                # the headline numbers\n"
        "dvc exp run -S profile=paper    # the paper's scale, on a GPU", language="bash", wrap_lines=True)

st.subheader("What a larger scale would cost", icon="💸")
try:
    plan = A.table("plan", "plan", needs=("profile", "device", "stage", "tflop", "minutes"),
                   numeric=("tflop", "minutes"))
except A.Missing as err:
    ui.missing(err, "The planner's estimates")
else:
    cost = (plan.groupby(["profile", "device"], sort=False)
            .agg(stages=("stage", "size"), tflop=("tflop", "sum"), minutes=("minutes", "sum")).reset_index())
    device_name = {"laptop": "this 2-core CPU", "h200": "one NVIDIA H200"}
    cost["device"] = cost["device"].map(lambda d: device_name.get(d, d))
    cost["hours"] = cost["minutes"] / 60
    paper_h200 = cost[(cost.profile == "paper") & (cost.device == device_name["h200"])]
    gpu_h200 = cost[(cost.profile == "gpu") & (cost.device == device_name["h200"])]
    st.markdown(
        "The planner (`python -m training.plan --profile NAME --device NAME`) runs each stage's own training "
        "step, evaluation pass and LASS iteration at toy size and counts what they do: matrix FLOPs, the bytes "
        "every operator moves, the operators dispatched and the random numbers drawn; scaled to the stage's "
        "settings and priced with a device's measured (or data-sheet) peaks, bandwidth and per-operator cost, "
        "plus E2 on the host CPU and a process start per stage. "
        + (f"The paper's full scale (`profile=paper`) comes to **{paper_h200.tflop.iloc[0] / 1e3:,.0f} PFLOP**, "
           f"about **{paper_h200.hours.iloc[0]:,.0f} hours** on one H200. " if len(paper_h200) else "")
        + (f"The `gpu` profile comes to **{gpu_h200.minutes.iloc[0]:.1f} minutes** there in all; its one "
           "ten-minute run (`tools/gpu_run.sh`) starts the most valuable stages first and skips what the "
           "deadline leaves no room for. " if len(gpu_h200) else "")
        + "Times marked as upper bounds in the table below come in lower in practice: E4 stops once its runs fit "
          "and the CSR search stops early.")
    st.dataframe(cost[["profile", "device", "stages", "tflop", "minutes", "hours"]], hide_index=True, width="stretch",
                 column_config={"tflop": st.column_config.NumberColumn("TFLOP", format="%.1f"),
                                "minutes": st.column_config.NumberColumn("est. minutes", format="%.1f"),
                                "hours": st.column_config.NumberColumn("est. hours", format="%.2f")})
    st.caption("From artifacts/plan/plan.csv, written by the `plan` stage from params.yaml (`plan:` names the "
               "devices and the assumptions). A GPU set is made with `bash tools/gpu_run.sh` on a lent GPU (a deadline, "
               "the set packed after every stage) and shows up in the sidebar's result-set switch.")

st.subheader("What ran where", icon="🖥️")
found = A.manifests()
if not found:
    st.info("🧩 **No results have been produced yet.** Run `dvc repro`; this table then lists every stage.")
else:
    rows = []
    chosen = A.selected()
    where = chosen.path.relative_to(A.ROOT).as_posix() if chosen.path.is_relative_to(A.ROOT) else chosen.path.name
    st.caption(f"Result set shown: **{chosen.label}**.")
    for folder, m in found.items():
        data = ", ".join(f"{ui.DATASET_NAME.get(n, n)} {d.get('n_train', '?')}/{d.get('n_val', '?')}"
                         for n, d in m.get("datasets", {}).items())
        rows.append({"results": f"{where}/{folder}", "profile": m.get("profile", "?"), "device": m.get("device", "?"),
                     "processor": m.get("device_name", "?"), "data (train/val)": data or "—",
                     "seconds": m.get("seconds"), "finished": str(m.get("finished", ""))[:16].replace("T", " "),
                     "git": m.get("git_revision", "?"), "reproduce": A.reproduce(folder)})
    table = pd.DataFrame(rows)
    total = pd.to_numeric(table["seconds"], errors="coerce").sum()
    devices = sorted(set(table["device"]))
    st.markdown(f"**{len(table)}** result folders, **{total / 60:.1f} minutes** of compute in all, on "
                f"{' and '.join(devices)}. Profiles: {', '.join(sorted(set(table['profile'])))}.")
    st.dataframe(table, hide_index=True, width="stretch")
    st.caption("One row per stage output folder, read from its manifest.json (written by the stage itself).")
    st.download_button("This table (CSV)", icon="⬇️", data=lambda: table.to_csv(index=False), file_name="what_ran_where.csv",
                       mime="text/csv", key="download-what-ran-where", on_click="ignore")

st.subheader("For teachers: a 15-minute path", icon="🍎")
st.markdown(
    "Every chapter has its own address, so a class can be sent straight to one. Add `?embed=true` to show it "
    "without the app's toolbar, for a projector or an `<iframe>` in a course page, e.g. "
    "`https://<your host>/experiment-time?embed=true` (fold the sidebar away with its « button). Four pages ask a question before they show their key "
    "chart; let the room vote, then press an answer: the page says whether the class guessed what our runs "
    "measured. Guesses stay in the browser tab; nothing is stored or sent anywhere."
)
title = {c.url: f"{c.icon} {c.title}" for c in CHAPTERS}
steps = []
for i, (url, minutes, what, question) in enumerate(Q.PATH, 1):
    asked = f" *Question:* {question[0]}" if question else ""
    steps.append(f"{i}. **{title.get(url, url)}** (`/{url}`, {minutes} min): {what}{asked}")
ui.md("\n".join(steps))

st.subheader("Data and sources", icon="📦")
st.markdown(
    "- **MNIST**: a 10,000-digit sample of the real MNIST training set ships with the code in `data/mnist10k.npz` "
    "(its provenance and checksum are in `data/README.md`); LeCun, Cortes and Burges, "
    "[yann.lecun.com/exdb/mnist](http://yann.lecun.com/exdb/mnist/).\n"
    "- **CIFAR-10**: Krizhevsky (2009), [cs.toronto.edu/~kriz/cifar.html](https://www.cs.toronto.edu/~kriz/cifar.html); "
    "fetched with `python -m training.data get cifar10`.\n"
    f"- **The paper**: {paper.CITATION}, [{paper.LINK}]({paper.LINK}). Its numbers appear on our charts as grey "
    "diamonds; every sentence of this app is our own.\n"
    "- **This app**: Streamlit pages in `chapters/` (the frame is `app.py`), chart code in `explainer/`, the science in `training/`."
)
ui.md("Thanks for reading to the end. May your networks generalize and your students understand. 🎓")
