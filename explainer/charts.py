"""Small Altair chart builders: each takes a tidy DataFrame (usually `tidy.spread` output: mean, sd,
lo, hi, n per group) and returns a chart. Lines carry a ± one-standard-deviation band over seeds,
tooltips give the exact numbers, and clicking a legend entry highlights that series.
"""
from __future__ import annotations

import altair as alt
import pandas as pd

from . import palette as P

HEIGHT = 260  # px of plot; axes and legend come on top
PCT = alt.Axis(format="%")


def _legend(labels=(), title=None) -> alt.Legend:
    """Below the plot, in as many columns as a 390-px phone can hold for these labels (Vega-Lite
    legends do not wrap by themselves)."""
    longest = max((len(str(x)) for x in labels), default=30)
    columns = 1 if longest > 20 else 2 if longest > 11 else 3
    return alt.Legend(title=title, orient="bottom", direction="horizontal", columns=columns, labelLimit=260,
                      symbolOpacity=1, offset=8)


def _picked(pick, on: float, off: float) -> alt.OpacityValue:
    """Opacity `on` for the series picked in the legend (all of them until one is clicked), `off` for the rest.
    The same spec `alt.condition` makes, built without its per-call schema validation (~100x cheaper;
    tests validate every builder's whole chart)."""
    return alt.OpacityValue(off, condition={"param": pick.name, "value": on})


def _domain(scale: alt.Scale) -> list:
    return list(scale.domain) if isinstance(scale.domain, (list, tuple)) else []


def _tips(color: str, x: str, x_title: str, extra=()) -> list:
    return [alt.Tooltip(f"{color}:N", title="series"), *extra, alt.Tooltip(f"{x}:Q", title=x_title),
            alt.Tooltip("mean:Q", title="mean", format=".3f"), alt.Tooltip("sd:Q", title="± sd", format=".3f"),
            alt.Tooltip("n:Q", title="seeds")]


def bands(agg: pd.DataFrame, *, color: str, scale: alt.Scale, y_title: str, x: str = "epoch",
          x_title: str = "epoch", dash: str | None = None, percent: bool = True, y_domain=(0, 1),
          log_x: bool = False, dash_scale: alt.Scale | None = None) -> alt.LayerChart:
    """Mean lines with a ± sd band per `color` (and `dash`) group; legend click highlights a series."""
    pick = alt.selection_point(fields=[color], bind="legend")
    hue = alt.Color(f"{color}:N", scale=scale, legend=_legend(_domain(scale)))  # one legend, shared by every layer
    detail = [alt.Detail(f"{dash}:N")] if dash else []
    x_scale = alt.Scale(type="log", nice=False) if log_x else alt.Scale(nice=False)
    base = alt.Chart(agg).encode(x=alt.X(f"{x}:Q", title=x_title, scale=x_scale), color=hue)
    y_scale = alt.Scale(domain=list(y_domain)) if y_domain else alt.Scale(zero=False)
    y = alt.Y("mean:Q", title=y_title, axis=PCT if percent else alt.Axis(), scale=y_scale)
    band = base.mark_area(interpolate="monotone").encode(
        *detail, y=alt.Y("lo:Q", scale=y_scale), y2=alt.Y2("hi:Q"),
        opacity=_picked(pick, 0.18, 0.03))
    dash_enc = (alt.StrokeDash(f"{dash}:N", legend=_legend(agg[dash].unique()), scale=dash_scale or alt.Undefined)
                if dash else alt.StrokeDash())
    extra = [alt.Tooltip(f"{dash}:N", title="measured on")] if dash else []
    line = base.mark_line(strokeWidth=2.2).encode(
        y=y, strokeDash=dash_enc, opacity=_picked(pick, 1.0, 0.15))
    dots = base.mark_point(filled=True, size=28).encode(
        *detail, y=y, opacity=_picked(pick, 0.9, 0.05), tooltip=_tips(color, x, x_title, extra))
    return alt.layer(band, line, dots).add_params(pick).properties(height=HEIGHT)


