"""Labelled images for training: class folders, their groups, duplicates, figures and an honest split.

A dataset is an ImageNet-style folder ``DATASET/<class>/<image>.png`` with, when the labeler
made it, ``labels.csv`` (image, window_id, object_id, label, source, time), ``manifest.csv``
(the render manifest rows: figures travel with the images) and ``render_config.json``. A plain
class-folder tree with nothing else works too, and so does ``DATASET/train/<class>/`` plus
``DATASET/valid/<class>/`` for an explicit validation set.

The split is by *group*, never by image: all windows of one object (or one track, or one
source file) fall on the same side, and so do duplicate images, stratified by class.

>>> group_from_name("N917PD2019-03-25_01_10_14.png", "object")
'N917PD 2019-03-25'
>>> group_from_name("4b1805_2_20240101T101500_300s.png", "track")
'4b1805_2'
>>> group_from_name("4b1805_2_20240101T101500_300s.png", "object")
'4b1805'
>>> session_groups(["N917PD2019-03-25_01_10_14.png", "N917PD2019-03-25_01_20_16.png", "N917PD2019-03-25_09_10_12.png"])
['N917PD 2019-03-25 01:10', 'N917PD 2019-03-25 01:10', 'N917PD 2019-03-25 09:10']

Maps made for people (a basemap under a red track) can be read through the ``red-track``
transform (:func:`image_transform`): the red and orange track pixels are kept, thickened so a
thin line survives the resize, and everything else becomes white.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from PIL import Image

from ..errors import InputError
from ..fileio import csv_plain_frame
from .mapfigures import TRANSFORM_FIGURES, as_rgb, red_track_mask

__all__ = [
    "DEFAULT_FIGURES",
    "GROUP_BY",
    "IMAGE_SUFFIXES",
    "IMAGE_TRANSFORMS",
    "KNOWN_FIGURES",
    "LabelledImages",
    "Split",
    "describe_duplicate_sets",
    "duplicate_groups",
    "fingerprint",
    "group_from_name",
    "grouped_folds",
    "image_figure_table",
    "image_transform",
    "load_images",
    "prepare_array",
    "read_array",
    "read_image",
    "scan_dataset",
    "session_groups",
    "split_dataset",
]

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff"})
GROUP_BY = ("auto", "object", "track", "file", "session")
#: Image transforms applied before resizing (recorded in the model bundle; scoring applies the same).
IMAGE_TRANSFORMS = ("none", "red-track", "red-track-loops")
#: Window figures the hybrid head uses by default (those present in the manifest).
DEFAULT_FIGURES = ("net_turn_rev", "straightness", "radius_m", "extent_m", "sample_interval_s", "median_speed_kt")
#: The scalar window figures of the tracks stage (CONTRACTS.md), read from manifest.csv when present.
KNOWN_FIGURES = (
    "n_points", "duration_s", "path_length_m", "net_displacement_m", "straightness", "total_turn_deg",
    "net_turn_rev", "radius_m", "extent_m", "median_speed_kt", "median_altitude_ft", "sample_interval_s",
)
_WINDOW_ID = re.compile(r"^(?P<object>[0-9A-Za-z~]+)_(?P<track>\d+)_\d{8}T\d{6}_\d+s$")
_NAME_DATE = re.compile(r"^(?P<object>.+?)[-_ .]?(?P<date>(?:19|20)\d\d-?[01]\d-?[0-3]\d)")
_NAME_TIME = re.compile(
    r"^(?P<object>.+?)[-_ .]?(?P<y>(?:19|20)\d\d)-?(?P<m>[01]\d)-?(?P<d>[0-3]\d)[-_ T]?"
    r"(?P<H>[0-2]\d)[-_:]?(?P<M>[0-5]\d)(?:[-_:]?(?P<S>[0-5]\d))?"
)


@dataclass(frozen=True)
class LabelledImages:
    """Images with their class, group and (when known) window figures; rows align with ``paths``."""

    root: Path
    paths: tuple[Path, ...]
    labels: np.ndarray
    classes: tuple[str, ...]
    groups: tuple[str, ...]
    group_source: str
    valid_mask: np.ndarray | None = None
    figures: pd.DataFrame | None = None
    render_config: dict | None = None
    windowing: dict | None = None
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.paths)

    @property
    def relpaths(self) -> list[str]:
        """Paths relative to the dataset root, with forward slashes."""
        return [p.relative_to(self.root).as_posix() for p in self.paths]


@dataclass(frozen=True)
class Split:
    """Indices of the training and validation images and how they were chosen."""

    train: np.ndarray
    valid: np.ndarray
    method: str
    n_groups_train: int
    n_groups_valid: int
    duplicate_sets: int
    notes: tuple[str, ...] = field(default=())

    def to_json(self, data: LabelledImages) -> dict:
        """A JSON-ready summary (for the bundle): method, counts per class, validation images."""
        rel = data.relpaths
        per_class = {
            side: {c: int((data.labels[idx] == k).sum()) for k, c in enumerate(data.classes)}
            for side, idx in (("train", self.train), ("valid", self.valid))
        }
        return {
            "method": self.method,
            "n_train": int(len(self.train)),
            "n_valid": int(len(self.valid)),
            "groups_train": self.n_groups_train,
            "groups_valid": self.n_groups_valid,
            "duplicate_sets": self.duplicate_sets,
            "per_class": per_class,
            "valid_images": sorted(rel[i] for i in self.valid),
            "notes": list(self.notes),
        }


# ----------------------------------------------------------------------------- images


def image_transform(image: np.ndarray, name: str) -> np.ndarray:
    """Apply the named transform to an ``H x W x 3`` uint8 RGB image (full resolution, before resizing).

    ``red-track``: keep the red/orange pixels of a track drawn on a basemap, thickened by a
    max filter (about 1% of the side) so a one-pixel line survives the resize; the rest is white.

    >>> img = np.full((5, 5, 3), 250, np.uint8); img[2, 2] = (230, 20, 20)
    >>> out = image_transform(img, "red-track")
    >>> out[2, 2].tolist(), out[0, 0].tolist()
    ([230, 20, 20], [255, 255, 255])
    """
    if name == "none":
        return image
    if name not in IMAGE_TRANSFORMS:
        raise ValueError(f"image transform must be one of {', '.join(IMAGE_TRANSFORMS)}, not {name!r}")
    return _red_track(image, loops=name == "red-track-loops")


def _red_track(image: np.ndarray, *, loops: bool) -> np.ndarray:
    """The red track of *image*, thickened, on white (its loops marked when *loops*)."""
    from PIL import ImageFilter

    track = red_track_mask(image)
    width = max(3, (max(image.shape[:2]) // 100) | 1)
    grown = np.asarray(Image.fromarray(track.astype(np.uint8) * 255).filter(ImageFilter.MaxFilter(width))) > 0
    out = np.full_like(image, 255)
    out[grown] = (220, 20, 20)
    out[track] = image[track]
    if loops:
        _mark_loops(out, grown)
    return out


def _mark_loops(out: np.ndarray, grown: np.ndarray) -> None:
    """Fill the areas the (thickened) track closes around with blue, in place.

    Under grouped cross-validation on the Quartz maps (5 folds by flight session) this scored a
    mean accuracy of 0.721, the plain red track 0.669; a fixed-size disc on each loop instead
    scored lower on each of the first three folds (0.51, 0.67, 0.82 against 0.83, 0.70, 0.85).
    """
    from scipy import ndimage

    out[ndimage.binary_fill_holes(grown) & ~grown] = (40, 90, 220)


def prepare_array(image: np.ndarray, size: int, transform: str = "none") -> np.ndarray:
    """An ``H x W x C`` uint8 array as ``size x size x 3`` RGB (alpha over black, *transform*, padded square, resized)."""
    image = image_transform(as_rgb(image), transform)
    h, w = image.shape[:2]
    if h != w:
        side = max(h, w)
        padded = np.zeros((side, side, 3), np.uint8)
        padded[(side - h) // 2 : (side - h) // 2 + h, (side - w) // 2 : (side - w) // 2 + w] = image
        image = padded
    if image.shape[0] != size:
        image = np.array(Image.fromarray(image).resize((size, size), Image.Resampling.BILINEAR))
    return np.ascontiguousarray(image)


def read_image(path: str | Path, size: int, transform: str = "none") -> np.ndarray:
    """Read any PIL-readable image as ``size x size x 3`` uint8 RGB (RGBA/palette composited on black)."""
    return prepare_array(read_array(path), size, transform)


def read_array(path: str | Path) -> np.ndarray:
    """Read any PIL-readable image at full resolution as uint8 RGB or RGBA (palette and transparency as RGBA)."""
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("RGBA", "LA", "P", "PA") or "transparency" in im.info:
                arr = np.asarray(im.convert("RGBA"))
            else:
                arr = np.asarray(im.convert("RGB"))
    except (OSError, ValueError, Image.DecompressionBombError) as exc:
        raise InputError(f"cannot read image: {exc}", path=path) from exc
    return arr


_FIGURE_CACHE: dict[tuple[object, ...], pd.DataFrame] = {}


def image_figure_table(paths: Sequence[Path], transform: str) -> pd.DataFrame | None:
    """The figures *transform* measures on each image (:data:`~flightpaths.train.mapfigures.TRANSFORM_FIGURES`),
    one row per path; None when the transform has none. Kept per (path, size, mtime) for the folds of one run."""
    if transform not in TRANSFORM_FIGURES:
        return None
    columns, measure = TRANSFORM_FIGURES[transform]
    key = (transform, *((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in paths))
    if key not in _FIGURE_CACHE:
        rows = [measure(read_array(p)) for p in paths]
        _FIGURE_CACHE.clear()  # one folder at a time
        _FIGURE_CACHE[key] = pd.DataFrame(rows, columns=list(columns)).astype(np.float64)
    return _FIGURE_CACHE[key].copy()


def load_images(paths: Sequence[Path], size: int, *, progress: bool = False, workers: int | None = None,
                transform: str = "none") -> np.ndarray:
    """Read *paths* into one ``N x size x size x 3`` uint8 array (decoded in *workers* threads)."""
    import os
    from concurrent.futures import ThreadPoolExecutor

    from tqdm.auto import tqdm

    out = np.empty((len(paths), size, size, 3), np.uint8)
    n = workers if workers is not None else min(8, os.cpu_count() or 1)

    def one(i: int) -> None:
        out[i] = read_image(paths[i], size, transform)

    bar = tqdm(total=len(paths), desc="reading images", unit="img", disable=not progress, leave=False)
    if n <= 1 or len(paths) < 64:
        for i in range(len(paths)):
            one(i)
            bar.update()
    else:  # PIL releases the GIL while decoding, so threads overlap
        with ThreadPoolExecutor(max_workers=n) as pool:
            for _ in pool.map(one, range(len(paths))):
                bar.update()
    bar.close()
    return out


# ----------------------------------------------------------------------------- groups and duplicates


def group_from_name(name: str, group_by: str) -> str:
    """A group key parsed from a file name: window ids, ``TAIL`` + date, else the file itself."""
    stem = Path(name).stem
    m = _WINDOW_ID.match(stem)
    if m and group_by in ("object", "track"):
        return m["object"] if group_by == "object" else f"{m['object']}_{m['track']}"
    m = _NAME_DATE.match(stem)
    if m and group_by in ("object", "track"):
        return f"{m['object'].strip('-_ .')} {m['date']}"
    return stem


def session_groups(names: Sequence[str], *, gap_min: float = 30.0) -> list[str]:
    """Flight sessions from file names: same tail number, snapshots at most *gap_min* minutes apart.

    A session is named by its tail number and its first snapshot's time. Names without a time
    fall back to tail number and day (:func:`group_from_name`), or the file itself.
    """
    out = [group_from_name(n, "object") for n in names]
    order = sorted((p[0], p[1], i) for i, p in enumerate(map(_tail_and_time, names)) if p is not None)
    gap = pd.Timedelta(minutes=gap_min)
    start: tuple[str, pd.Timestamp] | None = None
    prev: tuple[str, pd.Timestamp] | None = None
    for obj, when, i in order:
        if prev is None or obj != prev[0] or when - prev[1] > gap:
            start = (obj, when)
        assert start is not None
        out[i] = f"{start[0]} {start[1]:%Y-%m-%d %H:%M}"
        prev = (obj, when)
    return out


def _tail_and_time(name: str) -> tuple[str, pd.Timestamp] | None:
    """The tail number and snapshot time in a file name, or None when it has no valid time."""
    m = _NAME_TIME.match(Path(name).stem)
    if not m:
        return None
    try:
        when = pd.Timestamp(int(m["y"]), int(m["m"]), int(m["d"]), int(m["H"]), int(m["M"]), int(m["S"] or 0))
    except ValueError:
        return None
    return m["object"].strip("-_ ."), when


def _byte_duplicate_groups(paths: Sequence[Path]) -> list[int]:
    ids: dict[str, int] = {}
    return [ids.setdefault(hashlib.sha256(Path(p).read_bytes()).hexdigest(), len(ids)) for p in paths]


def duplicate_groups(paths: Sequence[Path]) -> tuple[list[int], str]:
    """One duplicate-set id per path, and the method used.

    Uses the labeler's ``find_duplicate_groups`` (byte-identical and perceptually near-identical
    images) when available, else byte-identical files (sha256).
    """
    try:
        from ..label.duplicates import find_duplicate_groups
    except ImportError:
        return _byte_duplicate_groups(paths), "byte-identical (sha256)"
    ids = list(find_duplicate_groups(list(paths)))
    if len(ids) != len(paths):
        log.warning("find_duplicate_groups returned %d ids for %d images; using sha256", len(ids), len(paths))
        return _byte_duplicate_groups(paths), "byte-identical (sha256)"
    return [int(i) for i in ids], "byte-identical and perceptual (flightpaths.label.duplicates)"


def describe_duplicate_sets(data: LabelledImages) -> list[str]:
    """A summary line, then one line per set of repeated images (relative paths); the summary is logged as a warning."""
    from ..label.duplicates import describe_duplicates, find_duplicates

    report = find_duplicates(list(data.paths))
    sets = describe_duplicates(report, data.relpaths)
    if sets:
        log.warning("warning: %d set(s) of repeated images (%d distinct pictures in %d files): each set is kept on one"
                    " side of every split", len(report.exact_sets) + len(report.near_sets), report.n_groups, len(data))
    return [report.summary(), *sets]


def _merge_groups(groups: Sequence[str], dup_ids: Sequence[int], *, cap: int) -> tuple[list[str], int]:
    """Union groups that share a duplicate image, unless the union would exceed *cap* images.

    Simple track drawings (a parked aircraft's dot, a straight line) are often near-identical
    across many aircraft; chaining all of them would leave one giant group and no real split.
    Duplicates not merged are dealt with after the split (see :func:`split_dataset`).
    Returns the merged group per image and the number of merges refused.
    """
    union = _GroupUnion(groups)
    first: dict[int, str] = {}
    refused = 0
    for g, d in zip(groups, dup_ids):
        if d not in first:
            first[d] = g
            continue
        a, b = union.find(first[d]), union.find(g)
        if a != b and not union.join(a, b, cap):
            refused += 1
    return [union.find(g) for g in groups], refused


class _GroupUnion:
    """Union-find over group names: each set is named by its smallest name and knows its image count."""

    def __init__(self, groups: Sequence[str]) -> None:
        self.parent: dict[str, str] = {g: g for g in groups}
        self.size: dict[str, int] = {}
        for g in groups:
            self.size[g] = self.size.get(g, 0) + 1

    def find(self, g: str) -> str:
        """The name of *g*'s set."""
        while self.parent[g] != g:
            self.parent[g] = self.parent[self.parent[g]]
            g = self.parent[g]
        return g

    def join(self, a: str, b: str, cap: int) -> bool:
        """Merge the sets named *a* and *b*, unless they hold more than *cap* images together (then False)."""
        if self.size[a] + self.size[b] > cap:
            return False
        keep, drop = min(a, b), max(a, b)
        self.parent[drop] = keep
        self.size[keep] += self.size.pop(drop)
        return True


# ----------------------------------------------------------------------------- scanning


def _class_folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith((".", "_")))


