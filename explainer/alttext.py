"""Words for the charts, for readers who cannot see them: a short text alternative and a small table, both
read off the finished Vega-Lite spec and the data inlined in it, so they say what is drawn (axes, series,
their key numbers) and cannot drift from the picture. Formatting only: numbers are described, never judged.

A spec is walked into its layers (inheriting data and encoding as Vega-Lite does); the first layer of the
richest mark (a line before an area, bar, rect or point) is the chart's "main" layer and the others on the
same data (bands, whiskers, dots, printed values) are left to it; layers on data of their own are
annotations (a marked epoch, the paper's reference points). Layers whose mark says `aria: false` repeat
what is drawn already (direct labels) and are skipped.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

import pandas as pd

MAX_CHARS = 560    # about four spoken sentences
MAX_SERIES = 6     # series named in full; the rest are counted
MAX_ROWS = 12      # rows of the table behind a chart (x values sampled evenly)
MARKS = ["line", "trail", "area", "bar", "rect", "point", "circle", "square", "tick"]  # main-layer preference
DISCRETE = {"nominal", "ordinal"}
SERIES_CHANNELS = ("row", "column", "facet", "color", "strokeDash", "shape", "detail", "xOffset", "yOffset")


@dataclass
class Layer:
    mark: str
    props: dict
    enc: dict
    data: object          # the data reference: a dataset name or an id of inline values
    rows: pd.DataFrame
    facets: list = field(default_factory=list)

    def field(self, channel: str) -> str | None:
        e = self.enc.get(channel)
        return e.get("field") if isinstance(e, dict) else None

    def kind(self, channel: str) -> str | None:
        e = self.enc.get(channel)
        return e.get("type") if isinstance(e, dict) else None


# ---------------------------------------------------------------------------------------------
# Reading the spec


def _frame(ref: dict | None, datasets: dict, memo: dict) -> tuple[object, pd.DataFrame]:
    if not ref:
        return None, pd.DataFrame()
    if "name" in ref:
        key = ref["name"]
        values = datasets.get(key, [])
    else:
        values = ref.get("values", [])
        key = id(values)
    if key not in memo:
        memo[key] = pd.DataFrame(values)
    return key, memo[key]


def layers(spec: dict) -> list[Layer]:
    """Every drawn layer of `spec` with its data and (inherited) encoding, in drawing order."""
    datasets, memo, out = spec.get("datasets", {}), {}, []

    def walk(node: dict, data, enc: dict, facets: list) -> None:
        data = node.get("data", data)
        enc = {**enc, **(node.get("encoding") or {})}
        if "facet" in node or "spec" in node:
            f = node.get("facet", {})
            named = [f] if "field" in f else [v for v in f.values() if isinstance(v, dict)]
            walk(node.get("spec", {}), data, enc, facets + named)
        for key in ("layer", "hconcat", "vconcat", "concat"):
            for child in node.get(key, []):
                walk(child, data, enc, facets)
        if "mark" in node:
            mark = node["mark"] if isinstance(node["mark"], dict) else {"type": node["mark"]}
            ref, rows = _frame(data, datasets, memo)
            out.append(Layer(mark["type"], mark, enc, ref, rows, facets))

    walk(spec, None, {}, [])
    return out


def main_layer(found: list[Layer]) -> Layer | None:
    """The layer a description reads: of the richest mark, with data; never a range band (an area from y to
    y2 drawn around a line), even when the line has no points yet."""
    lines = any(l.mark == "line" for l in found)
    shown = [l for l in found if l.props.get("aria", True) is not False and len(l.rows)
             and not (lines and l.mark == "area" and l.field("y2"))]
    for mark in MARKS:
        for layer in shown:
            if layer.mark == mark and (layer.field("x") or layer.field("y")):
                return layer
    return None


def title(enc: dict | None, fallback: str = "") -> str:
    if not isinstance(enc, dict):
        return fallback
    t = enc.get("title")
    if isinstance(t, list):
        t = " ".join(t)
    return str(t) if t else str(enc.get("field", fallback)).replace("_", " ")


def series_fields(layer: Layer) -> list[str]:
    """The discrete fields that split the main layer into series (colour, dash, shape, detail, facets)."""
    position = {layer.field("x"), layer.field("y")}
    out = []
    for e in [*layer.facets, *(layer.enc.get(c) for c in SERIES_CHANNELS)]:
        for one in (e if isinstance(e, list) else [e]):
            if isinstance(one, dict) and one.get("field") and one.get("type") in DISCRETE | {None}:
                if one["field"] not in position and one["field"] not in out:
                    out.append(one["field"])
    return out


# ---------------------------------------------------------------------------------------------
# Numbers as words


def _format_of(layer: Layer, channel: str) -> str:
    e = layer.enc.get(channel) or {}
    axis = e.get("axis") or {}
    if isinstance(axis, dict) and axis.get("format"):
        return str(axis["format"])
    if isinstance(e.get("legend"), dict) and e["legend"].get("format"):
        return str(e["legend"]["format"])
    for tip in layer.enc.get("tooltip") or []:
        if isinstance(tip, dict) and tip.get("field") == e.get("field") and tip.get("format"):
            return str(tip["format"])
    return ""


def number(v, fmt: str = "") -> str:
    """A value as a reader would say it: percent where the axis shows percent, integers as integers,
    otherwise three significant digits."""
    try:
        v = float(v)
    except (TypeError, ValueError):
        return str(v)
    if math.isnan(v):
        return "n/a"
    if "%" in fmt:
        p = 100 * v
        return f"{p:.0f}%" if abs(p) >= 10 or p == round(p) else f"{p:.1f}%"
    if v == round(v) and abs(v) < 1e15:
        return f"{int(round(v)):,}" if "," in fmt or abs(v) >= 10_000 else str(int(round(v)))
    if abs(v) >= 100:
        return f"{v:,.0f}"
    return f"{v:.3g}"


def short(name: str) -> str:
    """An axis title cut to what fits in a phrase: 'noise level p (share corrupted)' -> 'noise level p'."""
    return re.sub(r"\s*\(.*?\)\s*", " ", name).strip(" ,") or name


def where(name: str, value: str) -> str:
    """'epoch 3' for a one-word axis title, else just the value (the headline has named the axis)."""
    s = short(name)
    return f"{s} {value}" if len(s.split()) == 1 else value


def at(name: str, value: str) -> str:
    return f"at {where(name, value)}"


def label(value) -> str:
    """A category or annotation as plain words (arrows and other symbols dropped)."""
    text = str(value)
    text = re.sub(r"[^\w\s%.,:;=+\-–/()'’&<>]", "", text).strip()
    return text or str(value)


def _series_name(key) -> str:
    key = key if isinstance(key, tuple) else (key,)
    return " · ".join(label(k) for k in key)


def _groups(rows: pd.DataFrame, by: list[str]):
    if not by:
        yield "", rows
        return
    order = rows[by].drop_duplicates()
    for key in order.itertuples(index=False, name=None):
        mask = (rows[by] == pd.Series(key, index=by)).all(axis=1)
        yield _series_name(key), rows[mask]


def _join(parts: list[str], total: int, noun: str = "series") -> str:
    """Parts joined with '; ', ending in 'and N more <noun>' when some were left out."""
    more = total - len(parts)
    return "; ".join(parts) + (f"; and {more} more {noun}" if more > 0 else "")


# ---------------------------------------------------------------------------------------------
# Chart kinds


def _value(layer: Layer) -> pd.Series:
    """The main layer's y as drawn: a stacked share is normalised per x, an area between y and y2 is its height."""
    y, y2 = layer.field("y"), layer.field("y2")
    rows = layer.rows
    v = pd.to_numeric(rows[y], errors="coerce")
    if y2 and layer.mark == "area":
        v = v - pd.to_numeric(rows[y2], errors="coerce")
    if (layer.enc.get("y") or {}).get("stack") == "normalize":
        v = v / v.groupby(rows[layer.field("x")]).transform("sum")
    return v


