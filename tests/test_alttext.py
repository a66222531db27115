"""The charts' words (explainer/alttext): on small hand-made frames drawn by the app's own builders, the
text alternative names the axes and every series with its key numbers, reads the main layer (the mean
line, not its band), mentions marked epochs and reference points, stays short, and the table behind a
chart holds the drawn values. Also: the clock, its shares and the Fig. 4 class map carry a channel besides
colour (printed names and stripes, printed values)."""
from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from explainer import alttext as W, charts as C, charts_cells as CC, palette as P  # noqa: E402


def spread(curves: dict[str, list[float]], x: str = "epoch", by: str = "condition") -> pd.DataFrame:
    """A `tidy.spread`-like table: one mean per series and x, a band of ±0.01 around it, 3 seeds."""
    rows = [{by: name, x: i, "mean": v, "sd": 0.01, "lo": v - 0.01, "hi": v + 0.01, "n": 3}
            for name, values in curves.items() for i, v in enumerate(values)]
    return pd.DataFrame(rows)


def spec(chart) -> dict:
    return chart.to_dict()  # validated against the Vega-Lite schema, as the builders' own tests do


CURVES = {"real labels": [0.11, 0.60, 0.90, 0.97, 0.96], "random labels": [0.10, 0.12, 0.30, 0.70, 0.99]}


def test_line_chart_names_axes_series_and_key_numbers():
    agg = spread(CURVES)
    words = W.describe(spec(C.bands(agg, color="condition", scale=P.scale(P.KIND_COLOR, agg["condition"]),
                                    y_title="validation accuracy")))
    assert words.startswith("Line chart of validation accuracy against epoch, 2 series by condition.")
    assert "Real labels: rises from 11% at epoch 0 to 96% at epoch 4 (highest 97% at epoch 3)" in words
    assert "random labels: rises from 10% at epoch 0 to 99% at epoch 4" in words
    assert "9.0%" not in words and "98%" not in words, "the band's bounds (mean ± 0.01) are not read as series"


def test_a_falling_or_flat_series_says_so():
    agg = spread({"a": [0.5, 0.4, 0.2], "b": [0.3, 0.3, 0.3]})
    words = W.describe(spec(C.bands(agg, color="condition", scale=P.scale({}, agg["condition"]), y_title="acc")))
    assert "A: falls from 50% at epoch 0 to 20% at epoch 2" in words
    assert "b: stays at 30% from epoch 0 to epoch 2" in words


def test_two_fields_make_the_series_and_numbers_follow_the_axis_format():
    """Colour = condition and dash = metric (page 4): four series, named by both; a non-percent axis."""
    rows = []
    for metric, shift in (("training", 0.0), ("validation", -0.5)):
        agg = spread({"real": [2.0, 3.0], "random": [1.0, 1.25]}).assign(metric=metric)
        agg["mean"] += shift
        rows.append(agg)
    agg = pd.concat(rows, ignore_index=True)
    words = W.describe(spec(C.bands(agg, color="condition", dash="metric", scale=P.scale({}, agg["condition"]),
                                    y_title="loss", percent=False, y_domain=None)))
    assert "4 series by condition, metric" in words
    assert "Real · training: rises from 2 at epoch 0 to 3 at epoch 1" in words
    assert "random · validation: rises from 0.5 at epoch 0 to 0.75 at epoch 1" in words


def test_levels_chart_mentions_the_papers_reference_points():
    agg = spread({"random labels": [0.9, 0.5, 0.2]}, x="p").assign(p=lambda d: d["p"] / 2)
    ref = pd.DataFrame({"p": [0.0, 0.5], "mean": [0.95, 0.4]})
    words = W.describe(spec(C.by_level(agg, color="condition", scale=P.scale(P.KIND_COLOR, agg["condition"]),
                                       y_title="validation accuracy", paper=ref, paper_y="mean")))
    assert words.startswith("Line chart of validation accuracy against noise level p (share corrupted).")
    assert "Random labels: falls from 90% at 0 to 20% at 1" in words  # a long x title is named once, not each time
    assert "Also drawn: 2 reference points (paper (≈, read off its figure)), from 40% to 95%." in words


