"""flightpaths.render and `flightpaths render`: windows table -> images, manifest, config."""

from __future__ import annotations

import json
from io import BytesIO
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image

from flightpaths.cli import cli
from flightpaths.errors import InputError
from flightpaths.fileio import OutputExistsError, file_stem
from flightpaths.render import (
    MANIFEST_COLUMNS,
    config_from_options,
    images_from_windows,
    load_render_config,
    render_windows,
    windows_to_batch,
)
from rasterize import RenderConfig, Track, draw

FIGURES = {"n_points": 0, "straightness": 0.5, "net_turn_rev": 0.0, "extent_m": 0.0, "sample_interval_s": 5.0}


def window(wid: str, px: list[float], py: list[float], **extra: object) -> dict[str, object]:
    n = len(px)
    row: dict[str, object] = {
        "window_id": wid,
        "object_id": wid.split("_")[0],
        "track_id": wid.split("_")[0] + "_0",
        "callsign": "HELI1",
        "start": pd.Timestamp("2024-06-01T08:00:00Z"),
        "end": pd.Timestamp("2024-06-01T08:05:00Z"),
        "window_s": 300.0,
        "source_file": "log.sbs",
        "line_first": 10,
        "line_last": 10 + n,
        "units": "m",
        **FIGURES,
        "px": np.asarray(px, float),
        "py": np.asarray(py, float),
        "pt": np.linspace(0, 290, n),
        "pspeed": np.full(n, 90.0),
        "palt": np.full(n, 1500.0),
        "pturn": np.zeros(n),
        "pcumturn": np.zeros(n),
        "ev_x": np.zeros(0),
        "ev_y": np.zeros(0),
        "ev_kind": np.zeros(0, dtype=object),
    }
    row["n_points"] = n
    row.update(extra)
    return row


def orbit(n: int = 40, r: float = 800.0) -> tuple[list[float], list[float]]:
    a = np.linspace(0, 2 * np.pi, n)
    return list(r * np.cos(a)), list(r * np.sin(a))


@pytest.fixture()
def windows() -> pd.DataFrame:
    x, y = orbit()
    return pd.DataFrame(
        [
            window("abc123_0_20240601T080000_300s", x, y),
            window("abc123_0_20240601T080230_300s", [0, 2000, 4000], [0, 0, 100]),
            window("def456_0_20240601T080000_300s", [], []),
            window("def456_0_20240601T080230_300s", [0, 1, 2], [0, 1]),  # lengths disagree
            window("../../etc/passwd", [0, 500], [0, 500]),  # a hostile id stays in its folder
            window("abc123_0_20240601T080000_300s", [0, 100], [0, 0]),  # duplicate id
            window("mouse_1_20240601T080000_300s", [100, 400, 700], [100, 300, 100], units="px",
                   ev_x=np.array([400.0]), ev_y=np.array([300.0]), ev_kind=np.array(["right"], dtype=object)),
        ]
    )


STATUS = [
    "ok",
    "ok",
    "skipped: empty window (no points)",
    "skipped: px has 3 values but py has 2",
    "ok",
    "skipped: duplicate window_id 'abc123_0_20240601T080000_300s'",
    "ok",
]


def test_images_from_windows_shapes_and_statuses(windows: pd.DataFrame) -> None:
    images, status = images_from_windows(windows)
    assert images.shape == (7, 128, 128, 3) and images.dtype == np.uint8
    # in memory there are no file names, so the duplicate id is drawn
    assert status == STATUS[:5] + ["ok", "ok"]
    assert images[2].max() == 0 and images[3].max() == 0  # skipped: background
    assert images[0].max() > 0


def test_windows_map_onto_the_same_drawing_as_rasterize(windows: pd.DataFrame) -> None:
    images, _ = images_from_windows(windows)
    row = windows.iloc[0]
    track = Track(row.px, row.py, t=row.pt, values={"speed": row.pspeed, "altitude": row.palt}, window_s=300.0)
    np.testing.assert_array_equal(images[0], draw(track, RenderConfig()))
    mouse = windows.iloc[6]
    batch = windows_to_batch(windows)
    assert batch.y_down.tolist() == [False] * 6 + [True]
    img = images[6]
    # the right click is a magenta disc at the middle point (screen y down: drawn below the ends)
    ys, xs = np.nonzero((img[..., 0] > 200) & (img[..., 1] < 50) & (img[..., 2] > 200))
    assert len(ys) > 5 and ys.mean() > 64
    assert mouse.units == "px"


def test_render_windows_writes_images_manifest_and_config(windows: pd.DataFrame, tmp_path: Path) -> None:
    cfg = RenderConfig(size=64)
    manifest = render_windows(windows, tmp_path, cfg)
    assert list(manifest.columns[: len(MANIFEST_COLUMNS)]) == list(MANIFEST_COLUMNS)
    for col in ("track_id", "window_s", "units", *FIGURES, "frame", "units_per_pixel"):
        assert col in manifest.columns
    assert manifest["status"].tolist() == STATUS
    assert manifest["image"].tolist()[:2] == [
        "images/abc123_0_20240601T080000_300s.png",
        "images/abc123_0_20240601T080230_300s.png",
    ]
    hostile = f"images/{file_stem('../../etc/passwd')}.png"  # a safe stem + a hash of the exact id
    assert hostile.startswith("images/etc_passwd~")
    assert manifest["image"].tolist()[2:6] == ["", "", hostile, ""]
    files = sorted(p.name for p in (tmp_path / "images").iterdir())
    assert len(files) == 4 and hostile.removeprefix("images/") in files
    assert RenderConfig.from_json((tmp_path / "render_config.json").read_text()) == cfg
    on_disk = pd.read_csv(tmp_path / "manifest.csv")
    assert on_disk["window_id"].tolist() == windows["window_id"].tolist()
    assert on_disk["line_first"].tolist() == [10] * 7
    images, _ = images_from_windows(windows, cfg)
    decoded = np.asarray(Image.open(BytesIO((tmp_path / manifest["image"][0]).read_bytes())))
    np.testing.assert_array_equal(decoded, images[0])


