"""The evaluation sets: the built-in real set read from ``../shared/data``, sets from files,
flight segments, and the hold-out of aircraft."""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import InputError, UnsupportedFormatError
from ..fileio import id_stem, safe_name
from ..score.aggregate import epoch_ns, local_xy

__all__ = [
    "DEFAULT_DATA_ROOT",
    "EvalSet",
    "EvalSource",
    "REVIEW_HAS_ORBITS",
    "REVIEW_NO_CIRCLING",
    "SHARED_SOURCES",
    "SegmentSettings",
    "build_set",
    "build_shared_set",
    "holdout_aircraft",
    "holdout_table",
    "load_source_points",
    "main_categories",
    "read_points_file",
    "segment_points",
    "stable_hash",
]

log = logging.getLogger(__name__)


#: ``../shared/data`` beside the checkout (the repository's parent folder holds ``shared/``).
DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[2].parent / "shared" / "data"


@dataclass(frozen=True)
class EvalSource:
    """One group of files of the built-in real set: a glob under the data root and its label."""

    pattern: str
    category: str
    label: bool
    note: str = ""


_TS = "adsb/traffic-samples"
_BF = "adsb/buzzfeed-2016-conventions"
_SKYWRITING = (
    "airbus_tree", "anzac_day", "dreamliner_boeing", "easter_rabbit", "kiwi", "qantas747",
    "switzerland_map", "texas_longhorn", "thankyou", "turkish_flag",
)
#: The built-in evaluation set: every file is read from the data root, never copied.
SHARED_SOURCES: tuple[EvalSource, ...] = (
    EvalSource(f"{_TS}/calibration/*.json.gz", "calibration", True, "navaid calibration circles and arcs"),
    EvalSource(f"{_TS}/military/inflight_refuelling.json.gz", "refuelling", True, "refuelling racetrack"),
    EvalSource(f"{_BF}/rnc.csv", "government-heli", True, "BuzzFeed 2016 RNC, ~60 s sampling"),
    EvalSource(f"{_BF}/dnc.csv", "government-heli", True, "BuzzFeed 2016 DNC, ~60 s sampling"),
    EvalSource(f"{_TS}/collections/quickstart.json.gz", "ordinary", False, "Paris traffic, 2021-10-07"),
    EvalSource(f"{_TS}/surveys/*.json.gz", "survey", False, "photo/LIDAR lawnmowers"),
    EvalSource(f"{_BF}/aeroptic.csv", "survey-sparse", False, "Aeroptic survey planes, ~60 s sampling"),
    EvalSource(f"{_TS}/onground/zurich_airport.json.gz", "onground", False, "taxiing and parked at Zurich"),
    *(EvalSource(f"{_TS}/featured/{n}.json.gz", "skywriting", False, "skywriting shape") for n in _SKYWRITING),
)
#: Segments of the built-in set (default :class:`SegmentSettings`) reviewed by eye: every
#: positive and every negative segment drawn as a thumbnail in id order, without any score.
#: Left out (not relabelled): positives that show no circling at all (straight transits to
#: and from the orbit, the ferry legs of calibration and refuelling flights) ...
REVIEW_NO_CIRCLING: tuple[str, ...] = (
    "ajaccio_39b415_20180112T110400", "dnc_a310c4_20160724T165013", "dnc_a7ff46_20160724T192317",
    "dnc_a9479c_20160724T182821", "dnc_a9479c_20160726T033416", "dnc_aa1dcc_20160726T195323",
    "dnc_abfbaf_20160724T181420", "dnc_abfbaf_20160725T131253", "dnc_abfbaf_20160728T165020",
    "dnc_abff66_20160726T155839", "dnc_abff66_20160726T164419", "dnc_ac031d_20160725T161212",
    "dnc_ac031d_20160725T170554", "dnc_ac031d_20160726T013909", "dnc_ac031d_20160727T035121",
    "dnc_ac031d_20160727T044105", "dnc_ac031d_20160727T161208", "dnc_ac031d_20160728T042122",
    "dnc_ac031d_20160728T170522", "dnc_ac1967_20160722T130621",
    "inflight_refuelling_3b7777_20200630T200626", "inflight_refuelling_3b7777_20200630T220156",
    "rnc_a1336e_20160718T220517", "rnc_a1336e_20160719T181418", "rnc_a1336e_20160719T222917",
    "rnc_a1336e_20160719T231130", "rnc_a579ca_20160715T215638", "rnc_a6684f_20160718T202423",
    "rnc_a6684f_20160719T154122", "rnc_a6684f_20160721T172121", "rnc_a6684f_20160721T195827",
    "rnc_a996cb_20160717T180115", "rnc_a996cb_20160722T014116", "vancouver_c052bb_20181006T154255",
    "vancouver_c052bb_20181006T172715",
)
#: ... and negatives that contain clear orbits (Aeroptic's oblique-photography orbits around
#: a site, a survey plane's loops), which a detector is right to find.
REVIEW_HAS_ORBITS: tuple[str, ...] = (
    "aeroptic_a3f27c_20160618T175410", "aeroptic_a3f27c_20160621T145711",
    "aeroptic_a954a8_20160523T213008", "aeroptic_a954a8_20160523T221608",
    "aeroptic_a954a8_20160525T153244", "aeroptic_a954a8_20160525T161402",
    "aeroptic_a954a8_20160525T205248", "aeroptic_a954a8_20160525T215157",
    "aeroptic_a954a8_20160526T112009", "aeroptic_a954a8_20160526T121207",
    "aeroptic_a954a8_20160527T103818", "aeroptic_a954a8_20160527T112601",
    "aeroptic_a954a8_20160527T121206", "aeroptic_a954a8_20160615T115513",
    "aeroptic_a954a8_20160615T124313", "aeroptic_a954a8_20160615T133112",
    "aeroptic_a954a8_20160616T115207", "aeroptic_a954a8_20160616T154611",
    "aeroptic_a954a8_20160616T163612", "aeroptic_a954a8_20160617T122010",
    "aeroptic_a954a8_20160617T131114", "pixair_toulouse_39b861_20190331T094816",
)


