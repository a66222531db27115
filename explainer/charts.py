"""Small Altair chart builders: each takes a tidy DataFrame (usually `tidy.spread` output: mean, sd,
lo, hi, n per group) and returns a chart. Lines carry a ± one-standard-deviation band over seeds,
tooltips give the exact numbers, and clicking a legend entry highlights that series. Every series has
its own hue and its own marker shape and dash (`series_style`); axes span what is drawn, the paper's
reference marks included. Bars, grids and the scoreboard's bar are in charts_cells.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from . import palette as P
from .chartkit import (HEIGHT, PCT, domain, legend, paper_points, picked, series_style, span, style_names,  # noqa: F401
                       ticks, tips, x_scale)
from .charts_cells import class_heatmap, clock, grouped_bars, shares, verdict_bar  # noqa: F401

FEW = alt.Axis(format="%", tickCount=6)  # a percent axis whose ticks stay readable on an unrounded domain


def bands(agg: pd.DataFrame, *, color: str, scale: alt.Scale, y_title: str, x: str = "epoch",
          x_title: str = "epoch", dash: str | None = None, percent: bool = True, y_domain=(0, 1),
          log_x: bool = False, dash_scale: alt.Scale | None = None) -> alt.LayerChart:
    """Mean lines with a ± sd band per `color` (and `dash`) group; legend click highlights a series. Each
    series has its own marker shape, and its own dash unless `dash` gives the dash to a second field
    (e.g. training vs validation)."""
    pick = alt.selection_point(fields=[color], bind="legend")
    names = style_names(scale, agg[color])
    shapes, dashes = series_style(names)
    key = legend(names)  # one legend for hue, shape and (own) dash: the channels share field and legend
    hue = alt.Color(f"{color}:N", scale=scale, legend=key)
    detail = [alt.Detail(f"{dash}:N")] if dash else []
    base = alt.Chart(agg).encode(x=alt.X(f"{x}:Q", title=x_title, scale=x_scale(agg[x], log=log_x)), color=hue)
    y_scale = alt.Scale(domain=list(y_domain)) if y_domain else alt.Scale(zero=False)
    y = alt.Y("mean:Q", title=y_title, axis=PCT if percent else alt.Axis(), scale=y_scale)
    band = base.mark_area(interpolate="monotone").encode(
        *detail, y=alt.Y("lo:Q", scale=y_scale), y2=alt.Y2("hi:Q"),
        opacity=picked(pick, 0.16, 0.03))
    dash_enc = (alt.StrokeDash(f"{dash}:N", legend=legend(agg[dash].unique(), symbols="stroke", orient="top"),
                               scale=dash_scale or alt.Undefined)
                if dash else alt.StrokeDash(f"{color}:N", scale=dashes, legend=key))
    extra = [alt.Tooltip(f"{dash}:N", title="measured on")] if dash else []
    line = base.mark_line(strokeWidth=2.2).encode(
        y=y, strokeDash=dash_enc, opacity=picked(pick, 1.0, 0.15))
    dots = base.mark_point(filled=True, size=36).encode(
        *detail, y=y, shape=alt.Shape(f"{color}:N", scale=shapes, legend=key),
        opacity=picked(pick, 0.9, 0.05), tooltip=tips(color, x, x_title, extra))
    return alt.layer(band, line, dots).add_params(pick).properties(height=HEIGHT)


def epoch_marker(chart, epoch: float, label: str) -> alt.LayerChart:
    """A dashed vertical rule with a label at `epoch` (e.g. where early stopping would stop); the label sits
    just above the plot, clear of the curves."""
    mark = pd.DataFrame({"epoch": [epoch], "label": [label]})
    rule = alt.Chart(mark).mark_rule(strokeDash=[6, 4], strokeWidth=2, color=P.GREY).encode(
        x=alt.X("epoch:Q"), tooltip=[alt.Tooltip("label:N", title="marker"), alt.Tooltip("epoch:Q")])
    text = alt.Chart(mark).mark_text(align="left", dx=-4, dy=-5, baseline="bottom", color=P.GREY, fontWeight="bold").encode(
        x=alt.X("epoch:Q"), y=alt.YValue(0), text=alt.Text("label:N"))
    return alt.layer(chart, rule, text)


def by_level(agg: pd.DataFrame, *, color: str, scale: alt.Scale, y_title: str, x: str = "p",
             x_title: str = "noise level p (share corrupted)", percent: bool = True,
             y_domain=(0, 1), paper: pd.DataFrame | None = None, paper_y: str = "", log_x: bool = False,
             style: str | None = None, color_title: str | None = None, style_title: str | None = None):
    """Mean ± sd per level (points, error bars, a joining line), optionally with the paper's values;
    `log_x` for widths and data sizes (base 2, ticks at the measured values). Each colour has its own dash
    and, unless `style` names a second field, its own marker shape; with `style` (e.g. colour = noise level,
    style = kind of noise) the shape follows that field, with its own legend, so two series always differ
    by hue and dash or by shape. The axes cover the data and the paper's marks."""
    pick = alt.selection_point(fields=[color], bind="legend")
    ref = paper if paper is not None and len(paper) else None
    ref_x = ref[x] if ref is not None else None
    ref_y = ref[paper_y or "mean"] if ref is not None else None
    xs = x_scale(agg[x], ref_x, log=log_x, base=2, pad=0.05)
    x_axis = alt.Axis(values=ticks(agg[x], ref_x), **({"format": ","} if log_x else {}))  # at the measured levels
    hues = style_names(scale, agg[color])
    shapes, dashes = series_style(hues)
    hue_key = legend(hues, color_title)
    shape_by, shape_key = color, hue_key
    if style and style != color:  # the colour legend draws lines (hue and dash), the style legend markers
        hue_key = legend(hues, color_title, symbols="stroke")
        kinds = list(dict.fromkeys(agg[style]))
        kinds = sorted(kinds, key=lambda k: list(P.KIND_COLOR).index(k) if k in P.KIND_COLOR else len(P.KIND_COLOR))
        shapes, _ = series_style(kinds)
        shape_by, shape_key = style, legend(kinds, style_title, orient="top")
    base = alt.Chart(agg).encode(x=alt.X(f"{x}:Q", title=x_title, scale=xs, axis=x_axis),
                                 color=alt.Color(f"{color}:N", scale=scale, legend=hue_key),
                                 opacity=picked(pick, 1.0, 0.15))
    if y_domain:  # a fixed range, stretched only to take in a reference mark outside it
        ys = alt.Scale(domain=span(list(y_domain), ref_y), nice=False)
    else:
        ys = alt.Scale(domain=span(agg["lo"], agg["hi"], ref_y, pad=0.06, zero=True), nice=False)
    y = alt.Y("mean:Q", title=y_title, axis=PCT if percent else alt.Axis(), scale=ys)
    line = base.mark_line(strokeWidth=2).encode(y=y, strokeDash=alt.StrokeDash(f"{color}:N", scale=dashes, legend=hue_key),
                                                detail=f"{shape_by}:N")
    dots = base.mark_point(filled=True, size=80).encode(
        y=y, shape=alt.Shape(f"{shape_by}:N", scale=shapes, legend=shape_key),
        tooltip=tips(color, x, x_title, [alt.Tooltip(f"{style}:N")] if style and style != color else []))
    bars = base.mark_rule(strokeWidth=2).encode(y=alt.Y("lo:Q", scale=ys), y2=alt.Y2("hi:Q"), detail=f"{shape_by}:N")
    layers = [line, bars, dots]
    if ref is not None:
        layers.append(paper_points(ref, x, paper_y or "mean", "reference", xs, ys))
    return alt.layer(*layers).add_params(pick).properties(height=HEIGHT)


