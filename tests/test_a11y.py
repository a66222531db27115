"""Accessibility in a real browser: what a teacher's projector, a learner's phone, a keyboard and a screen
reader meet.

- axe-core (the version package.json pins, injected by Playwright) scans every page at desktop and phone
  width once it has settled, and again after its question is answered: no critical or serious violation
  of WCAG 2.0/2.1/2.2 A and AA (target size included). Every violation of any impact is written to
  tests/screenshots/axe-report.json for a human to read.
- On a phone no page scrolls sideways and every control is a target of at least 24 x 24 px or has 24 px
  around it (WCAG 2.5.8; links inside a sentence are exempt, as it allows); the Lab's Train and Stop
  span the screen and work by touch.
- Emoji are decoration, hidden from screen readers, except the coloured squares that key a colour (their
  name, e.g. "blue square", is what a screen reader should say).
- A keyboard alone walks the story: the navigation, a question, "Just show me", a "where these numbers
  come from" panel, the result-set switch and a live run started and stopped in the Lab, with the focus
  visible at every step (tests/screenshots/keyboard-NN-*.png).

The server holds a second, small result set, so the sidebar's result-set switch is on every page. Needs
Debian's `chromium` and npm (axe-core is installed by `npm ci` on first use); skips with a reason otherwise.
"""
from __future__ import annotations

import io
import json
import re

import browserkit
import numpy as np
import pytest
from browserkit import (DESKTOP, OVERFLOW, PHONE, SHOTS, full_height_screenshot, open_page, slug, wait_until_drawn,
                        whole_page)

pytestmark = pytest.mark.browser
sync_api = browserkit.require()
from explainer.story import CHAPTERS  # noqa: E402  (conftest puts the repository on sys.path)

WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]
# target-size (WCAG 2.2's 2.5.8) is tagged wcag22aa but off by default in axe-core: switched on by name
AXE_OPTIONS = {"runOnly": {"type": "tag", "values": WCAG}, "rules": {"target-size": {"enabled": True}},
               "resultTypes": ["violations"]}
BLOCKING = ("critical", "serious")
RUN_S = 300  # the longest a live run's wait may take (a loaded 2-core machine)
GUESS = '[class*="st-key-guess-"]'  # ui.guess keys its radio and its "Just show me" button guess-...



@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The app with a second result set beside artifacts/ (a smoke-profile set holding no stage: the pages
    read every stage from artifacts/ for it, and it is never the default), so the sidebar shows its
    result-set switch."""
    results = tmp_path_factory.mktemp("results")
    (results / "tiny").mkdir()
    (results / "tiny" / "resultset.json").write_text(json.dumps(
        {"name": "tiny", "profile": "smoke", "device": "cpu", "device_name": "test machine"}))
    with browserkit.streamlit_server({"EXPLAINER_RESULTS": str(results)}) as url:
        yield url


@pytest.fixture(scope="module")
def report():
    """Every violation seen, by page and state; written to tests/screenshots/axe-report.json at the end."""
    found: dict[str, list[dict]] = {}
    yield found
    SHOTS.mkdir(parents=True, exist_ok=True)
    (SHOTS / "axe-report.json").write_text(json.dumps(
        {"axe-core": browserkit.axe_installed(), "tags": WCAG, "pages": found}, indent=1, ensure_ascii=False))



# ---------------------------------------------------------------------------------------------
# axe-core


def scan(page, axe: str) -> list[dict]:
    """axe-core's violations on the whole page as it is now: rule, impact, how many elements and the first few.
    The viewport is grown to the page's height first: axe judges the contrast of what is on screen only."""
    if not page.evaluate("() => typeof window.axe === 'object'"):  # once per document (pages switch in place)
        page.add_script_tag(path=axe)
    with whole_page(page):
        return page.evaluate("""async options => (await axe.run(document, options)).violations.map(v => ({
        id: v.id, impact: v.impact, help: v.help, count: v.nodes.length,
        nodes: v.nodes.slice(0, 5).map(n => ({target: n.target.join(' '), html: n.html.slice(0, 160),
                                            why: (n.failureSummary || '').slice(0, 300)}))}))""", AXE_OPTIONS)



