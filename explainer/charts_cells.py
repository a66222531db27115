"""Chart builders of bars and grids: grouped bars with whiskers, the memorization clock and its stacked
shares, the class-by-class sensitivity map (the paper's Fig. 4) and the scoreboard's verdict bar. Colour is
never their only channel: the clock and its shares print each state's name on its area and stripe the
memorized one, the class map prints every cell's value, the verdict bar its counts."""
from __future__ import annotations

import altair as alt
import pandas as pd

from . import palette as P
from .chartkit import HEIGHT, PCT, direct_labels, domain, legend, series_style, stripes


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


def state_legend(scale: alt.Scale) -> alt.Legend:
    """The clock states' legend; the striped state says so (a legend swatch cannot show the stripes)."""
    key = legend(domain(scale))
    key.labelExpr = f"datum.label == {P.STRIPED!r} ? [datum.label, '(striped)'] : datum.label"  # two lines
    return key


def clock_cells(df: pd.DataFrame) -> pd.DataFrame:
    """The clock's segments (row, start, end, state_name) expanded to one row per (row, epoch) cell."""
    n = (df["end"] - df["start"]).astype(int).clip(lower=0)
    cells = df.loc[df.index.repeat(n), ["row", "start", "state_name"]]
    cells["epoch"] = cells["start"] + cells.groupby(level=0).cumcount()
    return cells.drop(columns="start").reset_index(drop=True)


def runs(cells: pd.DataFrame, state: str) -> pd.DataFrame:
    """Per epoch, the runs of consecutive rows in `state` (epoch, row, row_end): one stripe each."""
    c = cells[cells["state_name"] == state].sort_values(["epoch", "row"])
    if c.empty:
        return pd.DataFrame({"x": [], "row": [], "row_end": []})
    new = (c["epoch"].diff() != 0) | (c["row"].diff() != 1)
    out = c.groupby(new.cumsum()).agg(epoch=("epoch", "first"), row=("row", "min"), row_end=("row", "max"))
    return out.assign(x=out["epoch"] + 0.5, row_end=out["row_end"] + 1)[["x", "row", "row_end"]]


def label_spots(cells: pd.DataFrame, bins: tuple[int, int] = (5, 8), least: float = 0.6) -> pd.DataFrame:
    """Where to print each state's name on the clock: the centre of that state's cells in the block of the
    picture (epochs x rows, cut into `bins`) it fills most completely. A state that fills less than `least`
    of every block is scattered (on our runs: "neither", the light grey) and left to the legend: its name
    would sit over other states."""
    e = pd.cut(cells["epoch"], min(bins[0], cells["epoch"].nunique()), labels=False)
    r = pd.cut(cells["row"], min(bins[1], cells["row"].nunique()), labels=False)
    block = cells.assign(block=e.astype(str) + "-" + r.astype(str))
    share = block.groupby("block")["state_name"].value_counts(normalize=True).rename("share").reset_index()
    out = []
    for state, g in share.groupby("state_name"):
        best = g.sort_values("share", ascending=False).iloc[0]
        if best["share"] < least:
            continue
        mine = block[(block["block"] == best["block"]) & (block["state_name"] == state)]
        out.append({"state_name": state, "x": mine["epoch"].mean() + 0.5, "y": mine["row"].mean() + 0.5})
    out = pd.DataFrame(out, columns=["state_name", "x", "y"])
    return out.assign(text=out["state_name"].map(P.STATE_SHORT).fillna(out["state_name"]))


def clock(seg: pd.DataFrame) -> alt.LayerChart:
    """The memorization clock: one row per training example, epochs left to right, coloured by whether the
    model was right on the given label, on the true label, or neither (`tidy.clock_segments` output); each
    state's name is printed on it and the memorized state is striped."""
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
        color=alt.Color("state_name:N", title="the model's answer", scale=scale, legend=state_legend(scale)),
        tooltip=[alt.Tooltip("example:Q", title="example #"), alt.Tooltip("group:N", title="label"),
                 alt.Tooltip("true_label:Q", title="true label"), alt.Tooltip("given_label:Q", title="given label"),
                 alt.Tooltip("state_name:N", title="model"), alt.Tooltip("start:Q", title="from epoch"),
                 alt.Tooltip("end:Q", title="until epoch"), alt.Tooltip("learned_at:Q", title="memorized from epoch")])
    every = clock_cells(df)
    layers = [cells, stripes(runs(every, P.STRIPED), "x", "row", "row_end")]
    shuffled = df["relabelled"].astype(bool)
    if shuffled.any():
        marks = pd.DataFrame({"row": [0.0, float(df.loc[shuffled, "row"].min())],
                              "text": ["↓ labels kept", "↓ labels shuffled"]})
        layers.append(alt.Chart(marks).mark_rule(color="white", strokeWidth=1.5).encode(y=alt.Y("row:Q")))
        layers.append(alt.Chart(marks).mark_text(align="left", dx=4, dy=4, baseline="top", color="white",
                                                 fontWeight="bold").encode(x=alt.XValue(0), y=alt.Y("row:Q"),
                                                                                 text=alt.Text("text:N")))
    layers += direct_labels(label_spots(every), "x", "y", "text", span=(float(df["start"].min()), float(df["end"].max())))
    return alt.layer(*layers).properties(height=min(600, max(HEIGHT, int(df["row"].max() + 1) * 3)))


