"""The story's pages in reading order (STORY.md): file, title, emoji and URL, shared by app.py and the tests."""
from __future__ import annotations

from typing import NamedTuple


class Chapter(NamedTuple):
    file: str    # relative to the repository root
    title: str
    icon: str
    url: str     # the page's URL path


CHAPTERS = [
    Chapter("pages/01_introduction.py", "Introduction", "🎬", "introduction"),
    Chapter("pages/02_what_is_memorization.py", "What is memorization?", "🧠", "what-is-memorization"),
    Chapter("pages/03_factors.py", "Factors that make models memorize", "📊", "factors"),
    Chapter("pages/04_experiment_time.py", "Experiment time", "🧪", "experiment-time"),
    Chapter("pages/05_regularization.py", "Regularization", "🛑", "regularization"),
    Chapter("pages/06_data_augmentation.py", "Data augmentation", "🦸", "data-augmentation"),
    Chapter("pages/07_memorization_vs_generalization.py", "Memorization vs generalization", "🤼", "memorization-vs-generalization"),
    Chapter("pages/08_training_time.py", "Training time", "⏳", "training-time"),
    Chapter("pages/09_model_design.py", "Implications for model design", "🏗️", "model-design"),
    Chapter("pages/10_conclusion.py", "Conclusion", "🎉", "conclusion"),
    Chapter("pages/11_final_thoughts.py", "Final thoughts", "🏁", "final-thoughts"),
]