def _curve(name: str, g: pd.DataFrame, order: str, fx, fy, x_name: str) -> str:
    """One series in words: where it starts and ends and, if elsewhere, its highest (else lowest) value."""
    g = g.sort_values(order)
    xs, ys = g["_x"].tolist(), g["_y"].tolist()
    first, last = fy(ys[0]), fy(ys[-1])
    head = f"{name}: " if name else ""
    if len(ys) == 1:
        return f"{head}{first} {at(x_name, fx(xs[0]))}"
    verb = "stays at" if first == last else "rises from" if ys[-1] > ys[0] else "falls from"
    text = (f"{head}{verb} {first} from {where(x_name, fx(xs[0]))} to {where(x_name, fx(xs[-1]))}" if first == last
            else f"{head}{verb} {first} {at(x_name, fx(xs[0]))} to {last} {at(x_name, fx(xs[-1]))}")
    hi, lo = max(range(len(ys)), key=ys.__getitem__), min(range(len(ys)), key=ys.__getitem__)
    if fy(ys[hi]) not in (first, last):
        text += f" (highest {fy(ys[hi])} {at(x_name, fx(xs[hi]))})"
    elif fy(ys[lo]) not in (first, last):
        text += f" (lowest {fy(ys[lo])} {at(x_name, fx(xs[lo]))})"
    return text