def _images_in(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())


def _read_csv(path: Path, required: Sequence[str]) -> pd.DataFrame | None:
    if not path.is_file():
        return None
    try:
        df = csv_plain_frame(pd.read_csv(path, dtype=str, keep_default_na=False))
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise InputError(f"not a readable CSV: {exc}", path=path) from exc
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise InputError(f"missing column(s) {', '.join(map(repr, missing))}", path=path, line=1)
    return df


def _metadata_groups(
    root: Path, paths: list[Path], group_by: str, labels_csv: pd.DataFrame | None, manifest: pd.DataFrame | None
) -> tuple[list[str | None], list[str | None]]:
    """Group key and window id per image from labels.csv / manifest.csv (None where unknown)."""
    rel = [p.relative_to(root).as_posix() for p in paths]
    by_rel: dict[str, dict[str, str]] = {}
    by_name: dict[str, dict[str, str]] = {}
    if labels_csv is not None:
        for row in labels_csv.to_dict("records"):
            by_rel[str(row["image"]).lstrip("./")] = row
            by_name[Path(str(row["image"])).name] = row
    man: dict[str, dict[str, str]] = {}
    if manifest is not None and "window_id" in manifest.columns:
        man = {str(r["window_id"]): r for r in manifest.to_dict("records")}
    groups: list[str | None] = []
    windows: list[str | None] = []
    for r, p in zip(rel, paths):
        row = by_rel.get(r) or by_name.get(p.name) or {}
        wid = row.get("window_id") or (p.stem if p.stem in man else None)
        windows.append(wid or None)
        key = _group_key(group_by, row, man.get(wid or "", {}), wid)
        groups.append(f"{group_by}:{key}" if key else None)
    return groups, windows


