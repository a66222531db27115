"""What a live run looks like: one small chart per arm (accuracy per epoch on the clean and the
corrupted training digits and on new digits, over the pipeline's band), the summary numbers, and
the chart that overlays the session's last runs (explainer/lab/compare.py).

The charts are plain Vega-Lite specs, not Altair charts: they are redrawn after every epoch, and
building plus validating the Altair equivalent costs ~0.4 s per chart on a busy 2-core machine,
more than the epoch itself. Colours come from the app's colour-blind-safe palette.
"""
from __future__ import annotations

from .. import palette as P
from ..ui import pct
from .band import METRICS, Band
from .knobs import Arm

HEIGHT = 260  # the whole panel in pixels: Streamlit fits title, axes and plot into it


def metric_names(arm: Arm) -> dict[str, str]:
    """Readable names of the three curves of one arm (the corrupted one depends on the noise kind)."""
    corrupted = "training · shuffled labels" if arm.knobs.kind == "randY" else "training · noise images"
    return {"train_acc_clean": "training · clean digits", "train_acc_corrupted": corrupted,
            "val_acc": "validation · new digits"}


SWATCH = {P.BLUE: "🟦", P.MAGENTA: "🟥", P.ORANGE: "🟧", P.TEAL: "🟩"}  # the nearest emoji square per colour
COLORS = {"training · clean digits": P.BLUE, "training · shuffled labels": P.MAGENTA,
          "training · noise images": P.ORANGE, "validation · new digits": P.TEAL}


def shown_names(arm: Arm) -> list[str]:
    """The curves one arm draws (a clean run has no corrupted examples, a fully random one no clean ones)."""
    k = arm.knobs
    return [n for c, n in metric_names(arm).items()
            if not (c == "train_acc_corrupted" and k.kind == "none") and not (c == "train_acc_clean" and k.p >= 1)]


def key_line(arms: tuple[Arm, ...], banded: bool = True) -> str:
    """The colour key of the panels, once for all of them (markdown)."""
    names = [n for n in COLORS if any(n in shown_names(a) for a in arms)]
    return " · ".join(f"{SWATCH[COLORS[n]]} {n}" for n in names) + \
        (" · shaded: the pipeline's runs" if banded else "") + " · ┆ best validation epoch · ⋮ 100 % fitted"


def _finite(v) -> bool:
    return v is not None and v == v


def stats(rows: list[dict]) -> dict:
    """The summary numbers of one arm: fit epoch (first at 100 % training accuracy on the labels
    as given), best validation epoch and value (the first on ties), and the final accuracies."""
    if not rows:
        return {}
    rows = sorted(rows, key=lambda r: r["epoch"])
    last, best = rows[-1], max(rows, key=lambda r: (r["val_acc"], -r["epoch"]))
    fit = next((r["epoch"] for r in rows if r["train_acc"] >= 1.0 - 1e-9), None)
    return {"epochs": int(last["epoch"]), "fit_epoch": None if fit is None else int(fit),
            "best_epoch": int(best["epoch"]), "best_val": float(best["val_acc"]),
            "corrupted_at_best": float(best["train_acc_corrupted"]), "train": float(last["train_acc"]),
            "clean": float(last["train_acc_clean"]), "corrupted": float(last["train_acc_corrupted"]),
            "val": float(last["val_acc"]), "seconds": float(last["seconds"])}


def curve_points(rows: list[dict], arm: Arm) -> list[dict]:
    """The engine's per-epoch rows of one arm as one point per epoch × curve."""
    names, keep = metric_names(arm), set(shown_names(arm))
    return [{"epoch": r["epoch"], "metric": names[c], "acc": r[c]} for r in rows for c in METRICS
            if names[c] in keep and _finite(r.get(c))]


def _axes(epochs: int) -> tuple[dict, dict]:
    x = {"field": "epoch", "type": "quantitative", "title": "epoch", "scale": {"domain": [0, epochs], "nice": False},
         "axis": {"tickMinStep": 1, "format": "d"}}
    y = {"field": "acc", "type": "quantitative", "title": "accuracy", "axis": {"format": "%"},
         "scale": {"domain": [0, 1]}}
    return x, y


