"""The story's pages in reading order (docs/STORY.md): file, title, emoji and URL, shared by app.py and the tests."""
from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

ROOT = Path(__file__).resolve().parent.parent


class Chapter(NamedTuple):
    file: str    # relative to the repository root
    title: str
    icon: str
    url: str     # the page's URL path ("" for the first page, which Streamlit serves at the root)
    story: bool = True  # reads artifacts only (no torch until a Train click); False: a live lab that trains


_ALL = [
    Chapter("chapters/01_introduction.py", "Introduction", "🎬", ""),
    Chapter("chapters/02_what_is_memorization.py", "What is memorization?", "🧠", "what-is-memorization"),
    Chapter("chapters/03_factors.py", "Factors that make models memorize", "📊", "factors"),
    Chapter("chapters/04_experiment_time.py", "Experiment time", "🧪", "experiment-time"),
    Chapter("chapters/05_regularization.py", "Regularization", "🛑", "regularization"),
    Chapter("chapters/06_data_augmentation.py", "Data augmentation", "🦸", "data-augmentation"),
    Chapter("chapters/07_memorization_vs_generalization.py", "Memorization vs generalization", "🤼", "memorization-vs-generalization"),
    Chapter("chapters/08_training_time.py", "Training time", "⏳", "training-time"),
    Chapter("chapters/09_model_design.py", "Implications for model design", "🏗️", "model-design"),
    Chapter("chapters/10_conclusion.py", "Conclusion", "🎉", "conclusion"),
    Chapter("chapters/11_final_thoughts.py", "Final thoughts", "🏁", "final-thoughts"),
    Chapter("chapters/13_paper_figures.py", "Paper figures", "🖼️", "figures"),
    Chapter("chapters/12_lab.py", "The lab: train your own", "🔬", "lab", story=False),
]
# chapters being written by someone else may not exist yet in a checkout
CHAPTERS = [c for c in _ALL if (ROOT / c.file).is_file()]

# The pages that only read artifacts (no torch): the eleven of docs/STORY.md and the paper-figures page; the
# others are live labs.
STORY = [c for c in CHAPTERS if c.story]
FIGURES = "chapters/13_paper_figures.py"