def epoch_marker(chart, epoch: float, label: str) -> alt.LayerChart:
    """A dashed vertical rule with a label at `epoch` (e.g. where early stopping would stop)."""
    mark = pd.DataFrame({"epoch": [epoch], "label": [label]})
    rule = alt.Chart(mark).mark_rule(strokeDash=[6, 4], strokeWidth=2, color=P.GREY).encode(
        x=alt.X("epoch:Q"), tooltip=[alt.Tooltip("label:N", title="marker"), alt.Tooltip("epoch:Q")])
    text = alt.Chart(mark).mark_text(align="left", dx=5, dy=8, baseline="top", color=P.GREY, fontWeight="bold").encode(
        x=alt.X("epoch:Q"), y=alt.YValue(0), text=alt.Text("label:N"))
    return alt.layer(chart, rule, text)


def paper_points(ref: pd.DataFrame, x: str, y: str, what: str, x_scale: alt.Scale | None = None) -> alt.Chart:
    """The paper's reference values as grey diamonds, labelled 'paper (≈)' in their own legend."""
    ref = ref.assign(source="paper (≈, read off its figure)")
    return alt.Chart(ref).mark_point(shape=P.PAPER_SHAPE, filled=True, size=110, color=P.PAPER_COLOR,
                                     stroke="white", strokeWidth=0.8).encode(
        x=alt.X(f"{x}:Q", scale=x_scale or alt.Scale()), y=alt.Y(f"{y}:Q"),
        shape=alt.Shape("source:N", scale=alt.Scale(range=[P.PAPER_SHAPE]), legend=None),  # captions explain it
        tooltip=[alt.Tooltip("source:N", title=what), alt.Tooltip(f"{x}:Q"), alt.Tooltip(f"{y}:Q", format=".3f")])


def by_level(agg: pd.DataFrame, *, color: str, scale: alt.Scale, y_title: str, x: str = "p",
             x_title: str = "noise level p (share corrupted)", percent: bool = True,
             y_domain=(0, 1), paper: pd.DataFrame | None = None, paper_y: str = "", log_x: bool = False):
    """Mean ± sd per level (points, error bars, a joining line), optionally with the paper's values;
    `log_x` for widths and data sizes (base 2)."""
    pick = alt.selection_point(fields=[color], bind="legend")
    x_scale = alt.Scale(type="log", base=2) if log_x else alt.Scale()
    base = alt.Chart(agg).encode(x=alt.X(f"{x}:Q", title=x_title, scale=x_scale),
                                 color=alt.Color(f"{color}:N", scale=scale, legend=_legend(_domain(scale))),
                                 opacity=_picked(pick, 1.0, 0.15))
    y = alt.Y("mean:Q", title=y_title, axis=PCT if percent else alt.Axis(),
              scale=alt.Scale(domain=list(y_domain)) if y_domain else alt.Scale(zero=True))
    line = base.mark_line(strokeWidth=2).encode(y=y)
    dots = base.mark_point(filled=True, size=70).encode(y=y, tooltip=_tips(color, x, x_title))
    bars = base.mark_rule(strokeWidth=2).encode(y=alt.Y("lo:Q"), y2=alt.Y2("hi:Q"))
    layers = [line, bars, dots]
    if paper is not None and len(paper):
        layers.append(paper_points(paper, x, paper_y or "mean", "reference", x_scale))
    return alt.layer(*layers).add_params(pick).properties(height=HEIGHT)