def blocking(violations: list[dict]) -> list[str]:
    return [f"{v['impact']} {v['id']} x{v['count']} ({v['help']}): {v['nodes'][0]['target']}"
            for v in violations if v["impact"] in BLOCKING]


def answer(page) -> bool:
    """Pick the first answer of the page's first question (if it has one) and wait for the reveal."""
    options = page.locator(f'{GUESS} label:has(input[type="radio"])')
    if not options.count():
        return False
    options.first.click()
    page.get_by_text(re.compile("Your guess matches our runs|Our runs say otherwise|Our runs cannot tell|"
                                "Not measured in this result set")).first.wait_for(timeout=60_000)
    wait_until_drawn(page)
    return True


# ---------------------------------------------------------------------------------------------
# tap targets and emoji, measured in the page

TARGETS = """() => {
  // Every visible control: at least 24 x 24 px, or a 24 px circle on its centre touches no other control
  // (WCAG 2.5.8). A link inside a sentence is exempt (2.5.8's inline exception). A radio or checkbox is
  // as big as its label, which takes the tap.
  const SEL = 'a[href], button, input:not([type=hidden]), select, textarea, summary, [role=button], [role=link],'
    + ' [role=radio], [role=checkbox], [role=switch], [role=slider], [role=tab], [role=option], [role=combobox],'
    + ' [tabindex]:not([tabindex="-1"])';
  const box = el => (el.matches('input[type=radio], input[type=checkbox]') && el.closest('label')
                     ? el.closest('label') : el).getBoundingClientRect();
  const inline = el => el.tagName === 'A' && !!el.closest('p, li, td')
    && el.closest('p, li, td').textContent.trim().length > el.textContent.trim().length + 2;
  const shown = el => { const r = el.getBoundingClientRect();
    return el.checkVisibility({visibilityProperty: true}) && r.width > 0 && r.height > 0
           && r.right > 0 && r.left < innerWidth; };
  const all = [...document.querySelectorAll(SEL)].filter(el => shown(el) && !inline(el));
  const items = all.map(el => ({el, r: box(el)}));
  const centre = r => [(r.left + r.right) / 2, (r.top + r.bottom) / 2];
  const gap = (c, r) => Math.hypot(Math.max(r.left - c[0], 0, c[0] - r.right),
                                   Math.max(r.top - c[1], 0, c[1] - r.bottom));
  const small = items.filter(t => t.r.width < 23.5 || t.r.height < 23.5);
  const name = el => (el.getAttribute('aria-label') || el.textContent || el.getAttribute('data-testid')
                      || el.tagName).trim().slice(0, 40);
  return small.filter(t => items.some(o => o !== t && !o.el.contains(t.el) && !t.el.contains(o.el)
      && (gap(centre(t.r), o.r) < 12
          || (small.includes(o) && Math.hypot(...centre(t.r).map((v, i) => v - centre(o.r)[i])) < 24))))
    .map(t => ({control: name(t.el), tag: t.el.tagName, role: t.el.getAttribute('role'),
                where: t.el.closest('[data-testid]')?.dataset.testid,
                width: Math.round(t.r.width), height: Math.round(t.r.height)}));
}"""

SPOKEN_EMOJI = """() => {
  // Emoji a screen reader would read out: in text not hidden (aria-hidden) and not inside a named picture
  // (role=img with aria-label), or in an alt or aria-label. Charts draw on a canvas and say what they
  // show in their own alt text. The coloured squares that key a chart's colours are meant to be read.
  const EMOJI = /\\p{Emoji_Presentation}|\\p{Extended_Pictographic}\\uFE0F/gu;
  const KEYS = new Set(['\\u{1F7E6}', '\\u{1F7EA}', '\\u{1F7E5}', '\\u{1F7E7}', '\\u{1F7E9}']);
  const QUIET = '[aria-hidden="true"], [role="img"][aria-label], script, style, [data-testid="stVegaLiteChart"]';
  const out = [];
  const note = (text, el) => { for (const m of text.matchAll(EMOJI)) if (!KEYS.has(m[0]))
    out.push({emoji: m[0], text: text.trim().slice(0, 70), where: el.closest('[data-testid]')?.dataset.testid}); };
  const app = document.querySelector('[data-testid="stApp"]');
  const walk = document.createTreeWalker(app, NodeFilter.SHOW_TEXT);
  for (let n; (n = walk.nextNode());) {
    const el = n.parentElement;
    if (el && !el.closest(QUIET) && el.checkVisibility()) note(n.data, el);
  }
  for (const el of app.querySelectorAll('[alt], [aria-label]'))
    if (!el.closest(QUIET)) note((el.getAttribute('alt') || '') + ' ' + (el.getAttribute('aria-label') || ''), el);
  return out;
}"""