@dataclass(frozen=True)
class SegmentSettings:
    """How tracks become evaluation segments.

    gap_s: split a track where two reports are further apart than this.
    max_s: cut longer tracks into equal pieces no longer than this.
    min_s, min_points: drop pieces shorter than this or with fewer reports.
    sparse_s: a segment whose median interval is at least this is tagged ``sparse``.
    ground_extent_m: a segment smaller than this (or mostly flagged on ground) is tagged
    ``ground`` (parked, taxiing): such segments must never be top false alarms.
    drop_ground_positives: leave out ``ground`` segments of positive sources (a police
    helicopter parked at its base for an hour is not circling, whatever its category says).
    """

    gap_s: float = 900.0
    max_s: float = 3600.0
    min_s: float = 600.0
    min_points: int = 5
    sparse_s: float = 45.0
    ground_extent_m: float = 1000.0
    drop_ground_positives: bool = True


@dataclass(frozen=True)
class EvalSet:
    """Points (with a ``segment_id`` column) and one row per segment, indexed by segment id.

    Segment columns: object_id (the aircraft), label (bool), category, source_file, start,
    end, duration_s, n_points, median_interval_s, sampling (``dense``/``sparse``),
    on_ground_frac, extent_m, ground (bool).
    """

    points: pd.DataFrame
    segments: pd.DataFrame

    def subset(self, segment_ids: Iterable[str]) -> EvalSet:
        """The same set restricted to *segment_ids* (order of the segments table kept)."""
        keep = self.segments.index.isin(list(segment_ids))
        segments = self.segments[keep]
        return EvalSet(self.points[self.points["segment_id"].isin(segments.index)], segments)