def _curves(layer: Layer) -> tuple[str, list[str], int]:
    """Lines, areas and points over a quantitative x: one phrase per series, in drawing order."""
    x, by = layer.field("x"), series_fields(layer)
    rows = layer.rows.assign(_x=pd.to_numeric(layer.rows[x], errors="coerce"), _y=_value(layer)).dropna(subset=["_x", "_y"])
    x_name, y_name = title(layer.enc.get("x"), x), title(layer.enc.get("y"), layer.field("y"))
    fx, fy = (lambda v: number(v, _format_of(layer, "x"))), (lambda v: number(v, _format_of(layer, "y")))
    order = layer.field("order") or "_x"
    groups = list(_groups(rows, by))
    parts = [_curve(name, g, order if order in g else "_x", fx, fy, x_name) for name, g in groups if len(g)]
    stacked = layer.mark == "area" and ((layer.enc.get("y") or {}).get("stack") or layer.field("y2"))
    kind = {"line": "Line chart", "trail": "Line chart", "area": "Stacked area chart" if stacked else "Area chart"
            }.get(layer.mark, "Scatter chart")
    head = f"{kind} of {y_name} against {x_name}"
    if len(groups) > 1:
        named = ", ".join(t for t in _series_titles(layer, by) if t != "series")
        head += f", {len(groups)} series" + (f" by {named}" if named else "")
    return head, parts, len(groups)


def _series_titles(layer: Layer, by: list[str]) -> list[str]:
    titles = {}
    for e in [*layer.facets, *(layer.enc.get(c) for c in SERIES_CHANNELS)]:
        for one in (e if isinstance(e, list) else [e]):
            if isinstance(one, dict) and one.get("field") in by and one["field"] not in titles:
                titles[one["field"]] = title(one, one["field"])
    return [titles.get(f, f) for f in by]


def _bars(layer: Layer, cat: str, val: str) -> tuple[str, list[str], int]:
    """Bars over categories (`cat`): per group of bars, each category's value."""
    by = [f for f in series_fields(layer) if f != layer.field(cat)]
    c, v = layer.field(cat), layer.field(val)
    fv = lambda x: number(x, _format_of(layer, val))  # noqa: E731
    rows = layer.rows.assign(_v=pd.to_numeric(layer.rows[v], errors="coerce"))
    cats = list(dict.fromkeys(rows[c]))
    parts = []
    for name, g in _groups(rows, by):
        said = ", ".join(f"{label(k)} {fv(x)}" for k, x in zip(g[c], g["_v"]))
        parts.append(f"{name}: {said}" if name else said)
    head = f"Bar chart of {title(layer.enc.get(val), v)} in {len(cats)} groups ({short(title(layer.enc.get(cat), c))})"
    return head + (f", bars per {', '.join(_series_titles(layer, by))}" if by else ""), parts, len(parts)