def check_page(page, axe: str, state: str, found: dict, problems: list[str], phone: bool) -> None:
    violations = scan(page, axe)
    found[state] = violations
    problems += [f"{state}: {p}" for p in blocking(violations)]
    problems += [f"{state}: emoji read aloud {e}" for e in page.evaluate(SPOKEN_EMOJI)]
    if phone:
        problems += [f"{state}: small tap target {t}" for t in page.evaluate(TARGETS)]
        overflow = page.evaluate(OVERFLOW)
        if overflow > 1:
            problems.append(f"{state}: the page scrolls sideways by {overflow} px")


@pytest.mark.parametrize("chapter", CHAPTERS, ids=[slug(c) for c in CHAPTERS])
def test_page_has_no_serious_accessibility_violation(server, browser, axe, report, chapter):
    """axe at desktop and phone width, settled and after the question; on a phone, no sideways scroll and
    big enough targets; no decorative emoji read aloud."""
    problems: list[str] = []
    for label, viewport in (("desktop", DESKTOP), ("phone", PHONE)):
        found = report.setdefault(f"{slug(chapter)} ({label})", {})
        ctx, page = open_page(browser, f"{server}/{chapter.url}", viewport)
        try:
            check_page(page, axe, f"{label}, settled", found, problems, viewport is PHONE)
            if answer(page):
                check_page(page, axe, f"{label}, answered", found, problems, viewport is PHONE)
        finally:
            ctx.close()
    assert not problems, f"{slug(chapter)}:\n" + "\n".join(problems)


# ---------------------------------------------------------------------------------------------
# Keyboard only

FOCUS_BOX = """pad => {
  // The focused control's box, padded, in viewport pixels: a radio's or checkbox's label, and for a visually
  // hidden input (a slider's) the nearest box around it that is drawn (the thumb)
  let el = document.activeElement;
  if (!el || el === document.body) return null;
  if (el.matches('input[type=radio], input[type=checkbox]') && el.closest('label')) el = el.closest('label');
  const tiny = e => e.getBoundingClientRect().width < 4 || e.getBoundingClientRect().height < 4;
  if (el.parentElement && tiny(el.parentElement)) el = el.parentElement;  // clipped to 1 px: visually hidden
  while (el.parentElement && tiny(el)) el = el.parentElement;
  const r = el.getBoundingClientRect();
  const x = Math.max(r.left - pad, 0), y = Math.max(r.top - pad, 0);
  return {x, y, width: Math.min(r.right + pad, innerWidth) - x, height: Math.min(r.bottom + pad, innerHeight) - y};
}"""


def focused(page, selector: str) -> bool:
    return page.evaluate("s => !!document.activeElement && document.activeElement.matches(s)", selector)


def tab_to(page, selector: str, backwards: bool = False, limit: int = 150) -> None:
    """Press Tab (or Shift+Tab) until the focused element matches `selector`, at most `limit` times."""
    for _ in range(limit):
        if focused(page, selector):
            return
        page.keyboard.press("Shift+Tab" if backwards else "Tab")
    pytest.fail(f"{limit} presses of {'Shift+Tab' if backwards else 'Tab'} never reached {selector}; focus is on "
                + page.evaluate("() => document.activeElement.outerHTML.slice(0, 200)"))


def luminance(png: bytes):
    """Relative luminance (WCAG) of every pixel of a screenshot."""
    from PIL import Image

    c = np.asarray(Image.open(io.BytesIO(png)).convert("RGB"), dtype=float) / 255
    c = np.where(c <= 0.04045, c / 12.92, ((c + 0.055) / 1.055) ** 2.4)
    return c @ [0.2126, 0.7152, 0.0722]


