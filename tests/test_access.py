"""Distance-to-service helpers on a grid whose answers can be worked out by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from citylab import access


def test_nearest_distance() -> None:
    origins = np.array([[0, 0], [300, 400], [1000, 0]])
    targets = np.array([[0, 0], [1000, 100]])
    assert access.nearest_distance(origins, targets, chunk=2).tolist() == [0.0, 500.0, 100.0]
    assert np.isinf(access.nearest_distance(origins, np.empty((0, 2)))).all()
    with pytest.raises(ValueError):
        access.nearest_distance(np.array([1, 2, 3]), targets)


def test_share_within_overall_and_by_group() -> None:
    cells = pd.DataFrame({
        "distance_m": [100, 400, 900, 50],
        "inhabitants": [10, 30, 60, 0],
        "district": ["A", "A", "B", "B"],
    })
    assert access.share_within(cells, 500) == pytest.approx(0.4)
    by = access.share_within(cells, 500, by="district")
    assert by.to_dict() == {"A": 1.0, "B": 0.0}
