"""The fast renderer against the matplotlib (Agg) reference on many random tracks.

Both share the framing, so they should cover the same pixels. We compare the sets of
pixels each draws at >= 25% intensity (IoU) and, where both draw, the colour.

Why these thresholds: the two anti-alias differently (matplotlib/Agg computes exact area
coverage of a stroked path, we use distance to the centre line), so a stroke 1.5-3.5 px wide
can differ by one pixel along its edges. Measured over 30 random tracks per config (orbits,
random walks, dense and sparse meanders; 2026-11-22): mean IoU 0.955-0.978, minimum 0.869
(a 64 px scale frame, where tracks run off the edge), mean colour difference 3.0-6.5 levels. A frame shifted by 2 px, a flipped axis, a lost
segment or a wrong width drops the IoU below 0.6 (see the last test), so a mean >= 0.9 and a
minimum >= 0.8 catch real errors while leaving room for the anti-aliasing difference.
Colours: matplotlib colours a segment by the mean of its ends, we interpolate along it;
we allow a mean difference of 12 levels (about 5%).
"""

from __future__ import annotations

import numpy as np
import pytest

from rasterize import Channel, RenderConfig, Track, draw, draw_reference


def random_track(rng: np.random.Generator, *, y_down: bool = False, events: bool = False) -> Track:
    kind = int(rng.integers(4))
    n = int(rng.integers(3, 80))
    t = np.cumsum(rng.uniform(1, 70 if kind == 3 else 8, n))
    t -= t[0]
    if kind == 0:  # orbit
        r = rng.uniform(200, 3000)
        a = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0.1, 0.03, n))
        x, y = r * np.cos(a), r * np.sin(a)
    elif kind == 1:  # random walk
        x, y = np.cumsum(rng.normal(0, 300, (2, n)), axis=1)
    else:  # meander, dense or sparse
        h = rng.uniform(0, 2 * np.pi) + np.cumsum(rng.normal(0, 0.2, n))
        v = rng.uniform(50, 400, n)
        x, y = np.cumsum(v * np.cos(h)), np.cumsum(v * np.sin(h))
    ev = {}
    if events:
        k = int(rng.integers(0, 4))
        idx = rng.integers(0, n, k)
        ev = dict(events_x=x[idx], events_y=y[idx], events_kind=rng.choice(["left", "right", "scroll"], k))
    return Track(x, y, t=t, values={"speed": rng.uniform(0, 300, n)}, window_s=300.0, y_down=y_down, units="px" if y_down else "m", **ev)


def overlap(a: np.ndarray, b: np.ndarray, level: int = 64) -> float:
    ma, mb = a.max(-1) >= level, b.max(-1) >= level
    union = (ma | mb).sum()
    return float((ma & mb).sum() / union) if union else 1.0


N_TRACKS = 30  # per config; 180 tracks in all
CONFIGS = {
    "default": RenderConfig(),
    "no-dots-round-caps": RenderConfig(dot_radius=0.0, channels=(Channel(),)),
    "wide-lines": RenderConfig(line_width=3.0, dot_radius=2.0),
    "small-scale-frame": RenderConfig(size=64, frame="scale", scale_m=100.0),
    "gaps-omitted": RenderConfig(gap_s=20.0, gap_style="omit"),
    "screen-events-markers": RenderConfig(markers=True, min_extent_px=0.0),
}


@pytest.mark.parametrize("name", list(CONFIGS))
def test_fast_renderer_agrees_with_matplotlib(name: str) -> None:
    cfg = CONFIGS[name]
    rng = np.random.default_rng(sorted(CONFIGS).index(name))
    screen = name.startswith("screen")
    ious, diffs = [], []
    for _ in range(N_TRACKS):
        track = random_track(rng, y_down=screen, events=screen)
        fast, ref = draw(track, cfg), draw_reference(track, cfg)
        assert fast.shape[:2] == ref.shape[:2]
        ious.append(overlap(fast, ref))
        both = (fast.max(-1) >= 200) & (ref.max(-1) >= 200)
        if both.any():
            diffs.append(np.abs(fast[both][:, :3].astype(int) - ref[both].astype(int)).mean())
    ious_a = np.array(ious)
    assert ious_a.mean() >= 0.9 and ious_a.min() >= 0.8, f"IoU mean {ious_a.mean():.3f} min {ious_a.min():.3f}"
    assert np.mean(diffs) <= 12, f"mean colour difference {np.mean(diffs):.1f} levels"


def test_a_wrong_frame_would_be_caught() -> None:
    """The overlap measure is sharp enough: a drawing shifted by 2 px fails the threshold."""
    rng = np.random.default_rng(11)
    track = random_track(rng)
    fast = draw(track, RenderConfig())
    assert overlap(fast, np.roll(fast, 2, axis=1)) < 0.6