def changed_pixels(a: bytes, b: bytes, skip: dict | None, origin: dict) -> int:
    """Pixels of one region whose colour changes by a contrast of at least 3:1 between two screenshots (WCAG's
    bar for a focus indicator against its surroundings), outside `skip` (a box in page px)."""
    la, lb = luminance(a), luminance(b)
    ratio = (np.maximum(la, lb) + 0.05) / (np.minimum(la, lb) + 0.05)
    if skip:
        x, y = int(skip["x"] - origin["x"]), int(skip["y"] - origin["y"])
        ratio[max(y, 0):max(y + int(skip["height"]) + 1, 0), max(x, 0):max(x + int(skip["width"]) + 1, 0)] = 1
    return int((ratio >= 3).sum())


class Walk:
    """The keyboard walk's steps: each checks that focus is visible and keeps a picture of it."""

    def __init__(self, page, prefix: str = "keyboard"):
        self.page, self.step, self.prefix = page, 0, prefix

    def see_focus(self, name: str) -> None:
        """The focused control looks different focused than unfocused (Shift+Tab away and Tab back, real
        keys only): at least its perimeter's worth of pixels changes by 3:1 or more (a 1 px ring all round;
        a faint tint or a half-transparent shadow does not). Its picture, with some context, is saved."""
        page = self.page
        self.step += 1
        here = page.evaluate("n => { const e = document.activeElement; e.dataset.walkStep = n;"
                             " return e.outerHTML.slice(0, 120); }", self.step)
        box = page.evaluate(FOCUS_BOX, 6)
        assert box and box["width"] > 0 and box["height"] > 0, f"{name}: the focused control is not on screen"
        with_focus = page.screenshot(clip=box)
        page.keyboard.press("Shift+Tab")
        neighbour = page.evaluate(FOCUS_BOX, 6)
        without = page.screenshot(clip=box)
        page.keyboard.press("Tab")
        assert page.evaluate("() => document.activeElement.dataset.walkStep") == str(self.step), \
            f"{name}: Shift+Tab, Tab did not come back to {here}"
        ring = changed_pixels(with_focus, without, neighbour, box)
        shot = page.evaluate(FOCUS_BOX, 40)
        page.screenshot(path=str(SHOTS / f"{self.prefix}-{self.step:02d}-{name}.png"), clip=shot)
        perimeter = 2 * (box["width"] + box["height"] - 24)  # the control's own, without the padding
        assert ring >= perimeter, f"{name}: focus is barely visible ({ring} pixels change by 3:1 when it leaves " \
                                  f"{here}; a ring all round would change {perimeter:.0f})"


def back_to_nav(page, url: str) -> None:
    """From anywhere in the page, Shift+Tab back to the sidebar navigation's link to `url`."""
    tab_to(page, f'[data-testid="stSidebarNav"] a[href$="/{url}"]', backwards=True, limit=250)