def _group_key(group_by: str, row: dict[str, str], mrow: dict[str, str], wid: str | None) -> str | None:
    """The group of one image from its labels.csv row, its manifest row and window id (None where unknown)."""
    if group_by == "object":
        return row.get("object_id") or mrow.get("object_id")
    if group_by == "track" and wid:
        m = _WINDOW_ID.match(wid)
        return f"{m['object']}_{m['track']}" if m else None
    if group_by == "file":
        return mrow.get("source_file") or None
    return None


def _figures_table(manifest: pd.DataFrame | None, windows: list[str | None]) -> pd.DataFrame | None:
    if manifest is None or "window_id" not in manifest.columns or not any(windows):
        return None
    cols = [c for c in KNOWN_FIGURES if c in manifest.columns]
    if not cols:
        return None
    table = manifest.drop_duplicates("window_id").set_index("window_id")[cols]
    table = table.apply(pd.to_numeric, errors="coerce")
    return table.reindex([w or "" for w in windows]).reset_index(drop=True)


def scan_dataset(root: str | Path, *, group_by: str = "object", session_gap_min: float = 30.0) -> LabelledImages:
    """Find the classes, images, groups and figures of a dataset folder.

    ``group_by="session"`` groups images by flight session (:func:`session_groups`, snapshots of
    one tail number at most *session_gap_min* minutes apart) where names carry times; ``auto``
    is ``object`` when labels.csv/manifest.csv name every image's object, else ``session``.
    """
    root = _dataset_root(root, group_by)
    found = _class_images(root)
    groups, source, figures = _dataset_metadata(root, found.paths, group_by, session_gap_min)
    return LabelledImages(
        root=root,
        paths=tuple(found.paths),
        labels=np.asarray(found.labels, np.int64),
        classes=tuple(found.classes),
        groups=tuple(groups),
        group_source=source,
        valid_mask=np.asarray(found.valid, bool) if found.explicit else None,
        figures=figures,
        render_config=_optional_json(root / "render_config.json"),
        windowing=_optional_json(root / "windowing.json"),
        warnings=found.warnings(),
    )