def test_a_marked_epoch_is_read_with_its_label():
    agg = spread(CURVES)
    chart = C.epoch_marker(C.bands(agg, color="condition", scale=P.scale({}, agg["condition"]), y_title="acc"),
                           3, "stop here: 97.0%")
    words = W.describe(spec(chart))
    assert "Marked on the chart: “stop here: 97.0%” at epoch 3." in words
    assert words.startswith("Line chart of acc against epoch"), "the marker layers do not become the main layer"


def test_grouped_bars_read_per_group_and_category():
    agg = pd.DataFrame({"model": ["real", "real", "random", "random"], "on": ["training", "validation"] * 2,
                        "mean": [1.0, 0.97, 1.0, 0.1], "sd": 0.0, "lo": [1.0, 0.97, 1.0, 0.1],
                        "hi": [1.0, 0.97, 1.0, 0.1], "n": 3})
    words = W.describe(spec(C.grouped_bars(agg, x="on", color="model", scale=P.scale({}, agg["model"]),
                                           y_title="accuracy")))
    assert words.startswith("Bar chart of accuracy in 2 groups (on), bars per model.")
    assert "Real: training 100%, validation 97%; random: training 100%, validation 10%." in words


def test_heat_map_reads_extremes_and_the_diagonal():
    cells = pd.DataFrame([{"condition": "real", "loss_class": r, "input_class": c,
                           "row_share": 0.8 if r == c else 0.1} for r in range(3) for c in range(3)])
    cells.loc[(cells["loss_class"] == 2) & (cells["input_class"] == 0), "row_share"] = 0.02
    words = W.describe(spec(C.class_heatmap(cells, "real digits", 0.8)))
    assert words.startswith("real digits: heat map of share of the row by class whose loss is measured (rows) and "
                            "class of the input x (columns), 3 × 3 cells.")
    assert "Highest 80% at row 0, column 0; lowest 2% at row 2, column 0" in words
    assert "cells on the diagonal average 80%, the others 8.7%" in words


def segments() -> pd.DataFrame:
    """A tiny memorization clock: 4 examples over epochs 0-3, the last two relabelled."""
    rows = [(0, "neither", 0, 1), (0, "true", 1, 4), (1, "true", 0, 4),
            (2, "neither", 0, 2), (2, "given", 2, 4), (3, "true", 0, 1), (3, "given", 1, 4)]
    seg = pd.DataFrame(rows, columns=["row", "state", "start", "end"])
    return seg.assign(example=seg["row"], relabelled=seg["row"] >= 2, true_label=1, given_label=2,
                      learned_at=np.where(seg["row"] >= 2, 2.0, 1.0))


def test_the_clock_is_read_at_its_first_and_last_epoch():
    words = W.describe(spec(CC.clock(segments())))
    assert words.startswith("Timeline of 4 training examples from epoch 0 to 3, coloured by the model's answer.")
    assert ("At epoch 0: answers the true digit 50%, neither 50%; at epoch 3: answers its shuffled label "
            "(memorized) 50%, answers the true digit 50%.") in words
    assert "Marked on the chart: “labels kept”, “labels shuffled”." in words
    assert "“memorized”" not in words and "“true digit”" not in words, "the printed names are not read twice"


def test_stacked_shares_are_read_as_shares():
    share = pd.DataFrame({"epoch": [0, 0, 1, 1, 2], "state": ["neither", "true", "true", "given", "given"],
                          "count": [3, 1, 2, 2, 4]})
    words = W.describe(spec(CC.shares(share)))
    assert words.startswith("Stacked area chart of share of examples against epoch, 3 series by the model's answer.")
    assert "Answers its shuffled label (memorized): rises from 0% at epoch 0 to 100% at epoch 2" in words
    assert "answers the true digit: falls from 25% at epoch 0 to 0% at epoch 2 (highest 50% at epoch 1)" in words
    assert "neither: falls from 75% at epoch 0 to 0% at epoch 2" in words