def read_points_file(path: str | Path) -> pd.DataFrame:
    """Read one log into a points table sorted by aircraft and time, one report per instant.

    Any format :func:`flightpaths.ingest.read_logs` knows is read by it. Files it does not
    recognise but pandas can (the column-oriented JSON of some traffic samples, such as
    ``calibration/nice.json.gz``) are read by :func:`_read_table`. Repeated reports (same
    aircraft, same time) are dropped: they would count as zero-second steps.
    """
    p = Path(path)
    from ..ingest import IngestSettings, read_logs  # numba and the readers load on first use

    try:
        points = read_logs([p], settings=IngestSettings()).points
    except UnsupportedFormatError:
        log.info("%s: not a format flightpaths.ingest recognises; read as a pandas table", p)
        points = _read_table(p)
    points = points.dropna(subset=["lat", "lon"])
    repeated = points.duplicated(subset=["object_id", "time"])
    if repeated.any():
        log.info("%s: %d repeated report(s) (same aircraft and time) left out", p, int(repeated.sum()))
    points = points[~repeated]
    return points.sort_values(["object_id", "time"], kind="mergesort").reset_index(drop=True)


def _read_table(p: Path) -> pd.DataFrame:
    """A traffic-samples JSON (records or column-oriented) or a CSV with traffic/BuzzFeed names."""
    raw, cols, first_line = _raw_table(p)
    missing = [c for c in ("time", "object_id", "lat", "lon") if c not in set(cols[k] for k in raw.columns if k in cols)]
    if missing:
        raise InputError(f"no column for {', '.join(missing)} (found {', '.join(map(str, raw.columns))})", path=p)
    out = pd.DataFrame({new: raw[old] for old, new in cols.items() if old in raw.columns})
    out = out.loc[:, ~out.columns.duplicated()]
    out["source_line"] = np.arange(first_line, first_line + len(raw), dtype="int64")
    out = _typed_columns(out)
    bad = out["time"].isna() | out["lat"].isna() | out["lon"].isna() | out["object_id"].isna()
    bad |= ~out["lat"].between(-90, 90) | ~out["lon"].between(-180, 180)
    if bad.any():
        first = int(out.loc[bad, "source_line"].iloc[0])
        log.info("%s: %d row(s) without a usable time, aircraft or position left out (first: line %d)",
                 p, int(bad.sum()), first)
    out["time"] = out["time"].astype("datetime64[ns, UTC]")
    out["source_file"] = str(p)
    keep = ["object_id", "time", "lat", "lon", "altitude_ft", "speed_kt", "track_deg", "on_ground",
            "callsign", "source_file", "source_line"]
    return out.loc[~bad, keep].sort_values(["object_id", "time"], kind="mergesort").reset_index(drop=True)


def _raw_table(p: Path) -> tuple[pd.DataFrame, dict[str, str], int]:
    """The table as read, its column names -> ours, and the file line of its first row."""
    name = p.name.lower()
    if name.endswith((".json", ".json.gz")):
        raw = pd.read_json(p, dtype={"icao24": str})
        cols = {"icao24": "object_id", "timestamp": "time", "latitude": "lat", "longitude": "lon",
                "altitude": "altitude_ft", "groundspeed": "speed_kt", "track": "track_deg",
                "onground": "on_ground", "callsign": "callsign"}
        first_line = 1
    elif name.endswith((".csv", ".csv.gz")):
        raw = pd.read_csv(p, dtype={"adshex": str, "icao24": str}, low_memory=False)
        cols = {"adshex": "object_id", "icao24": "object_id", "timestamp": "time", "latitude": "lat",
                "longitude": "lon", "lat": "lat", "lon": "lon", "altitude": "altitude_ft",
                "speed": "speed_kt", "groundspeed": "speed_kt", "heading": "track_deg",
                "track": "track_deg", "onground": "on_ground", "callsign": "callsign", "reg": "callsign"}
        first_line = 2
    else:
        raise InputError("not a JSON or CSV table", path=p)
    return raw, cols, first_line


