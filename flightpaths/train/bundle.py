"""The model bundle: ``MODEL_DIR/model.safetensors`` + ``MODEL_DIR/model.json``, and checkpoints.

Nothing here ever unpickles: weights are safetensors (plain tensors), everything else JSON.
``model.json`` records the sha256 of the weights file, so a changed file is refused, and a
format version, so a bundle from a newer flightpaths is refused with a clear message.
Checkpoints (``MODEL_DIR/checkpoint/``) hold the last finished epoch for ``--resume``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
from torch import nn

from rasterize import RenderConfig

from .. import __version__
from ..errors import BundleError, SettingsError
from ..fileio import atomic_write_bytes, atomic_write_text, write_csv
from ..settings import settings_dict, settings_from_dict
from ..tracks import TrackSettings, WindowSettings

__all__ = [
    "BUNDLE_FORMAT",
    "BUNDLE_VERSION",
    "BundleInfo",
    "CHECKPOINT_DIR",
    "Checkpoint",
    "HEADS",
    "MAX_IMAGE_SIZE",
    "PICKLE_SUFFIXES",
    "bundle_info",
    "check_weights",
    "head_only",
    "load_checkpoint",
    "read_bundle_files",
    "save_bundle",
    "save_checkpoint",
    "save_history",
    "windowing_meta",
]

log = logging.getLogger(__name__)

BUNDLE_FORMAT = "flightpaths-model"
BUNDLE_VERSION = 1
CHECKPOINT_DIR = "checkpoint"
WEIGHTS = "model.safetensors"
META = "model.json"
PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".pkl", ".pickle", ".ckpt", ".bin", ".joblib", ".tar"})
HEADS = ("cnn", "hybrid", "figures")
MAX_IMAGE_SIZE = 2048
_REQUIRED = ("format", "format_version", "backbone", "head", "classes", "image_size", "mean", "std", "weights_sha256")


def _tensors(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {k: v.detach().cpu().contiguous() for k, v in state.items()}


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def save_bundle(out_dir: str | Path, model: nn.Module, meta: dict[str, Any]) -> Path:
    """Write ``model.safetensors`` and ``model.json`` (weights first, then the metadata naming their hash)."""
    from safetensors.torch import save

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    blob = save(_tensors(model.state_dict()))
    atomic_write_bytes(out / WEIGHTS, blob)
    full = {
        "format": BUNDLE_FORMAT,
        "format_version": BUNDLE_VERSION,
        "library_version": __version__,
        "torch_version": torch.__version__,
        **meta,
        "weights_file": WEIGHTS,
        "weights_sha256": _sha256(blob),
    }
    atomic_write_text(out / META, json.dumps(full, indent=2, sort_keys=True, default=_json_default) + "\n")
    return out


def _json_default(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating,)):
        return float(value)
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def _refuse_pickle(path: Path) -> None:
    if path.is_file() and path.suffix.lower() in PICKLE_SUFFIXES:
        raise BundleError(
            f"{path}: refusing to load a {path.suffix} file: it may be a pickle, and unpickling runs code."
            f" A flightpaths model is a folder with {WEIGHTS} and {META}"
        )


def read_bundle_files(path: str | Path) -> tuple[dict[str, Any], dict[str, torch.Tensor]]:
    """Read and verify a bundle folder (or its ``model.json``): metadata and weights, never unpickling."""
    meta_path, weights_path = _bundle_paths(Path(path))
    meta = _read_meta(meta_path)
    return meta, _read_weights(weights_path, meta)


def _bundle_paths(p: Path) -> tuple[Path, Path]:
    """``model.json`` and the weights of the bundle at *p*; a pickle or a folder without them is refused."""
    _refuse_pickle(p)
    folder = p.parent if p.is_file() and p.name in (META, WEIGHTS) else p
    if not folder.is_dir():
        raise BundleError(f"{p}: no such model folder")
    meta_path, weights_path = folder / META, folder / WEIGHTS
    if not meta_path.is_file() or not weights_path.is_file():
        pickles = sorted(f.name for f in folder.iterdir() if f.suffix.lower() in PICKLE_SUFFIXES)
        extra = f"; found {', '.join(pickles)}, which flightpaths refuses to unpickle" if pickles else ""
        raise BundleError(f"{folder}: not a flightpaths model: needs {WEIGHTS} and {META}{extra}")
    return meta_path, weights_path


def _read_meta(meta_path: Path) -> dict[str, Any]:
    """``model.json``: JSON of this format, with the required fields and a version this library reads."""
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8-sig"))  # a byte-order mark from a Windows editor is fine
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise BundleError(f"{meta_path}: not valid JSON ({exc})") from exc
    except OSError as exc:
        raise BundleError(f"{meta_path}: cannot be read ({exc.strerror or exc})") from exc
    except RecursionError as exc:
        raise BundleError(f"{meta_path}: nested too deeply to be a model description") from exc
    if not isinstance(meta, dict) or meta.get("format") != BUNDLE_FORMAT:
        raise BundleError(f"{meta_path}: not a flightpaths model description (format is not {BUNDLE_FORMAT!r})")
    missing = [k for k in _REQUIRED if k not in meta]
    if missing:
        raise BundleError(f"{meta_path}: missing field(s) {', '.join(missing)}")
    version = meta["format_version"]
    if not isinstance(version, int) or version > BUNDLE_VERSION or version < 1:
        raise BundleError(
            f"{meta_path}: bundle format version {version!r} (made by flightpaths {meta.get('library_version', '?')});"
            f" this flightpaths {__version__} reads versions 1 to {BUNDLE_VERSION}. Upgrade flightpaths or retrain"
        )
    if not isinstance(meta["weights_sha256"], str):
        raise BundleError(f"{meta_path}: 'weights_sha256' must be a hex string, got {meta['weights_sha256']!r}")
    return meta


def _read_weights(weights_path: Path, meta: dict[str, Any]) -> dict[str, torch.Tensor]:
    """The weights, once their sha256 matches the one *meta* records."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    blob = weights_path.read_bytes()
    digest = _sha256(blob)
    if digest != meta["weights_sha256"]:
        raise BundleError(
            f"{weights_path}: sha256 {digest[:16]}... does not match {meta['weights_sha256'][:16]}... recorded in"
            f" {META}: the weights were changed or corrupted after training"
        )
    try:
        state: dict[str, torch.Tensor] = load(blob)
    except SafetensorError as exc:
        raise BundleError(f"{weights_path}: not a readable safetensors file ({exc})") from exc
    return state


