"""Offline maps: no network asset, no tiles, escaped text, title and alt text."""

from __future__ import annotations

import re

import pytest

from citylab import maps

# A two-square test geometry (a fixture, not city data).
SQUARES = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"id": i, "name": name},
            "geometry": {
                "type": "Polygon",
                "coordinates": [[[x, 45.0], [x + 1, 45.0], [x + 1, 46.0], [x, 46.0], [x, 45.0]]],
            },
        }
        for i, (x, name) in enumerate([(-74.0, "<script>alert(1)</script>"), (-73.0, "Ville & Co")])
    ],
}

NETWORK_URL = re.compile(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", re.I)


def rendered(fmap: maps.OfflineMap) -> str:
    return fmap.get_root().render()


def make_map() -> maps.OfflineMap:
    fmap = maps.offline_map(SQUARES, title="Test squares", alt_text="Two squares, one darker.")
    return maps.add_choropleth(
        fmap, SQUARES, {0: 10.0, 1: 20.0}, key="id", legend_title="Votes", tooltip={"name": "Name", "value": "Votes"}
    )


def test_map_loads_nothing_from_the_network() -> None:
    page = rendered(make_map())
    assert "leaflet" in page.lower() and "L.map(" in page
    loads = [m.group(0) for m in re.finditer(r"<(?:script|link|img)[^>]*>", page) if NETWORK_URL.search(m.group(0))]
    assert loads == []
    assert "tile.openstreetmap" not in page and "L.tileLayer" not in page
    assert "d3.v3" not in page and "cdn." not in page


def test_default_folium_assets_are_not_changed_for_other_maps() -> None:
    import folium

    make_map()
    assert any("leaflet" in url for _name, url in folium.Map.default_js)


def test_tooltip_text_is_escaped_and_basemap_drops_properties() -> None:
    page = rendered(make_map())
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;" in page.replace("\\u0026", "&")
    assert "Ville &amp; Co" in page.replace("\\u0026", "&")


def test_repr_has_title_and_text_alternative() -> None:
    html_out = make_map()._repr_html_()
    assert 'title="Test squares"' in html_out
    assert ">Two squares, one darker.</figcaption>" in html_out
    assert "Make this Notebook Trusted" not in html_out


def test_legend_is_plain_html_with_all_classes() -> None:
    page = rendered(make_map())
    assert "<strong>Votes</strong>" in page
    assert "10 – 20" in page


def test_bin_edges_and_colours() -> None:
    edges = maps.bin_edges([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], bins=5)
    assert edges[0] == 1 and edges[-1] == 10 and edges == sorted(edges)
    assert maps.colour_for(1, edges) == maps.SEQUENTIAL[0]
    assert maps.colour_for(10, edges) == maps.SEQUENTIAL[-1]
    assert maps.colour_for(None, edges) == maps.NO_DATA_COLOUR
    assert maps.colour_for(float("nan"), edges) == maps.NO_DATA_COLOUR
    assert maps.colour_for(5, [5.0]) == maps.SEQUENTIAL[-1]


def test_bin_edges_need_values() -> None:
    with pytest.raises(ValueError, match="no values"):
        maps.bin_edges([float("nan")])


def test_map_fits_the_basemap() -> None:
    page = rendered(maps.offline_map(SQUARES, title="t", alt_text="a"))
    assert "[[45.0, -74.0], [46.0, -72.0]]" in page