def _dataset_root(root: str | Path, group_by: str) -> Path:
    """*root* as a path, once it is a folder and *group_by* a known grouping."""
    if group_by not in GROUP_BY:
        raise ValueError(f"group_by must be one of {', '.join(GROUP_BY)}, not {group_by!r}")
    root = Path(root)
    if not root.is_dir():
        raise InputError("dataset folder not found", path=root)
    return root


@dataclass(frozen=True)
class _Found:
    """The images of a dataset folder, by class folder (and train/ or valid/ side when both are there)."""

    classes: list[str]
    paths: list[Path]
    labels: list[int]
    valid: list[bool]
    explicit: bool  # train/ and valid/ folders

    def warnings(self) -> tuple[str, ...]:
        """A warning for each class of fewer than 30 images."""
        counts = {c: self.labels.count(k) for k, c in enumerate(self.classes)}
        return tuple(f"{n} image(s) of class {c!r}: fewer than 30, so metrics are rough" for c, n in counts.items() if n < 30)


def _class_images(root: Path) -> _Found:
    """Every image under the class folders of *root* (or of its train/ and valid/); at least two classes, none empty."""
    explicit = (root / "train").is_dir() and (root / "valid").is_dir()
    sides = [root / "train", root / "valid"] if explicit else [root]
    classes = sorted({c.name for side in sides for c in _class_folders(side)})
    if len(classes) < 2:
        raise InputError(f"found {len(classes)} class folder(s) {classes}; need at least two, e.g. DATASET/circling/ and DATASET/other/", path=root)
    paths: list[Path] = []
    labels: list[int] = []
    valid: list[bool] = []
    for side in sides:
        for k, c in enumerate(classes):
            found = _images_in(side / c) if (side / c).is_dir() else []
            paths += found
            labels += [k] * len(found)
            valid += [side.name == "valid" and explicit] * len(found)
    empty = [c for k, c in enumerate(classes) if labels.count(k) == 0]
    if empty:
        raise InputError(f"class folder(s) {', '.join(empty)} hold no images ({', '.join(sorted(IMAGE_SUFFIXES))})", path=root)
    return _Found(classes, paths, labels, valid, explicit)