# ----------------------------------------------------------------------------- typed metadata


@dataclass(frozen=True)
class BundleInfo:
    """What ``model.json`` says, checked and typed: how to rebuild, feed and score the model.

    ``render_config`` is None for a model trained on images drawn elsewhere (it can classify
    images but not draw new windows). ``track_settings``/``window_settings`` are how the
    training windows were cut; ``windowing_known`` is False when the training images carried
    no such settings (a plain image folder), and the defaults stand in for them.
    """

    backbone: str
    head: str
    classes: tuple[str, ...]
    image_size: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    n_figures: int
    hidden: int
    dropout: float
    body: str
    positive_class: str | None
    render_config: RenderConfig | None
    track_settings: TrackSettings
    window_settings: WindowSettings
    windowing_known: bool


def _fail(where: str, field: str, message: str) -> BundleError:
    return BundleError(f"{where}: {field!r} {message}")


def _int(meta: dict[str, Any], key: str, where: str, lo: int, hi: int, default: int | None = None) -> int:
    value = meta.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise _fail(where, key, f"must be a whole number from {lo} to {hi}, got {value!r}")
    return value


def _triple(meta: dict[str, Any], key: str, where: str, *, positive: bool) -> tuple[float, float, float]:
    value = meta.get(key)
    ok = isinstance(value, list) and len(value) == 3 and all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and (v > 0 or not positive)
        for v in value)
    if not ok:
        kind = "positive " if positive else ""
        raise _fail(where, key, f"must be a list of 3 finite {kind}numbers (one per colour channel), got {value!r}")
    return (float(value[0]), float(value[1]), float(value[2]))


def _text(meta: dict[str, Any], key: str, where: str, choices: tuple[str, ...] | None = None) -> str:
    value = meta.get(key)
    if not isinstance(value, str) or not value or (choices is not None and value not in choices):
        hint = f"one of {', '.join(choices)}" if choices else "a non-empty string"
        raise _fail(where, key, f"must be {hint}, got {value!r}")
    return value


def _classes(meta: dict[str, Any], where: str) -> tuple[str, ...]:
    value = meta.get("classes")
    if not (isinstance(value, list) and len(value) >= 2 and all(isinstance(c, str) and c for c in value)
            and len(set(value)) == len(value)):
        raise _fail(where, "classes", f"must be a list of at least 2 distinct class names, got {value!r}")
    return tuple(value)