def test_manifest_cells_are_neutralised_and_read_back_as_they_were(windows: pd.DataFrame, tmp_path: Path) -> None:
    from flightpaths.label.images import load_images

    formula = '=HYPERLINK("http://x","y")'
    hostile = windows.assign(callsign=formula)
    render_windows(hostile, tmp_path, RenderConfig(size=32))
    on_disk = pd.read_csv(tmp_path / "manifest.csv", dtype=str)
    assert set(on_disk["callsign"]) == {"'" + formula}  # what a spreadsheet opens: text, not a formula
    images = load_images(tmp_path)
    assert {images.row(k)["callsign"] for k in images.keys} == {formula}  # flightpaths reads it back as it was


def test_render_refuses_to_overwrite(windows: pd.DataFrame, tmp_path: Path) -> None:
    render_windows(windows.iloc[:2], tmp_path)
    before = (tmp_path / "manifest.csv").read_bytes()
    with pytest.raises(OutputExistsError, match="--overwrite"):
        render_windows(windows, tmp_path)
    assert (tmp_path / "manifest.csv").read_bytes() == before
    manifest = render_windows(windows, tmp_path, overwrite=True)
    assert len(manifest) == 7


@pytest.mark.slow
def test_workers_give_the_same_bytes(windows: pd.DataFrame, tmp_path: Path) -> None:
    big = pd.concat([windows.iloc[[0, 1, 4, 6]]] * 5, ignore_index=True)
    big["window_id"] = [f"w{i:03d}" for i in range(len(big))]
    one = render_windows(big, tmp_path / "one", workers=1)
    two = render_windows(big, tmp_path / "two", workers=2)
    pd.testing.assert_frame_equal(one, two)
    for name in one["image"]:
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    imgs1, _ = images_from_windows(big, workers=1)
    imgs2, _ = images_from_windows(big, workers=2)
    np.testing.assert_array_equal(imgs1, imgs2)


def test_bad_cells_skip_the_row_not_the_run() -> None:
    frame = pd.DataFrame([window("a", [0, 100], [0, 100]), window("b", [0, 100], [0, 100])])
    frame.at[1, "px"] = np.array(["x", "y"], dtype=object)
    frame.at[0, "pspeed"] = None  # a missing channel: drawn at the floor
    _, status = images_from_windows(frame)
    assert status == ["ok", "skipped: column 'px' holds values that are not numbers"]
    with pytest.raises(InputError, match="missing column"):
        images_from_windows(frame.drop(columns=["px"]))


def test_config_options_and_files(tmp_path: Path) -> None:
    cfg = config_from_options(RenderConfig(size=64), color_by=["altitude"], frame="scale")
    assert (cfg.size, cfg.frame, [c.var for c in cfg.channels]) == (64, "scale", ["altitude"])
    path = tmp_path / "cfg.json"
    path.write_text(cfg.to_json())
    assert load_render_config(path) == cfg
    path.write_text(json.dumps({"version": 1, "size": "big"}))
    with pytest.raises(InputError, match=r"cfg\.json: size must be an integer"):
        load_render_config(path)


def test_cli_render(windows: pd.DataFrame, tmp_path: Path) -> None:
    parquet = tmp_path / "windows.parquet"
    windows.to_parquet(parquet)
    out = tmp_path / "images"
    runner = CliRunner()
    result = runner.invoke(cli, ["-q", "render", str(parquet), "-o", str(out), "--size", "32", "--color-by", "speed,time"])
    assert result.exit_code == 0, result.output
    assert "4 of 7 windows drawn" in result.output
    cfg = RenderConfig.from_json((out / "render_config.json").read_text())
    assert cfg.size == 32 and [c.var for c in cfg.channels] == ["speed", "time"]
    again = runner.invoke(cli, ["-q", "render", str(parquet), "-o", str(out)])
    assert again.exit_code == 1 and "--overwrite" in again.output
    bad = runner.invoke(cli, ["render", str(parquet), "-o", str(out), "--color-by", "speed,heat"])
    assert bad.exit_code == 2 and "'speed,heat'" in bad.output
    bad_frame = runner.invoke(cli, ["render", str(parquet), "-o", str(out), "--frame", "zoom"])
    assert bad_frame.exit_code == 2
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    res = runner.invoke(cli, ["-q", "render", str(parquet), "-o", str(tmp_path / "x"), "--config", str(broken)])
    assert res.exit_code == 1 and "broken.json" in res.output and "not valid JSON" in res.output
    ok = runner.invoke(cli, ["-q", "render", str(parquet), "-o", str(out), "--config", str(out / "render_config.json"), "--overwrite"])
    assert ok.exit_code == 0, ok.output


def test_output_that_is_a_file_is_an_input_error(windows: pd.DataFrame, tmp_path: Path) -> None:
    target = tmp_path / "out"
    target.write_text("mine")
    with pytest.raises(InputError, match="is a file; the output must be a folder"):
        render_windows(windows, target)
    assert target.read_text() == "mine"
