"""Every page of the built book, loaded in real Chromium with the network cut off.

One pass over the site (module fixture) loads each page once in a fresh
browser context (empty cache, so every page pays for all its files), and
records what a learner's browser does: requests to other hosts (blocked),
JavaScript errors, whether maps draw, whether interactive figures have a
static view, alt text, the skip link, axe-core's accessibility violations,
and the bytes transferred. The tests below then each check one promise over
all pages. The results go to ``test-artifacts/browser/`` (JSON, a markdown
table, one full-page screenshot per page), so a failure can be looked at.
"""

from __future__ import annotations

import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pytest
from browser import (
    artifacts_dir,
    block_remote,
    launch_chromium,
    record_errors,
    record_weight,
    run_axe,
    serve,
)
from conftest import ROOT
from playwright.sync_api import Browser, Page, sync_playwright

pytestmark = pytest.mark.slow

#: Budget per page: the page, its styles, scripts, fonts and images, as served.
MAX_PAGE_BYTES = 1_500_000
#: axe impacts that fail the test (WCAG 2.1 AA problems that block people).
BLOCKING_IMPACTS = ("critical", "serious")
#: A filename used as alt text ("chart.png") tells a screen-reader user nothing.
FILENAME_ALT = re.compile(r"^[\w.-]+\.(png|jpe?g|gif|svg|webp)$", re.IGNORECASE)

#: Runs in the page: alt text, widget placeholders, static fallbacks, landmarks.
PAGE_FACTS_JS = """() => {
  const text = (el) => (el.innerText || el.textContent || '').trim();
  const images = [...document.querySelectorAll('img')].map(
      (img) => ({src: img.getAttribute('src') || '', alt: (img.getAttribute('alt') || '').trim()}));
  const placeholders = [...document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"], .jupyter-widgets, .widget-subarea')]
      .map((el) => el.outerHTML.slice(0, 120));
  if (/Loading widget/i.test(document.body.innerText)) placeholders.push('text: Loading widget...');
  const noFallback = [...document.querySelectorAll('.citylab-static-note')].filter((note) => {
      const cell = note.closest('.cell_output') || note.parentElement;
      const rest = text(cell).length - text(note).length;
      return !(cell.querySelector('img, iframe, table, svg') || rest > 20);
  }).map((note) => text(note).slice(0, 80));
  return {images, placeholders, noFallback,
          main: document.querySelectorAll('main, [role=main]').length};
}"""


#: The theme's Font Awesome fonts, and the subsets the book serves instead
#: (book/_static/citylab-theme.css): ~5 KB instead of 156 KB + 118 KB a page.
ICON_FONTS = {"fa-solid-900.ttf": "fa-solid-subset.woff", "fa-brands-400.ttf": "fa-brands-subset.woff"}
FONT_DIR = ROOT / "book" / "_static" / "fonts"
#: Private-use code points: where icon fonts keep their glyphs.
ICON_CHAR = re.compile(r"\\(?:f[0-9a-f]{3}|e[0-9a-f]{3})\b|[\ue000-\uf8ff]", re.IGNORECASE)
#: One rule of the theme's icon table: `.fa-bars:before{content:"\f0c9"}`.
ICON_RULE = re.compile(r"([^{}]*)\{content:\"(\\[0-9a-f]{4}|[\ue000-\uf8ff])\"\}", re.IGNORECASE)


def _codepoint(char: str) -> int:
    return int(char[1:], 16) if char.startswith("\\") else ord(char)


def icons_in_use(site: Path) -> set[int]:
    """Code points of every icon the built book can show.

    Icons come from two places in the theme's CSS: the icon table
    (``.fa-NAME:before``), of which only the classes used in a page count,
    and every other rule or variable that puts an icon character in
    ``content`` (admonitions, breadcrumbs, external links), which all count.
    """
    table: dict[str, int] = {}
    always: set[int] = set()
    for css in (site / "_static").rglob("*.css"):
        text = css.read_text(encoding="utf-8", errors="replace")
        for selectors, char in ICON_RULE.findall(text):
            names = re.findall(r"\.(fa-[\w-]+):(?::)?before", selectors)
            if names:
                table.update(dict.fromkeys(names, _codepoint(char)))
        always |= {_codepoint(c) for c in ICON_CHAR.findall(ICON_RULE.sub("", text))}
    used = set()
    for page in site.rglob("*.html"):
        used |= set(re.findall(r"\bfa-[\w-]+", page.read_text(encoding="utf-8")))
    return always | {table[name] for name in used if name in table}