def _settings(cls: type, meta: dict[str, Any], key: str, where: str) -> Any:
    try:
        return settings_from_dict(cls, meta[key], what=f"{where}: {key!r}")
    except SettingsError as exc:
        raise BundleError(str(exc)) from exc


def _dropout(meta: dict[str, Any], where: str) -> float:
    """The head's dropout: a number from 0 to below 1 (0.5 when not recorded)."""
    dropout = meta.get("dropout", 0.5)
    if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0 <= dropout < 1:
        raise _fail(where, "dropout", f"must be a number from 0 to below 1, got {dropout!r}")
    return float(dropout)


def _positive_class(meta: dict[str, Any], where: str, classes: tuple[str, ...]) -> str | None:
    """The class a reporter looks for, when recorded: one of *classes*."""
    positive = meta.get("positive_class")
    if positive is not None and positive not in classes:
        raise _fail(where, "positive_class", f"must be one of the classes {', '.join(classes)}, got {positive!r}")
    return positive


def _render_config(meta: dict[str, Any], where: str) -> RenderConfig | None:
    """How the training images were drawn, when recorded."""
    render = meta.get("render_config")
    if render is None:
        return None
    try:
        return RenderConfig.from_dict(render)
    except (ValueError, TypeError) as exc:
        raise _fail(where, "render_config", f"cannot be used: {exc}") from exc


def _track_settings(meta: dict[str, Any], where: str) -> TrackSettings:
    """How the training tracks were cut from points; the defaults when not recorded."""
    if meta.get("track_settings") is None:
        return TrackSettings()
    settings: TrackSettings = _settings(TrackSettings, meta, "track_settings", where)
    return settings


def bundle_info(meta: dict[str, Any], where: str = META) -> BundleInfo:
    """Check and type the metadata of a bundle; every absurd value raises :class:`BundleError` naming it."""
    classes = _classes(meta, where)
    head = _text(meta, "head", where, HEADS)
    dropout = _dropout(meta, where)
    positive = _positive_class(meta, where, classes)
    render = _render_config(meta, where)
    known = meta.get("window_settings") is not None
    return BundleInfo(
        backbone=_text(meta, "backbone", where),
        head=head,
        classes=classes,
        image_size=_int(meta, "image_size", where, 8, MAX_IMAGE_SIZE),
        mean=_triple(meta, "mean", where, positive=False),
        std=_triple(meta, "std", where, positive=True),
        n_figures=_int(meta, "n_figures", where, 0, 1024, default=0),
        hidden=_int(meta, "hidden", where, 1, 65536, default=512),
        dropout=dropout,
        body=_text({**meta, "body": meta.get("body", "stored")}, "body", where, ("stored", "pretrained")),
        positive_class=positive,
        render_config=render,
        track_settings=_track_settings(meta, where),
        window_settings=_settings(WindowSettings, meta, "window_settings", where) if known else WindowSettings(),
        windowing_known=known,
    )


def windowing_meta(windowing: dict[str, Any] | None) -> dict[str, Any]:
    """``model.json``'s ``track_settings``/``window_settings`` from a dataset's windowing record.

    *windowing* is ``{"tracks": {...}, "windows": {...}}`` as ``flightpaths tracks`` wrote it
    (carried by render and label as ``windowing.json``), or None for images with no such
    record, which model.json then says in ``windowing_note``.
    """
    if not windowing:
        return {"track_settings": None, "window_settings": None,
                "windowing_note": "the training images carried no track or window settings (a plain image folder); "
                                  "scoring cuts windows with the defaults"}
    tracks = settings_from_dict(TrackSettings, windowing.get("tracks") or {}, what="windowing.json 'tracks'")
    windows = settings_from_dict(WindowSettings, windowing.get("windows") or {}, what="windowing.json 'windows'")
    return {"track_settings": settings_dict(tracks), "window_settings": settings_dict(windows)}


def check_weights(state: dict[str, torch.Tensor], where: str) -> None:
    """Refuse weights holding NaN or infinite values (they would score every window NaN)."""
    bad = [k for k, v in state.items() if v.is_floating_point() and not bool(torch.isfinite(v).all())]
    if bad:
        raise BundleError(f"{where}: {len(bad)} weight tensor(s) hold NaN or infinite values (e.g. {bad[0]});"
                          " this model would score every window NaN: retrain it")


