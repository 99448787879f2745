"""The images to label: a render output folder (images + manifest.csv + render_config.json) or any folder of PNGs.

:func:`load_images` reads either into an :class:`ImageSet`: one row per image, keyed by its
path relative to the folder. Manifest rows that name a path outside the folder, a missing
file or a window the renderer skipped are left out with a warning naming the line; figure
values that are not numbers become missing values, with a warning naming line and column.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

import pandas as pd

from ..errors import InputError, SchemaError
from ..fileio import csv_plain_frame, file_stem

__all__ = ["ImageSet", "load_images", "read_json"]

log = logging.getLogger(__name__)

_IMAGE_SUFFIXES = frozenset({".png"})
_NUMBER_COLUMNS = frozenset(
    {
        "line_first", "line_last", "lat", "lon", "n_points", "duration_s", "path_length_m", "net_displacement_m",
        "straightness", "total_turn_deg", "net_turn_rev", "radius_m", "extent_m", "median_speed_kt",
        "median_altitude_ft", "sample_interval_s", "window_s",
    }
)  # fmt: skip


@dataclass(frozen=True)
class ImageSet:
    """The images to label: a render output folder (with manifest) or any folder of PNGs.

    ``table`` has one row per image: ``key`` (path relative to ``root``, POSIX; the image's
    identity), ``path`` (absolute), ``name`` (file name to use in the dataset, unique), and
    the manifest columns when there is a manifest (``window_id``, ``object_id``,
    ``callsign``, figures ...; empty strings / NaN otherwise).
    """

    root: Path
    table: pd.DataFrame
    render_config: dict[str, Any] | None = None
    windowing: dict[str, Any] | None = None
    has_manifest: bool = False
    warnings: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.table)

    @property
    def keys(self) -> list[str]:
        """Image keys in table order."""
        return self.table["key"].tolist()

    def row(self, key: str) -> dict[str, Any]:
        """The table row of one image as a dict (raises KeyError when unknown)."""
        return self._by_key()[key]

    def _by_key(self) -> dict[str, dict[str, Any]]:
        cache = self.__dict__.get("_cache")
        if cache is None:
            cache = {r["key"]: r for r in self.table.to_dict("records")}
            object.__setattr__(self, "_cache", cache)
        return cache


def _safe_key(raw: str) -> str | None:
    """A manifest image path as a clean relative POSIX path, or None when it could escape."""
    text = raw.strip().replace("\\", "/")
    if not text or "\x00" in text:
        return None
    p = PurePosixPath(text)
    if p.is_absolute() or any(part in ("..", "") for part in p.parts) or re.match(r"^[A-Za-z]:", text):
        return None
    return p.as_posix().removeprefix("./")


def _read_manifest(root: Path, warnings: list[str]) -> pd.DataFrame:
    """The manifest's rows of drawn images inside *root* (one row per image), numbers read as numbers."""
    path = root / "manifest.csv"
    try:
        df = csv_plain_frame(pd.read_csv(path, dtype=str, keep_default_na=False))
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"not a readable CSV: {exc}", path=path) from exc
    if "image" not in df.columns:
        raise SchemaError(f"missing required column 'image' (found {', '.join(map(repr, df.columns))})", path=path, line=1)
    df = df.copy()
    df["_line"] = range(2, len(df) + 2)
    df = df.iloc[_usable_rows(df, root, path, warnings)].reset_index(drop=True)
    df["key"] = [_safe_key(v) for v in df["image"]]
    for col in df.columns:
        if col in _NUMBER_COLUMNS:
            df[col] = _to_numbers(df, col, path, warnings)
    return df


def _usable_rows(df: pd.DataFrame, root: Path, path: Path, warnings: list[str]) -> list[int]:
    """Positions of the manifest rows drawn (status ok) whose image is a file inside *root*, each listed once."""
    keep = []
    seen: set[str] = set()
    skipped = 0
    for i, (raw, line) in enumerate(zip(df["image"], df["_line"])):
        status = str(df["status"].iat[i]).strip() if "status" in df.columns else "ok"
        if status and status != "ok":
            skipped += 1
            continue
        key = _safe_key(raw)
        problem = _image_problem(root, key, seen)
        if problem:
            warnings.append(f"{path}, line {line}, column 'image': {raw!r} {problem}")
            continue
        assert key is not None
        seen.add(key)
        keep.append(i)
    if skipped:
        log.info("%s: %d window(s) were skipped by the renderer (status not 'ok')", path, skipped)
    return keep


