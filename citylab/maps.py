"""Folium maps that work with no network.

A plain ``folium.Map`` loads Leaflet, jQuery, Bootstrap and Font Awesome
from CDNs, draws OpenStreetMap tiles and, for every legend, pulls d3. With no
connection it shows a blank box. The course is used in places with slow or
no internet, so every map here:

* inlines Leaflet (from the pinned ``xstatic-leaflet`` package) into the map
  itself, so it renders the same in JupyterLab, in the built book and from a
  ``file://`` copy of the book;
* draws no tiles: the basemap is a real polygon layer from a dataset;
* draws its legend as plain HTML (no d3);
* escapes every text shown in a tooltip, because dataset text is data, not
  markup;
* carries a title and a text alternative for screen-reader users.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import folium
import xstatic.pkg.leaflet as xleaflet
from branca.element import Element, Figure

from citylab.charts import CAPTION_STYLE, SEQUENTIAL

#: Style of the polygons drawn under the data: quiet, so data stands out.
BASEMAP_STYLE = {"fillColor": "#f2f2f2", "color": "#8c8c8c", "weight": 0.8, "fillOpacity": 1.0}
#: Fill colour of an area that has no value.
NO_DATA_COLOUR = "#d9d9d9"


@lru_cache(maxsize=1)
def _leaflet_assets() -> tuple[str, str]:
    """Leaflet's JS and CSS as text; CSS image rules removed (we draw no markers)."""
    base = Path(xleaflet.BASE_DIR)
    script = (base / "leaflet.js").read_text(encoding="utf-8")
    style = (base / "leaflet.css").read_text(encoding="utf-8")
    style = re.sub(r"background-image:\s*url\(images/[^)]*\);", "", style)
    return script, style


def _bounds(collection: Mapping[str, Any]) -> list[list[float]]:
    """South-west and north-east corners of all coordinates in a FeatureCollection."""
    lons: list[float] = []
    lats: list[float] = []

    def walk(coords: Any) -> None:
        if coords and isinstance(coords[0], (int, float)):
            lons.append(float(coords[0]))
            lats.append(float(coords[1]))
        else:
            for part in coords:
                walk(part)

    for feature in collection["features"]:
        walk(feature["geometry"]["coordinates"])
    return [[min(lats), min(lons)], [max(lats), max(lons)]]


class OfflineMap(folium.Map):
    """A folium map with Leaflet inlined, no tiles, a title and a text alternative.

    Use :func:`offline_map` to make one.
    """

    def __init__(self, *, title: str, alt_text: str, height_px: int = 460, **kwargs: Any) -> None:
        super().__init__(tiles=None, **kwargs)
        # Per-instance lists: the class-level lists are shared by all maps.
        self.default_js = []
        self.default_css = []
        self.title = title
        self.alt_text = alt_text
        self.height_px = height_px
        script, style = _leaflet_assets()
        header = self.get_root().header
        header.add_child(Element(f"<style>{style}</style>"), name="leaflet_css_inline")
        header.add_child(Element(f"<script>{script}</script>"), name="leaflet_js_inline")

    def _repr_html_(self, **kwargs: Any) -> str:
        """An iframe with a title, then the text alternative (WCAG 1.1.1)."""
        root = self.get_root()
        assert isinstance(root, Figure)
        page = html.escape(root.render(), quote=True)
        return (
            f'<figure class="citylab-map">'
            f'<iframe srcdoc="{page}" title="{html.escape(self.title)}" '
            f'style="width:100%;height:{self.height_px}px;border:1px solid #ccc;" '
            f'loading="lazy"></iframe>'
            f'<figcaption style="{CAPTION_STYLE}">{html.escape(self.alt_text)}</figcaption></figure>'
        )