def head_only(model_dir: str | Path, pretrained_body: dict[str, torch.Tensor]) -> Path:
    """Rewrite a bundle whose body is the unchanged pretrained body to hold only its head.

    A model trained with the body frozen throughout (``epochs=0``) differs from the pretrained
    backbone only in its head, so the bundle can ship the head alone (kilobytes to a few MB
    instead of the whole network) and ``body: "pretrained"`` in ``model.json``; loading then
    rebuilds the body from the backbone's own weights. *pretrained_body* is that body's state
    dict; every body tensor of the bundle must equal it exactly, else this raises.
    """
    from safetensors.torch import save

    meta, state = read_bundle_files(model_dir)
    _check_pretrained_body(model_dir, state, pretrained_body)
    head = {k: v for k, v in state.items() if not k.startswith("body.")}
    blob = save(_tensors(head))
    out = Path(model_dir)
    atomic_write_bytes(out / WEIGHTS, blob)
    meta.update(body="pretrained", weights_sha256=_sha256(blob))
    atomic_write_text(out / META, json.dumps(meta, indent=2, sort_keys=True, default=_json_default) + "\n")
    return out


def _check_pretrained_body(model_dir: str | Path, state: dict[str, torch.Tensor],
                           pretrained_body: dict[str, torch.Tensor]) -> None:
    """Refuse a bundle whose body has other layers than the pretrained body, or other values in them."""
    body = {k: v for k, v in state.items() if k.startswith("body.")}
    if set(body) != {f"body.{k}" for k in pretrained_body}:
        raise BundleError(f"{model_dir}: the bundle's body does not have the pretrained body's layers")
    changed = [k for k, v in body.items() if not torch.equal(v, pretrained_body[k[len("body."):]].to(v.dtype))]
    if changed:
        raise BundleError(f"{model_dir}: {len(changed)} body tensor(s) differ from the pretrained weights "
                          f"(e.g. {changed[0]}); only a model trained with the body frozen can ship head-only")


# ----------------------------------------------------------------------------- checkpoints


@dataclass
class Checkpoint:
    """The last finished epoch: weights, optimizer moments and the run's bookkeeping."""

    settings: dict[str, Any]
    phase: int
    history: list[dict]
    best: float
    best_epoch: int
    done: dict[int, int]
    stale: int
    model_state: dict[str, torch.Tensor]
    optimizer_state: dict[str, Any]


def save_checkpoint(out_dir: str | Path, model: nn.Module, opt: torch.optim.Optimizer, settings: Any, phase: int,
                    history: list[dict], best: float, best_epoch: int, done: dict[int, int], stale: int) -> Path:
    """Write ``checkpoint/state.safetensors`` + ``checkpoint/state.json`` atomically."""
    from ..settings import settings_dict

    folder = Path(out_dir) / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    opt_state = opt.state_dict()
    blob = _write_checkpoint_tensors(folder / "state.safetensors", model, opt_state)
    meta = {
        "format": "flightpaths-checkpoint",
        "format_version": BUNDLE_VERSION,
        "settings": settings_dict(settings),
        "phase": phase,
        "history": history,
        "best": best,
        "best_epoch": best_epoch,
        "done": {str(k): v for k, v in done.items()},
        "stale": stale,
        "param_groups": opt_state["param_groups"],
        "sha256": _sha256(blob),
    }
    atomic_write_text(folder / "state.json", json.dumps(meta, indent=1, default=_json_default) + "\n")
    return folder


def _write_checkpoint_tensors(path: Path, model: nn.Module, opt_state: dict[str, Any]) -> bytes:
    """The model's weights (``model.*``) and the optimizer's moments (``opt.<param>.<slot>``) to *path*; the bytes."""
    from safetensors.torch import save

    tensors = {f"model.{k}": v for k, v in model.state_dict().items()}
    for pid, slots in opt_state["state"].items():
        for name, value in slots.items():
            tensors[f"opt.{pid}.{name}"] = value if torch.is_tensor(value) else torch.tensor(value)
    blob = save(_tensors(tensors))
    atomic_write_bytes(path, blob)
    return blob