def _by_regularizer(df: pd.DataFrame, paper: pd.DataFrame | None):
    """What the two E6 charts share: a legend-bound pick, the regularizers' colours, shapes and dashes,
    one legend for all three, and the paper's reference points (None when there are none)."""
    pick = alt.selection_point(fields=["regularizer"], bind="legend")
    scale = P.scale(P.REG_COLOR, df["regularizer"])
    names = domain(scale)
    shapes, dashes = series_style(names)
    return pick, scale, shapes, dashes, legend(names), paper if paper is not None and len(paper) else None


def tradeoff(df: pd.DataFrame, paper: pd.DataFrame | None = None) -> alt.LayerChart:
    """Regularizers: random-label training accuracy (x, lower = less memorized) against clean best
    validation accuracy (y), one point per strength, joined in order of strength."""
    pick, scale, shapes, dashes, key, ref = _by_regularizer(df, paper)
    xs = alt.Scale(domain=span(df["random_label_train_acc"], None if ref is None else ref["random_label_train_acc"],
                               pad=0.04), nice=False)
    ys = alt.Scale(domain=span(df["clean_best_val_acc"], None if ref is None else ref["clean_best_val_acc"],
                               pad=0.08), nice=False)
    base = alt.Chart(df).encode(
        x=alt.X("random_label_train_acc:Q", title="training accuracy on random labels (memorized)", axis=FEW, scale=xs),
        y=alt.Y("clean_best_val_acc:Q", title="best validation accuracy, real labels", axis=PCT, scale=ys),
        color=alt.Color("regularizer:N", scale=scale, legend=key),
        opacity=picked(pick, 1.0, 0.12))
    line = base.mark_line(strokeWidth=1.6).encode(
        order=alt.Order("rank:Q" if "rank" in df else "strength:Q"),
        strokeDash=alt.StrokeDash("regularizer:N", scale=dashes, legend=key))
    dots = base.mark_point(filled=True, size=80).encode(
        shape=alt.Shape("regularizer:N", scale=shapes, legend=key),
        tooltip=[alt.Tooltip("regularizer:N"), alt.Tooltip("setting:N" if "setting" in df else "strength:Q"),
                 alt.Tooltip("random_label_train_acc:Q", title="random-label train acc", format=".1%"),
                 alt.Tooltip("clean_best_val_acc:Q", title="clean best val acc", format=".1%")])
    layers = [line, dots]
    if ref is not None:
        layers.append(paper_points(ref, "random_label_train_acc", "clean_best_val_acc", "paper", xs, ys))
    return alt.layer(*layers).add_params(pick).properties(height=HEIGHT + 40)


