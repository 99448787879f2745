"""rasterize: golden pixels on tiny canvases, colour through fixed ranges, framing, bad input.

Golden arrays are written out by hand. With ``line_width=w`` the renderer gives a pixel the
coverage ``clip(w/2 + 0.5 - d, 0, 1)``, d = distance from the pixel centre to the segment:

- width 1 (R = 1): on the line 255; a diagonal's neighbours (d = 1/sqrt 2): 1 - 0.7071 =
  0.2929 -> 74.7 -> 75.
- width 2 (R = 1.5): a horizontal line's neighbour rows (d = 1): 0.5 -> 127.5 -> 128.
- a dot of radius 1 (R = 1.5): centre 255; 4-neighbours (d = 1) 128; diagonals (d = 1.414)
  0.0858 -> 21.9 -> 22.
"""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rasterize
from rasterize import Channel, RenderConfig, Track, TrackBatch, draw, draw_batch, draw_with_info, encode_png
from rasterize.config import VARIABLES, default_channel

WHITE = (Channel(),)


def golden_cfg(size: int = 7, **kw: object) -> RenderConfig:
    """One white channel, 1 unit per pixel centred on the centroid: coordinates = pixel offsets."""
    base: dict[str, object] = dict(size=size, channels=WHITE, frame="scale", scale_m=1.0, line_width=1.0, dot_radius=0.0)
    base.update(kw)
    return RenderConfig(**base)  # type: ignore[arg-type]


def grey(track: Track, cfg: RenderConfig) -> np.ndarray:
    return draw(track, cfg)[..., 0]


# --------------------------------------------------------------------------- golden pixels


def test_golden_horizontal_line_with_round_caps() -> None:
    # centroid (0, 0) -> pixel (3.5, 3.5); the end points are at pixel x 1.5 and 5.5
    expected = np.zeros((7, 7), np.uint8)
    expected[3, 1:6] = 255  # pixel 0 and 6 centres are exactly R = 1 from the ends: coverage 0
    np.testing.assert_array_equal(grey(Track([-2, 2], [0, 0]), golden_cfg()), expected)


def test_golden_diagonal_is_anti_aliased() -> None:
    _ = 0
    n = 75
    expected = np.array(
        [
            [_, _, _, _, _, n, 255],
            [_, _, _, _, n, 255, n],
            [_, _, _, n, 255, n, _],
            [_, _, n, 255, n, _, _],
            [_, n, 255, n, _, _, _],
            [n, 255, n, _, _, _, _],
            [255, n, _, _, _, _, _],
        ],
        np.uint8,
    )
    # y points north: (3, 3) is the top right pixel
    np.testing.assert_array_equal(grey(Track([-3, 3], [-3, 3]), golden_cfg()), expected)


def test_golden_wide_line() -> None:
    expected = np.zeros((7, 7), np.uint8)
    expected[3, 1:6] = 255
    expected[[2, 4], 1:6] = 128  # d = 1, R = 1.5
    # the round caps: pixels (0, 3) and (6, 3) are 1 from an end point (128), the corners
    # beside them sqrt 2 (1.5 - 1.414 = 0.086 -> 22)
    expected[[2, 3, 4], 0] = [22, 128, 22]
    expected[[2, 3, 4], 6] = [22, 128, 22]
    np.testing.assert_array_equal(grey(Track([-2, 2], [0, 0]), golden_cfg(line_width=2.0)), expected)


def test_golden_dot() -> None:
    expected = np.array(
        [[0, 0, 0, 0, 0], [0, 22, 128, 22, 0], [0, 128, 255, 128, 0], [0, 22, 128, 22, 0], [0, 0, 0, 0, 0]], np.uint8
    )
    np.testing.assert_array_equal(grey(Track([0], [0]), golden_cfg(size=5, dot_radius=1.0)), expected)


def test_golden_screen_tracks_point_down() -> None:
    cfg = golden_cfg()
    # centroid y = 1: the points are 1 below and 2 above it, pixel rows 4.5 down to 1.5
    north = grey(Track([0, 0, 0], [0, 0, 3]), cfg)
    south = grey(Track([0, 0, 0], [0, 0, 3], y_down=True), cfg)
    assert north[:, 3].tolist() == [0, 255, 255, 255, 255, 0, 0]
    np.testing.assert_array_equal(south, north[::-1])


