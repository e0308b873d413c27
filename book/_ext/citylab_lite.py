"""Sphinx extension: the JupyterLite copy of the notebooks, linked from each notebook page.

Why: self-learners without Python can run a notebook in their browser. After
the HTML build, :func:`lite_build.build_lite` writes the JupyterLite site to
``<html>/lite/``; every page made from a notebook in ``modules/`` gets a
"Run in your browser" box that opens the same notebook there, and says so
when part of the notebook cannot run in the browser.
"""

from __future__ import annotations

import posixpath
from pathlib import Path
from typing import Any

from docutils import nodes
from lite_build import LiteBuildError, build_lite
from sphinx.application import Sphinx
from sphinx.errors import ExtensionError
from sphinx.util import logging

LOGGER = logging.getLogger(__name__)
#: The book page that explains the browser version (its docname).
GUIDE = "book/run-in-browser"
_PABUTOOLS = "the counting rules need pabutools, which needs gmpy2, a compiled package not available for the browser"
#: Notebooks that only partly run in the browser, and why (checked in Chromium).
LIMITS = {
    "modules/04-participation/02-counting-rules": _PABUTOOLS,
    "modules/04-participation/03-where-the-money-goes": _PABUTOOLS,
}


def _is_notebook(app: Sphinx, docname: str) -> bool:
    return docname.startswith("modules/") and str(app.env.doc2path(docname)).endswith(".ipynb")


def add_link(app: Sphinx, doctree: nodes.document, docname: str) -> None:
    """Put the "Run in your browser" box under the title of a notebook page."""
    if app.builder.format != "html" or not _is_notebook(app, docname):
        return
    target = posixpath.relpath(f"lite/notebooks/index.html?path={docname}.ipynb", posixpath.dirname(docname))
    guide = app.builder.get_relative_uri(docname, GUIDE)
    para = nodes.paragraph()
    para += nodes.reference("", "Run this notebook in your browser", refuri=target)
    para += nodes.Text(" (JupyterLite: nothing to install, nothing fetched from the internet; ")
    para += nodes.reference("", "what works there", refuri=guide)
    para += nodes.Text(").")
    box = nodes.admonition("", nodes.title("", "Run it in your browser"), para, classes=["note", "citylab-lite"])
    if docname in LIMITS:
        box += nodes.paragraph("", f"Part of this notebook does not run in the browser: {LIMITS[docname]}.")
    section = next(iter(doctree.findall(nodes.section)), None)
    parent = section if section is not None else doctree
    parent.insert(1 if section is not None else 0, box)


def build_site(app: Sphinx, exception: Exception | None) -> None:
    """Write the JupyterLite site into the HTML output once the book is built.

    Only for the web site (builder ``html``): the single-page build behind the
    PDF has no use for a 90 MB app.
    """
    if exception is not None or app.builder.name != "html":
        return
    LOGGER.info("citylab_lite: building the JupyterLite site (html/lite/)")
    try:
        build_lite(Path(app.srcdir), Path(app.outdir) / "lite")
    except LiteBuildError as err:
        raise ExtensionError(f"citylab_lite: {err}") from err


def setup(app: Sphinx) -> dict[str, Any]:
    """Register the two hooks."""
    app.connect("doctree-resolved", add_link)
    app.connect("build-finished", build_site)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