def frontier(df: pd.DataFrame, paper: pd.DataFrame | None = None) -> alt.LayerChart:
    """The paper's Fig. 10: per regularizer, the best clean validation accuracy reachable (y) while the
    random-label training accuracy stays at most x (a step line, a marker where a new setting takes over)."""
    pick, scale, shapes, dashes, key, ref = _by_regularizer(df, paper)
    xs = alt.Scale(domain=span(df["x"], None if ref is None else ref["x"], pad=0.03), nice=False)
    ys = alt.Scale(domain=span(df["best_val_acc"], None if ref is None else ref["best_val_acc"], pad=0.08), nice=False)
    df = df.sort_values(["regularizer", "x"])
    steps = df[df.groupby("regularizer")["best_val_acc"].diff().fillna(1) != 0]  # where a new setting takes over
    enc = dict(x=alt.X("x:Q", title="random-label training accuracy allowed (at most)", axis=FEW, scale=xs),
               y=alt.Y("best_val_acc:Q", title="best clean validation accuracy", axis=PCT, scale=ys),
               color=alt.Color("regularizer:N", scale=scale, legend=key), opacity=picked(pick, 1.0, 0.12))
    tip = [alt.Tooltip("regularizer:N"), alt.Tooltip("x:Q", title="allowed", format=".0%"),
           alt.Tooltip("best_val_acc:Q", format=".1%")]
    line = alt.Chart(df).mark_line(interpolate="step-after", strokeWidth=2).encode(
        **enc, strokeDash=alt.StrokeDash("regularizer:N", scale=dashes, legend=key), tooltip=tip)
    dots = alt.Chart(steps).mark_point(filled=True, size=70).encode(
        **enc, shape=alt.Shape("regularizer:N", scale=shapes, legend=key), tooltip=tip)
    layers = [line, dots]
    if ref is not None:
        layers.append(paper_points(ref, "x", "best_val_acc", "paper", xs, ys))
    return alt.layer(*layers).add_params(pick).properties(height=HEIGHT)