def _typed_columns(out: pd.DataFrame) -> pd.DataFrame:
    """Times as UTC times (epoch seconds or milliseconds, or text), numbers as numbers, ids lower-case text."""
    time = out["time"]
    if pd.api.types.is_numeric_dtype(time):
        unit = "ms" if float(np.nanmedian(time)) > 1e11 else "s"
        out["time"] = pd.to_datetime(time, unit=unit, utc=True, errors="coerce")
    else:
        out["time"] = pd.to_datetime(time, utc=True, errors="coerce", format="mixed")
    for c in ("lat", "lon", "altitude_ft", "speed_kt", "track_deg"):
        out[c] = pd.to_numeric(out[c], errors="coerce") if c in out else np.nan
    out["on_ground"] = out["on_ground"].astype("boolean") if "on_ground" in out else pd.array([pd.NA] * len(out), "boolean")
    out["callsign"] = out["callsign"].astype("string").str.strip() if "callsign" in out else pd.NA
    out["object_id"] = out["object_id"].astype("string").str.strip().str.lower()
    return out


def load_source_points(root: str | Path, source: EvalSource) -> list[pd.DataFrame]:
    """Read every file of *source* under *root*; raises when the glob matches nothing."""
    files = sorted(Path(root).glob(source.pattern))
    if not files:
        raise InputError(f"no file matches {source.pattern!r} (category {source.category})", path=root)
    return [read_points_file(f) for f in files]


def segment_points(points: pd.DataFrame, *, category: str, label: bool,
                   settings: SegmentSettings = SegmentSettings()) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split *points* of one source into segments; return (points with segment_id, segments).

    Tracks are split per aircraft at gaps over ``gap_s``; each track longer than ``max_s``
    is cut into the fewest equal pieces no longer than ``max_s``; pieces shorter than
    ``min_s`` or with fewer than ``min_points`` reports are dropped.
    """
    pts = points.sort_values(["object_id", "time"], kind="mergesort").reset_index(drop=True)
    if pts.empty:
        return pts.assign(segment_id=pd.Series(dtype="string")), _empty_segments()
    t = _seconds(pts["time"])
    stem = Path(str(pts["source_file"].iloc[0])).name.split(".")[0]
    rows, seg_of_point = _segments(pts, t, stem, category=category, label=label, settings=settings)
    pts["segment_id"] = pd.array(seg_of_point, dtype="string")
    pts = pts[pts["segment_id"].notna()].reset_index(drop=True)
    segments = pd.DataFrame(rows).set_index("segment_id") if rows else _empty_segments()
    if label and len(segments) and settings.drop_ground_positives:
        pts, segments = _drop_parked(pts, segments, stem)
    return pts, segments


def _segments(pts: pd.DataFrame, t: np.ndarray, stem: str, *, category: str, label: bool,
              settings: SegmentSettings) -> tuple[list[dict[str, Any]], np.ndarray]:
    """The rows of the pieces long enough to keep, and each point's segment id (None where its piece is dropped)."""
    rows = []
    seg_of_point = np.full(len(pts), None, dtype=object)
    for _key, idx in pd.Series(np.arange(len(pts))).groupby(_piece_keys(pts, t, settings)):
        ix = idx.to_numpy()
        if len(ix) < settings.min_points or t[ix[-1]] - t[ix[0]] < settings.min_s:
            continue
        row = _segment_row(pts.iloc[ix], t[ix], stem, category=category, label=label, settings=settings)
        seg_of_point[ix] = row["segment_id"]
        rows.append(row)
    return rows, seg_of_point


def _piece_keys(pts: pd.DataFrame, t: np.ndarray, settings: SegmentSettings) -> np.ndarray:
    """A key per point naming its piece: tracks split at gaps, each cut into the fewest equal pieces of at most ``max_s``."""
    new_ac = pts["object_id"].ne(pts["object_id"].shift()).to_numpy()
    gap = np.r_[True, np.diff(t) > settings.gap_s] | new_ac
    track = np.cumsum(gap)
    t0 = pd.Series(t).groupby(track).transform("min").to_numpy()
    t1 = pd.Series(t).groupby(track).transform("max").to_numpy()
    pieces = np.maximum(1, np.ceil((t1 - t0) / settings.max_s)).astype(int)
    piece_len = np.where(pieces > 0, (t1 - t0) / pieces, 1.0)
    piece = np.minimum(((t - t0) / np.where(piece_len > 0, piece_len, 1.0)).astype(int), pieces - 1)
    keys: np.ndarray = track * 10_000 + piece
    return keys