def offline_map(
    basemap: Mapping[str, Any],
    *,
    title: str,
    alt_text: str,
    height_px: int = 460,
) -> OfflineMap:
    """A map with no tile server, fitted to a real polygon basemap.

    ``basemap`` is a GeoJSON FeatureCollection (from :func:`citylab.data.load_geojson`)
    drawn in light grey as the background. ``title`` names the map for
    screen readers; ``alt_text`` says in words what the map shows.
    """
    fmap = OfflineMap(title=title, alt_text=alt_text, height_px=height_px, control_scale=True)
    # Only the shapes are drawn: dropping the properties keeps the page small
    # and keeps dataset text out of the map's script.
    shapes = [
        {"type": "Feature", "geometry": f["geometry"], "properties": {}} for f in basemap["features"]
    ]
    folium.GeoJson(
        {"type": "FeatureCollection", "features": shapes},
        name="basemap",
        style_function=lambda _feature: BASEMAP_STYLE,
        interactive=False,
    ).add_to(fmap)
    fmap.fit_bounds(_bounds(basemap))
    return fmap


def bin_edges(values: Sequence[float], bins: int = 5) -> list[float]:
    """Equal-count (quantile) class edges, so each colour covers a similar number of areas."""
    ordered = sorted(v for v in values if v == v)  # drop NaN
    if not ordered:
        raise ValueError("no values to colour the map with")
    edges = [ordered[round(i * (len(ordered) - 1) / bins)] for i in range(bins + 1)]
    return sorted(set(edges))


def colour_for(value: float | None, edges: Sequence[float], palette: Sequence[str] = SEQUENTIAL) -> str:
    """The palette colour of the class that holds ``value``."""
    if value is None or value != value:
        return NO_DATA_COLOUR
    classes = len(edges) - 1
    if classes < 1:  # every area has the same value
        return palette[-1]
    for i in range(classes):
        if value <= edges[i + 1]:
            return palette[round(i * (len(palette) - 1) / max(classes - 1, 1))]
    return palette[-1]


def _legend_html(title: str, edges: Sequence[float], palette: Sequence[str], fmt: str) -> str:
    rows = []
    pairs = list(zip(edges[:-1], edges[1:])) or [(edges[0], edges[0])]
    for low, high in pairs:
        colour = colour_for(high, edges, palette)
        rows.append(
            f'<div><span style="display:inline-block;width:14px;height:14px;'
            f'background:{colour};border:1px solid #555;margin-right:6px;"></span>'
            f"{format(low, fmt)} – {format(high, fmt)}</div>"
        )
    return (
        '<div style="position:absolute;bottom:24px;right:10px;z-index:1000;background:#fff;'
        'padding:6px 8px;border:1px solid #999;font:13px/1.4 sans-serif;color:#111;">'
        f"<strong>{html.escape(title)}</strong>{''.join(rows)}</div>"
    )


def add_choropleth(
    fmap: OfflineMap,
    areas: Mapping[str, Any],
    values: Mapping[Any, float],
    *,
    key: str,
    legend_title: str,
    tooltip: Mapping[str, str],
    bins: int = 5,
    number_format: str = ",.0f",
) -> OfflineMap:
    """Colour each area of ``areas`` by ``values[feature.properties[key]]``.

    ``tooltip`` maps property names to the labels shown on hover; a value
    column called ``value`` is available too. All tooltip text is escaped.
    Colours use equal-count classes of a colour-blind-safe palette, and the
    legend is plain HTML, so no d3 is loaded.
    """
    edges = bin_edges(list(values.values()), bins)
    features = []
    for feature in areas["features"]:
        props = feature["properties"]
        value = values.get(props.get(key))
        shown = {name: html.escape(str(props.get(name, ""))) for name in tooltip if name != "value"}
        shown["value"] = "no data" if value is None else format(value, number_format)
        shown["_fill"] = colour_for(value, edges)
        features.append({"type": "Feature", "geometry": feature["geometry"], "properties": shown})
    folium.GeoJson(
        {"type": "FeatureCollection", "features": features},
        name=legend_title,
        style_function=lambda f: {
            "fillColor": f["properties"]["_fill"],
            "color": "#333333",
            "weight": 0.7,
            "fillOpacity": 0.85,
        },
        tooltip=folium.GeoJsonTooltip(
            fields=list(tooltip), aliases=[html.escape(label) for label in tooltip.values()]
        ),
    ).add_to(fmap)
    fmap.get_root().html.add_child(Element(_legend_html(legend_title, edges, SEQUENTIAL, number_format)))
    fmap.fit_bounds(_bounds(areas), padding_bottom_right=(190, 10))  # keep the legend off the areas
    return fmap