def grouped_bars(agg: pd.DataFrame, *, x: str, color: str, scale: alt.Scale, y_title: str,
                 x_title: str = "", x_order: list | None = None) -> alt.LayerChart:
    """Bars of the mean per `x` and `color` group with ± sd whiskers and the value printed at the end.
    With more than four groups the bars lie horizontally, so long labels stay readable on a phone."""
    flat = agg[x].nunique() > 4
    cat, val, off = ("y", "x", "yOffset") if flat else ("x", "y", "xOffset")
    enc = {cat: alt.X if cat == "x" else alt.Y, val: alt.Y if val == "y" else alt.X}
    base = alt.Chart(agg).encode(**{
        cat: enc[cat](f"{x}:N", title=x_title or None, sort=x_order, axis=alt.Axis(labelAngle=0, labelLimit=140)),
        off: (alt.YOffset if flat else alt.XOffset)(f"{color}:N", sort=list(scale.domain))})
    value = enc[val]("mean:Q", title=y_title, axis=alt.Axis(format="%", values=[0, 0.2, 0.4, 0.6, 0.8, 1.0]),
                     scale=alt.Scale(domain=[0, 1.12]))  # room above 100 % for the printed values
    bars = base.mark_bar(cornerRadiusEnd=3).encode(**{val: value},
        color=alt.Color(f"{color}:N", scale=scale, legend=_legend(_domain(scale))),
        tooltip=[alt.Tooltip(f"{color}:N", title="model"), alt.Tooltip(f"{x}:N", title="measured on"),
                 alt.Tooltip("mean:Q", format=".1%"), alt.Tooltip("sd:Q", title="± sd", format=".1%"),
                 alt.Tooltip("n:Q", title="seeds")])
    to = alt.Y2 if val == "y" else alt.X2
    whiskers = base.mark_rule(color=P.GREY).encode(**{val: enc[val]("lo:Q"), f"{val}2": to("hi:Q")})
    labels = base.mark_text(**({"dx": 14} if flat else {"dy": -10}), fontSize=12, fontWeight="bold").encode(
        **{val: enc[val]("hi:Q")}, text=alt.Text("mean:Q", format=".0%"),
        color=alt.Color(f"{color}:N", scale=scale, legend=None))
    height = max(HEIGHT, 34 * agg[x].nunique()) if flat else HEIGHT
    return alt.layer(bars, whiskers, labels).properties(height=height)


def clock(seg: pd.DataFrame) -> alt.LayerChart:
    """The memorization clock: one row per training example, epochs left to right, coloured by whether the
    model was right on the given label, on the true label, or neither (`tidy.clock_segments` output)."""
    kept = ~seg["relabelled"].astype(bool)
    # for a digit that kept its label, given = true: show it as learned (blue), not as memorized (magenta)
    state = seg["state"].where(~(kept & (seg["state"] == "given")), "true")
    df = seg.assign(state_name=state.map(P.STATE_NAME), row_end=seg["row"] + 1,
                    group=seg["relabelled"].map({True: "shuffled", False: "kept"}))
    scale = P.scale(P.STATE_COLOR, df["state_name"].unique())
    cells = alt.Chart(df).mark_rect().encode(
        x=alt.X("start:Q", title="epoch", scale=alt.Scale(nice=False)), x2=alt.X2("end:Q"),
        y=alt.Y("row:Q", title="training examples (one per row)", axis=None, scale=alt.Scale(nice=False, reverse=True)),
        y2=alt.Y2("row_end:Q"),
        color=alt.Color("state_name:N", scale=scale, legend=_legend(_domain(scale))),
        tooltip=[alt.Tooltip("example:Q", title="example #"), alt.Tooltip("group:N", title="label"),
                 alt.Tooltip("true_label:Q", title="true label"), alt.Tooltip("given_label:Q", title="given label"),
                 alt.Tooltip("state_name:N", title="model"), alt.Tooltip("start:Q", title="from epoch"),
                 alt.Tooltip("end:Q", title="until epoch"), alt.Tooltip("learned_at:Q", title="memorized from epoch")])
    layers = [cells]
    shuffled = df["relabelled"].astype(bool)
    if shuffled.any():
        marks = pd.DataFrame({"row": [0.0, float(df.loc[shuffled, "row"].min())],
                              "text": ["↓ labels kept", "↓ labels shuffled"]})
        layers.append(alt.Chart(marks).mark_rule(color="white", strokeWidth=1.5).encode(y=alt.Y("row:Q")))
        layers.append(alt.Chart(marks).mark_text(align="left", dx=4, dy=4, baseline="top", color="white",
                                                 fontWeight="bold").encode(x=alt.XValue(0), y=alt.Y("row:Q"),
                                                                                 text=alt.Text("text:N")))
    return alt.layer(*layers).properties(height=min(600, max(HEIGHT, int(df["row"].max() + 1) * 3)))


