"""Who lives near a service? Distances from where people live to the nearest service point.

Equity questions about a service (bike stations, clinics, sensors, Wi-Fi) start
with one number per neighbourhood: the share of residents within a walking
distance of the nearest service point. Straight-line distance on a projected
map (metres) is a simple, explainable first measure; walking routes are longer.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def nearest_distance(origins: np.ndarray, targets: np.ndarray, chunk: int = 2_000) -> np.ndarray:
    """Straight-line distance (same unit as the coordinates) from each origin to its nearest target.

    ``origins`` and ``targets`` are arrays of shape (n, 2) with projected x/y
    coordinates in metres. Works in chunks so memory stays small.
    """
    origins = np.asarray(origins, dtype=float)
    targets = np.asarray(targets, dtype=float)
    if origins.ndim != 2 or origins.shape[1] != 2 or targets.ndim != 2 or targets.shape[1] != 2:
        raise ValueError("origins and targets must be arrays of x/y pairs")
    if len(targets) == 0:
        return np.full(len(origins), np.inf)
    out = np.empty(len(origins))
    for start in range(0, len(origins), chunk):
        block = origins[start:start + chunk]
        squared = ((block[:, None, :] - targets[None, :, :]) ** 2).sum(axis=2)
        out[start:start + chunk] = np.sqrt(squared.min(axis=1))
    return out


def share_within(
    residents: pd.DataFrame,
    threshold_m: float,
    *,
    by: str | None = None,
    distance: str = "distance_m",
    weight: str = "inhabitants",
) -> pd.Series | float:
    """Share of residents living within ``threshold_m`` of the nearest service point.

    Each row of ``residents`` is a place (a grid cell) with a number of
    residents (``weight``) and the distance to the nearest service. Returns one
    share, or one share per value of ``by`` (for example, per district).
    """
    near = residents[weight].where(residents[distance] <= threshold_m, 0)
    if by is None:
        total = residents[weight].sum()
        return float(near.sum() / total) if total else float("nan")
    grouped = pd.DataFrame({"near": near, "all": residents[weight], "by": residents[by]}).groupby("by")
    sums = grouped.sum()
    return (sums["near"] / sums["all"]).astype(float)