def sorted_curves(df: pd.DataFrame, colors: dict[str, str]) -> alt.Chart:
    """E1 (the paper's Fig. 1): P(correct) of every example, sorted, one line per condition, each with its
    own hue and dash."""
    pick = alt.selection_point(fields=["condition"], bind="legend")
    scale = P.scale(colors, df["condition"])
    names = domain(scale)
    _, dashes = series_style(names)
    key = legend(names, symbols="stroke")
    return alt.Chart(df).mark_line(strokeWidth=2.4).encode(
        x=alt.X("share:Q", title="examples, easiest to hardest", axis=PCT, scale=x_scale(df["share"])),
        y=alt.Y("p_correct:Q", title="P(correct) after one epoch", axis=PCT, scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("condition:N", scale=scale, legend=key),
        strokeDash=alt.StrokeDash("condition:N", scale=dashes, legend=key),
        opacity=picked(pick, 1.0, 0.12),
        tooltip=[alt.Tooltip("condition:N"), alt.Tooltip("share:Q", format=".0%", title="easiest share"),
                 alt.Tooltip("p_correct:Q", format=".2f", title="P(correct)")],
    ).add_params(pick).properties(height=HEIGHT)


def design_slice(df: pd.DataFrame, unit: str) -> alt.Chart:
    """Page 9: measured configurations of one grid, best validation accuracy against width, coloured by
    noise level and shaped by kind of noise; the configuration answering the reader's question
    (`your_pick`) is drawn large."""
    pick = alt.selection_point(fields=["series"], bind="legend")
    shapes, _ = series_style(list(dict.fromkeys(df["series"])))
    return alt.Chart(df).mark_point(filled=True).encode(
        x=alt.X("width:Q", scale=x_scale(df["width"], log=True, base=2, pad=0.06), title=f"width ({unit}, log scale)",
                axis=alt.Axis(values=ticks(df["width"]), format=",")),
        y=alt.Y("best_val_acc:Q", title="best validation accuracy", axis=PCT, scale=alt.Scale(zero=False)),
        color=alt.Color("p:Q", scale=alt.Scale(domain=[0, 0.5, 1], range=[P.p_color(0), P.p_color(0.5), P.p_color(1)]),
                        title="noise p", legend=alt.Legend(orient="bottom", direction="horizontal")),
        shape=alt.Shape("series:N", scale=shapes, legend=legend(df["series"].unique(), orient="top")),
        size=alt.SizeValue(70, condition={"test": "datum.your_pick", "value": 360}),
        stroke=alt.StrokeValue(None, condition={"test": "datum.your_pick", "value": P.GREY}),
        strokeWidth=alt.StrokeWidthValue(3),
        opacity=picked(pick, 1.0, 0.15),
        tooltip=[*map(alt.Tooltip, ["source:N", "width:Q", "n_train:Q", "kind:N", "p:Q", "regularizer:N", "strength:Q"]),
                 alt.Tooltip("best_val_acc:Q", format=".1%"), alt.Tooltip("final_train_acc:Q", format=".1%"),
                 alt.Tooltip("seeds:Q")],
    ).add_params(pick).properties(height=HEIGHT)