def test_breaks_and_nan_never_join_pieces() -> None:
    cfg = golden_cfg()
    joined = grey(Track([-3, -1, 1, 3], [0, 0, 0, 0]), cfg)
    assert joined[3].tolist() == [255] * 7
    broken = grey(Track([-3, -1, 1, 3], [0, 0, 0, 0], breaks=[2]), cfg)
    assert broken[3].tolist() == [255, 255, 255, 0, 255, 255, 255]  # pixel 3 is 1 from both ends
    nan = grey(Track([-3, -1, np.nan, 1, 3], [0, 0, 0, 0, 0]), cfg)
    np.testing.assert_array_equal(nan, broken)
    # separate tracks in one batch never join: each image is what it is alone
    pieces = [Track([-3, -1], [0, 0]), Track([1, 3], [2, 2])]
    imgs, _ = draw_batch(pieces, cfg)
    for img, piece in zip(imgs, pieces):
        np.testing.assert_array_equal(img, draw(piece, cfg))


# --------------------------------------------------------------------------- colour


def test_colour_from_fixed_ranges_not_rescaled_per_image() -> None:
    cfg = golden_cfg(channels=(Channel(), Channel("speed", 0, 300, floor=0.5)))
    slow = draw(Track([-2, 2], [0, 0], values={"speed": [150, 150]}), cfg)
    fast = draw(Track([-20, 20], [0, 0], values={"speed": [300, 300]}), cfg.replace(scale_m=10.0))
    assert slow[3, 3].tolist() == [255, 191]  # 0.5 + 0.5 * 150/300 = 0.75 -> 191.25 -> 191
    assert fast[3, 3].tolist() == [255, 255]
    nan = draw(Track([-2, 2], [0, 0], values={"speed": [np.nan, np.nan]}), cfg)
    assert nan[3, 3].tolist() == [255, 128]  # missing value: the floor, 0.5 -> 127.5 -> 128


def test_colour_is_interpolated_along_segments() -> None:
    cfg = golden_cfg(channels=(Channel("time", 0, 6, floor=0.0),))
    img = grey(Track([-3, 3], [0, 0], t=[0, 6]), cfg)
    # pixel centres at x = 0.5..6.5 are t = 0..6 along the segment: intensity c/6
    np.testing.assert_allclose(img[3].astype(float), np.arange(7) / 6 * 255, atol=1)


def test_progress_uses_window_length_and_extent_channel_gives_scale() -> None:
    cfg = RenderConfig(size=33, channels=(default_channel("progress"), default_channel("extent")), dot_radius=0.0)
    x = np.linspace(0, 4000, 31)
    half = draw(Track(x, x * 0, t=np.linspace(0, 150, 31), window_s=300), cfg)
    full = draw(Track(x, x * 0, t=np.linspace(0, 300, 31), window_s=300), cfg)
    # ends half way through the window: at most 0.25 + 0.75 * 0.5 = 0.625 -> 159
    assert 150 <= half[..., 0].max() <= 159 and full[..., 0].max() >= 245
    small = draw(Track([0, 30], [0, 0]), cfg)
    big = draw(Track([0, 30000], [0, 0]), cfg)
    s, b = small[..., 1].max(), big[..., 1].max()
    assert s == round(255 * 0.25) and b > 200  # 30 m -> below 100 m: floor; 30 km: near the top


def test_gap_styles() -> None:
    track = Track([-3, 0, 3], [0, 0, 0], t=[0, 10, 500])
    dim = grey(track, golden_cfg(gap_s=100, gap_style="dim", gap_alpha=0.4))
    assert dim[3].tolist() == [255, 255, 255, 255, 102, 102, 102]  # 0.4 * 255 = 102
    omit = grey(track, golden_cfg(gap_s=100, gap_style="omit"))
    assert omit[3].tolist() == [255, 255, 255, 255, 0, 0, 0]
    solid = grey(track, golden_cfg(gap_s=100, gap_style="solid"))
    assert solid[3].tolist() == [255] * 7
    dashed = grey(Track([-30, 0, 30], [0, 0, 0], t=[0, 10, 500]), golden_cfg(size=65, gap_s=100, gap_style="dashed"))
    row = dashed[32, 33:60]
    assert 0 < (row == 255).sum() < len(row) and (row == 0).any()  # on and off runs


