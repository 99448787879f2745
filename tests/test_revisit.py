"""``revisit_1km`` from all pairs at once equals the plain definition (every pair of points)."""

from __future__ import annotations

import numpy as np

from flightpaths.score.aggregate import REVISIT_GAP_S, REVISIT_M, revisit_fraction
from flightpaths.score.turns import THIN_M, thin_indices


def _by_definition(t: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    k = thin_indices(x, y, THIN_M)
    t, x, y = t[k], x[k], y[k]
    near = np.hypot(x[:, None] - x[None, :], y[:, None] - y[None, :]) <= REVISIT_M
    lag = t[:, None] - t[None, :]  # this point's time minus the other's
    hit = (near & (lag >= REVISIT_GAP_S[0]) & (lag <= REVISIT_GAP_S[1])).any(axis=1)
    return float(hit.mean())


def test_revisits_match_the_definition() -> None:
    rng = np.random.default_rng(5)
    values = []
    for trial in range(60):
        n = int(rng.integers(3, 300))
        t = np.sort(rng.uniform(0, 3000, n))
        if trial % 3 == 0:
            t = np.round(t / 150) * 150  # lags exactly at the gap limits, and ties
        x, y = rng.normal(0, 1500, n), rng.normal(0, 1500, n)
        if trial % 4 == 0:
            x, y = np.round(x / 500) * 500, np.round(y / 1000) * 1000  # distances exactly 1 km
        got, want = revisit_fraction(t, x, y), _by_definition(t, x, y)
        assert got == want, trial
        values.append(got)
    assert 0 < np.mean(values) < 1  # the cases are mixed, not all 0 or all 1