def panel(arm: Arm, rows: list[dict], band: Band | None, epochs: int) -> dict:
    """One arm's accuracy per epoch, its markers, and the pipeline's band behind it (Vega-Lite)."""
    shown = shown_names(arm)
    color = {"field": "metric", "type": "nominal", "legend": None,  # one shared key above the panels
             "scale": {"domain": shown, "range": [COLORS[n] for n in shown]}}
    x, y = _axes(epochs)
    layers = []
    if band is not None and not band.frame.empty:
        names = metric_names(arm)
        b = band.frame.assign(metric=band.frame["metric"].map(names))
        layers.append({"data": {"values": b[b["metric"].isin(shown)].to_dict("records")},
                       "mark": {"type": "area", "opacity": 0.16},
                       "encoding": {"x": x, "y": {**y, "field": "lo"}, "y2": {"field": "hi"}, "color": color,
                                    "tooltip": [{"field": "metric", "title": "pipeline band"}, {"field": "epoch"},
                                                {"field": "lo", "format": ".1%"}, {"field": "hi", "format": ".1%"},
                                                {"field": "n", "title": "seeds"}]}})
    # the epoch dots are left out of the SVG's accessibility tree (read one by one they say nothing the chart's
    # alt text does not); before a run they would be an empty group with a role and no name
    layers.append({"data": {"values": curve_points(rows, arm)},
                   "mark": {"type": "line", "strokeWidth": 2.4, "point": {"size": 18, "aria": False}},
                   "encoding": {"x": x, "y": y, "color": color,
                                "tooltip": [{"field": "metric", "title": "curve"}, {"field": "epoch"},
                                            {"field": "acc", "format": ".1%"}]}})
    s = stats(rows)
    marks = []
    if s:
        marks.append({"epoch": s["best_epoch"], "label": f"best val {pct(s['best_val'], 1)}", "dash": "best", "top": 4})
        if s["fit_epoch"] is not None:
            marks.append({"epoch": s["fit_epoch"], "label": "fits 100 %", "dash": "fit", "top": 18})
    for m in marks:
        right = m["epoch"] > 0.6 * epochs  # labels near the right edge grow leftwards
        layers.append({"data": {"values": [m]}, "mark": {"type": "rule", "color": P.GREY, "strokeWidth": 1.6,
                                                         "strokeDash": [6, 4] if m["dash"] == "best" else [2, 2]},
                       "encoding": {"x": {"field": "epoch", "type": "quantitative"},
                                    "tooltip": [{"field": "label", "title": "marker"}, {"field": "epoch"}]}})
        layers.append({"data": {"values": [m]}, "mark": {"type": "text", "align": "right" if right else "left",
                                                         "dx": -4 if right else 4, "baseline": "top",
                                                         "color": P.GREY, "fontSize": 11},
                       "encoding": {"x": {"field": "epoch", "type": "quantitative"}, "y": {"value": m["top"]},
                                    "text": {"field": "label"}}})
    return {"height": HEIGHT, "title": {"text": arm.label, "anchor": "start", "fontSize": 13}, "layer": layers}


def summary_lines(arms: tuple[Arm, ...], numbers: list[dict]) -> str:
    """One markdown bullet per arm with its headline numbers."""
    out = []
    for arm, s in zip(arms, numbers):
        if not s:
            out.append(f"- **{arm.label}**: not started")
            continue
        fit = f"fitted 100 % at epoch {s['fit_epoch']}" if s["fit_epoch"] is not None else \
            f"training accuracy {pct(s['train'], 1)} after {s['epochs']} epochs (not fitted)"
        noisy = f" ({pct(s['clean'])} clean · {pct(s['corrupted'])} corrupted)" if 0 < arm.knobs.p < 1 else ""
        out.append(f"- **{arm.label}**: {fit}{noisy} · best validation **{pct(s['best_val'], 1)}** at epoch "
                   f"{s['best_epoch']} · final {pct(s['val'], 1)}")
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# The session's last runs in one chart: each run has its own hue, dash and marker shape, so runs stay
# apart without colour too (and in print)

RUN_COLORS = (P.BLUE, P.ORANGE, P.TEAL, P.MAGENTA, P.CYAN)
RUN_COLOR_NAMES = ("blue", "orange", "teal", "magenta", "cyan")
RUN_DASHES, RUN_SHAPES = P.DASHES[:5], P.SHAPES[:5]
RUN_DASH_NAMES = ("solid", "dashed", "dotted", "dash-dot", "short dashes")  # in words, for the list of runs
RUN_SHAPE_NAMES = ("●", "■", "▲", "✚", "▼")
CURVES = {"val_acc": "validation · new digits", "train_acc": "training · labels as given",
          "train_acc_corrupted": "training · corrupted digits"}


def run_name(run: dict) -> str:
    """A run's name in the comparison: its number in this session and its short label."""
    return (f"#{run['id']} {run['label']}" + (f" · {run['differs']}" if run.get("differs") else "")
            + (" (pinned)" if run.get("pinned") else ""))


def overlay(runs: list[dict], metric: str) -> dict:
    """Every run's `metric` per epoch in one chart (Vega-Lite); runs[i] gets style i."""
    names = [run_name(r) for r in runs]
    values = [{"epoch": row["epoch"], "acc": row[metric], "run": name} for r, name in zip(runs, names)
              for row in r["rows"] if _finite(row.get(metric))]
    epochs = max([int(row["epoch"]) for r in runs for row in r["rows"]] or [1])
    x, y = _axes(epochs)
    n = len(names)
    legend = {"orient": "bottom", "direction": "vertical", "title": None, "labelLimit": 360, "symbolStrokeWidth": 2.4}
    color = {"field": "run", "type": "nominal", "scale": {"domain": names, "range": list(RUN_COLORS[:n])},
             "legend": legend}
    dash = {"field": "run", "type": "nominal", "scale": {"domain": names, "range": list(RUN_DASHES[:n])},
            "legend": legend}
    shape = {"field": "run", "type": "nominal", "scale": {"domain": names, "range": list(RUN_SHAPES[:n])},
             "legend": legend}
    tooltip = [{"field": "run"}, {"field": "epoch"}, {"field": "acc", "format": ".1%", "title": CURVES[metric]}]
    data = {"values": values}  # in each layer: Streamlit would move a top-level data set out of the spec
    # the height is the plot's: the legend of up to five runs goes below it instead of squeezing it
    return {"height": HEIGHT - 60, "autosize": {"type": "fit-x", "contains": "padding"},
            "title": {"text": CURVES[metric], "anchor": "start", "fontSize": 13},
            "layer": [{"data": data, "mark": {"type": "line", "strokeWidth": 2.4},
                       "encoding": {"x": x, "y": y, "color": color, "strokeDash": dash}},
                      {"data": data, "mark": {"type": "point", "filled": True, "size": 40, "opacity": 0.9},
                       "encoding": {"x": x, "y": y, "color": color, "shape": shape, "tooltip": tooltip}}]}