def test_events_are_discs_coloured_by_kind() -> None:
    cfg = RenderConfig(size=32, frame="scale", scale_px=1.0, dot_radius=0.0, event_radius=2.0)
    track = Track([-10, 10], [0, 0], units="px", y_down=True, events_x=[-5, 5], events_y=[5, 5], events_kind=["left", "right"])
    img = draw(track, cfg)
    assert img[21, 11].tolist() == [255, 255, 255]  # left: white, pixel centre (11.5, 21.5) = (-5, 5)
    assert img[21, 21].tolist() == [255, 0, 255]  # right: magenta
    assert img[21, 11 - 4].tolist() == [0, 0, 0]


def test_start_and_end_markers() -> None:
    cfg = golden_cfg(size=17, channels=(Channel(), Channel(), Channel()), markers=True, marker_radius=1.0)
    img = draw(Track([-5, 5], [0, 0]), cfg)
    assert img[8, 3].tolist() == [0, 255, 0] and img[8, 13].tolist() == [255, 0, 0]


# --------------------------------------------------------------------------- framing


def drawn_box(img: np.ndarray) -> tuple[int, int]:
    rows, cols = np.nonzero(img.max(-1) > 0)
    return int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)


def test_fit_keeps_aspect_and_padding() -> None:
    cfg = RenderConfig(size=100, channels=WHITE, line_width=1.0, dot_radius=0.0, padding=0.1, min_extent_m=0.0)
    img, info = draw_with_info(Track([0, 2000, 2000, 0, 0], [0, 0, 1000, 1000, 0]), cfg)
    h, w = drawn_box(img)
    assert w in (81, 82) and h in (41, 42)  # 80 px wide + a line; aspect 2:1 kept
    assert info.units_per_pixel == pytest.approx(2000 / 80) and info.frame == "fit" and info.extent == 2000


def test_fit_min_extent_keeps_parked_jitter_small() -> None:
    rng = np.random.default_rng(0)
    jitter = Track(rng.normal(0, 10, 40), rng.normal(0, 10, 40))
    blown_up = draw(jitter, RenderConfig(min_extent_m=0.0))
    kept_small = draw(jitter, RenderConfig())
    assert max(drawn_box(blown_up)) > 100
    assert max(drawn_box(kept_small)) < 12  # ~60 m of 1 km in 113 px, plus the dots


def test_scale_frame_uses_fixed_units_per_pixel() -> None:
    cfg = RenderConfig(size=65, frame="scale", scale_m=50.0, channels=WHITE, line_width=1.0, dot_radius=0.0)
    img, info = draw_with_info(Track([1000, 1000 + 1000], [5000, 5000]), cfg)
    assert info.units_per_pixel == 50.0 and (info.centre_x, info.centre_y) == (1500.0, 5000.0)
    # 1 km at 50 m/px = 20 px, from pixel x 22.5 to 42.5: pixel centres 22.5 .. 42.5 are drawn
    assert drawn_box(img) == (1, 21)


def test_draw_batch_chunking_does_not_change_pixels() -> None:
    rng = np.random.default_rng(3)
    tracks = [Track(*np.cumsum(rng.normal(0, 200, (2, 30)), axis=1), t=np.arange(30.0) * 10, values={"speed": rng.uniform(0, 300, 30)})
              for _ in range(9)]
    a, _ = draw_batch(tracks, chunk=1)
    b, _ = draw_batch(tracks, chunk=4)
    c, _ = draw_batch(TrackBatch.from_tracks(tracks), chunk=100)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a, c)


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("track", "status", "drawn"),
    [
        (Track([], []), "skipped: empty window (no points)", False),
        (Track([np.nan, np.inf], [1.0, 2.0]), "skipped: no finite coordinates", False),
        (Track([1e300, -1e300], [0, 0]), "skipped: extent 2e+300 exceeds max_extent 1e+08", False),
        (Track([0, 1, 2], [0, 1]), "skipped: x has 3 values but y has 2", False),
        (Track([5.0], [7.0]), "ok", True),
        (Track([5.0] * 50, [7.0] * 50), "ok", True),
        (Track([1e15, 1e15 + 500], [-1e15, -1e15]), "ok", True),
        (Track([0, np.nan, 100, 200], [0, 5, np.inf, 0], values={"speed": [np.nan] * 4}), "ok", True),
    ],
    ids=["empty", "no-finite", "enormous", "mismatch", "one-point", "identical", "far-away", "nan-mix"],
)
def test_bad_input_gives_a_defined_image(track: Track, status: str, drawn: bool) -> None:
    img, info = draw_with_info(track, RenderConfig())
    assert img.shape == (128, 128, 3) and img.dtype == np.uint8
    assert info.status == status
    assert (img.max() > 0) == drawn