def _stacked_total(layer: Layer, val: str) -> tuple[str, list[str], int]:
    """One stacked bar without a category axis (the scoreboard's): each segment's value and the total."""
    by, v = series_fields(layer), layer.field(val)
    rows = layer.rows.assign(_v=pd.to_numeric(layer.rows[v], errors="coerce"))
    fv = lambda x: number(x, _format_of(layer, val))  # noqa: E731
    parts = [f"{name} {fv(g['_v'].sum())}" for name, g in _groups(rows, by)]
    head = f"Stacked bar of {title(layer.enc.get(val), v)}, total {fv(rows['_v'].sum())}"
    return head, [", ".join(parts)] if parts else [], 1


def _heatmap(layer: Layer) -> tuple[str, list[str], int]:
    """A grid of squares shaded by a number: its size, extremes and, for a square grid, diagonal vs the rest."""
    x, y, c = layer.field("x"), layer.field("y"), layer.field("color")
    rows = layer.rows.assign(_v=pd.to_numeric(layer.rows[c], errors="coerce")).dropna(subset=["_v"])
    fv = lambda v: number(v, _format_of(layer, "color"))  # noqa: E731
    xs, ys = rows[x].nunique(), rows[y].nunique()
    c_name = title(layer.enc.get("color"), c)
    head = (f"Heat map of {c_name} by {title(layer.enc.get('y'), y)} (rows) and {title(layer.enc.get('x'), x)} "
            f"(columns), {ys} × {xs} cells")
    if rows.empty:
        return head, [], 0
    hi, lo = rows.loc[rows["_v"].idxmax()], rows.loc[rows["_v"].idxmin()]
    parts = [f"highest {fv(hi['_v'])} at row {label(hi[y])}, column {label(hi[x])}",
             f"lowest {fv(lo['_v'])} at row {label(lo[y])}, column {label(lo[x])}"]
    if set(rows[x].astype(str)) == set(rows[y].astype(str)):
        diagonal = rows[x].astype(str) == rows[y].astype(str)
        parts.append(f"cells on the diagonal average {fv(rows.loc[diagonal, '_v'].mean())}, the others "
                     f"{fv(rows.loc[~diagonal, '_v'].mean())}")
    return head, parts, len(parts)


def _spans_at(layer: Layer, t: float) -> pd.Series:
    """Share of the rows (weighted by height) that each colour covers at x = t, in an interval chart."""
    rows = layer.rows
    x0, x1 = pd.to_numeric(rows[layer.field("x")]), pd.to_numeric(rows[layer.field("x2")])
    y0 = pd.to_numeric(rows[layer.field("y")]) if layer.field("y") else pd.Series(0.0, index=rows.index)
    y1 = pd.to_numeric(rows[layer.field("y2")]) if layer.field("y2") else y0 + 1
    here = (x0 <= t) & (t < x1)
    weight = (y1 - y0).abs()[here]
    return weight.groupby(rows.loc[here, layer.field("color")]).sum() / (weight.sum() or 1)


def _moments(layer: Layer) -> list[float]:
    """The x values at which an interval chart changes or ends: every start and every last step (end - 1)."""
    starts, ends = pd.to_numeric(layer.rows[layer.field("x")]), pd.to_numeric(layer.rows[layer.field("x2")])
    return sorted(t for t in set(starts) | set(ends - 1) if starts.min() <= t < ends.max())


def _intervals(layer: Layer) -> tuple[str, list[str], int]:
    """Stretches from x to x2 per row (the memorization clock): each colour's share of the rows at the first
    and the last step."""
    x = layer.field("x")
    times = _moments(layer)
    x_name, y_name = title(layer.enc.get("x"), x), title(layer.enc.get("y"), "rows")
    n = layer.rows[layer.field("y")].nunique() if layer.field("y") else len(layer.rows)
    parts = []
    for t in (times[0], times[-1]):
        shares = _spans_at(layer, t).sort_values(ascending=False, kind="stable")
        parts.append(f"{at(x_name, number(t))}: " + ", ".join(f"{label(k)} {number(v, '%')}" for k, v in shares.items()))
    head = (f"Timeline of {n:,} {short(y_name)} from {where(x_name, number(times[0]))} to {number(times[-1])}, "
            f"coloured by {title(layer.enc.get('color'), layer.field('color'))}")
    return head, parts, len(parts)