def _dataset_metadata(root: Path, paths: list[Path], group_by: str, session_gap_min: float
                      ) -> tuple[list[str], str, pd.DataFrame | None]:
    """From labels.csv and manifest.csv (when there): the group of every image, the groups' source, the figures."""
    labels_csv = _read_csv(root / "labels.csv", ["image"])
    manifest = _read_csv(root / "manifest.csv", ["window_id"])
    groups, source, windows = _dataset_groups(root, paths, group_by, session_gap_min, labels_csv, manifest)
    return groups, source, _figures_table(manifest, windows)


def _dataset_groups(root: Path, paths: list[Path], group_by: str, session_gap_min: float,
                    labels_csv: pd.DataFrame | None, manifest: pd.DataFrame | None
                    ) -> tuple[list[str], str, list[str | None]]:
    """The group of every image, where the groups came from, and each image's window id."""
    if group_by == "auto":
        known, _ = _metadata_groups(root, paths, "object", labels_csv, manifest)
        group_by = "object" if all(g is not None for g in known) else "session"
    meta_groups, windows = _metadata_groups(root, paths, group_by, labels_csv, manifest)
    from_meta = sum(g is not None for g in meta_groups)
    if group_by == "session":
        sessions = session_groups([p.name for p in paths], gap_min=session_gap_min)
        groups = [g or f"session:{k}" for g, k in zip(meta_groups, sessions)]
    else:
        groups = [g or f"name:{group_from_name(p.name, group_by)}" for g, p in zip(meta_groups, paths)]
    named = f"{group_by} (gap {session_gap_min:g} min)" if group_by == "session" else group_by
    source = f"{named} from labels.csv/manifest.csv" if from_meta == len(paths) else (
        f"{named} from file names" if from_meta == 0 else f"{named} from metadata ({from_meta}) and file names")
    return groups, source, windows


