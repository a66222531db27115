"""Chart builders of bars and grids: grouped bars with whiskers, the memorization clock and its stacked
shares, the class-by-class sensitivity map (the paper's Fig. 4) and the scoreboard's verdict bar."""
from __future__ import annotations

import altair as alt
import pandas as pd

from . import palette as P
from .chartkit import HEIGHT, PCT, domain, legend, series_style


def grouped_bars(agg: pd.DataFrame, *, x: str, color: str, scale: alt.Scale, y_title: str,
                 x_title: str = "", x_order: list | None = None) -> alt.LayerChart:
    """Bars of the mean per `x` and `color` group with ± sd whiskers and the value printed at the end; a
    marker of the group's own shape sits at each bar's end, so groups differ by more than hue.
    With more than four groups the bars lie horizontally, so long labels stay readable on a phone."""
    flat = agg[x].nunique() > 4
    cat, val, off = ("y", "x", "yOffset") if flat else ("x", "y", "xOffset")
    enc = {cat: alt.X if cat == "x" else alt.Y, val: alt.Y if val == "y" else alt.X}
    names = domain(scale)
    shapes, _ = series_style(names)
    key = legend(names)
    base = alt.Chart(agg).encode(**{
        cat: enc[cat](f"{x}:N", title=x_title or None, sort=x_order, axis=alt.Axis(labelAngle=0, labelLimit=140)),
        off: (alt.YOffset if flat else alt.XOffset)(f"{color}:N", sort=names)})
    value = enc[val]("mean:Q", title=y_title, axis=alt.Axis(format="%", values=[0, 0.2, 0.4, 0.6, 0.8, 1.0]),
                     scale=alt.Scale(domain=[0, 1.12]))  # room above 100 % for the printed values
    hue = alt.Color(f"{color}:N", scale=scale, legend=key)
    bars = base.mark_bar(cornerRadiusEnd=3).encode(**{val: value}, color=hue,
        tooltip=[alt.Tooltip(f"{color}:N", title="model"), alt.Tooltip(f"{x}:N", title="measured on"),
                 alt.Tooltip("mean:Q", format=".1%"), alt.Tooltip("sd:Q", title="± sd", format=".1%"),
                 alt.Tooltip("n:Q", title="seeds")])
    to = alt.Y2 if val == "y" else alt.X2
    whiskers = base.mark_rule(color=P.GREY).encode(**{val: enc[val]("lo:Q"), f"{val}2": to("hi:Q")})
    ends = base.mark_point(filled=True, size=60, stroke="white", strokeWidth=1, opacity=1).encode(
        **{val: enc[val]("mean:Q")}, color=hue, shape=alt.Shape(f"{color}:N", scale=shapes, legend=key))
    labels = base.mark_text(**({"dx": 9, "align": "left"} if flat else {"dy": -15}), fontSize=12, fontWeight="bold").encode(
        **{val: enc[val]("hi:Q")}, text=alt.Text("mean:Q", format=".0%"),
        color=alt.Color(f"{color}:N", scale=scale, legend=None))
    height = max(HEIGHT, 34 * agg[x].nunique()) if flat else HEIGHT
    return alt.layer(bars, whiskers, ends, labels).properties(height=height)


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
        x=alt.X("start:Q", title="epoch", scale=alt.Scale(nice=False, zero=False)), x2=alt.X2("end:Q"),
        y=alt.Y("row:Q", title="training examples (one per row)", axis=None, scale=alt.Scale(nice=False, reverse=True)),
        y2=alt.Y2("row_end:Q"),
        color=alt.Color("state_name:N", scale=scale, legend=legend(domain(scale))),
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
        x=alt.X("epoch:Q", title="epoch", scale=alt.Scale(nice=False, zero=False)),
        y=alt.Y("share:Q", title="share of examples", axis=PCT, stack="normalize"),
        color=alt.Color("state_name:N", scale=scale, legend=legend(domain(scale)),
                        sort=list(P.STATE_COLOR)),
        order=alt.Order("state_name:N"),
        tooltip=[alt.Tooltip("state_name:N", title="state"), alt.Tooltip("epoch:Q"),
                 alt.Tooltip("share:Q", format=".0%"), alt.Tooltip("count:Q", title="examples")],
    ).properties(height=220)


def class_heatmap(cells: pd.DataFrame, title: str, top: float) -> alt.Chart:
    """The paper's Fig. 4 for one condition: one square per (loss class, input class), shaded by the share
    of the row's sensitivity. (One single-view chart per condition, side by side in columns: a faceted
    chart does not draw at the stretched width the story's charts use.)"""
    return alt.Chart(cells, title=title).mark_rect().encode(
        x=alt.X("input_class:O", title="class of the input x"),
        y=alt.Y("loss_class:O", title="class whose loss is measured"),
        color=alt.Color("row_share:Q", title="share of the row", scale=alt.Scale(scheme="blues", domain=[0, top]),
                        legend=alt.Legend(format="%", orient="bottom")),
        tooltip=[alt.Tooltip("condition:N"), alt.Tooltip("loss_class:O", title="loss class"),
                 alt.Tooltip("input_class:O", title="input class"),
                 alt.Tooltip("row_share:Q", title="share of the row", format=".1%")],
    ).properties(height=260)


def verdict_bar(tally: pd.DataFrame, colors: dict[str, str], title: str = "experimental claims") -> alt.LayerChart:
    """Page 10: one stacked bar of claim counts per verdict (`tally`: verdict, claims, in display order),
    each segment labelled with its count."""
    tally = tally.assign(order=range(len(tally)))
    tally = tally.assign(end=tally["claims"].cumsum(), mid=tally["claims"].cumsum() - tally["claims"] / 2)
    base = alt.Chart(tally)
    bar = base.mark_bar(height=28).encode(
        x=alt.X("claims:Q", stack="zero", title=title, axis=alt.Axis(tickMinStep=1),
                scale=alt.Scale(domain=[0, max(1, int(tally["claims"].sum()))], nice=False)),
        color=alt.Color("verdict:N", scale=alt.Scale(domain=list(colors), range=list(colors.values())),
                        legend=legend(list(colors))),
        order=alt.Order("order:Q"), tooltip=[alt.Tooltip("verdict:N"), alt.Tooltip("claims:Q")])
    counts = base.transform_filter("datum.claims > 0").mark_text(color="white", fontWeight="bold", fontSize=13).encode(
        x=alt.X("mid:Q"), text=alt.Text("claims:Q"))
    return alt.layer(bar, counts).properties(height=70)
