"""Emoji are decoration, so a screen reader should not read them out ("clapper board: Learning, or just
remembering?"); only the coloured squares that key a chart's colours (🟦 real labels) are meant to be read.
A heading, button, expander or download button takes its emoji as `icon=` (Streamlit draws it aria-hidden),
an alert's leading emoji becomes its icon by itself, and markdown goes through ui.md / ui.small, which wrap
each decorative emoji in an aria-hidden span. Checked here on the source, without a browser; the browser
tests (tests/test_a11y.py) check the pages as drawn."""
from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from explainer import ui  # noqa: E402

SOURCES = [ROOT / "app.py", *sorted((ROOT / "chapters").glob("*.py")), *sorted((ROOT / "explainer").rglob("*.py"))]
# Streamlit calls whose text becomes an element's accessible text as it is (no HTML of ours in it)
PLAIN = {"title", "header", "subheader", "button", "download_button", "link_button", "expander", "popover",
         "page_link", "markdown", "caption", "write", "text", "metric", "checkbox", "toggle", "tabs"}
ALERTS = {"info", "success", "warning", "error", "toast"}  # a leading emoji becomes the alert's hidden icon


def text_of(node: ast.AST) -> str:
    """The literal text in an argument: strings, f-strings' literal parts, and sums of them."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(text_of(v) for v in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return text_of(node.left) + text_of(node.right)
    if isinstance(node, ast.IfExp):
        return text_of(node.body) + " " + text_of(node.orelse)
    return ""


def spoken(text: str) -> list[str]:
    return [m[0] for m in ui.EMOJI.finditer(text) if m[0] not in ui.COLOUR_KEYS]


def read_aloud(path: Path) -> list[str]:
    """Every emoji a Streamlit call in `path` would show as readable text, with its line."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        args = node.args[:1] + [k.value for k in node.keywords if k.arg in ("label", "body", "caption")]
        text = " ".join(text_of(a) for a in args)
        if node.func.attr in ALERTS:
            text = ui.EMOJI.sub("", text.lstrip(), count=1) if ui.EMOJI.match(text.lstrip()) else text
        elif node.func.attr not in PLAIN:
            continue
        found += [f"{path.relative_to(ROOT)}:{node.lineno} {node.func.attr}: {e}" for e in spoken(text)]
    return found


def test_no_streamlit_call_shows_a_decorative_emoji_as_readable_text():
    found = [line for path in SOURCES for line in read_aloud(path)]
    assert not found, "use icon= or ui.md / ui.small:\n" + "\n".join(found)


@pytest.mark.parametrize("text, hidden", [("🎬 Learning", ["🎬"]), ("🧑‍🔬 Try it", ["🧑‍🔬"]), ("🏋️ Training", ["🏋️"]),
                                          ("✅ **4** reproduced, ❔ **1** not resolved", ["✅", "❔"]),
                                          ("⚠️ smoke", ["⚠️"]), ("⏸️ Not run", ["⏸️"])])
def test_quiet_hides_each_decorative_emoji_whole(text, hidden):
    out = ui.quiet(text)
    assert [e for e in hidden if f'<span aria-hidden="true">{e}</span>' in out] == hidden
    assert ui.EMOJI.sub("", ui.quiet(text).replace('<span aria-hidden="true">', "").replace("</span>", "")) \
        == ui.EMOJI.sub("", text), "only the emoji are wrapped"


def test_quiet_leaves_colour_keys_arrows_and_shapes_readable():
    text = "🟦 real · 🟪 shuffled · 0.91 → 0.12 · ● ■ ▲ ✚ ▼ · ┆ best · ± 2 × 3"
    assert ui.quiet(text) == text