def test_one_point_is_a_dot_in_the_centre() -> None:
    img = draw(Track([12.0], [34.0]), RenderConfig(channels=WHITE))[..., 0]
    rows, cols = np.nonzero(img)
    assert img[63:65, 63:65].min() > 200 and rows.min() >= 61 and rows.max() <= 66 and cols.min() >= 61


def test_scale_frame_with_far_geometry_is_bounded() -> None:
    cfg = RenderConfig(frame="scale", channels=WHITE)
    # two segments 20,000 and 8,500 km long through the frame (400,000 px at 50 m/px)
    track = Track([-1e7, 1e7, 3e6, -3e6], [0, 0, 3e6, -3e6], breaks=[2])
    img, info = draw_with_info(track, cfg)  # clipped to the frame: its cost is the frame's, not the segments'
    assert info.ok and img[..., 0].max() > 0


def test_missing_channel_values_are_drawn_at_the_floor() -> None:
    cfg = golden_cfg(channels=(Channel(), Channel("speed", 0, 300, floor=0.2)))
    img = draw(Track([-2, 2], [0, 0]), cfg)
    assert img[3, 3].tolist() == [255, 51]  # 0.2 * 255


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e4, 1e4)),
            st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.floats(-1e4, 1e4)),
        ),
        max_size=30,
    ),
    st.sampled_from(["fit", "scale"]),
)
def test_any_coordinates_give_an_image_or_a_reason(points: list[tuple[float, float]], frame: str) -> None:
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    img, info = draw_with_info(Track(xs, ys, t=np.arange(len(xs), dtype=float)), RenderConfig(size=32, frame=frame))
    assert img.shape == (32, 32, 3)
    assert info.status == "ok" or info.status.startswith("skipped: ")
    if not info.ok:
        assert img.max() == 0


# --------------------------------------------------------------------------- config


def test_config_json_round_trip_is_canonical() -> None:
    cfg = RenderConfig(size=96, frame="scale", channels=(default_channel("speed"),), event_colors=(("x", (0.5,)), ("a", (1.0, 0.0, 0.0))))
    text = cfg.to_json()
    again = RenderConfig.from_json(text)
    assert again == cfg and again.to_json() == text
    assert json.loads(text)["version"] == rasterize.CONFIG_VERSION
    assert hash(again) == hash(cfg)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"frame": "zoom"}, "frame 'zoom' is unknown; choose from fit, scale"),
        ({"size": 2}, "size must be an integer from 4 to 4096, got 2"),
        ({"gap_style": "dotted"}, "gap_style 'dotted' is unknown"),
        ({"line_width": float("nan")}, "line_width must be a finite number"),
        ({"padding": 0.7}, "padding must be within 0..0.5"),
        ({"channels": ()}, "channels must be a non-empty tuple"),
        ({"version": 99}, "render config version 99 is not supported"),
        ({"background": (2.0,)}, "background intensities must be within 0..1"),
    ],
)
def test_config_validation_messages(change: dict[str, object], message: str) -> None:
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(".", r"\.")):
        RenderConfig(**change)  # type: ignore[arg-type]


def test_channel_validation_and_from_json_errors() -> None:
    with pytest.raises(ValueError, match="channel variable 'heat' is unknown; choose from altitude"):
        Channel("heat")
    with pytest.raises(ValueError, match="a log range needs lo > 0"):
        Channel("extent", 0, 10, log=True)
    with pytest.raises(ValueError, match=r"unknown render config field\(s\) 'colour'"):
        RenderConfig.from_json('{"version": 1, "colour": "red"}')
    with pytest.raises(ValueError, match="not valid JSON"):
        RenderConfig.from_json("{")
    with pytest.raises(ValueError, match="has no 'version'"):
        RenderConfig.from_json("{}")
    assert set(VARIABLES) >= {"speed", "altitude", "time", "progress", "turn", "extent", "constant"}


# --------------------------------------------------------------------------- determinism, PNG, batch


def test_same_bytes_twice_and_across_config_save_load(tmp_path) -> None:  # type: ignore[no-untyped-def]
    rng = np.random.default_rng(5)
    track = Track(*np.cumsum(rng.normal(0, 100, (2, 50)), axis=1), t=np.arange(50.0) * 6, values={"speed": rng.uniform(0, 200, 50)}, window_s=300)
    cfg = RenderConfig()
    first = encode_png(draw(track, cfg))
    assert encode_png(draw(track, cfg)) == first
    path = tmp_path / "render_config.json"
    path.write_text(cfg.to_json())
    loaded = RenderConfig.from_json(path.read_text())
    assert encode_png(draw(track, loaded)) == first