def _annotations(found: list[Layer], main: Layer) -> list[str]:
    """Layers on data of their own: marked positions with their labels, reference points."""
    out, seen = [], {main.data}
    by_data: dict = {}
    for layer in found:
        if layer.data in seen or layer.props.get("aria", True) is False or not len(layer.rows):
            continue
        by_data.setdefault(layer.data, []).append(layer)
    for group in by_data.values():
        text = next((l for l in group if l.mark == "text" and l.field("text")), None)
        if text is not None:
            x = text.field("x") if text.kind("x") == "quantitative" else None  # a marked x; y marks a row or band
            said = []
            for _, r in text.rows.head(4).iterrows():
                pos = f" {at(title(text.enc.get('x'), x), number(r[x]))}" if x else ""
                said.append(f"“{label(r[text.field('text')])}”{pos}")
            out.append("Marked on the chart: " + ", ".join(said))
            continue
        if any(series_fields(l) for l in group):
            continue  # more of the main picture (e.g. markers on a subset of its series)
        points = next((l for l in group if l.mark in ("point", "circle", "square") and l.field("y")), None)
        if points is not None:
            ys = pd.to_numeric(points.rows[points.field("y")], errors="coerce").dropna()
            names = [str(v) for col in points.rows.select_dtypes(exclude="number").columns
                     for v in points.rows[col].unique()[:1] if col == "source"]
            fy = lambda v: number(v, _format_of(main, "y"))  # noqa: E731  (they share the main layer's y axis)
            what = f" ({names[0]})" if names else ""
            out.append(f"Also drawn: {len(ys)} reference points{what}, from {fy(ys.min())} to {fy(ys.max())}")
            continue
        rule = next((l for l in group if l.mark == "rule" and l.field("x")), None)
        if rule is not None:
            xs = ", ".join(number(v) for v in rule.rows[rule.field("x")].head(4))
            out.append(f"Vertical lines at {short(title(rule.enc.get('x'), rule.field('x')))} {xs}")
    return out


def kind(main: Layer) -> str:
    """Which reader a main layer needs: intervals (the clock), heatmap, bars (a category on x or on y), total
    (one stacked bar), curves, or '' (nothing this module reads). `reading` and `table` both go by it."""
    xk, yk = main.kind("x"), main.kind("y")
    if main.mark in ("rect", "bar") and main.field("x2") and xk == "quantitative":
        return "intervals"
    if main.mark == "rect" and xk in DISCRETE and yk in DISCRETE and main.kind("color") == "quantitative":
        return "heatmap"
    if main.mark == "bar" and xk in DISCRETE and yk == "quantitative":
        return "bars-x"
    if main.mark == "bar" and yk in DISCRETE and xk == "quantitative":
        return "bars-y"
    if main.mark == "bar" and not main.field("y"):
        return "total"
    return "curves" if main.field("x") and main.field("y") else ""


READERS = {"intervals": _intervals, "heatmap": _heatmap, "bars-x": lambda m: _bars(m, "x", "y"),
           "bars-y": lambda m: _bars(m, "y", "x"), "total": lambda m: _stacked_total(m, "x"), "curves": _curves}


def reading(spec: dict) -> tuple[Layer | None, str, list[str], int, list[str]]:
    """(main layer, headline, per-series phrases, number of series, annotations) of a chart."""
    found = layers(spec)
    main = main_layer(found)
    how = kind(main) if main is not None else ""
    if not how:
        return main, "", [], 0, []
    head, parts, n = READERS[how](main)
    return main, head, parts, n, _annotations(found, main)


def _chart_title(spec: dict) -> str:
    t = spec.get("title")
    t = t.get("text") if isinstance(t, dict) else t
    return " ".join(t) if isinstance(t, list) else str(t or "")