def _image_problem(root: Path, key: str | None, seen: set[str]) -> str:
    """What is wrong with a manifest row's image (*key*: its safe path, None when unsafe) and what becomes of the
    row; empty when nothing is."""
    if key is None:
        return "is not a path inside the folder; row ignored"
    if key in seen:
        return "listed twice; later row ignored"
    if not (root / key).is_file():
        return "not found; row ignored"
    return ""


def _to_numbers(df: pd.DataFrame, col: str, path: Path, warnings: list[str]) -> pd.Series:
    text = df[col].astype(str).str.strip()
    num = pd.to_numeric(text.where(text != ""), errors="coerce")
    bad = num.isna() & (text != "") & ~text.str.lower().isin(["nan", "na", "none", "null"])
    for line, value in list(zip(df.loc[bad, "_line"], text[bad]))[:3]:
        warnings.append(f"{path}, line {line}, column {col!r}: {value!r} is not a number; read as missing")
    if bad.sum() > 3:
        warnings.append(f"{path}, column {col!r}: {int(bad.sum()) - 3} more value(s) that are not numbers")
    return num.astype("float64")


def _scan_pngs(root: Path) -> pd.DataFrame:
    keys = sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.suffix.lower() in _IMAGE_SUFFIXES
        and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )
    return pd.DataFrame({"key": keys})


def _unique_names(keys: Sequence[str]) -> list[str]:
    """File names for the dataset: the base name, or a path-derived name where base names clash.

    Names from data that are not safe file names get a hash of the exact name
    (:func:`~flightpaths.fileio.file_stem`), and no two names differ only in case (macOS and
    Windows would see one file).
    """
    base = [PurePosixPath(k).name for k in keys]
    counts = Counter(b.casefold() for b in base)
    names: list[str] = []
    used: set[str] = set()  # case-folded
    for key, name in zip(keys, base):
        stem, suffix = PurePosixPath(name).stem, PurePosixPath(name).suffix.lower() or ".png"
        if counts[name.casefold()] > 1:
            stem = key[: -len(PurePosixPath(key).suffix) or None].replace("/", "__")
        candidate = f"{file_stem(stem, what='image name')}{suffix}"
        if candidate.casefold() in used:
            candidate = f"{file_stem(key, what='image name', hashed=True)}{suffix}"
        n = 2
        while candidate.casefold() in used:
            candidate = f"{file_stem(key, what='image name', hashed=True)}_{n}{suffix}"
            n += 1
        used.add(candidate.casefold())
        names.append(candidate)
    return names


def read_json(path: Path) -> dict[str, Any]:
    """A JSON object from *path*; InputError naming the line when it is not one."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON: {exc.msg}", path=path, line=exc.lineno) from exc
    if not isinstance(data, dict):
        raise InputError("expected a JSON object", path=path, line=1)
    return data


def _image_table(table: pd.DataFrame, root: Path) -> pd.DataFrame:
    """The images' table: key, path, dataset file name, and the id columns (blank where unknown)."""
    table = table.drop(columns=["_line", "image"], errors="ignore")
    for col in ("window_id", "object_id", "callsign"):
        if col not in table.columns:
            table[col] = ""
    table.insert(1, "path", [str(root / k) for k in table["key"]])
    table.insert(2, "name", _unique_names(table["key"].tolist()))
    return table


def load_images(folder: str | Path) -> ImageSet:
    """Read a render output folder (images + manifest.csv + render_config.json) or any folder of PNGs.

    With a manifest, its rows name the images (rows whose ``status`` is not ``ok`` and rows
    whose image is missing or outside the folder are left out, with a warning naming the
    line). Without one, every ``*.png`` below the folder is an image (hidden folders skipped).
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError("images folder not found (expected a folder of PNGs or a render output folder)", path=root)
    root = root.resolve()
    warnings: list[str] = []
    has_manifest = (root / "manifest.csv").is_file()
    table = _read_manifest(root, warnings) if has_manifest else _scan_pngs(root)
    if table.empty:
        raise InputError("no images found (expected *.png files, or manifest.csv rows with status 'ok')", path=root)
    table = _image_table(table, root)
    config = read_json(root / "render_config.json") if (root / "render_config.json").is_file() else None
    windowing = read_json(root / "windowing.json") if (root / "windowing.json").is_file() else None
    for w in warnings:
        log.warning("%s", w)
    return ImageSet(root=root, table=table.reset_index(drop=True), render_config=config, windowing=windowing,
                    has_manifest=has_manifest, warnings=tuple(warnings))  # fmt: skip
