"""The trainer end to end on tiny images: bundle round trip, resume, refusals, hybrid head, CLI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from PIL import Image, ImageDraw

from flightpaths.cli import cli
from flightpaths.errors import BundleError, InputError
from flightpaths.train.bundle import load_checkpoint
from flightpaths.train.data import load_images
from flightpaths.train.engine import TrainingInterrupted, TrainSettings, _runtime, train
from flightpaths.train.predict import load_bundle
from rasterize import RenderConfig

SIZE = 32
FAST = dict(size=SIZE, epochs=1, freeze_epochs=1, batch_size=8, unfreeze=1, hidden=32)


def _draw(kind: str, rng: np.random.Generator, size: int = 48) -> Image.Image:
    im = Image.new("RGB", (size, size))
    d = ImageDraw.Draw(im)
    if kind == "circling":
        r, c = rng.uniform(size * 0.2, size * 0.4), size / 2 + rng.normal(0, 2, 2)
        t = np.linspace(0, 2 * np.pi * rng.uniform(1.1, 2), 40)
        pts = list(zip(c[0] + r * np.cos(t), c[1] + r * np.sin(t)))
    else:
        a, half = rng.uniform(0, np.pi), size * 0.4
        pts = [(size / 2 - half * np.cos(a), size / 2 - half * np.sin(a)), (size / 2 + half * np.cos(a), size / 2 + half * np.sin(a))]
    d.line([(float(x), float(y)) for x, y in pts], fill=(255, 255, 255), width=2)
    return im


def make_dataset(root: Path, n: int = 32, *, figures: bool = False, seed: int = 0) -> Path:
    """Circles vs lines, four windows per object, with labels.csv (+ manifest.csv with figures)."""
    rng = np.random.default_rng(seed)
    rows, man = [], []
    for i in range(n):
        kind = "circling" if (i // 4) % 2 == 0 else "straight"
        obj, wid = f"a{i // 4:05x}", f"a{i // 4:05x}_1_20240101T1{i % 4}0000_300s"
        (root / kind).mkdir(parents=True, exist_ok=True)
        _draw(kind, rng).save(root / kind / f"{wid}.png")
        rows.append({"image": f"{kind}/{wid}.png", "window_id": wid, "object_id": obj, "label": kind, "source": "rule",
                     "time": "2024-01-01T00:00:00Z"})
        turn = rng.uniform(1.1, 2.0) if kind == "circling" else rng.uniform(-0.1, 0.1)
        man.append({"image": f"images/{wid}.png", "window_id": wid, "object_id": obj, "net_turn_rev": turn,
                    "straightness": rng.uniform(0, 0.3) if kind == "circling" else rng.uniform(0.9, 1.0),
                    "radius_m": rng.uniform(500, 2000), "extent_m": rng.uniform(1000, 5000),
                    "sample_interval_s": 1.0, "median_speed_kt": rng.uniform(80, 120)})
    pd.DataFrame(rows).to_csv(root / "labels.csv", index=False)
    if figures:
        pd.DataFrame(man).to_csv(root / "manifest.csv", index=False)
        (root / "render_config.json").write_text(json.dumps({"version": 1, "size": 48}))
    return root


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    ds = make_dataset(tmp_path_factory.mktemp("ds"))
    out = tmp_path_factory.mktemp("model") / "m"
    train(ds, out, TrainSettings(**FAST))
    return ds, out


def test_bundle_round_trip_reproduces_the_recorded_metrics(trained: tuple[Path, Path]) -> None:
    ds, out = trained
    assert {"model.safetensors", "model.json", "history.csv", "history.png"} <= {p.name for p in out.iterdir()}
    bundle = load_bundle(out)
    meta = json.loads((out / "model.json").read_text())
    assert bundle.classes == ["circling", "straight"] and bundle.head == "cnn" and bundle.figure_columns == []
    assert meta["positive_class"] == "circling" and meta["backbone"] == "efficientnet_lite0"
    valid = [ds / rel for rel in meta["split"]["valid_images"]]
    images = load_images(valid, 48)  # other sizes are resized by the bundle
    probs = bundle.predict_images(images, batch_size=5)
    assert probs.shape == (len(valid), 2) and np.allclose(probs.sum(1), 1, atol=1e-5)
    truth = np.array([bundle.classes.index(p.parent.name) for p in valid])
    assert (probs.argmax(1) == truth).mean() == pytest.approx(meta["metrics"]["accuracy"])
    again = load_bundle(out).predict_images(images)
    assert np.allclose(probs, again, atol=1e-6)
    assert len(meta["data_fingerprint"]) == 64 and meta["split"]["n_valid"] == len(valid)


def test_pickle_files_are_refused(tmp_path: Path) -> None:
    torch.save({"w": torch.zeros(1)}, tmp_path / "model.pt")
    with pytest.raises(BundleError, match="refusing to load a .pt"):
        load_bundle(tmp_path / "model.pt")
    with pytest.raises(BundleError, match="model.pt, which flightpaths refuses to unpickle"):
        load_bundle(tmp_path)


def test_tampered_or_newer_bundles_are_refused(trained: tuple[Path, Path], tmp_path: Path) -> None:
    import shutil

    _, out = trained
    bad = tmp_path / "bad"
    shutil.copytree(out, bad)
    blob = bytearray((bad / "model.safetensors").read_bytes())
    blob[-1] ^= 0xFF
    (bad / "model.safetensors").write_bytes(bytes(blob))
    with pytest.raises(BundleError, match="sha256 .* does not match"):
        load_bundle(bad)
    shutil.copy(out / "model.safetensors", bad / "model.safetensors")
    meta = json.loads((bad / "model.json").read_text())
    (bad / "model.json").write_text(json.dumps({**meta, "format_version": 99}))
    with pytest.raises(BundleError, match="format version 99"):
        load_bundle(bad)


@pytest.mark.slow
def test_resume_after_ctrl_c_ends_where_an_uninterrupted_run_ends(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds", n=24)
    settings = TrainSettings(**{**FAST, "epochs": 2, "patience": 10})
    train(ds, tmp_path / "full", settings)

    def stop(row: dict) -> None:
        if row["phase"] == "body" and row["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(TrainingInterrupted, match="--resume"):
        train(ds, tmp_path / "cut", settings, on_epoch_end=stop)
    assert load_checkpoint(tmp_path / "cut").done == {1: 1, 2: 1}
    load_bundle(tmp_path / "cut")  # the best model so far is usable
    result = train(ds, tmp_path / "cut", TrainSettings(), resume=True)  # settings come from the checkpoint
    assert list(result.history["phase"]) == ["head", "body", "body"]
    full, cut = load_checkpoint(tmp_path / "full"), load_checkpoint(tmp_path / "cut")
    assert full is not None and cut is not None
    for k, v in full.model_state.items():
        assert torch.allclose(v.float(), cut.model_state[k].float(), atol=1e-5), k


@pytest.mark.slow
def test_hybrid_and_figures_only_heads(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds", figures=True)
    result = train(ds, tmp_path / "hybrid", TrainSettings(**FAST))
    assert result.head == "hybrid"
    bundle = load_bundle(tmp_path / "hybrid")
    assert bundle.figure_columns == ["net_turn_rev", "straightness", "radius_m", "extent_m", "sample_interval_s", "median_speed_kt"]
    assert bundle.render_config == RenderConfig(size=48)  # the typed config, validated on load
    assert not bundle.windowing_known  # a folder without windowing.json: model.json says so
    meta = json.loads((tmp_path / "hybrid" / "model.json").read_text())
    assert meta["figure_normalisation"]["transforms"][0] == "abs"
    man = pd.read_csv(ds / "manifest.csv")
    images = load_images([ds / r for r in pd.read_csv(ds / "labels.csv")["image"]], SIZE)
    with pytest.raises(InputError, match="needs window figures"):
        bundle.predict_images(images)
    assert bundle.predict_images(images, man).shape == (len(man), 2)
    with pytest.raises(InputError, match="net_turn_rev"):
        bundle.predict_images(images, man.drop(columns=["net_turn_rev"]))
    only = train(ds, tmp_path / "figs", TrainSettings(**{**FAST, "head": "figures", "epochs": 40, "lr": 1e-2}))
    assert only.head == "figures" and only.metrics["accuracy"] == 1.0  # net turn separates these classes
    fb = load_bundle(tmp_path / "figs")
    assert fb.predict_images(np.zeros((len(man), 4, 4, 3), np.uint8), man).argmax(1).tolist() == [
        fb.classes.index(r.split("/")[0]) for r in pd.read_csv(ds / "labels.csv")["image"]]


def test_cli_train_and_refusals(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds", n=24)
    runner = CliRunner()
    args = ["-q", "train", str(ds), "-o", str(tmp_path / "m"), "--size", str(SIZE), "--epochs", "0",
            "--freeze-epochs", "2", "--batch-size", "8"]
    result = runner.invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["metrics"]["accuracy"] >= 0
    assert (tmp_path / "m" / "train_settings.json").is_file()
    again = runner.invoke(cli, args)
    assert again.exit_code == 1 and "--overwrite" in again.output
    bad = runner.invoke(cli, ["train", str(ds), "-o", str(tmp_path / "x"), "--group-by", "planet"])
    assert bad.exit_code == 2 and "planet" in bad.output
    no_figs = runner.invoke(cli, ["-q", "train", str(ds), "-o", str(tmp_path / "y"), "--figures-only"])
    assert no_figs.exit_code == 1 and "needs window figures" in no_figs.output


def test_lr_find_suggests_a_rate(tmp_path: Path) -> None:
    ds = make_dataset(tmp_path / "ds", n=24)
    result = CliRunner().invoke(cli, ["-q", "lr-find", str(ds), "--size", str(SIZE), "--batch-size", "8",
                                      "--iters", "30", "-o", str(tmp_path / "lr.png")])
    assert result.exit_code == 0, result.output
    assert "suggested learning rate" in result.output and (tmp_path / "lr.png").stat().st_size > 1000


@pytest.mark.gpu
def test_cuda_uses_mixed_precision_and_channels_last(tmp_path: Path) -> None:
    rt = _runtime(torch.device("cuda"))
    assert rt.amp and rt.pin and rt.channels_last
    from flightpaths.train.backbones import build_backbone
    from flightpaths.train.model import Classifier

    model = Classifier(build_backbone("efficientnet_lite0"), 2).cuda().to(memory_format=torch.channels_last)
    with rt.autocast():
        assert model(torch.randn(2, 3, 64, 64, device="cuda")).dtype == torch.float16
    ds = make_dataset(tmp_path / "ds", n=24)
    result = train(ds, tmp_path / "m", TrainSettings(**{**FAST, "unfreeze": 0, "device": "cuda"}))
    assert np.isfinite(result.metrics["loss"])
    assert load_bundle(tmp_path / "m").predict_images(np.zeros((2, 32, 32, 3), np.uint8), device="cuda").shape == (2, 2)


def test_small_datasets_get_a_smaller_batch_and_honest_intervals(trained: tuple[Path, Path], caplog) -> None:
    """32 images: 64 a batch would leave one step an epoch; the auto batch size gives several.
    Two validation aircraft: the intervals resample images and the trainer says so."""
    import logging

    from flightpaths.train.engine import prepare

    ds, out = trained
    meta = json.loads((out / "model.json").read_text())
    if FAST.get("batch_size") is None:
        assert meta["settings"]["batch_size"] == 8
    with caplog.at_level(logging.WARNING, logger="flightpaths.train.engine"):
        prep = prepare(ds, TrainSettings(**{**FAST, "batch_size": None}))
    assert prep.settings.batch_size == 8
    assert "intervals resample images" in caplog.text
    assert meta["metrics"]["accuracy_lo"] <= meta["metrics"]["accuracy"] <= meta["metrics"]["accuracy_hi"]
