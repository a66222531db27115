"""🏁 Final thoughts: the send-off, how to reproduce every figure, what ran where, and the data."""
import pandas as pd
import streamlit as st

from explainer import artifacts as A, paper, ui

st.title("🏁 Final thoughts: less cramming, more understanding")
st.markdown(
    "Deep networks are gifted crammers: give them enough room and enough epochs and they will store anything, "
    "even static. What keeps them honest is the same advice you would give a student: **more and more varied "
    "examples**, **a sensible amount of capacity**, **a little friction** (dropout, noise, augmentation) and "
    "**knowing when to stop**. None of these alone is magic; training well is a balancing act between learning "
    "enough and remembering too much.\n\n"
    "Do not take our word for any of it. Every number in this app can be regenerated on your own machine."
)

st.subheader("🔁 Reproduce every figure")
st.markdown("From a fresh clone (the results the pages show are already committed, so the app needs no training):")
st.code("pip install -r requirements.txt && streamlit run app.py     # the app, as you see it", language="bash")
st.markdown("To regenerate the results themselves with the pipeline (CPU profile, the one shown here):")
st.code("pip install -r requirements-dev.txt\n"
        "dvc repro                       # every experiment; only stages whose code or params changed rerun\n"
        "dvc repro e5@mnist10k           # one experiment (stage@item)\n"
        "dvc metrics show                # the headline numbers\n"
        "dvc exp run -S profile=paper    # the paper's scale, on a GPU", language="bash")

st.subheader("🖥️ What ran where")
found = A.manifests()
if not found:
    st.info("🧩 **No results have been produced yet.** Run `dvc repro`; this table then lists every stage.")
else:
    rows = []
    for folder, m in found.items():
        data = ", ".join(f"{ui.DATASET_NAME.get(n, n)} {d.get('n_train', '?')}/{d.get('n_val', '?')}"
                         for n, d in m.get("datasets", {}).items())
        rows.append({"results": f"artifacts/{folder}", "profile": m.get("profile", "?"), "device": m.get("device", "?"),
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
    st.download_button("⬇️ This table (CSV)", data=lambda: table.to_csv(index=False), file_name="what_ran_where.csv",
                       mime="text/csv", key="download-what-ran-where", on_click="ignore")

st.subheader("📦 Data and sources")
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
st.markdown("Thanks for reading to the end. May your networks generalize and your students understand. 🎓")