def _segment_row(g: pd.DataFrame, t: np.ndarray, stem: str, *, category: str, label: bool,
                 settings: SegmentSettings) -> dict[str, Any]:
    """The segments table's row for the points *g* (times *t* in seconds) of one piece."""
    start = g["time"].iloc[0]
    sid = safe_name(f"{stem}_{id_stem(g['object_id'].iloc[0])}_{start:%Y%m%dT%H%M%S}", what="segment id")
    x, y = local_xy(g["lat"].to_numpy(), g["lon"].to_numpy())
    extent = float(max(np.ptp(x), np.ptp(y)))
    interval = float(np.median(np.diff(t)))
    og = g["on_ground"].astype("float64")
    ground_frac = float(og.mean()) if og.notna().any() else 0.0
    return {
        "segment_id": sid, "object_id": str(g["object_id"].iloc[0]), "label": bool(label),
        "category": category, "source_file": str(g["source_file"].iloc[0]),
        "callsign": _first_text(g["callsign"]), "start": start, "end": g["time"].iloc[-1],
        "duration_s": float(t[-1] - t[0]), "n_points": int(len(g)),
        "median_interval_s": interval,
        "sampling": "sparse" if interval >= settings.sparse_s else "dense",
        "on_ground_frac": ground_frac, "extent_m": extent,
        "ground": bool(ground_frac >= 0.5 or extent < settings.ground_extent_m),
        "line_first": int(g["source_line"].iloc[0]), "line_last": int(g["source_line"].iloc[-1]),
    }