def test_keyboard_alone_walks_the_story(server, browser):
    """Tab / Shift+Tab / Enter / Space / arrows only (no mouse): the navigation, a question, a provenance
    panel, the result-set switch, "Just show me", and a live run started and stopped in the Lab."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx, page = open_page(browser, server, DESKTOP)
    walk = Walk(page)
    keys = page.keyboard
    try:
        # 1. the navigation: Tab from the top of the page to a chapter, Enter
        tab_to(page, '[data-testid="stSidebarNav"] a[href$="/experiment-time"]')
        walk.see_focus("navigation")
        keys.press("Enter")
        page.wait_for_url("**/experiment-time")
        wait_until_drawn(page)

        # 2. predict, then reveal: Tab into the question, an arrow picks an answer
        tab_to(page, f'{GUESS} input[type="radio"]')
        walk.see_focus("question")
        keys.press("ArrowDown")
        page.get_by_text(re.compile("Your guess matches our runs|Our runs say otherwise")).first.wait_for(timeout=60_000)
        wait_until_drawn(page)

        # 3. "where these numbers come from": Enter on the panel's summary opens it
        tab_to(page, '[class*="st-key-provenance-"] summary')
        walk.see_focus("provenance")
        keys.press("Enter")
        page.locator('[class*="st-key-provenance-"] details[open]').get_by_text("Reproduce").first \
            .wait_for(timeout=60_000)

        # 4. the result set: Shift+Tab back to the sidebar's switch, an arrow picks the other set
        tab_to(page, '[data-testid="stSidebar"] [data-testid="stRadio"] input[type="radio"]', backwards=True, limit=250)
        walk.see_focus("result-set")
        keys.press("ArrowDown")
        page.wait_for_url("**results=tiny**")
        wait_until_drawn(page)

        # 5. "Just show me" on another chapter: Enter on its link, then Space on the button
        back_to_nav(page, "data-augmentation")
        walk.see_focus("navigation-again")
        keys.press("Enter")
        page.wait_for_url("**/data-augmentation**")
        wait_until_drawn(page)
        tab_to(page, f'{GUESS}[class*="-show"] button')
        walk.see_focus("just-show-me")
        keys.press("Space")
        page.get_by_text("What our runs say").first.wait_for(timeout=60_000)
        wait_until_drawn(page)

        # 6. the Lab: End on the Epochs slider (a long run), Enter on Train, Tab to Stop, Enter
        back_to_nav(page, "lab")
        keys.press("Enter")
        page.wait_for_selector(".st-key-lab-train button", timeout=60_000)
        wait_until_drawn(page)
        tab_to(page, '.st-key-lab-epochs input[type="range"]')
        walk.see_focus("epochs")
        keys.press("End")
        page.wait_for_function("() => new URLSearchParams(location.search).get('epochs') === '200'", timeout=60_000)
        page.wait_for_selector('[data-testid="stApp"][data-test-script-state="notRunning"]', timeout=60_000)
        tab_to(page, ".st-key-lab-train button")
        walk.see_focus("train")
        keys.press("Enter")
        page.wait_for_selector(".st-key-lab-stop button", timeout=RUN_S * 1000)
        tab_to(page, ".st-key-lab-stop button")
        walk.see_focus("stop")
        keys.press("Enter")
        page.get_by_text("Stopped", exact=True).wait_for(timeout=RUN_S * 1000)
        page.screenshot(path=str(SHOTS / f"keyboard-{walk.step + 1:02d}-stopped.png"))
        assert page.locator('[data-testid="stException"]').count() == 0
    finally:
        ctx.close()


def test_focus_shows_in_dark_mode_too(server, browser):
    """The focus ring keeps its contrast on the dark theme: a sidebar link, the result-set switch, a button."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    ctx, page = open_page(browser, f"{server}/data-augmentation", DESKTOP, dark=True)
    walk = Walk(page, "keyboard-dark")
    try:
        tab_to(page, '[data-testid="stSidebarNav"] a[href$="/experiment-time"]')
        walk.see_focus("navigation")
        tab_to(page, '[data-testid="stSidebar"] [data-testid="stRadio"] input[type="radio"]')
        walk.see_focus("result-set")
        tab_to(page, f'{GUESS}[class*="-show"] button')
        walk.see_focus("just-show-me")
    finally:
        ctx.close()


# ---------------------------------------------------------------------------------------------
# The Lab on a phone


def test_the_lab_works_one_handed_on_a_phone(server, browser):
    """At 390 px the Lab does not scroll sideways, Train and Stop span the column (a thumb finds them) and
    a run starts and stops by touch."""
    ctx, page = open_page(browser, f"{server}/lab?epochs=200&n_train=2000&width=512", PHONE)
    try:
        assert page.evaluate(OVERFLOW) <= 1
        column = page.locator('[data-testid="stMainBlockContainer"]').bounding_box()
        train = page.locator(".st-key-lab-train button")
        spans = lambda b: b["x"] >= column["x"] - 1 and b["x"] + b["width"] <= PHONE["width"] \
            and b["width"] >= 0.8 * column["width"] and b["height"] >= 40
        assert spans(train.bounding_box()), f"Train {train.bounding_box()} in a column of {column}"
        train.tap()
        stop = page.locator(".st-key-lab-stop button")
        stop.wait_for(timeout=RUN_S * 1000)
        assert spans(stop.bounding_box()), f"Stop {stop.bounding_box()} in a column of {column}"
        page.screenshot(path=str(SHOTS / "lab-phone-running.png"))
        stop.tap()
        page.get_by_text("Stopped", exact=True).wait_for(timeout=RUN_S * 1000)
        assert page.evaluate(OVERFLOW) <= 1
        full_height_screenshot(page, SHOTS / "lab-phone-stopped.png")
    finally:
        ctx.close()