def load_checkpoint(out_dir: str | Path) -> Checkpoint | None:
    """The checkpoint in *out_dir*, or None when there is none; a damaged one raises BundleError."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    folder = Path(out_dir) / CHECKPOINT_DIR
    if not (folder / "state.json").is_file():
        return None
    try:
        meta = json.loads((folder / "state.json").read_text(encoding="utf-8"))
        blob = (folder / "state.safetensors").read_bytes()
    except (OSError, ValueError, RecursionError) as exc:  # ValueError: bad JSON or bad UTF-8
        raise BundleError(f"{folder}: unreadable checkpoint ({type(exc).__name__}: {str(exc)[:200]})") from exc
    if not isinstance(meta, dict) or meta.get("format") != "flightpaths-checkpoint" or _sha256(blob) != meta.get("sha256"):
        raise BundleError(f"{folder}: checkpoint does not match its state.json (changed or half-written)")
    try:
        return _checkpoint(meta, load(blob))
    except (KeyError, ValueError, TypeError, AttributeError, OverflowError, RecursionError, SafetensorError) as exc:
        raise BundleError(f"{folder}: damaged checkpoint ({type(exc).__name__}: {str(exc)[:200]}); "
                          "delete the checkpoint folder to start again") from exc


def _checkpoint(meta: dict[str, Any], tensors: dict[str, torch.Tensor]) -> Checkpoint:
    """The checkpoint from ``state.json`` and its tensors (any field missing or of the wrong type raises)."""
    model_state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    state: dict[int, dict[str, torch.Tensor]] = {}
    for k, v in tensors.items():
        if k.startswith("opt."):
            _, pid, name = k.split(".", 2)
            state.setdefault(int(pid), {})[name] = v
    if not isinstance(meta["settings"], dict) or not isinstance(meta["history"], list) \
            or not isinstance(meta["param_groups"], list) or not all(isinstance(h, dict) for h in meta["history"]):
        raise TypeError("settings, history or param_groups of the wrong type")
    ckpt = Checkpoint(
        settings=meta["settings"],
        phase=int(meta["phase"]),
        history=meta["history"],
        best=float(meta["best"]),
        best_epoch=int(meta["best_epoch"]),
        done={1: 0, 2: 0, **{int(k): int(v) for k, v in meta["done"].items()}},
        stale=int(meta["stale"]),
        model_state=model_state,
        optimizer_state={"state": state, "param_groups": meta["param_groups"]},
    )
    _check_bookkeeping(ckpt)
    return ckpt


def _check_bookkeeping(ckpt: Checkpoint) -> None:
    """ValueError unless the checkpoint's counts can be resumed from: phase 1 or 2, epochs done
    per phase (phases 1 and 2 only) not negative, the best epoch within the history."""
    if ckpt.phase not in (1, 2) or set(ckpt.done) != {1, 2} or min(ckpt.done.values()) < 0 or ckpt.stale < 0:
        raise ValueError(f"phase {ckpt.phase}, epochs done {ckpt.done}, stale {ckpt.stale} cannot be resumed")
    if not (ckpt.best_epoch == -1 or 1 <= ckpt.best_epoch <= len(ckpt.history)):
        raise ValueError(f"best epoch {ckpt.best_epoch} is not in the {len(ckpt.history)} epoch(s) of the history")


# ----------------------------------------------------------------------------- history


def save_history(out_dir: str | Path, history: list[dict]) -> tuple[Path, Path | None]:
    """``history.csv`` (one row per epoch) and ``history.png`` (loss and metrics by epoch)."""
    out = Path(out_dir)
    df = pd.DataFrame(history)
    csv = write_csv(out / "history.csv", df, index=False)
    if df.empty:
        return csv, None
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    x = np.arange(1, len(df) + 1)
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.8))
    _plot_losses(a, x, df)
    _plot_metrics(b, x, df)
    n_head = int((df["phase"] == "head").sum())
    for ax in (a, b):
        if 0 < n_head < len(df):
            ax.axvline(n_head + 0.5, color="grey", ls=":", lw=1)
    fig.tight_layout()
    png = out / "history.png"
    fig.savefig(png, dpi=100)
    plt.close(fig)
    return csv, png


def _plot_losses(ax: Any, x: np.ndarray, df: pd.DataFrame) -> None:
    """Training and validation loss by epoch."""
    ax.plot(x, df["train_loss"], "o-", label="train loss")
    ax.plot(x, df["loss"], "o-", label="valid loss")
    ax.set_xlabel("epoch (head, then body)")
    ax.legend()


def _plot_metrics(ax: Any, x: np.ndarray, df: pd.DataFrame) -> None:
    """Accuracy, F1 and AUPR by epoch, with their intervals when recorded."""
    for name in ("accuracy", "f1", "aupr"):
        if name in df:
            ax.plot(x, df[name], "o-", label=name)
            if f"{name}_lo" in df:
                ax.fill_between(x, df[f"{name}_lo"], df[f"{name}_hi"], alpha=0.15)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("epoch")
    ax.legend(loc="lower right")