def test_a_single_stacked_bar_reads_its_counts_and_total():
    tally = pd.DataFrame({"verdict": ["reproduced", "partly", "not run"], "claims": [5, 3, 0]})
    words = W.describe(spec(C.verdict_bar(tally, {"reproduced": P.BLUE, "partly": P.TEAL, "not run": P.GREY})))
    assert words == "Stacked bar of experimental claims, total 8. Reproduced 5, partly 3, not run 0."


def test_length_is_capped_and_left_out_series_are_counted():
    agg = spread({f"setting number {i}": list(np.linspace(0.1 * (i % 5), 0.9, 6)) for i in range(20)})
    words = W.describe(spec(C.bands(agg, color="condition", scale=P.scale({}, agg["condition"]), y_title="acc")))
    assert len(words) <= W.MAX_CHARS
    assert "20 series by condition" in words and re.search(r"and 1\d more series\.$", words), words


def test_a_spec_with_inline_values_is_read_too():
    """The lab's hand-written specs carry their data inline ({"values": [...]})."""
    spec_ = {"layer": [{"data": {"values": [{"epoch": e, "acc": a, "metric": "val"} for e, a in enumerate([0.2, 0.8])]},
                        "mark": {"type": "line"},
                        "encoding": {"x": {"field": "epoch", "type": "quantitative", "title": "epoch"},
                                     "y": {"field": "acc", "type": "quantitative", "axis": {"format": "%"}},
                                     "color": {"field": "metric", "type": "nominal"}}}]}
    assert W.describe(spec_) == "Line chart of acc against epoch. Val: rises from 20% at epoch 0 to 80% at epoch 1."


def test_nothing_readable_gives_no_words():
    assert W.describe({"mark": "text", "data": {"values": [{"a": 1}]}, "encoding": {"text": {"field": "a"}}}) == ""
    assert W.table({"mark": "text"}).empty


@pytest.mark.parametrize("value, fmt, said", [(0.9134, "%", "91%"), (0.034, ".0%", "3.4%"), (0.0, "%", "0%"),
                                              (4096.0, ",", "4,096"), (12.0, "", "12"), (0.123456, "", "0.123"),
                                              (float("nan"), "", "n/a"), ("real", "", "real")])
def test_numbers_are_said_as_the_axis_shows_them(value, fmt, said):
    assert W.number(value, fmt) == said


# ---------------------------------------------------------------------------------------------
# The table behind a chart


def test_table_holds_the_means_per_series_at_sampled_x():
    agg = spread({"a": list(np.linspace(0, 1, 30)), "b": list(np.linspace(1, 0, 30))})
    t = W.table(spec(C.bands(agg, color="condition", scale=P.scale({}, agg["condition"]), y_title="acc")))
    assert list(t.columns) == ["a", "b"] and t.index.name == "epoch"
    assert len(t) == W.MAX_ROWS and t.index[0] == "0" and t.index[-1] == "29", "first and last epoch kept"
    assert t.loc["0", "a"] == "0%" and t.loc["29", "a"] == "100%" and t.loc["29", "b"] == "0%"


def test_table_of_a_heat_map_is_its_grid():
    cells = pd.DataFrame([{"condition": "real", "loss_class": r, "input_class": c, "row_share": (r + 1) / 10 + c / 100}
                          for r in range(3) for c in range(3)])
    t = W.table(spec(C.class_heatmap(cells, "real", 0.5)))
    assert t.shape == (3, 3) and t.index.name == "class whose loss is measured (rows) · class of the input x (columns)"
    assert t.loc[2, "1"] == "31%"


def test_table_of_the_clock_gives_state_shares_per_epoch():
    t = W.table(spec(CC.clock(segments())))
    assert list(t.index) == ["0", "1", "2", "3"] and t.index.name == "epoch"
    assert t.loc["3", "answers its shuffled label (memorized)"] == "50%" and t.loc["0", "neither"] == "50%"


def test_table_of_bars_has_one_column_per_group():
    agg = pd.DataFrame({"model": ["real", "random"], "on": ["validation"] * 2, "mean": [0.97, 0.1], "sd": 0.0,
                        "lo": [0.97, 0.1], "hi": [0.97, 0.1], "n": 3})
    t = W.table(spec(C.grouped_bars(agg, x="on", color="model", scale=P.scale({}, agg["model"]), y_title="acc")))
    assert t.loc["validation"].to_dict() == {"real": "97%", "random": "10%"}


