"""The live lab: a visitor trains small networks on this server's CPU with the pipeline's own engine.

    knobs.py    the lab's fixed settings (params.yaml `lab:`), the visitor's knobs and their URL round trip
    presets.py  the story pages' runs, each with its prose and its "what you just saw" sentence
    trainer.py  one trainer per process: lock, warm-up, cache of finished runs, `training.engine.fit`
    band.py     the pipeline's nearest measured configuration behind a live run (explainer/catalog.py)
    chart.py    the Vega-Lite charts and summary numbers
    compare.py  the session's last runs, compared
    runtime.py  the trainer singleton, serving / stop checks, the background prefetch of the story pages
    page.py     the panel: `retrain_panel` for a story page, `run_panel` for the Lab (chapters/12_lab.py)
"""
from .page import retrain_panel, run_panel

__all__ = ["retrain_panel", "run_panel"]