@pytest.mark.parametrize("channels", [1, 2, 3, 4])
def test_png_decodes_to_the_same_pixels(channels: int) -> None:
    from io import BytesIO

    from PIL import Image

    rng = np.random.default_rng(channels)
    img = rng.integers(0, 256, (9, 13, channels), dtype=np.uint8)
    decoded = np.asarray(Image.open(BytesIO(encode_png(img))))
    np.testing.assert_array_equal(decoded.reshape(img.shape), img)


def test_png_rejects_what_it_cannot_hold() -> None:
    with pytest.raises(ValueError, match="PNG holds 1 to 4 channels"):
        encode_png(np.zeros((4, 4, 5), np.uint8))
    with pytest.raises(ValueError, match="uint8"):
        encode_png(np.zeros((4, 4, 3), np.float32))


def test_batch_file_round_trip(tmp_path) -> None:  # type: ignore[no-untyped-def]
    imgs, _ = draw_batch([Track([0, 1000], [0, 500]), Track([0, 10], [5, 5])], RenderConfig(size=32))
    path = rasterize.save_batch(tmp_path / "batch.npy", imgs)
    np.testing.assert_array_equal(rasterize.load_batch(path), imgs)
    np.testing.assert_array_equal(rasterize.load_batch(path, mmap=True), imgs)
    with pytest.raises(ValueError, match="N x H x W x C uint8"):
        rasterize.save_batch(tmp_path / "bad.npy", np.zeros((4, 4), np.uint8))


# --------------------------------------------------------------------------- package shape


def test_public_api_is_sorted_and_complete() -> None:
    assert rasterize.__all__ == sorted(rasterize.__all__)
    for name in rasterize.__all__:
        assert hasattr(rasterize, name), name


def test_import_pulls_in_nothing_but_numpy_and_stdlib() -> None:
    code = (
        "import sys, rasterize; rasterize.draw(rasterize.Track([0, 1], [0, 1])); "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'flightpaths', 'torch', 'click', 'matplotlib', 'PIL', 'pandas'}); print(bad)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# --------------------------------------------------------------------------- dots for sparse tracks


def test_sparse_points_get_dots_dense_tracks_stay_plain_lines() -> None:
    cfg = RenderConfig(size=33, channels=WHITE, frame="scale", scale_m=1.0, line_width=1.0, dot_radius=1.5, dot_spacing=4.0)
    # a 3-point hook with 10 px segments: each point is a disc of radius 1.5 (R = 2)
    hook = grey(Track([-10, 0, 0], [0, 0, 10]), cfg)
    plain = grey(Track([-10, 0, 0], [0, 0, 10]), cfg.replace(dot_radius=0.0))
    # centroid (-3.33, 3.33): the corner point is at pixel (19.83, 19.83)
    assert hook[19, 19] == 255 and plain[19, 19] == 170  # disc: d = 0.47 < R; line: 1 - 0.33 = 0.67
    assert (hook > 0).sum() > (plain > 0).sum()
    # a densely sampled line (points 1 px apart) gets no dots: same pixels as without dots
    x = np.linspace(-10, 10, 21)
    dense = Track(x, np.zeros_like(x))
    np.testing.assert_array_equal(grey(dense, cfg), grey(dense, cfg.replace(dot_radius=0.0)))


def test_gentle_joins_match_full_round_caps_closely() -> None:
    """The shortened walks at gentle joins lose nothing visible against full capsules."""
    rng = np.random.default_rng(2)
    a = np.cumsum(rng.normal(0.05, 0.05, 120))
    track = Track(np.cumsum(np.cos(a)) * 30, np.cumsum(np.sin(a)) * 30)
    cfg = RenderConfig(channels=WHITE, dot_radius=0.0)
    fast = grey(track, cfg).astype(int)
    import rasterize.raster as raster

    full = raster._vertex_ext
    try:
        raster._vertex_ext = lambda X, Y, seg, dotted, R: np.full(len(X), R)  # type: ignore[assignment]
        capped = grey(track, cfg).astype(int)
    finally:
        raster._vertex_ext = full  # type: ignore[assignment]
    # measured: 1 of 819 drawn pixels differs, by 1 level
    assert np.abs(fast - capped).max() <= 16 and (fast != capped).sum() <= 0.005 * (capped > 0).sum()