def _optional_json(path: Path) -> Any:
    """The JSON in *path*, or None when there is no such file (InputError naming the line when it is not JSON)."""
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from exc


def fingerprint(data: LabelledImages) -> str:
    """sha256 over every image's relative path, class and content: which data a model saw."""
    h = hashlib.sha256()
    for rel, label, path in sorted(zip(data.relpaths, data.labels.tolist(), data.paths)):
        h.update(f"{rel}\t{data.classes[label]}\t".encode())
        h.update(hashlib.sha256(Path(path).read_bytes()).digest())
    return h.hexdigest()


# ----------------------------------------------------------------------------- the split


def split_dataset(data: LabelledImages, *, valid_frac: float = 0.2, seed: int = 0, dedupe: bool = True) -> Split:
    """Grouped, stratified split; duplicate images always fall on the same side."""
    if not 0.0 < valid_frac < 1.0:
        raise ValueError(f"valid_frac must be between 0 and 1, not {valid_frac}")
    dup_ids, n_dup_sets, notes = _duplicates(data, dedupe)
    if data.valid_mask is not None:
        return _explicit_split(data, data.valid_mask, dup_ids, n_dup_sets, notes)
    merged = _merged_groups(data, dup_ids, notes)
    split = _grouped_split(data, merged, valid_frac, seed, n_dup_sets, notes)
    return _drop_straddling(split, dup_ids)