def describe(spec: dict, limit: int = MAX_CHARS) -> str:
    """The text alternative of a chart: what is on its axes and each series' key numbers, in at most
    `limit` characters (series beyond what fits are counted, not named). '' when the spec draws nothing
    this module can read (the caller then keeps its caption)."""
    main, head, parts, n, notes = reading(spec)
    if not head:
        return ""
    name = _chart_title(spec)
    head = f"{name}: {head[0].lower()}{head[1:]}" if name else head
    parts = parts[:MAX_SERIES]
    while True:
        body = _join(parts, n) if parts else ""
        text = f"{head}. " + (f"{body[0].upper()}{body[1:]}." if body else "")
        for note in notes:
            if len(text) + len(note) + 2 <= limit:
                text += f" {note}."
        if len(text) <= limit or len(parts) <= 1:
            break
        parts = parts[:-1]
    return _cut(text.strip(), limit)


def _cut(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    return text[:limit - 1].rsplit(" ", 1)[0].rstrip(",;:") + "…"


# ---------------------------------------------------------------------------------------------
# The table behind a chart


def _sample(values: list, n: int = MAX_ROWS) -> list:
    """At most n of the sorted `values`, evenly spread, first and last included."""
    values = sorted(values)
    if len(values) <= n:
        return values
    step = (len(values) - 1) / (n - 1)
    return [values[round(i * step)] for i in range(n)]


def table(spec: dict) -> pd.DataFrame:
    """The numbers behind a chart as a small table of readable strings (rows: x values, sampled to at most
    MAX_ROWS, or categories; columns: series), for an HTML table a screen reader can walk. Empty when the
    chart is not one this module reads."""
    main = main_layer(layers(spec))
    how = kind(main) if main is not None else ""
    if not how:
        return pd.DataFrame()
    x, y = main.field("x"), main.field("y")
    if how == "intervals":
        times = _sample(_moments(main))
        out = pd.DataFrame({number(t): _spans_at(main, t) for t in times}).T.fillna(0)
        out.index.name = short(title(main.enc.get("x"), x))
        return out.map(lambda v: number(v, "%"))
    if how == "heatmap":
        c = main.field("color")
        grid = main.rows.pivot_table(index=y, columns=x, values=c, aggfunc="mean", sort=False)
        grid.index.name = f"{short(title(main.enc.get('y'), y))} (rows) · {short(title(main.enc.get('x'), x))} (columns)"
        grid.columns = [str(k) for k in grid.columns]
        return grid.head(30).map(lambda v: number(v, _format_of(main, "color")))
    if how in ("bars-x", "bars-y", "total"):
        cat, val = ("x", "y") if how == "bars-x" else ("y", "x")
        by = [f for f in series_fields(main) if f != main.field(cat)]
        rows = main.rows
        c, v = main.field(cat), main.field(val)
        fv = lambda a: number(a, _format_of(main, val))  # noqa: E731
        if how == "total":
            return pd.DataFrame({title(main.enc.get(val), v): [fv(a) for a in rows[v]]},
                                index=[_series_name(k) for k in rows[by].itertuples(index=False, name=None)])
        keyed = rows.assign(_s=[_series_name(k) for k in rows[by].itertuples(index=False, name=None)] if by else v)
        out = keyed.pivot_table(index=c, columns="_s", values=v, aggfunc="mean", sort=False)
        out.index.name, out.columns.name = short(title(main.enc.get(cat), c)), None
        return out.head(30).map(fv)
    by = series_fields(main)
    rows = main.rows.assign(_x=pd.to_numeric(main.rows[x], errors="coerce"), _y=_value(main))
    rows = rows.assign(_s=[_series_name(k) for k in rows[by].itertuples(index=False, name=None)] if by else
                       title(main.enc.get("y"), y))
    keep = _sample(list(rows["_x"].dropna().unique()))
    out = rows[rows["_x"].isin(keep)].pivot_table(index="_x", columns="_s", values="_y", aggfunc="mean", sort=False)
    out = out.sort_index()
    out.index = [number(v, _format_of(main, "x")) for v in out.index]
    out.index.name, out.columns.name = short(title(main.enc.get("x"), x)), None
    return out.map(lambda v: number(v, _format_of(main, "y")))
