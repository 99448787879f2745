"""The labeling helper: rules, dataset layout, journal replay and undo, import/export, CLI.

``make_render_folder`` builds a tiny render output (PNG files + manifest.csv +
render_config.json) that the other test_label_* files import too.
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image, ImageDraw

from flightpaths.cli import cli
from flightpaths.errors import InputError, SchemaError
from flightpaths.label.dataset import Dataset, DatasetLockedError, check_class_name, load_images
from flightpaths.label.duplicates import find_duplicate_groups, find_duplicates
from flightpaths.label.io import (
    export_csv,
    fill_labels,
    import_labels,
    read_folder_tree,
    read_labels_csv,
    read_predictions,
)
from flightpaths.label.rules import RuleSettings, apply_rules
from flightpaths.label.server import order_keys

HOSTILE_CALLSIGN = "<img src=x onerror=alert(1)>"
HOSTILE_CLASSES = ["../etc", "a/b", "<script>alert(1)</script>", "x y", ".hidden", "", "train", "é"]
FIGURES = {  # kind -> (net_turn_rev, total_turn_deg, straightness, extent_m)
    "circle": (1.4, 510.0, 0.06, 2200.0),
    "line": (0.01, 8.0, 0.98, 9000.0),
    "bend": (0.35, 140.0, 0.55, 5000.0),
}


def _draw(kind: str, i: int, size: int = 48) -> Image.Image:
    img = Image.new("RGB", (size, size), "black")
    d = ImageDraw.Draw(img)
    if kind == "circle":
        r = 8 + i % 12
        c = size / 2 + (i % 5) - 2
        d.ellipse([c - r, c - r, c + r, c + r], outline="white", width=2)
        d.line([c, c - r, c + (i % 7), 2], fill="white", width=1)
    elif kind == "line":
        a = math.radians(7 * i)
        dx, dy = 20 * math.cos(a), 20 * math.sin(a)
        d.line([size / 2 - dx, size / 2 - dy, size / 2 + dx, size / 2 + dy], fill="white", width=2)
        d.point([(i % size, (3 * i) % size)], fill="white")
    else:
        d.arc([4, 4 + i % 9, 44, 40], start=i * 11, end=i * 11 + 160, fill="white", width=2)
    return img


def make_render_folder(root: Path, kinds: list[str], *, hostile_at: int | None = None) -> list[dict[str, object]]:
    """Write images/w###.png + manifest.csv + render_config.json; return the manifest rows."""
    (root / "images").mkdir(parents=True, exist_ok=True)
    rows: list[dict[str, object]] = []
    for i, kind in enumerate(kinds):
        wid = f"a{i:05x}_1_20260101T{i // 60:02d}{i % 60:02d}00_300s"
        _draw(kind, i).save(root / "images" / f"{wid}.png")
        rev, total, straight, extent = FIGURES[kind]
        rows.append({
            "image": f"images/{wid}.png", "window_id": wid, "object_id": f"a{i:05x}",
            "callsign": HOSTILE_CALLSIGN if i == hostile_at else f"TEST{i:03d}",
            "start": f"2026-01-01T00:{i % 60:02d}:00Z", "end": f"2026-01-01T00:{i % 60:02d}:59Z",
            "source_file": "sim.sbs", "line_first": 10 * i + 1, "line_last": 10 * i + 9, "status": "ok",
            "n_points": 60, "duration_s": 300.0, "path_length_m": 12000.0, "net_displacement_m": 500.0,
            "straightness": straight, "total_turn_deg": total, "net_turn_rev": rev, "radius_m": extent / 2,
            "extent_m": extent, "median_speed_kt": 90.0, "median_altitude_ft": 1500.0, "sample_interval_s": 5.0,
            "units": "m", "kind": kind,
        })  # fmt: skip
    pd.DataFrame(rows).to_csv(root / "manifest.csv", index=False)
    (root / "render_config.json").write_text(json.dumps({"version": 1, "size": 48}))
    return rows


@pytest.fixture()
def renders(tmp_path: Path) -> Path:
    make_render_folder(tmp_path / "renders", ["circle", "line", "bend", "circle", "line", "line"], hostile_at=2)
    return tmp_path / "renders"