def subset_icon_fonts(site: Path, out: Path = FONT_DIR) -> None:
    """Write the icon font subsets (run after a theme upgrade; see ``__main__``)."""
    from fontTools import subset

    options = subset.Options(flavor="woff")
    options.layout_features = []
    needed = icons_in_use(site)
    for original, small in ICON_FONTS.items():
        font = subset.load_font(str(site / "_static/vendor/fontawesome/webfonts" / original), options)
        subsetter = subset.Subsetter(options)
        subsetter.populate(unicodes=needed & set(font.getBestCmap()))
        subsetter.subset(font)
        subset.save_font(font, str(out / small), options)
        print(f"{out / small}: {len(font.getBestCmap())} icons")


@dataclass
class MapResult:
    """One map iframe: Leaflet drew its container and shapes, and words describe it."""

    title: str
    leaflet: bool
    shapes: int
    caption: str


@dataclass
class PageResult:
    """What one page did in the browser; ``files`` maps each URL path to its bytes."""

    path: str
    bytes: int = 0
    requests: int = 0
    files: dict[str, int] = field(default_factory=dict)
    blocked: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    axe: dict[str, int] = field(default_factory=dict)
    violations: list[dict[str, object]] = field(default_factory=list)
    maps: list[MapResult] = field(default_factory=list)
    placeholders: list[str] = field(default_factory=list)
    widgets_without_fallback: list[str] = field(default_factory=list)
    bad_alt: list[str] = field(default_factory=list)
    main_landmarks: int = 0


def book_pages(site: Path) -> list[str]:
    """Every page Sphinx wrote, relative to the site root.

    Sphinx marks its pages' <html> tag with ``data-content_root``; that skips
    the root redirect and any app copied into the site (JupyterLite's own
    pages have their own test).
    """
    return sorted(
        p.relative_to(site).as_posix() for p in site.rglob("*.html")
        if "data-content_root" in p.read_text(encoding="utf-8", errors="replace")[:2000]
    )


def check_maps(page: Page) -> list[MapResult]:
    """Scroll each map into view (they load lazily) and count what Leaflet drew."""
    results = []
    for figure in page.locator("figure.citylab-map").all():
        iframe = figure.locator("iframe")
        iframe.scroll_into_view_if_needed()
        frame = iframe.element_handle().content_frame()
        leaflet = frame is not None and frame.wait_for_selector(".leaflet-container", timeout=15_000) is not None
        shapes = frame.locator(".leaflet-overlay-pane path").count() if frame else 0
        caption = figure.locator("figcaption")
        results.append(MapResult(
            title=iframe.get_attribute("title") or "",
            leaflet=leaflet,
            shapes=shapes,
            caption=caption.inner_text().strip() if caption.count() else "",
        ))
    return results


