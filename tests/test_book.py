"""The book builds with every notebook executed, warnings as errors, and the
built site needs no network and shows no solution.

One build (session fixture) serves every check; it is the slow tier.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from conftest import ROOT
from leaks import all_secret_lines, found_in, html_text

pytestmark = pytest.mark.slow


def pages(site: Path) -> list[Path]:
    return sorted(p for p in site.rglob("*.html") if "_static" not in p.parts)


class Loads(HTMLParser):
    """Collect every URL a page loads by itself (scripts, styles, images, fonts, frames)."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.images_without_alt: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag in ("script", "img", "iframe", "source", "audio", "video") and a.get("src"):
            self.urls.append(a["src"] or "")
        if tag == "link" and a.get("href") and (a.get("rel") or "") not in ("canonical", "search", "index", "next", "prev"):
            self.urls.append(a["href"] or "")
        if tag == "img" and not (a.get("alt") or "").strip():
            self.images_without_alt.append((a.get("src") or "")[:60])


REMOTE = re.compile(r"^(?:https?:)?//", re.I)


def test_every_toc_page_is_built(site: Path) -> None:
    built = {p.relative_to(site).as_posix() for p in pages(site)}
    for page in ("book/intro.html", "modules/01-people-centred/index.html",
                 "modules/01-people-centred/01-who-lives-in-cities.html",
                 "modules/01-people-centred/02-who-is-online.html",
                 "modules/01-people-centred/facilitator.html", "book/references.html"):
        assert page in built


def test_pages_load_nothing_from_the_network(site: Path) -> None:
    remote = {}
    for page in pages(site):
        text = page.read_text(encoding="utf-8")
        parser = Loads()
        parser.feed(text)
        urls = [u for u in parser.urls if REMOTE.match(u)]
        # Maps live in iframes' srcdoc: check what they load too.
        for srcdoc in re.findall(r'srcdoc="([^"]*)"', text):
            inner = Loads()
            inner.feed(srcdoc.replace("&quot;", '"').replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
            urls += [u for u in inner.urls if REMOTE.match(u)]
        urls += re.findall(r"https?://[^\"'\s]*(?:tile|\{z\}/\{x\})[^\"'\s]*", text)
        if urls:
            remote[page.name] = urls
    assert remote == {}


def test_css_loads_no_remote_fonts(site: Path) -> None:
    offenders = [
        css.name for css in site.rglob("*.css")
        if re.search(r"url\(\s*['\"]?(?:https?:)?//", css.read_text(encoding="utf-8", errors="replace"))
    ]
    assert offenders == []


def test_every_image_has_alt_text(site: Path) -> None:
    missing = {}
    for page in pages(site):
        parser = Loads()
        parser.feed(page.read_text(encoding="utf-8"))
        if parser.images_without_alt:
            missing[page.name] = parser.images_without_alt
    assert missing == {}


def test_maps_are_in_the_book_with_a_title(site: Path) -> None:
    page = (site / "modules/01-people-centred/02-who-is-online.html").read_text(encoding="utf-8")
    assert 'class="citylab-map"' in page and "<iframe srcdoc=" in page and 'title="' in page
    assert "L.map(" in page.replace("&quot;", '"')


def test_no_solution_or_hidden_test_reaches_the_book(site: Path) -> None:
    secrets = all_secret_lines(ROOT / "exercises" / "source")
    assert secrets, "the exercises must have solutions and hidden tests to check for"
    leaked = {}
    for path in site.rglob("*"):
        if path.is_file() and path.suffix in (".html", ".js", ".txt", ".ipynb", ".md", ".json", ".py"):
            text = html_text(path) if path.suffix == ".html" else path.read_text(encoding="utf-8", errors="replace")
            found = found_in(secrets, text)
            if found:
                leaked[str(path.relative_to(site))] = found[:3]
    assert leaked == {}
    assert not list(site.rglob("*nbgrader*")) and not (site / "exercises").exists()