def _tree(root: Path) -> dict[str, str]:
    """Every file under *root* (but the journal and lock) -> sha256, for exact-state comparisons."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and p.name not in ("journal.jsonl", ".lock")
    }


def _labels_csv(root: Path) -> dict[str, tuple[str, str]]:
    with open(root / "labels.csv", newline="") as fh:
        return {r["image"]: (r["label"], r["source"]) for r in csv.DictReader(fh)}


# ----------------------------------------------------------------------------- rules


def test_rules_label_circling_straight_and_unsure() -> None:
    figs = pd.DataFrame(
        {
            "net_turn_rev": [1.2, -1.5, 0.0, 0.4, 3.0, 1.2, 1.2, np.nan],
            "total_turn_deg": [450, 560, 20, 200, 1100, 450, 450, np.nan],
            "straightness": [0.1, 0.2, 0.95, 0.6, 0.05, 0.1, 0.7, np.nan],
            "extent_m": [2000, 800, 8000, 5000, 20, 40_000, 2000, np.nan],
            "n_points": [60, 60, 60, 60, 60, 60, 60, 60],
        }
    )
    out = apply_rules(figs)
    # left turns count as much as right turns; tiny (parked jitter), huge or not compact windows are unsure
    assert out["rule_label"].tolist() == ["circling", "circling", "straight", "unsure", "unsure", "unsure", "unsure", "unsure"]
    assert out["rule_score"].iloc[1] == pytest.approx(1.5)
    assert out["rule_score"].iloc[5] == pytest.approx(1.2 * 10_000 / 40_000)  # damped by the spread
    assert out["rule_score"].iloc[4] == pytest.approx(3.0 * 20 / 150)  # parked jitter: capped and damped
    assert math.isnan(out["rule_score"].iloc[7])
    assert "net turn 1.20 rev" in out["rule_reason"].iloc[0]


def test_rule_thresholds_are_settings_and_sparse_windows_are_unsure() -> None:
    figs = pd.DataFrame({"net_turn_rev": [0.8, 1.1], "total_turn_deg": [300, 400], "straightness": [0.1, 0.1],
                         "extent_m": [1500, 1500], "n_points": [40, 3]})  # fmt: skip
    assert apply_rules(figs)["rule_label"].tolist() == ["unsure", "unsure"]
    assert apply_rules(figs, RuleSettings(min_revolutions=0.75))["rule_label"].tolist() == ["circling", "unsure"]
    jittery = pd.DataFrame({"net_turn_rev": [0.02, 0.2], "total_turn_deg": [1400, 500], "straightness": [0.98, 0.92],
                            "extent_m": [15_000, 14_000], "n_points": [140, 90]})  # fmt: skip
    # a jittery straight line is straight; a wide orbit seen as a bent line is not
    assert apply_rules(jittery)["rule_label"].tolist() == ["straight", "unsure"]
    assert apply_rules(jittery, RuleSettings(max_total_turn_deg=90))["rule_label"].tolist() == ["unsure", "unsure"]
    taking_off = pd.DataFrame({"net_turn_rev": [3.1], "total_turn_deg": [16000], "straightness": [0.49],
                               "extent_m": [2300], "n_points": [150], "median_speed_kt": [0.0]})  # fmt: skip
    assert apply_rules(taking_off)["rule_label"].tolist() == ["unsure"]  # parked jitter, then setting off
    with pytest.raises(ValueError, match="min_revolutions"):
        RuleSettings(min_revolutions=0)
    with pytest.raises(AttributeError):
        RuleSettings().min_points = 2  # type: ignore[misc]


def test_rules_use_pixel_bounds_for_screen_tracks() -> None:
    figs = pd.DataFrame({"net_turn_rev": [1.1], "total_turn_deg": [400], "straightness": [0.05],
                         "extent_m": [50_000], "n_points": [200], "units": ["px"]})  # fmt: skip
    assert apply_rules(figs)["rule_label"].tolist() == ["circling"]  # 50,000 px is no limit for screens


# ----------------------------------------------------------------------------- class names


@pytest.mark.parametrize("name", HOSTILE_CLASSES)
def test_hostile_class_names_are_refused_with_a_clear_message(name: str) -> None:
    with pytest.raises(InputError, match="class name .* (not allowed|reserved)"):
        check_class_name(name)


def test_cli_refuses_hostile_class_names_with_exit_2(renders: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["label", str(renders), "-o", str(tmp_path / "ds"), "--classes", "ok,../x", "--no-serve"])
    assert result.exit_code == 2
    assert "not allowed" in result.output and "--classes" in result.output
    assert not (tmp_path / "ds").exists()


# ----------------------------------------------------------------------------- dataset, journal, undo


def test_labelling_copies_originals_and_writes_labels_csv(renders: Path, tmp_path: Path) -> None:
    before = _tree(renders)
    images = load_images(renders)
    keys = images.keys
    with Dataset.open(tmp_path / "ds", images, classes=["circling", "straight"]) as ds:
        ds.label([keys[0]], "circling")
        ds.label([keys[1], keys[4]], "straight")
        ds.skip([keys[2]])
        ds.label([keys[1]], "circling")  # relabelling moves the copy
    ds_root = tmp_path / "ds"
    assert _tree(renders) == before  # originals untouched
    name = lambda k: Path(k).name  # noqa: E731
    assert sorted(p.relative_to(ds_root).as_posix() for p in ds_root.glob("*/*.png")) == sorted(
        [f"circling/{name(keys[0])}", f"circling/{name(keys[1])}", f"straight/{name(keys[4])}"]
    )
    assert (ds_root / "circling" / name(keys[0])).read_bytes() == (renders / keys[0]).read_bytes()
    rows = _labels_csv(ds_root)
    assert rows == {
        f"circling/{name(keys[0])}": ("circling", "human"),
        f"circling/{name(keys[1])}": ("circling", "human"),
        f"straight/{name(keys[4])}": ("straight", "human"),
    }
    labels = pd.read_csv(ds_root / "labels.csv")
    assert list(labels.columns) == ["image", "window_id", "object_id", "label", "source", "time"]
    assert set(labels["window_id"]) == {Path(keys[i]).stem for i in (0, 1, 4)}
    manifest = pd.read_csv(ds_root / "manifest.csv")
    assert sorted(manifest["image"]) == sorted(rows) and "net_turn_rev" in manifest.columns
    assert json.loads((ds_root / "render_config.json").read_text()) == {"version": 1, "size": 48}


def test_undo_restores_the_previous_state_exactly(renders: Path, tmp_path: Path) -> None:
    images = load_images(renders)
    keys = images.keys
    ds_root = tmp_path / "ds"
    with Dataset.open(ds_root, images, classes=["circling", "straight"]) as ds:
        ds.label(keys[:2], "straight", source="rule")
        states = [(_tree(ds_root), ds.entries())]
        ds.label([keys[0]], "circling")
        states.append((_tree(ds_root), ds.entries()))
        ds.label([keys[0], keys[2], keys[3]], "straight")  # a grid batch: one decision
        states.append((_tree(ds_root), ds.entries()))
        ds.skip([keys[1]])
        for expected_tree, expected_entries in reversed(states):  # several steps back
            undone = ds.undo()
            assert undone is not None
            assert ds.entries() == expected_entries
            assert _tree(ds_root) == expected_tree
        assert ds.undo() is None  # the rule's labels are not a person's to undo with a key
        assert ds.undo(sources=None) is not None  # ... but can be undone explicitly
        assert ds.entries() == {} and not list(ds_root.glob("*/*.png"))


def test_journal_replay_reconstructs_state_and_repairs_folders(renders: Path, tmp_path: Path) -> None:
    images = load_images(renders)
    keys = images.keys
    ds_root = tmp_path / "ds"
    with Dataset.open(ds_root, images, classes=["circling", "straight"]) as ds:
        ds.label(keys[:3], "circling")
        ds.label([keys[3]], "straight")
        ds.undo()
        ds.label([keys[4]], "straight")
        expected = ds.entries()
        tree = _tree(ds_root)
    # Simulate a crash after the journal was written but before the files and CSV were:
    (ds_root / "circling" / Path(keys[0]).name).unlink()
    os.replace(ds_root / "straight" / Path(keys[4]).name, ds_root / "circling" / Path(keys[4]).name)
    (ds_root / "labels.csv").write_text("image,window_id,object_id,label,source,time\n")
    (ds_root / "circling" / ".fp-tmp-abc").write_bytes(b"half a copy")
    with Dataset.open(ds_root, images) as ds:
        assert ds.entries() == expected
    assert _tree(ds_root) == tree


def test_a_torn_last_journal_line_is_dropped_and_others_kept(renders: Path, tmp_path: Path) -> None:
    images = load_images(renders)
    keys = images.keys
    ds_root = tmp_path / "ds"
    with Dataset.open(ds_root, images, classes=["circling", "straight"]) as ds:
        ds.label([keys[0]], "circling")
    with open(ds_root / "journal.jsonl", "ab") as fh:
        fh.write(b'{"changes": [{"image": "images/x.png", "label": "circ')  # killed mid-write
    with Dataset.open(ds_root, images) as ds:
        assert {k: e.label for k, e in ds.entries().items()} == {keys[0]: "circling"}
        assert any("incomplete last decision" in w for w in ds.warnings)
        ds.label([keys[1]], "straight")  # appending after the repair works
    with Dataset.open(ds_root, images) as ds:
        assert {k: e.label for k, e in ds.entries().items()} == {keys[0]: "circling", keys[1]: "straight"}


def test_a_corrupt_journal_in_the_middle_is_an_error_naming_the_line(renders: Path, tmp_path: Path) -> None:
    images = load_images(renders)
    ds_root = tmp_path / "ds"
    with Dataset.open(ds_root, images, classes=["circling"]) as ds:
        ds.label([images.keys[0]], "circling")
    lines = (ds_root / "journal.jsonl").read_text().splitlines()
    lines.insert(1, "garbage")
    (ds_root / "journal.jsonl").write_text("\n".join(lines) + "\n")
    with pytest.raises(InputError, match=r"journal.jsonl, line 2"):
        Dataset.open(ds_root, images)


def test_dataset_is_locked_and_never_opened_over_foreign_files(renders: Path, tmp_path: Path) -> None:
    images = load_images(renders)
    with Dataset.open(tmp_path / "ds", images, classes=["circling"]):
        with pytest.raises(DatasetLockedError, match="another labeler"):
            Dataset.open(tmp_path / "ds", images)
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    with pytest.raises(InputError, match="not a flightpaths dataset"):
        Dataset.open(tmp_path / "mine", images)
    with pytest.raises(InputError, match="overlap"):
        Dataset.open(renders / "ds", images)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_hard_links_when_asked(renders: Path, tmp_path: Path) -> None:
    from flightpaths.label.dataset import DatasetSettings

    images = load_images(renders)
    with Dataset.open(tmp_path / "ds", images, classes=["circling"], settings=DatasetSettings(link=True)) as ds:
        ds.label([images.keys[0]], "circling")
    copy = tmp_path / "ds" / "circling" / Path(images.keys[0]).name
    assert os.path.samefile(copy, renders / images.keys[0])


def test_manifest_problems_are_reported_by_line_and_good_rows_kept(renders: Path) -> None:
    manifest = pd.read_csv(renders / "manifest.csv", dtype=str, keep_default_na=False)
    manifest.loc[1, "image"] = "../../etc/passwd"
    manifest.loc[2, "net_turn_rev"] = "abc"
    manifest.loc[3, "status"] = "skipped: too few points"
    manifest.to_csv(renders / "manifest.csv", index=False)
    images = load_images(renders)
    assert len(images) == 4  # six rows, one escaping path, one skipped by the renderer
    assert any("line 3, column 'image'" in w and "not a path inside" in w for w in images.warnings)
    assert any("line 4, column 'net_turn_rev': 'abc' is not a number" in w for w in images.warnings)
    (renders / "manifest.csv").write_text("window_id\nx\n")
    with pytest.raises(SchemaError, match="missing required column 'image'"):
        load_images(renders)


def test_any_folder_of_pngs_works_and_clashing_names_stay_apart(tmp_path: Path) -> None:
    for cls in ("a", "b"):
        (tmp_path / "pngs" / cls).mkdir(parents=True)
        _draw("circle" if cls == "a" else "line", 3).save(tmp_path / "pngs" / cls / "same.png")
    images = load_images(tmp_path / "pngs")
    assert images.keys == ["a/same.png", "b/same.png"]
    assert images.table["name"].tolist() == ["a__same.png", "b__same.png"]
    with Dataset.open(tmp_path / "ds", images, classes=["x"]) as ds:
        ds.label(images.keys, "x")
    assert sorted(p.name for p in (tmp_path / "ds" / "x").iterdir()) == ["a__same.png", "b__same.png"]


# ----------------------------------------------------------------------------- import / export


def test_import_csv_by_window_id_or_image_name(renders: Path, tmp_path: Path) -> None:
    images = load_images(renders)
    keys = images.keys
    src = tmp_path / "labels_in.csv"
    src.write_text(
        "window_id,image,label\n"
        f"{Path(keys[0]).stem},,circling\n"
        f",{Path(keys[1]).name},straight\n"
        f",{Path(keys[3]).stem},circling\n"
        "nope,,circling\n"
        f",{Path(keys[4]).name},bad/class\n"
        f",{Path(keys[5]).name},\n"
    )
    result = read_labels_csv(src, images)
    assert result.labels == {keys[0]: "circling", keys[1]: "straight", keys[3]: "circling"}
    assert result.unmatched == 1
    assert any("line 5" in p and "'nope' matches no image" in p for p in result.problems)
    assert any("line 6, column 'label'" in p for p in result.problems)
    bad = tmp_path / "bad.csv"
    bad.write_text("name,cls\nx,y\n")
    with pytest.raises(SchemaError, match="needs a 'label' column"):
        read_labels_csv(bad, images)


def test_import_folder_tree_by_name_or_content_and_export_round_trip(renders: Path, tmp_path: Path) -> None:
    images = load_images(renders)
    keys = images.keys
    tree = tmp_path / "tree"
    for cls, idx, new_name in (("circling", 0, None), ("straight", 1, "renamed.png"), ("bad name", 4, None)):
        (tree / cls).mkdir(parents=True, exist_ok=True)
        (tree / cls / (new_name or Path(keys[idx]).name)).write_bytes((renders / keys[idx]).read_bytes())
    result = read_folder_tree(tree, images)
    assert result.labels == {keys[0]: "circling", keys[1]: "straight"}  # renamed file matched by content
    assert any("bad name" in p and "not allowed" in p for p in result.problems)
    with Dataset.open(tmp_path / "ds", images, classes=["circling", "straight"]) as ds:
        ds.label([keys[1]], "circling")  # a person's decision ...
        report = fill_labels(ds, result.labels, source="import", replace_sources=("rule", "model", "import"))
        assert (report.applied, report.kept_human) == (1, 1)  # ... is never overwritten by an import
        out = export_csv(ds, tmp_path / "out.csv")
        with pytest.raises(FileExistsError, match="--overwrite"):
            export_csv(ds, tmp_path / "out.csv")
    exported = pd.read_csv(out)
    assert list(exported.columns) == ["image", "window_id", "object_id", "label", "source", "time", "render_image"]
    again = import_labels(out, images)
    assert again.labels == {keys[0]: "circling", keys[1]: "circling"}


def test_predictions_give_model_labels_and_uncertainty(renders: Path) -> None:
    images = load_images(renders)
    keys = images.keys
    frame = pd.DataFrame({"window_id": [Path(k).stem for k in keys[:3]], "p_circling": [0.9, 0.45, 0.2],
                          "p_straight": [0.1, 0.55, 0.8]})  # fmt: skip
    preds = read_predictions(frame, images)
    assert preds["model_label"].tolist() == ["circling", "straight", "straight"]
    assert preds["uncertainty"].tolist() == pytest.approx([0.2, 0.9, 0.4])
    order = order_keys(keys, {}, uncertainty=preds["uncertainty"])
    assert order[:3] == [keys[1], keys[2], keys[0]]  # most uncertain first
    with pytest.raises(InputError, match="class name"):
        read_predictions(frame.rename(columns={"p_straight": "p_<b>"}), images)


# ----------------------------------------------------------------------------- duplicates


def test_duplicates_exact_and_near(tmp_path: Path) -> None:
    a = tmp_path / "a.png"
    _draw("circle", 1, size=64).save(a)
    (tmp_path / "a_copy.png").write_bytes(a.read_bytes())
    img = _draw("circle", 1, size=64)
    img.putpixel((0, 0), (255, 255, 255))  # one pixel: near-identical, not byte-identical
    img.save(tmp_path / "a_near.png")
    _draw("line", 5, size=64).save(tmp_path / "b.png")
    paths = [a, tmp_path / "a_copy.png", tmp_path / "a_near.png", tmp_path / "b.png"]
    assert find_duplicate_groups(paths) == [0, 0, 0, 1]
    report = find_duplicates(paths, max_distance=-1)
    assert report.groups == (0, 0, 1, 2) and report.exact_sets == ((0, 1),)
    assert "1 set(s) of byte-identical copies (2 images)" in report.summary()


@pytest.mark.realdata
def test_duplicates_in_the_quartz_helicopter_folder(shared_data: Path) -> None:
    folder = shared_data / "images" / "quartz-choppers"
    if not folder.is_dir():
        pytest.skip(f"{folder} is absent")
    paths = sorted(p for p in folder.glob("*/*.png"))
    assert len(paths) == 183
    report = find_duplicates(paths, max_distance=-1)
    assert report.n_distinct_bytes == 167 and report.n_groups == 167
    names = sorted(sorted(paths[i].relative_to(folder).as_posix() for i in s) for s in report.exact_sets)
    assert sorted(len(s) for s in names) == [2, 2, 2, 3, 4, 4, 6]
    assert [
        "circling/N919PD2019-03-22_16_53_05.png", "circling/N919PD2019-03-22_17_00_09.png",
        "circling/N919PD2019-03-22_17_10_09.png", "circling/N919PD2019-03-22_17_20_09.png",
    ] in names  # fmt: skip
    assert ["not_circling/N920PD2019-03-23_09_30_05.png", "not_circling/N920PD2019-03-23_09_40_05.png"] in names
    groups = find_duplicate_groups(paths)  # near-identical windows of one flight merge further
    assert len(set(groups)) < 167
    for s in report.exact_sets:
        assert len({groups[i] for i in s}) == 1


# ----------------------------------------------------------------------------- CLI


def test_cli_rule_then_export(renders: Path, tmp_path: Path) -> None:
    ds = tmp_path / "ds"
    result = CliRunner().invoke(cli, ["label", str(renders), "-o", str(ds), "--rule", "--export", str(tmp_path / "l.csv")])
    assert result.exit_code == 0, result.output
    rows = _labels_csv(ds)
    kinds = [r["kind"] for r in pd.read_csv(renders / "manifest.csv").to_dict("records")]
    expected_n = sum(k in ("circle", "line") for k in kinds)
    assert len(rows) == expected_n and {s for _, s in rows.values()} == {"rule"}
    assert {lab for lab, _ in rows.values()} == {"circling", "straight"}
    assert "5 labelled, 0 skipped, of 6 images" in result.output
    assert len(pd.read_csv(tmp_path / "l.csv")) == expected_n
    again = CliRunner().invoke(cli, ["label", str(renders), "-o", str(ds), "--export", str(tmp_path / "l.csv")])
    assert again.exit_code == 1 and "--overwrite" in again.output


def test_cli_rule_with_classes_lacking_the_rule_labels_is_a_usage_error(renders: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["label", str(renders), "-o", str(tmp_path / "ds"), "--rule", "--classes", "yes,no"])
    assert result.exit_code == 2 and "--classes" in result.output


def test_cli_import_and_predictions(renders: Path, tmp_path: Path) -> None:
    keys = load_images(renders).keys
    src = tmp_path / "in.csv"
    src.write_text(f"image,label\n{Path(keys[0]).name},circling\n")
    preds = tmp_path / "p.csv"
    pd.DataFrame({"image": keys, "p_circling": np.linspace(0.1, 0.9, len(keys)),
                  "p_straight": np.linspace(0.9, 0.1, len(keys))}).to_csv(preds, index=False)  # fmt: skip
    ds = tmp_path / "ds"
    result = CliRunner().invoke(cli, ["label", str(renders), "-o", str(ds), "--import", str(src),
                                      "--predictions", str(preds), "--no-serve"])  # fmt: skip
    assert result.exit_code == 0, result.output
    rows = _labels_csv(ds)
    assert rows[f"circling/{Path(keys[0]).name}"] == ("circling", "import")
    assert sum(s == "model" for _, s in rows.values()) == len(keys) - 1
    bad = CliRunner().invoke(cli, ["label", str(tmp_path / "nowhere"), "-o", str(ds)])
    assert bad.exit_code == 2


class _FakeBundle:
    """Stands in for the trainer's Bundle: 'circling' when the image has many bright pixels."""

    classes = ("circling", "straight")
    figure_columns = ("net_turn_rev",)

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[int, ...], list[str]]] = []

    def predict_images(self, images: np.ndarray, figures: pd.DataFrame | None) -> np.ndarray:
        assert images.dtype == np.uint8 and images.ndim == 4 and images.shape[-1] == 3
        self.calls.append((images.shape, list(figures.columns) if figures is not None else []))
        p = np.clip(figures["net_turn_rev"].to_numpy(dtype=float), 0, 1) if figures is not None else np.zeros(len(images))
        return np.stack([p, 1 - p], axis=1)