def stacked_shares(df: pd.DataFrame) -> pd.DataFrame:
    """`tidy.clock_shares` rows of one group with every state at every epoch (0 where absent), normalised per
    epoch and stacked in palette order from the bottom: `bottom` and `top` bound each state's band."""
    df = df.assign(state_name=df["state"].map(P.STATE_NAME))
    grid = df.pivot_table(index="epoch", columns="state_name", values="count", aggfunc="sum", fill_value=0)
    order = [s for s in P.STATE_COLOR if s in grid.columns] + [s for s in grid.columns if s not in P.STATE_COLOR]
    grid = grid[order]
    share = grid.div(grid.sum(axis=1).replace(0, 1), axis=0)
    top = share.cumsum(axis=1)
    long = lambda t, name: t.stack().rename(name)  # noqa: E731
    out = pd.concat([long(grid, "count"), long(share, "share"), long(top, "top"), long(top - share, "bottom")], axis=1)
    return out.reset_index().assign(rank=lambda d: d["state_name"].map(order.index))


def share_labels(stack: pd.DataFrame, least: float = 0.12) -> pd.DataFrame:
    """Each state's name at the epoch where its band is widest (away from the plot's edges where possible),
    halfway up the band; states never wider than `least` are left to the legend."""
    epochs = sorted(stack["epoch"].unique())
    inner = epochs[len(epochs) // 10: len(epochs) - len(epochs) // 10] or epochs
    out = []
    for state, g in stack.groupby("state_name"):
        g = g[g["epoch"].isin(inner)]
        if g.empty or g["share"].max() < least:
            continue
        row = g.loc[g["share"].idxmax()]
        out.append({"x": row["epoch"], "y": (row["top"] + row["bottom"]) / 2,
                    "text": P.STATE_SHORT.get(state, state)})
    return pd.DataFrame(out, columns=["x", "y", "text"])


def shares(df: pd.DataFrame) -> alt.LayerChart:
    """Share of examples in each clock state per epoch (`tidy.clock_shares` of one group), stacked; each
    state's name printed on its band, the memorized band striped as on the clock."""
    stack = stacked_shares(df)
    scale = P.scale(P.STATE_COLOR, stack["state_name"].unique())
    x = alt.X("epoch:Q", title="epoch", scale=alt.Scale(nice=False, zero=False))
    y = alt.Scale(domain=[0, 1], nice=False)
    bands = alt.Chart(stack).mark_area(stroke="white", strokeWidth=0.8).encode(
        x=x, y=alt.Y("top:Q", title="share of examples", axis=PCT, scale=y), y2=alt.Y2("bottom:Q"),
        color=alt.Color("state_name:N", title="the model's answer", scale=scale, legend=state_legend(scale),
                        sort=list(P.STATE_COLOR)),
        order=alt.Order("rank:Q"),
        tooltip=[alt.Tooltip("state_name:N", title="state"), alt.Tooltip("epoch:Q"),
                 alt.Tooltip("share:Q", format=".0%"), alt.Tooltip("count:Q", title="examples")])
    lines = stack[(stack["state_name"] == P.STRIPED) & (stack["share"] > 0)].rename(columns={"epoch": "x"})
    return alt.layer(bands, stripes(lines, "x", "bottom", "top"),
                     *direct_labels(share_labels(stack), "x", "y", "text",
                                    span=(float(stack["epoch"].min()), float(stack["epoch"].max())))).properties(height=220)


def class_heatmap(cells: pd.DataFrame, title: str, top: float) -> alt.LayerChart:
    """The paper's Fig. 4 for one condition: one square per (loss class, input class), shaded by the share
    of the row's sensitivity, with the share printed in it (white on dark squares), so the map reads without
    its colours. (One single-view chart per condition, side by side in columns: a faceted chart does not draw
    at the stretched width the story's charts use.)"""
    base = alt.Chart(cells).encode(
        x=alt.X("input_class:O", title="class of the input x", axis=alt.Axis(labelAngle=0)),
        y=alt.Y("loss_class:O", title="class whose loss is measured"))
    squares = base.mark_rect().encode(
        color=alt.Color("row_share:Q", title="share of the row", scale=alt.Scale(scheme="blues", domain=[0, top]),
                        legend=alt.Legend(format="%", orient="bottom")),
        tooltip=[alt.Tooltip("condition:N"), alt.Tooltip("loss_class:O", title="loss class"),
                 alt.Tooltip("input_class:O", title="input class"),
                 alt.Tooltip("row_share:Q", title="share of the row", format=".1%")])
    values = base.mark_text(fontSize=9, aria=False).encode(
        text=alt.Text("row_share:Q", format=".0%"),
        color=alt.ColorValue("black", condition={"test": f"datum.row_share > {0.55 * top!r}", "value": "white"}))
    return alt.layer(squares, values).properties(title=title, height=260)


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
