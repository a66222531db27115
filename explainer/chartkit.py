"""What every chart builder shares: the plot height, the legend under the plot, legend-click highlighting,
tooltips, the series style (each series differs by hue AND by marker shape and line dash), labels and
stripes printed on areas (so areas differ by more than hue too), axis spans that cover exactly what is
drawn, and the paper's reference marks."""
from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd

from . import palette as P

HEIGHT = 260  # px of plot; axes and legend come on top
PCT = alt.Axis(format="%")


def legend(labels=(), title=None, symbols: str = "shape", orient: str = "bottom") -> alt.Legend:
    """Below the plot, in as many columns as a 390-px phone can hold for these labels (Vega-Lite
    legends do not wrap by themselves). Channels that share a field and this legend merge into one.
    `symbols`: "shape" draws each entry's marker, filled; "stroke" a short line in its colour and dash.
    A chart's second legend goes on top (`orient`): two legends side by side do not fit on a phone."""
    longest = max((len(str(x)) for x in labels), default=30)
    columns = 1 if longest > 20 else 2 if longest > 11 else 3
    look = ({"symbolType": "stroke", "symbolStrokeWidth": 2.5, "symbolSize": 360} if symbols == "stroke"
            else {"symbolStrokeWidth": 0, "symbolSize": 110})
    return alt.Legend(title=title, orient=orient, direction="horizontal", columns=columns, labelLimit=260,
                      symbolOpacity=1, offset=8, **look)


def picked(pick, on: float, off: float) -> alt.OpacityValue:
    """Opacity `on` for the series picked in the legend (all of them until one is clicked), `off` for the rest.
    The same spec `alt.condition` makes, built without its per-call schema validation (~100x cheaper;
    tests validate every builder's whole chart)."""
    return alt.OpacityValue(off, condition={"param": pick.name, "value": on})


def domain(scale: alt.Scale) -> list:
    return list(scale.domain) if isinstance(scale.domain, (list, tuple)) else []


def tips(color: str, x: str, x_title: str, extra=()) -> list:
    return [alt.Tooltip(f"{color}:N", title="series"), *extra, alt.Tooltip(f"{x}:Q", title=x_title),
            alt.Tooltip("mean:Q", title="mean", format=".3f"), alt.Tooltip("sd:Q", title="± sd", format=".3f"),
            alt.Tooltip("n:Q", title="seeds")]


def _assign(names: list[str], fixed: dict, pool: list) -> list:
    """`fixed`'s value for the names it knows, the pool's unused values in turn for the others."""
    used = [fixed[n] for n in names if n in fixed]
    free = [v for v in pool if v not in used] or pool
    out, i = [], 0
    for n in names:
        if n in fixed:
            out.append(fixed[n])
        else:
            out.append(free[i % len(free)])
            i += 1
    return out


def series_style(names) -> tuple[alt.Scale, alt.Scale]:
    """Marker-shape and line-dash scales over the series `names` (a colour scale's domain, in its order), so
    that no two series differ by hue alone: the training conditions keep their app-wide shape and dash
    (palette.KIND_SHAPE, KIND_DASH), other series take palette.SHAPES and DASHES in turn."""
    names = [str(n) for n in dict.fromkeys(names)]
    return (alt.Scale(domain=names, range=_assign(names, P.KIND_SHAPE, P.SHAPES)),
            alt.Scale(domain=names, range=_assign(names, P.KIND_DASH, P.DASHES)))


def style_names(scale: alt.Scale, values) -> list:
    """The series a colour scale names, in its order, else those present in `values`."""
    return domain(scale) or list(dict.fromkeys(pd.Series(values).dropna()))


def span(*columns, log: bool = False, pad: float = 0.0, zero: bool = False) -> list[float] | None:
    """[lo, hi] over every finite value of `columns` (data and reference marks together), widened on both
    sides by `pad` (a share of the range; on a log scale a share of the log range) so that marks at the
    ends sit inside the frame; `zero` keeps 0 as the lower end. None when there is nothing to span."""
    parts = [pd.to_numeric(pd.Series(np.ravel(np.asarray(c, dtype=object))), errors="coerce") for c in columns
             if c is not None]
    v = pd.concat(parts).dropna() if parts else pd.Series(dtype=float)
    v = v[np.isfinite(v.astype(float))]
    if log:
        v = v[v > 0]
    if v.empty:
        return None
    lo, hi = float(v.min()), float(v.max())
    if zero and not log:
        lo = min(lo, 0.0)
    if log:
        wide = np.log(hi / lo) if hi > lo else np.log(2.0)
        return [lo / float(np.exp(pad * wide)), hi * float(np.exp(pad * wide))]
    wide = (hi - lo) or abs(hi) or 1.0
    return [lo if zero and lo == 0 else lo - pad * wide, hi + pad * wide]