# ---------------------------------------------------------------------------------------------
# Colour is never the only channel


def text_layers(s: dict) -> list[dict]:
    return [l for l in W.layers(s) if l.mark == "text"]


def test_clock_prints_each_state_on_it_and_stripes_the_memorized_one():
    seg = segments()
    s = spec(CC.clock(seg))
    printed = {t for l in text_layers(s) if l.props.get("aria") is False for t in l.rows.get("text", [])}
    assert printed == {"memorized", "true digit", "neither"}, "every state drawn is named on the picture"
    stripe = [l for l in W.layers(s) if l.mark == "rule" and l.field("y2")]
    assert len(stripe) == 1 and stripe[0].props["color"] == "white"
    # one stripe per epoch and run of memorized rows: row 2 in epochs 2-3, row 3 in epochs 1-3 (rows 2-3 together)
    lines = stripe[0].rows.sort_values(["x", "row"])
    assert lines[["x", "row", "row_end"]].values.tolist() == [[1.5, 3, 4], [2.5, 2, 4], [3.5, 2, 4]]


def test_clock_labels_sit_inside_their_own_state():
    cells = CC.clock_cells(segments().assign(state_name=lambda d: d["state"].map(P.STATE_NAME)))
    for _, spot in CC.label_spots(cells).iterrows():
        here = cells[(cells["epoch"] == int(spot["x"])) & (cells["row"] == int(spot["y"]))]
        assert len(here) and here["state_name"].iloc[0] == spot["state_name"], spot.to_dict()


def test_a_scattered_state_is_left_to_the_legend():
    """'neither' in every other cell of a chequerboard fills no block: no name printed over the others."""
    rows = [(r, "neither" if (r + e) % 2 else "true", e, e + 1) for r in range(8) for e in range(8)]
    seg = pd.DataFrame(rows, columns=["row", "state", "start", "end"]).assign(
        state_name=lambda d: d["state"].map(P.STATE_NAME))
    cells = CC.clock_cells(seg)
    assert CC.label_spots(cells, bins=(2, 2)).empty
    block = cells["row"] < 4  # a solid block of true digits gets its name
    cells.loc[block & (cells["epoch"] < 4), "state_name"] = P.STATE_NAME["true"]
    assert CC.label_spots(cells, bins=(2, 2))["text"].tolist() == ["true digit"]


def test_shares_print_names_on_the_bands_and_stripe_the_memorized_one():
    share = pd.DataFrame({"epoch": np.repeat(range(10), 3), "state": ["neither", "true", "given"] * 10,
                          "count": [x for e in range(10) for x in (10 - e, 5, e)]})
    s = spec(CC.shares(share))
    printed = {t for l in text_layers(s) for t in l.rows.get("text", [])}
    assert printed == {"memorized", "true digit", "neither"}
    stack = CC.stacked_shares(share)
    for _, label in CC.share_labels(stack).iterrows():  # halfway up its own band at that epoch
        band = stack[(stack["epoch"] == label["x"]) & (stack["state_name"].map(P.STATE_SHORT) == label["text"])]
        assert band["bottom"].iloc[0] < label["y"] < band["top"].iloc[0]
    stripe = [l for l in W.layers(s) if l.mark == "rule"]
    assert len(stripe) == 1 and len(stripe[0].rows) == 9, "a stripe at every epoch the memorized band is drawn"


def test_class_map_prints_every_share_with_a_contrasting_ink():
    cells = pd.DataFrame([{"condition": "real", "loss_class": r, "input_class": c, "row_share": 0.7 if r == c else 0.1}
                          for r in range(3) for c in range(3)])
    s = spec(C.class_heatmap(cells, "real", 0.7))
    (values,) = text_layers(s)
    assert values.field("text") == "row_share" and values.enc["text"]["format"] == ".0%"
    assert len(values.rows) == 9
    ink = values.enc["color"]
    assert ink["value"] == "black" and ink["condition"]["value"] == "white" and "row_share" in ink["condition"]["test"]