def audit(browser: Browser, base: str, path: str, shots: Path) -> PageResult:
    """Load one page in a fresh context and record everything the tests check."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    blocked = block_remote(page)
    weight = record_weight(page)
    errors = record_errors(page)
    page.goto(base + path, wait_until="load")
    result = PageResult(path=path, maps=check_maps(page))
    facts = page.evaluate(PAGE_FACTS_JS)
    violations = run_axe(page)
    page.screenshot(path=str(shots / (path.replace("/", "__") + ".png")), full_page=True)
    context.close()
    result.bytes, result.requests = weight.total_bytes, weight.requests
    result.files = {url.removeprefix(base).split("?")[0]: size for url, size in weight.biggest()}
    result.blocked = list(blocked)
    result.errors = list(errors)
    result.axe = dict(Counter(v["impact"] for v in violations))
    result.violations = [
        {"id": v["id"], "impact": v["impact"], "help": v["help"],
         "targets": [n["target"] for n in v["nodes"][:5]], "count": len(v["nodes"])}
        for v in violations
    ]
    result.placeholders = facts["placeholders"]
    result.widgets_without_fallback = facts["noFallback"]
    result.bad_alt = [f"{img['src'][-60:]} alt={img['alt']!r}" for img in facts["images"]
                      if not img["alt"] or FILENAME_ALT.match(img["alt"])
                      or img["alt"] == Path(img["src"]).name]
    result.main_landmarks = facts["main"]
    return result


def write_report(results: list[PageResult], folder: Path) -> None:
    """pages.json (everything) and pages.md (a table, biggest pages first)."""
    (folder / "pages.json").write_text(json.dumps([asdict(r) for r in results], indent=1), encoding="utf-8")
    impacts = ("critical", "serious", "moderate", "minor")
    rows = ["| page | KB | requests | " + " | ".join(f"axe {i}" for i in impacts) + " | console errors |",
            "|---|---:|---:|" + "---:|" * len(impacts) + "---:|"]
    for r in sorted(results, key=lambda r: -r.bytes):
        counts = " | ".join(str(r.axe.get(i, 0)) for i in impacts)
        rows.append(f"| {r.path} | {r.bytes / 1000:,.0f} | {r.requests} | {counts} | {len(r.errors)} |")
    (folder / "pages.md").write_text("\n".join(rows) + "\n", encoding="utf-8")


@pytest.fixture(scope="module")
def chromium(site: Path) -> Iterator[tuple[Browser, str]]:
    """One Chromium for this file, and the base URL of the site served locally."""
    with sync_playwright() as playwright, serve(site) as base:
        browser = launch_chromium(playwright)
        yield browser, base
        browser.close()


@pytest.fixture(scope="module")
def results(site: Path, chromium: tuple[Browser, str]) -> dict[str, PageResult]:
    """Audit every page once; most tests in this file read the same results."""
    folder = artifacts_dir("browser")
    for old in folder.glob("*.png"):
        old.unlink()
    audited = [audit(*chromium, path, folder) for path in book_pages(site)]
    write_report(audited, folder)
    return {r.path: r for r in audited}


def offenders(results: dict[str, PageResult], attribute: str) -> dict[str, object]:
    """Pages whose ``attribute`` is non-empty, for a readable assertion message."""
    return {path: getattr(r, attribute) for path, r in results.items() if getattr(r, attribute)}


def test_every_page_was_loaded(results: dict[str, PageResult]) -> None:
    assert "book/intro.html" in results and len(results) >= 40


def test_no_request_leaves_the_machine(results: dict[str, PageResult]) -> None:
    assert offenders(results, "blocked") == {}


def test_no_javascript_errors(results: dict[str, PageResult]) -> None:
    assert offenders(results, "errors") == {}


def test_every_map_renders_with_a_text_alternative(results: dict[str, PageResult]) -> None:
    maps = [(path, m) for path, r in results.items() for m in r.maps]
    assert len(maps) >= 3, "the book has maps in modules 1, 2 and 4"
    broken = {f"{path}: {m.title}": m for path, m in maps
              if not (m.leaflet and m.shapes > 0 and m.title and len(m.caption) > 40)}
    assert broken == {}


def test_interactive_figures_have_a_static_view(results: dict[str, PageResult]) -> None:
    assert offenders(results, "placeholders") == {}
    assert offenders(results, "widgets_without_fallback") == {}


def test_images_have_meaningful_alt_text(results: dict[str, PageResult]) -> None:
    assert offenders(results, "bad_alt") == {}


def test_every_page_has_one_main_landmark(results: dict[str, PageResult]) -> None:
    assert {p: r.main_landmarks for p, r in results.items() if r.main_landmarks != 1} == {}


def test_no_serious_or_critical_accessibility_violations(results: dict[str, PageResult]) -> None:
    blocking = {path: [v for v in r.violations if v["impact"] in BLOCKING_IMPACTS]
                for path, r in results.items()}
    assert {path: found for path, found in blocking.items() if found} == {}


def test_pages_stay_within_the_weight_budget(results: dict[str, PageResult]) -> None:
    heavy = {path: (r.bytes, list(r.files.items())[:5]) for path, r in results.items() if r.bytes > MAX_PAGE_BYTES}
    assert heavy == {}, f"pages over {MAX_PAGE_BYTES:,} bytes (heaviest files listed)"


def test_trimmed_theme_assets_stay_out(results: dict[str, PageResult]) -> None:
    """What book/_templates/layout.html and citylab-theme.css keep off every page."""
    dropped = re.compile(r"fontawesome\.js|fa-(solid|regular|brands)-\d+\.|sphinx-thebe|searchindex\.js")
    loaded = {path: [f for f in r.files if dropped.search(f)] for path, r in results.items()}
    loaded["search.html"] = [f for f in loaded.get("search.html", []) if f != "searchindex.js"]
    assert {path: files for path, files in loaded.items() if files} == {}


def fresh_page(chromium: tuple[Browser, str], path: str, colour_scheme: str = "light") -> Page:
    """A page of the book in its own context, with remote requests blocked."""
    browser, base = chromium
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme=colour_scheme)
    page = context.new_page()
    block_remote(page)
    page.goto(base + path)
    return page


@pytest.mark.parametrize("path", ["book/intro.html", "modules/02-digital-governance/03-who-benefits-map.html"])
def test_dark_mode_has_no_blocking_accessibility_violations(chromium: tuple[Browser, str], path: str) -> None:
    """The theme follows the reader's system colours; contrast must hold in dark mode too."""
    page = fresh_page(chromium, path, colour_scheme="dark")
    assert page.evaluate("() => document.documentElement.dataset.theme") == "dark"
    for frame in page.locator("figure.citylab-map iframe").all():
        frame.scroll_into_view_if_needed()
    blocking = [(v["id"], len(v["nodes"])) for v in run_axe(page) if v["impact"] in BLOCKING_IMPACTS]
    page.context.close()
    assert blocking == []