def shares(df: pd.DataFrame) -> alt.Chart:
    """Share of examples in each clock state per epoch (`tidy.clock_shares` of one group), stacked."""
    df = df.assign(state_name=df["state"].map(P.STATE_NAME))
    scale = P.scale(P.STATE_COLOR, df["state_name"].unique())
    return alt.Chart(df).mark_area().encode(
        x=alt.X("epoch:Q", title="epoch", scale=alt.Scale(nice=False)),
        y=alt.Y("share:Q", title="share of examples", axis=PCT, stack="normalize"),
        color=alt.Color("state_name:N", scale=scale, legend=_legend(_domain(scale)),
                        sort=list(P.STATE_COLOR)),
        order=alt.Order("state_name:N"),
        tooltip=[alt.Tooltip("state_name:N", title="state"), alt.Tooltip("epoch:Q"),
                 alt.Tooltip("share:Q", format=".0%"), alt.Tooltip("count:Q", title="examples")],
    ).properties(height=220)


def tradeoff(df: pd.DataFrame, paper: pd.DataFrame | None = None) -> alt.LayerChart:
    """Regularizers: random-label training accuracy (x, lower = less memorized) against clean best
    validation accuracy (y), one point per strength, joined in order of strength."""
    pick = alt.selection_point(fields=["regularizer"], bind="legend")
    scale = P.scale(P.REG_COLOR, df["regularizer"])
    base = alt.Chart(df).encode(
        x=alt.X("random_label_train_acc:Q", title="training accuracy on random labels (memorized)", axis=PCT),
        y=alt.Y("clean_best_val_acc:Q", title="best validation accuracy, real labels", axis=PCT,
                scale=alt.Scale(zero=False)),
        color=alt.Color("regularizer:N", scale=scale, legend=_legend(_domain(scale))),
        opacity=_picked(pick, 1.0, 0.12))
    line = base.mark_line(strokeWidth=1.6).encode(order=alt.Order("rank:Q" if "rank" in df else "strength:Q"))
    dots = base.mark_point(filled=True, size=75).encode(
        shape=alt.Shape("regularizer:N", legend=None),
        tooltip=[alt.Tooltip("regularizer:N"), alt.Tooltip("setting:N" if "setting" in df else "strength:Q"),
                 alt.Tooltip("random_label_train_acc:Q", title="random-label train acc", format=".1%"),
                 alt.Tooltip("clean_best_val_acc:Q", title="clean best val acc", format=".1%")])
    layers = [line, dots]
    if paper is not None and len(paper):
        layers.append(paper_points(paper, "random_label_train_acc", "clean_best_val_acc", "paper"))
    return alt.layer(*layers).add_params(pick).properties(height=HEIGHT + 40)


def design_slice(df: pd.DataFrame, unit: str) -> alt.Chart:
    """Page 9: measured configurations of one grid, best validation accuracy against width, coloured by
    noise level; the configuration answering the reader's question (`your_pick`) is drawn large."""
    pick = alt.selection_point(fields=["series"], bind="legend")
    return alt.Chart(df).mark_point(filled=True).encode(
        x=alt.X("width:Q", scale=alt.Scale(type="log", base=2), title=f"width ({unit}, log scale)"),
        y=alt.Y("best_val_acc:Q", title="best validation accuracy", axis=PCT, scale=alt.Scale(zero=False)),
        color=alt.Color("p:Q", scale=alt.Scale(domain=[0, 0.5, 1], range=[P.p_color(0), P.p_color(0.5), P.p_color(1)]),
                        title="noise p", legend=alt.Legend(orient="bottom", direction="horizontal")),
        shape=alt.Shape("series:N", legend=_legend(df["series"].unique())),
        size=alt.SizeValue(70, condition={"test": "datum.your_pick", "value": 360}),
        stroke=alt.StrokeValue(None, condition={"test": "datum.your_pick", "value": P.GREY}),
        strokeWidth=alt.StrokeWidthValue(3),
        opacity=_picked(pick, 1.0, 0.15),
        tooltip=[*map(alt.Tooltip, ["source:N", "width:Q", "n_train:Q", "kind:N", "p:Q", "regularizer:N", "strength:Q"]),
                 alt.Tooltip("best_val_acc:Q", format=".1%"), alt.Tooltip("final_train_acc:Q", format=".1%"),
                 alt.Tooltip("seeds:Q")],
    ).add_params(pick).properties(height=HEIGHT)