def _duplicates(data: LabelledImages, dedupe: bool) -> tuple[list[int], int, list[str]]:
    """The duplicate-set id of every image (each its own without *dedupe*), the number of sets, the first notes."""
    dup_ids, dup_method = duplicate_groups(data.paths) if dedupe else (list(range(len(data))), "off")
    n_dup_sets = sum(1 for n in np.bincount(np.asarray(dup_ids)) if n > 1) if len(dup_ids) else 0
    notes = [f"groups: {data.group_source}", f"duplicates: {dup_method}, {n_dup_sets} set(s) of repeated images"]
    return dup_ids, n_dup_sets, notes


def _explicit_split(data: LabelledImages, valid_mask: np.ndarray, dup_ids: list[int], n_dup_sets: int,
                    notes: list[str]) -> Split:
    """The split the train/ and valid/ folders give, with a warning for each kind of leak across them."""
    train, valid = np.flatnonzero(~valid_mask), np.flatnonzero(valid_mask)
    leaked = set(np.asarray(dup_ids)[train]) & set(np.asarray(dup_ids)[valid])
    if leaked:
        notes.append(f"warning: {len(leaked)} duplicate image set(s) appear in both train/ and valid/")
    shared = {data.groups[i] for i in train} & {data.groups[i] for i in valid}
    if shared:
        notes.append(f"warning: {len(shared)} group(s) appear in both train/ and valid/")
    for n in notes[2:]:
        log.warning("%s", n)
    return Split(train, valid, "explicit valid/ folder", len({data.groups[i] for i in train}),
                 len({data.groups[i] for i in valid}), n_dup_sets, tuple(notes))


def _merged_groups(data: LabelledImages, dup_ids: list[int], notes: list[str]) -> list[str]:
    """The groups joined along duplicate images (:func:`_merge_groups`); a note when some joins were refused."""
    cap = max(10, int(0.05 * len(data)))
    merged, refused = _merge_groups(list(data.groups), dup_ids, cap=cap)
    if refused:
        notes.append(f"{refused} duplicate link(s) between groups not merged (they would make a group over {cap} images)")
    return merged