def test_predict_with_a_bundle_feeds_rgb_batches_and_figures(renders: Path, tmp_path: Path) -> None:
    from flightpaths.label.io import predict_with
    from flightpaths.label.session import bulk_label

    images = load_images(renders)
    bundle = _FakeBundle()
    preds = predict_with(bundle, images, batch_size=4)
    assert [c[0][0] for c in bundle.calls] == [4, 2] and bundle.calls[0][1] == ["net_turn_rev"]
    assert list(preds.columns) == ["image", "window_id", "p_circling", "p_straight"]
    with Dataset.open(tmp_path / "ds", images, classes=["circling", "straight"]) as ds:
        ds.label([images.keys[0]], "straight")  # a person disagrees with the model: kept
        bulk = bulk_label(ds, images, predictions=preds)
        entries = ds.entries()
    assert entries[images.keys[0]].label == "straight" and entries[images.keys[0]].source == "human"
    kinds = pd.read_csv(renders / "manifest.csv")["kind"].tolist()
    for key, kind in zip(images.keys[1:], kinds[1:]):
        assert entries[key].source == "model"
        assert entries[key].label == ("circling" if kind == "circle" else "straight")
    assert bulk.predictions is not None and "uncertainty" in bulk.predictions.columns


def test_cli_model_option_prelabels_with_the_trainers_bundle(renders: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    predict = pytest.importorskip("flightpaths.train.predict", reason="flightpaths.train is not importable here")
    monkeypatch.setattr(predict, "load_bundle", lambda path: _FakeBundle())
    (tmp_path / "model").mkdir()
    result = CliRunner().invoke(cli, ["label", str(renders), "-o", str(tmp_path / "ds"), "--model", str(tmp_path / "model"), "--no-serve"])
    assert result.exit_code == 0, result.output
    rows = _labels_csv(tmp_path / "ds")
    assert len(rows) == 6 and {s for _, s in rows.values()} == {"model"}


def test_a_tampered_journal_cannot_write_outside_the_dataset(renders: Path, tmp_path: Path) -> None:
    images = load_images(renders)
    ds_root = tmp_path / "ds"
    with Dataset.open(ds_root, images, classes=["circling"]) as ds:
        ds.label([images.keys[0]], "circling")
    text = (ds_root / "journal.jsonl").read_text()
    name = Path(images.keys[0]).name
    (ds_root / "journal.jsonl").write_text(text.replace(f'"name": "{name}"', '"name": "../../escaped.png"'))
    with pytest.raises(InputError, match=r"journal.jsonl, line 3: .*not a plain file name"):
        Dataset.open(ds_root, images)
    assert not (tmp_path / "escaped.png").exists()