def verdict_bar(tally: pd.DataFrame, colors: dict[str, str]) -> alt.Chart:
    """Page 10: one stacked bar of claim counts per verdict (`tally`: verdict, claims, in display order)."""
    tally = tally.assign(order=range(len(tally)))
    return alt.Chart(tally).mark_bar(height=28).encode(
        x=alt.X("claims:Q", stack="zero", title="experimental claims", axis=alt.Axis(tickMinStep=1)),
        color=alt.Color("verdict:N", scale=alt.Scale(domain=list(colors), range=list(colors.values())),
                        legend=_legend(list(colors))),
        order=alt.Order("order:Q"), tooltip=[alt.Tooltip("verdict:N"), alt.Tooltip("claims:Q")]).properties(height=70)


def frontier(df: pd.DataFrame, paper: pd.DataFrame | None = None) -> alt.LayerChart:
    """The paper's Fig. 10: per regularizer, the best clean validation accuracy reachable (y) while the
    random-label training accuracy stays at most x (a step line)."""
    pick = alt.selection_point(fields=["regularizer"], bind="legend")
    base = alt.Chart(df).encode(
        x=alt.X("x:Q", title="random-label training accuracy allowed (at most)", axis=PCT),
        y=alt.Y("best_val_acc:Q", title="best clean validation accuracy", axis=PCT, scale=alt.Scale(zero=False)),
        color=alt.Color("regularizer:N", scale=P.scale(P.REG_COLOR, df["regularizer"]),
                        legend=_legend(df["regularizer"].unique())),
        opacity=_picked(pick, 1.0, 0.12))
    line = base.mark_line(interpolate="step-after", strokeWidth=2).encode(
        tooltip=[alt.Tooltip("regularizer:N"), alt.Tooltip("x:Q", title="allowed", format=".0%"),
                 alt.Tooltip("best_val_acc:Q", format=".1%")])
    layers = [line]
    if paper is not None and len(paper):
        layers.append(paper_points(paper, "x", "best_val_acc", "paper"))
    return alt.layer(*layers).add_params(pick).properties(height=HEIGHT)


def sorted_curves(df: pd.DataFrame, colors: dict[str, str]) -> alt.Chart:
    """E1 (the paper's Fig. 1): P(correct) of every example, sorted, one line per condition."""
    pick = alt.selection_point(fields=["condition"], bind="legend")
    return alt.Chart(df).mark_line(strokeWidth=2.2).encode(
        x=alt.X("share:Q", title="examples, easiest to hardest", axis=PCT, scale=alt.Scale(nice=False)),
        y=alt.Y("p_correct:Q", title="P(correct) after one epoch", axis=PCT, scale=alt.Scale(domain=[0, 1])),
        color=alt.Color("condition:N", scale=P.scale(colors, df["condition"]), legend=_legend(df["condition"].unique())),
        strokeDash=alt.StrokeDashValue([1, 0], condition={"test": "datum.condition == 'binomial reference'",
                                                           "value": [5, 4]}),
        opacity=_picked(pick, 1.0, 0.12),
        tooltip=[alt.Tooltip("condition:N"), alt.Tooltip("share:Q", format=".0%", title="easiest share"),
                 alt.Tooltip("p_correct:Q", format=".2f", title="P(correct)")],
    ).add_params(pick).properties(height=HEIGHT)