def x_scale(*columns, log: bool = False, base: int = 10, pad: float = 0.0) -> alt.Scale:
    """A quantitative x scale spanning exactly what is drawn (plus `pad`), with no rounding out to empty ranges."""
    d = span(*columns, log=log, pad=pad)
    kind = {"type": "log", "base": base} if log else {"zero": False}
    return alt.Scale(domain=d, nice=False, **kind) if d else alt.Scale(nice=False, **kind)


def ticks(*columns, limit: int = 12):
    """Axis ticks at the measured values (e.g. the widths a sweep ran), when there are few of them."""
    values = sorted({float(v) for c in columns if c is not None for v in pd.Series(c).dropna()})
    return values if 0 < len(values) <= limit else alt.Undefined


def paper_points(ref: pd.DataFrame, x: str, y: str, what: str, x_scale: alt.Scale | None = None,
                 y_scale: alt.Scale | None = None) -> alt.Chart:
    """The paper's reference values as grey diamonds (drawn last, on top of the data; captions explain them).
    The shape is the mark's own, not an encoding, so it never joins a series' shape scale."""
    ref = ref.assign(source="paper (≈, read off its figure)")
    return alt.Chart(ref).mark_point(shape=P.PAPER_SHAPE, filled=True, size=120, color=P.PAPER_COLOR, opacity=0.95,
                                     stroke="white", strokeWidth=0.8).encode(
        x=alt.X(f"{x}:Q", scale=x_scale or alt.Scale()), y=alt.Y(f"{y}:Q", scale=y_scale or alt.Scale()),
        tooltip=[alt.Tooltip("source:N", title=what), alt.Tooltip(f"{x}:Q"), alt.Tooltip(f"{y}:Q", format=".3f")])


def _align(x: float, lo: float, hi: float, edge: float = 0.15) -> str:
    """Text anchored near an end of the x range grows inwards, so it is not cut at the plot's edge."""
    wide = (hi - lo) or 1.0
    return "left" if x < lo + edge * wide else "right" if x > hi - edge * wide else "center"


def direct_labels(df: pd.DataFrame, x: str, y: str, text: str, span: tuple[float, float] | None = None,
                  size: int = 12) -> list[alt.Chart]:
    """Names printed on the areas they name, black on a white halo so they read on any fill, in either theme
    and in greyscale; those within 15 % of an end of `span` (the x range) grow inwards. Marked `aria=False`:
    the chart's text alternative (explainer/alttext) names them already."""
    lo, hi = span or (float(df[x].min()) if len(df) else 0.0, float(df[x].max()) if len(df) else 1.0)
    df = df.assign(_align=[_align(float(v), lo, hi) for v in df[x]])
    out = []
    for align, part in df.groupby("_align", sort=False):
        base = alt.Chart(part.drop(columns="_align")).encode(x=alt.X(f"{x}:Q"), y=alt.Y(f"{y}:Q"),
                                                             text=alt.Text(f"{text}:N"))
        look = dict(fontSize=size, fontWeight="bold", align=align, aria=False)
        out += [base.mark_text(stroke="white", strokeWidth=4, strokeJoin="round", fill="white", **look),
                base.mark_text(color="black", **look)]
    return out


def stripes(runs: pd.DataFrame, x: str, y: str, y2: str) -> alt.Chart:
    """White vertical hairlines over one category's area (`runs`: one row per line), a texture that tells it
    apart where hues of equal lightness turn into the same grey."""
    return alt.Chart(runs).mark_rule(color="white", strokeWidth=1.3, opacity=0.85, aria=False).encode(
        x=alt.X(f"{x}:Q"), y=alt.Y(f"{y}:Q"), y2=alt.Y2(f"{y2}:Q"))