def grouped_folds(data: LabelledImages, k: int, *, seed: int = 0, dedupe: bool = True) -> list[Split]:
    """*k* grouped, stratified folds: each image is validated once; groups and duplicates never straddle.

    Every fold's validation set must hold every class; with too few groups for that, fewer folds
    are made (the method says how many).
    """
    if k < 2:
        raise ValueError(f"cross-validation needs at least 2 folds, not {k}")
    dup_ids, n_dup_sets, notes = _duplicates(data, dedupe)
    codes = pd.factorize(pd.Series(_merged_groups(data, dup_ids, notes)))[0]
    n_splits, folds = _folds_with_every_class(data, codes, k, seed)
    if n_splits < k:
        notes.append(f"{n_splits} folds instead of {k}: too few groups of some class for more")
    out = []
    for i, (train, valid) in enumerate(folds):
        split = Split(np.sort(train), np.sort(valid), f"grouped stratified {n_splits}-fold (fold {i + 1} held out), seed {seed}",
                      len(set(codes[train])), len(set(codes[valid])), n_dup_sets, tuple(notes))
        out.append(_drop_straddling(split, dup_ids))
    return out


def _folds_with_every_class(data: LabelledImages, codes: np.ndarray, k: int, seed: int
                            ) -> tuple[int, list[tuple[np.ndarray, np.ndarray]]]:
    """The most grouped folds (at most *k*) whose validation sides all hold every class."""
    from sklearn.model_selection import StratifiedGroupKFold

    for n_splits in range(min(k, len(set(codes))), 1, -1):
        folds = list(StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
                     .split(np.zeros(len(codes)), data.labels, codes))
        if all(all((data.labels[v] == c).any() for c in range(len(data.classes))) for _, v in folds):
            return n_splits, folds
    raise InputError(f"could not make {k} grouped folds with every class in each ({data.group_source});"
                     " add data or use another --group-by", path=data.root)


def _drop_straddling(split: Split, dup_ids: Sequence[int]) -> Split:
    """Validation images with a duplicate in training leave the validation set (no leak, honest figures)."""
    ids = np.asarray(dup_ids)
    in_train = set(ids[split.train].tolist())
    keep = np.array([ids[i] not in in_train for i in split.valid], bool)
    if keep.all():
        return split
    note = f"{int((~keep).sum())} validation image(s) left out: duplicates of training images"
    log.info("%s", note)
    return Split(split.train, split.valid[keep], split.method, split.n_groups_train, split.n_groups_valid,
                 split.duplicate_sets, (*split.notes, note))


def _check_two_groups_per_class(data: LabelledImages, codes: np.ndarray) -> None:
    """Refuse a class whose images all come from one group: none of it could be held out."""
    for k, c in enumerate(data.classes):
        n = len(set(codes[data.labels == k]))
        if n < 2:
            raise InputError(
                f"class {c!r} has images from only {n} group ({data.group_source}); a grouped split needs at"
                " least two, so that one can be held out. Add data, use --group-by file, or give a valid/ folder",
                path=data.root,
            )


def _grouped_split(
    data: LabelledImages, groups: list[str], valid_frac: float, seed: int, n_dup_sets: int, notes: list[str]
) -> Split:
    from sklearn.model_selection import StratifiedGroupKFold

    codes = pd.factorize(pd.Series(groups))[0]
    _check_two_groups_per_class(data, codes)
    best: tuple[np.ndarray, np.ndarray] | None = None
    first = max(2, min(int(round(1.0 / valid_frac)), len(set(codes))))
    for n_splits in range(first, 1, -1):  # fewer folds when small classes cannot fill every fold
        folds = StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)
        for train, valid in folds.split(np.zeros(len(codes)), data.labels, codes):
            if all((data.labels[valid] == k).any() and (data.labels[train] == k).any() for k in range(len(data.classes))):
                best = (train, valid)
                break
        if best is not None:
            break
    if best is None:
        raise InputError("could not find a grouped split with every class on both sides; add data or use --group-by file",
                         path=data.root)
    train, valid = best
    method = f"grouped stratified {n_splits}-fold (fold 1 held out), seed {seed}"
    return Split(np.sort(train), np.sort(valid), method, len(set(codes[train])), len(set(codes[valid])),
                 n_dup_sets, tuple(notes))
