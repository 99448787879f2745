"""A reporter's own folder of maps: flight sessions, grouped folds, map transforms, CV, duplicates, honest report."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from flightpaths.cli import cli
from flightpaths.train.cv import cross_validate, summarise_folds
from flightpaths.train.data import grouped_folds, image_transform, scan_dataset, session_groups
from flightpaths.train.engine import TrainSettings
from flightpaths.train.mapfigures import MAP_FIGURES, map_figure_table, map_figures
from flightpaths.train.predict import load_bundle

FAST = dict(size=32, epochs=1, freeze_epochs=1, batch_size=8, unfreeze=1, hidden=32)


def _map(kind: str, rng: np.random.Generator, size: int = 96) -> Image.Image:
    """A map made for people: a yellow basemap with green parks and a red track (loops when circling)."""
    im = Image.new("RGB", (size, size), (250, 245, 190))
    d = ImageDraw.Draw(im)
    x0, y0 = rng.integers(5, size // 2, 2)
    d.rectangle([int(x0), int(y0), int(x0) + 20, int(y0) + 12], fill=(40, 140, 40))
    if kind == "circling":
        c = size / 2 + rng.normal(0, 4, 2)
        t = np.linspace(0, 2 * np.pi * 2.5, 80)
        r = size * 0.15 + 3 * np.sin(3 * t)
        pts = [(float(c[0] + rr * np.cos(a)), float(c[1] + rr * np.sin(a))) for a, rr in zip(t, r)]
    else:
        a = rng.uniform(0, np.pi)
        pts = [(size / 2 - 40 * np.cos(a), size / 2 - 40 * np.sin(a)), (size / 2 + 40 * np.cos(a), size / 2 + 40 * np.sin(a))]
    d.line(pts, fill=(230, 20, 20), width=2)
    return im


def make_folder(root: Path, sessions: int = 8, per_session: int = 3, seed: int = 0) -> Path:
    """A plain folder of maps named TAIL + time, as a reporter's is: snapshots ten minutes apart in a session."""
    rng = np.random.default_rng(seed)
    for s in range(sessions):
        kind = "circling" if s % 2 == 0 else "not_circling"
        (root / kind).mkdir(parents=True, exist_ok=True)
        for k in range(per_session):
            minute = 10 * k
            _map(kind, rng).save(root / kind / f"N9{s % 3}PD2019-03-2{s // 3}_{8 + s:02d}_{minute:02d}_05.png")
    return root


def test_sessions_split_a_day_at_gaps_and_fall_back_without_times() -> None:
    names = ["N917PD2019-03-25_01_10_14.png", "N917PD2019-03-25_01_20_16.png", "N917PD2019-03-25_01_55_00.png",
             "N920PD2019-03-25_01_15_00.png", "map-of-something.png"]
    got = session_groups(names)
    assert got[:4] == ["N917PD 2019-03-25 01:10", "N917PD 2019-03-25 01:10", "N917PD 2019-03-25 01:55",
                       "N920PD 2019-03-25 01:15"]
    assert got[4] == "map-of-something"
    assert session_groups(names, gap_min=60)[2] == "N917PD 2019-03-25 01:10"


def test_auto_groups_are_sessions_for_a_plain_folder_and_folds_never_split_one(tmp_path: Path) -> None:
    data = scan_dataset(make_folder(tmp_path / "maps"), group_by="auto")
    assert data.group_source.startswith("session") and len(set(data.groups)) == 8
    folds = grouped_folds(data, 4)
    judged = np.concatenate([f.valid for f in folds])
    assert sorted(judged.tolist()) == list(range(len(data)))  # every image judged exactly once
    for f in folds:
        assert not {data.groups[i] for i in f.train} & {data.groups[i] for i in f.valid}
        assert {int(data.labels[i]) for i in f.valid} == {0, 1}


def test_red_track_transforms_whiten_the_basemap_and_mark_loops() -> None:
    rng = np.random.default_rng(1)
    circle = np.asarray(_map("circling", rng))
    line = np.asarray(_map("straight", rng))
    plain = image_transform(line, "red-track")
    basemap = (plain.astype(int).sum(2) < 700) & ~((plain[..., 0] > 150) & (plain[..., 2] < 100))
    assert not basemap.any()  # parks and basemap gone: only the red track and white
    blue = lambda im: ((im[..., 2] > 150) & (im[..., 0] < 100)).sum()  # noqa: E731
    assert blue(image_transform(circle, "red-track-loops")) > 5 and blue(image_transform(line, "red-track-loops")) == 0
    with pytest.raises(ValueError, match="red-track"):
        image_transform(line, "blue-track")


def test_map_figures_count_the_loops_a_red_track_closes_and_ignore_the_basemap() -> None:
    rng = np.random.default_rng(2)
    circling = [map_figures(np.asarray(_map("circling", rng))) for _ in range(4)]
    straight = [map_figures(np.asarray(_map("straight", rng))) for _ in range(4)]
    assert all(f["map_loops"] >= 1 for f in circling) and all(f["map_loops"] == 0 for f in straight)
    assert all(0.3 < f["map_track_extent"] < 1 and f["map_track_length"] > 0.5 for f in circling + straight)
    blank = np.full((50, 80, 4), 255, np.uint8)
    blank[10:40, 20:60, 1:3] = 30  # a red square drawn with alpha: a filled patch closes no loop
    got = map_figures(blank)
    assert got["map_loops"] == 0 and got["map_track_extent"] == pytest.approx((39 + 29) / 160)
    ring = blank.copy()
    ring[20:30, 30:50, 1:3] = 255  # a hole in the patch: one loop
    assert map_figures(ring)["map_loops"] == 1
    assert got["map_solid_px"] > 0 and map_figures(ring)["map_solid_px"] < got["map_solid_px"]  # solid red
    assert max(f["map_solid_px"] for f in straight) == 0  # a thin line is not solid
    assert map_figures(np.zeros((8, 8), np.uint8)) == dict.fromkeys(MAP_FIGURES, 0.0)


