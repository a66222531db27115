"""What a live run looks like: one small chart per arm (accuracy per epoch on the clean and the
corrupted training digits and on new digits, over the pipeline's band), the numbers of the
summary, and the one sentence that says what the visitor just saw — written from the measured
numbers, so it stays true whatever the run did.

The chart is a plain Vega-Lite spec, not an Altair chart: it is redrawn after every epoch, and
building plus validating the Altair equivalent costs ~0.4 s per chart on a busy 2-core machine,
more than the epoch itself. Colours come from the app's palette.
"""
from __future__ import annotations

from . import palette as P
from .live_band import Band
from .live_knobs import Arm
from .ui import pct

HEIGHT = 260  # the whole panel in pixels: Streamlit fits title, axes and plot into it
METRICS = ("train_acc_clean", "train_acc_corrupted", "val_acc")


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


def panel(arm: Arm, rows: list[dict], band: Band | None, epochs: int) -> dict:
    """One arm's accuracy per epoch, its markers, and the pipeline's band behind it (Vega-Lite)."""
    shown = shown_names(arm)
    color = {"field": "metric", "type": "nominal", "legend": None,  # one shared key above the panels
             "scale": {"domain": shown, "range": [COLORS[n] for n in shown]}}
    x = {"field": "epoch", "type": "quantitative", "title": "epoch", "scale": {"domain": [0, epochs], "nice": False},
         "axis": {"tickMinStep": 1, "format": "d"}}
    y = {"field": "acc", "type": "quantitative", "title": "accuracy", "axis": {"format": "%"},
         "scale": {"domain": [0, 1]}}
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
    layers.append({"data": {"values": curve_points(rows, arm)},
                   "mark": {"type": "line", "strokeWidth": 2.4, "point": {"size": 18}},
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


# ---------------------------------------------------------------------------------------------
# What the visitor just saw, in one sentence built from the numbers


def _fit_phrase(s: dict) -> str:
    if s["fit_epoch"] is not None:
        return f"fitted every training digit by epoch {s['fit_epoch']}"
    return f"reached {pct(s['train'], 1)} on the training digits by epoch {s['epochs']}"


def sentence(preset: str, arms: tuple[Arm, ...], st_: list[dict]) -> str:
    """One sentence on what the run showed, per preset (and a generic one for the Lab)."""
    if not st_ or not all(st_):
        return ""
    if preset == "twin":
        real, rand = st_
        return (f"Same network, same start, same digits: with real labels it {_fit_phrase(real)} and gets "
                f"**{pct(real['val'])}** of new digits right; with random labels it {_fit_phrase(rand)} too, yet gets "
                f"**{pct(rand['val'])}** of new digits right — chance is 10 %. Fitting the training set is not learning.")
    if preset == "capacity":
        narrow, wide = st_
        verdict = ("by the end the small network is the better one on new digits" if narrow["val"] >= wide["val"]
                   else "here the extra units still pay off on new digits at the end")
        return (f"The wide network agrees with **{pct(wide['corrupted'])}** of the shuffled labels by epoch "
                f"{wide['epochs']}, the narrow one with **{pct(narrow['corrupted'])}**: more units, more room to cram. "
                f"On new digits the wide one peaked at {pct(wide['best_val'], 1)} (epoch {wide['best_epoch']}) and "
                f"ended at {pct(wide['val'], 1)}, the narrow one ended at {pct(narrow['val'], 1)}: {verdict}.")
    if preset in ("regularization", "augmentation"):
        base, *others = st_
        parts = ", ".join(f"{a.label} **{pct(s['train'])}**" for a, s in zip(arms[1:], others))
        best_arm, best = min(zip(arms[1:], others), key=lambda t: t[1]["train"])
        slowed = best["train"] < base["train"] - 0.05
        tail = (f"{best_arm.label} held the cramming back the most." if slowed else
                "none of them held the cramming back by much in this run.")
        return (f"By epoch {base['epochs']} the network fits **{pct(base['train'])}** of the random labels with "
                f"{arms[0].label}; {parts}. {tail[0].upper() + tail[1:]}")
    if preset == "early-stopping" or (len(st_) == 1 and arms[0].knobs.kind != "none"):
        s = st_[-1]
        fell = s["val"] < s["best_val"] - 0.01
        shuffled = "shuffled labels" if arms[-1].knobs.kind == "randY" else "noise images"
        if fell:
            return (f"Validation accuracy peaked at **{pct(s['best_val'], 1)} in epoch {s['best_epoch']}**, when the "
                    f"network agreed with only {pct(s['corrupted_at_best'])} of the {shuffled}; by epoch {s['epochs']} "
                    f"it agreed with {pct(s['corrupted'])} of them and validation fell to **{pct(s['val'], 1)}**. "
                    f"Stopping at epoch {s['best_epoch']} keeps the patterns and skips the cramming.")
        return (f"Validation accuracy reached {pct(s['best_val'], 1)} (epoch {s['best_epoch']}) and has not fallen "
                f"yet: by epoch {s['epochs']} the network agrees with {pct(s['corrupted'])} of the {shuffled}. "
                "Train longer, or with more capacity, to see the cramming begin.")
    s = st_[-1]
    return (f"On clean labels the network {_fit_phrase(s)} and gets **{pct(s['val'], 1)}** of new digits right "
            f"(best {pct(s['best_val'], 1)} in epoch {s['best_epoch']}).")


def summary_lines(arms: tuple[Arm, ...], st_: list[dict]) -> str:
    """One markdown bullet per arm with its headline numbers."""
    out = []
    for arm, s in zip(arms, st_):
        if not s:
            out.append(f"- **{arm.label}**: not started")
            continue
        fit = f"fitted 100 % at epoch {s['fit_epoch']}" if s["fit_epoch"] is not None else \
            f"training accuracy {pct(s['train'], 1)} after {s['epochs']} epochs (not fitted)"
        noisy = f" ({pct(s['clean'])} clean · {pct(s['corrupted'])} corrupted)" if 0 < arm.knobs.p < 1 else ""
        out.append(f"- **{arm.label}**: {fit}{noisy} · best validation **{pct(s['best_val'], 1)}** at epoch "
                   f"{s['best_epoch']} · final {pct(s['val'], 1)}")
    return "\n".join(out)