def test_the_front_page_opens_the_introduction(chromium: tuple[Browser, str]) -> None:
    page = fresh_page(chromium, "")
    page.wait_for_url("**/book/intro.html")
    page.context.close()


def test_keyboard_users_can_skip_to_the_content(chromium: tuple[Browser, str]) -> None:
    page = fresh_page(chromium, "book/intro.html")
    page.keyboard.press("Tab")
    focused = page.evaluate("() => [document.activeElement.textContent.trim(), document.activeElement.hash]")
    assert focused == ["Skip to main content", "#main-content"]
    page.keyboard.press("Enter")
    assert page.evaluate("() => location.hash") == "#main-content"
    assert page.locator("main#main-content").count() == 1
    page.context.close()


def test_colour_mode_switch_works_from_the_keyboard(chromium: tuple[Browser, str]) -> None:
    page = fresh_page(chromium, "book/intro.html")
    mode = "() => document.documentElement.dataset.mode"
    assert page.evaluate(mode) == "auto"
    page.locator(".theme-switch-button").first.focus()
    page.keyboard.press("Enter")
    assert page.evaluate(mode) in ("light", "dark")
    page.context.close()


def test_search_finds_pages_offline(chromium: tuple[Browser, str]) -> None:
    """The search button opens a form; the search page reads the local index."""
    page = fresh_page(chromium, "book/intro.html")
    page.keyboard.press("Control+k")
    page.locator("#pst-search-dialog input[name=q]").fill("participatory budgeting")
    page.keyboard.press("Enter")
    page.wait_for_url("**/search.html?q=*")
    page.wait_for_selector("#search-results li a", timeout=15_000)
    assert page.locator("#search-results li").count() >= 3
    page.context.close()


def test_icon_font_subsets_cover_every_icon(site: Path) -> None:
    """A theme upgrade that adds an icon must not show an empty box in its place."""
    from fontTools.ttLib import TTFont

    needed = icons_in_use(site)
    missing = {}
    for original, small in ICON_FONTS.items():
        full = set(TTFont(site / "_static/vendor/fontawesome/webfonts" / original).getBestCmap())
        have = set(TTFont(site / "_static/fonts" / small).getBestCmap())
        lacking = (needed & full) - have
        if lacking:
            missing[small] = sorted(f"U+{c:X}" for c in lacking)
    assert missing == {}, f"regenerate: python tests/test_browser.py {site}"


if __name__ == "__main__":
    subset_icon_fonts(Path(sys.argv[1]))