def _drop_parked(pts: pd.DataFrame, segments: pd.DataFrame, stem: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Leave out a positive source's segments parked or hovering in place (and their points)."""
    parked = segments.index[segments["ground"].astype(bool)]
    if len(parked):
        log.info("%s: %d segment(s) of a positive source parked or hovering in place left out",
                 stem, len(parked))
        segments = segments.drop(parked)
        pts = pts[~pts["segment_id"].isin(parked)].reset_index(drop=True)
    return pts, segments


def _seconds(time: pd.Series) -> np.ndarray:
    """Epoch seconds of a tz-aware time column, whatever its resolution (ns, us, ...)."""
    return epoch_ns(time) / 1e9


def _first_text(values: pd.Series) -> str:
    v = values.dropna()
    return str(v.iloc[0]) if len(v) else ""


def _empty_segments() -> pd.DataFrame:
    cols = ["object_id", "label", "category", "source_file", "callsign", "start", "end", "duration_s",
            "n_points", "median_interval_s", "sampling", "on_ground_frac", "extent_m", "ground",
            "line_first", "line_last"]
    return pd.DataFrame(columns=cols, index=pd.Index([], name="segment_id"))


def _combine(parts: Sequence[tuple[pd.DataFrame, pd.DataFrame]]) -> EvalSet:
    parts = [p for p in parts if len(p[1])]
    if not parts:
        raise InputError("no flight segment long enough to evaluate (see SegmentSettings.min_s/min_points)")
    points = pd.concat([p[0] for p in parts], ignore_index=True)
    segments = pd.concat([p[1] for p in parts])
    dup = segments.index.duplicated(keep="first")
    if dup.any():  # the same file given twice, or as positive and negative
        log.warning("%d segment(s) given twice were kept once (first: %s)", int(dup.sum()), segments.index[dup][0])
        segments = segments[~dup]
        points = points.drop_duplicates(subset=["segment_id", "time", "source_line"])
    return EvalSet(points, segments.sort_index())


def build_shared_set(root: str | Path = DEFAULT_DATA_ROOT, *, sources: Sequence[EvalSource] = SHARED_SOURCES,
                     settings: SegmentSettings = SegmentSettings(), review: bool = True) -> EvalSet:
    """The built-in real evaluation set, read from *root* (``../shared/data`` by default).

    With *review*, the segments in :data:`REVIEW_NO_CIRCLING` and :data:`REVIEW_HAS_ORBITS`
    are left out (the review was made on the default segment settings).
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError("the shared real-data folder is absent", path=root)
    parts = []
    for source in sources:
        for pts in load_source_points(root, source):
            parts.append(segment_points(pts, category=source.category, label=source.label, settings=settings))
    data = _combine(parts)
    if not review:
        return data
    reviewed = set(REVIEW_NO_CIRCLING) | set(REVIEW_HAS_ORBITS)
    found = data.segments.index.isin(list(reviewed))
    if found.sum() < len(reviewed):
        log.warning("only %d of %d reviewed segments exist with these segment settings; the review "
                    "was made with the defaults", int(found.sum()), len(reviewed))
    log.info("%d reviewed segment(s) left out (transits of orbiting flights, orbits in negative "
             "sources)", int(found.sum()))
    return data.subset(data.segments.index[~found])


def _expand(paths: Iterable[str | Path]) -> list[Path]:
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and not f.name.startswith(".")))
        elif p.exists():
            files.append(p)
        else:
            raise InputError("no such file or folder", path=p)
    return files


def build_set(positives: Iterable[str | Path], negatives: Iterable[str | Path], *,
              settings: SegmentSettings = SegmentSettings()) -> EvalSet:
    """An evaluation set from the user's files; a file's category is its folder's name.

    Folders are read recursively. Every segment of a positive file is a positive.
    """
    parts = []
    for files, label in ((_expand(positives), True), (_expand(negatives), False)):
        for f in files:
            parts.append(segment_points(read_points_file(f), category=f.parent.name or "data", label=label,
                                        settings=settings))
    return _combine(parts)


def stable_hash(text: str, seed: int) -> int:
    """A seeded hash of *text* that is the same in every process (Python's ``hash`` is not)."""
    return int.from_bytes(hashlib.sha256(f"{seed}:{text}".encode()).digest()[:8], "big")


def main_categories(segments: pd.DataFrame) -> pd.DataFrame:
    """One row per aircraft (``object_id``, ``category``): the category where it has most
    segments (ties: the first by name)."""
    return (segments.groupby(["object_id", "category"]).size().rename("n").reset_index()
            .sort_values(["object_id", "n", "category"], ascending=[True, False, True])
            .drop_duplicates("object_id")[["object_id", "category"]])


def holdout_aircraft(segments: pd.DataFrame, *, fraction: float = 0.3, seed: int = 0) -> list[str]:
    """Aircraft to hold out of training, grouped by aircraft and stratified by category.

    Each aircraft belongs to the category where it has most segments; in every category
    with at least two aircraft, ``ceil(fraction * n)`` of them (at least one, never all)
    are chosen by a seeded hash of the aircraft id, so the list is deterministic, does not
    depend on file order, and changes little when data are added. Returns sorted ids.

    >>> seg = pd.DataFrame({"object_id": ["a", "b", "c", "d", "e"],
    ...                     "category": ["x", "x", "x", "y", "z"]})
    >>> out = holdout_aircraft(seg, fraction=0.3)
    >>> len(out), set(out) <= {"a", "b", "c"}
    (1, True)
    """
    if not 0 < fraction < 1:
        raise ValueError(f"fraction must be between 0 and 1, got {fraction}")
    main = main_categories(segments)
    chosen: list[str] = []
    for _, group in main.groupby("category"):
        ids = sorted(group["object_id"], key=lambda a: stable_hash(str(a), seed))
        if len(ids) < 2:
            continue
        chosen.extend(ids[: min(len(ids) - 1, max(1, math.ceil(fraction * len(ids))))])
    return sorted(chosen)


def holdout_table(segments: pd.DataFrame, *, fraction: float = 0.3, seed: int = 0) -> pd.DataFrame:
    """One row per aircraft: main category, segments, positives, and whether it is held out."""
    held = set(holdout_aircraft(segments, fraction=fraction, seed=seed))
    table = (segments.groupby("object_id")
             .agg(category=("category", lambda c: c.value_counts().index[0]), n_segments=("label", "size"),
                  n_positive=("label", "sum"), sources=("source_file", lambda f: ";".join(sorted({Path(x).name for x in f}))))
             .reset_index())
    table["holdout"] = table["object_id"].isin(held)
    return table.sort_values(["category", "object_id"]).reset_index(drop=True)