def test_maps_default_to_the_cnn_alone_and_figures_only_needs_no_cnn(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "maps", sessions=4, per_session=2)
    cnn = cross_validate(folder, tmp_path / "cnn", TrainSettings(**FAST, transform="red-track"), k=2)  # auto: CNN
    assert cnn.final is not None and cnn.final.head == "cnn"
    assert json.loads((tmp_path / "cnn" / "model.json").read_text())["figure_columns"] == []
    figs = cross_validate(folder, tmp_path / "f", TrainSettings(**FAST, transform="red-track-loops", head="figures"), k=2)
    assert figs.final is not None and figs.final.head == "figures"
    bundle = load_bundle(tmp_path / "f")
    maps = [np.asarray(Image.open(p).convert("RGB")) for p in sorted(folder.glob("*/*.png"))]
    assert bundle.predict_images(maps).shape == (8, 2)
    with pytest.raises(Exception, match="window figures"):
        cross_validate(folder, tmp_path / "h", TrainSettings(**FAST, transform="none", head="hybrid"), k=2)


def test_cross_validation_writes_folds_out_of_fold_predictions_and_a_final_model(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "maps")
    out = tmp_path / "model"
    result = cross_validate(folder, out, TrainSettings(**FAST, transform="red-track-loops", head="hybrid"), k=3)
    assert len(result.folds) == 3 and result.final is not None
    assert sum(f["n_valid"] for f in result.folds) == 24
    record = json.loads((out / "cv.json").read_text())
    assert len(record["out_of_fold"]) == 24 and {r["fold"] for r in record["out_of_fold"]} == {1, 2, 3}
    meta = json.loads((out / "model.json").read_text())
    assert meta["cv"]["k"] == 3 and "accuracy_mean" in meta["metrics"] and meta["image_transform"] == "red-track-loops"
    assert meta["split"]["n_valid"] == 0 and meta["split"]["n_train"] == 24  # the final model saw every image
    assert meta["head"] == "hybrid" and meta["figure_columns"] == list(MAP_FIGURES)  # figures measured on the maps
    bundle = load_bundle(out)
    full = np.asarray(Image.open(next((folder / "circling").iterdir())).convert("RGB"))
    probs = bundle.predict_images(full[None])  # measures the map figures itself
    assert probs.shape == (1, 2)
    np.testing.assert_allclose(probs, bundle.predict_images(full[None], map_figure_table([full])), atol=1e-6)
    other = bundle.predict_images(full[None], map_figure_table([full]).assign(map_loops=40.0, map_track_length=0.0))
    assert not np.allclose(probs, other)  # the figures reach the head
    assert summarise_folds([{"accuracy": 0.5}, {"accuracy": 1.0}])["accuracy_sd"] == pytest.approx(0.353553, abs=1e-5)


def test_cli_prints_duplicates_defaults_to_cv_and_the_report_carries_the_warnings(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "maps")
    first = next((folder / "circling").iterdir())
    shutil.copyfile(first, folder / "circling" / "N99PD2019-04-01_10_00_00.png")  # a byte-identical copy
    out = tmp_path / "m"
    args = ["train", str(folder), "-o", str(out), "--size", "32", "--epochs", "1", "--freeze-epochs", "1",
            "--batch-size", "8", "--transform", "red-track"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "5-fold grouped cross-validation" in result.stderr
    assert "duplicates: set 1, byte-identical" in result.stderr and first.name in result.stderr
    summary = json.loads(result.stdout)
    assert summary["folds"] >= 2 and 0 <= summary["metrics"]["accuracy"] <= 1
    page = (out / "report" / "index.html").read_text()
    assert "Warnings" in page and "fewer than 30" in page and "set(s) of repeated images" in page
    assert "duplicates_01.png" in page and (out / "report" / "duplicates_01.png").is_file()
    assert "plain image folder" in page and "Groups (session" in page and "out-of-fold" in page
    again = CliRunner().invoke(cli, args)
    assert again.exit_code == 1 and "--overwrite" in again.output
    one = CliRunner().invoke(cli, [*args[:4], "--cv", "1"])
    assert one.exit_code == 2 and "1 fold" in one.output


def test_grouped_cv_on_the_quartz_maps_has_sessions_and_duplicates(shared_data: Path) -> None:
    folder = shared_data / "images" / "quartz-choppers"
    if not folder.is_dir():
        pytest.skip("quartz-choppers maps absent")
    data = scan_dataset(folder, group_by="session")
    assert len(data) == 183 and len(set(data.groups)) == 49
    folds = grouped_folds(data, 5)
    assert len(folds) == 5 and all(f.n_groups_valid >= 5 for f in folds)


def test_cli_figures_only_on_maps_uses_the_figures_measured_on_them(tmp_path: Path) -> None:
    folder = make_folder(tmp_path / "maps", sessions=4, per_session=2)
    out = tmp_path / "m"
    args = ["train", str(folder), "-o", str(out), "--cv", "2", "--epochs", "1", "--freeze-epochs", "3",
            "--transform", "red-track-loops", "--figures-only", "--no-report"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["head"] == "figures" and summary["folds"] == 2
    assert json.loads((out / "model.json").read_text())["figure_columns"] == list(MAP_FIGURES)
    plain = CliRunner().invoke(cli, [*args[:-4], "--transform", "none", "--figures-only", "--no-report", "--overwrite"])
    assert plain.exit_code == 1 and "red-track" in plain.output and "Traceback" not in plain.output
