"""Judge circling detectors on real flights, per flight segment, with intervals over aircraft.

A reporter asks "does this flight segment contain circling?", so that is the unit here: a
track split at time gaps and cut into pieces of at most an hour (:class:`SegmentSettings`).
Each segment carries a label, the aircraft that flew it (bootstrap and hold-out are grouped
by aircraft, because a few aircraft dominate each category), a sampling tag (``dense`` or
``sparse``, about 60 s between points) and the curator's category.

The built-in real set (:data:`SHARED_SOURCES`, read from ``../shared/data``, never copied):

=================  =====  =========================================================
category           label  source
=================  =====  =========================================================
calibration        1      ``traffic-samples/calibration``: navaid calibration circles
refuelling         1      ``traffic-samples/military/inflight_refuelling``: racetrack
government-heli    1      BuzzFeed 2016 ``rnc.csv``/``dnc.csv``: police/DHS aircraft
                          orbiting the conventions, one point a minute (sparse)
ordinary           0      ``traffic-samples/collections/quickstart``: Paris traffic
survey             0      ``traffic-samples/surveys``: photo/LIDAR lawnmowers
survey-sparse      0      BuzzFeed ``aeroptic.csv``: survey lawnmowers, one point a minute
onground           0      ``traffic-samples/onground/zurich_airport``: taxiing, parked
skywriting         0      ``traffic-samples/featured``: drawn shapes (tree, rabbit, ...)
=================  =====  =========================================================

Left out on purpose: **gliders** (thermalling *is* circling, so they cannot be negatives,
but their tight 30-second thermals inside straight glides are not the loitering a newsroom
looks for, and they would make both detectors look better than they are on the cases that
matter; pass them with ``--positives`` to measure them), ambulances (short point-to-point
helicopter hops with ambiguous hovering), the aircraft-carrier sample (deck circuits),
``noisy/`` (spoofing and time glitches) and the featured farewell/zero-g flights whose
loops are neither clearly orbits nor clearly not. Labels come from the curator's category,
never from a turn statistic. Segments of a positive source that sit still (parked at base)
are left out, and so are the segments listed in :data:`REVIEW_NO_CIRCLING` (transit legs
of orbiting flights) and :data:`REVIEW_HAS_ORBITS` (clear orbits inside negative sources):
every segment was reviewed by eye as a thumbnail, in id order, without any score.

Hold-out: :func:`holdout_aircraft` lists about 30% of the aircraft of each category
(grouped, seeded, deterministic) to keep out of training; evaluate a model on those only
(``flightpaths evaluate MODEL --set shared`` does by default).

Scorers share one interface, ``segment_scores(data) -> Series`` indexed by segment id:
:class:`RuleScorer` (the turn-counting rule from the notes: the largest net signed heading
change in any 5-minute window, points thinned to 50 m), :class:`TrafficHoldingScorer` (the
``traffic`` library's holding-pattern detector when it imports) and :class:`ModelScorer`
(a model bundle's window probabilities aggregated per segment by max or top-k mean).

Metrics (:func:`evaluate_scores`) are tie-aware (a tie group counts as its average): average
precision, precision at 20 and 100, recall at 1% and 5% false-alarm rate, each with a
percentile bootstrap interval over *aircraft* (aircraft are resampled with replacement
within two strata, those with positive segments and the rest, so every replicate keeps both
classes), and the bootstrap interval of the difference in AP between each scorer and the
rule on the same replicates.
"""

from __future__ import annotations

import hashlib
import logging
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from .errors import BundleError, FlightpathsError, InputError
from .fileio import atomic_write_bytes, atomic_write_text, safe_name
from .score.aggregate import add_window_geometry, epoch_ns, local_xy, max_net_turn_deg, segment_features

__all__ = [
    "DEFAULT_DATA_ROOT",
    "EvalSet",
    "EvalSource",
    "EvaluateSettings",
    "EvaluationResult",
    "IsotonicCalibrator",
    "MetricSettings",
    "ModelScorer",
    "REVIEW_HAS_ORBITS",
    "REVIEW_NO_CIRCLING",
    "RuleScorer",
    "SHARED_SOURCES",
    "Scorer",
    "SegmentSettings",
    "TrafficHoldingScorer",
    "aggregate_windows",
    "apply_labels",
    "average_precision",
    "bootstrap_weights",
    "build_set",
    "build_shared_set",
    "cross_fit_calibration",
    "default_subsets",
    "evaluate",
    "evaluate_scores",
    "expected_calibration_error",
    "false_alarm_ranks",
    "holdout_aircraft",
    "holdout_table",
    "load_source_points",
    "local_xy",
    "main_categories",
    "max_net_turn_deg",
    "metrics_markdown",
    "precision_at_k",
    "read_points_file",
    "recall_at_fpr",
    "run_evaluation",
    "segment_points",
    "traffic_available",
    "write_contact_sheet",
    "write_evaluation",
]

log = logging.getLogger(__name__)

#: ``../shared/data`` beside the checkout (the repository's parent folder holds ``shared/``).
DEFAULT_DATA_ROOT = Path(__file__).resolve().parents[1].parent / "shared" / "data"



# ----------------------------------------------------------------------------- the real set


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
    try:
        from .errors import UnsupportedFormatError
        from .ingest import IngestSettings, read_logs
    except ImportError:  # pragma: no cover - the ingest stage is part of the package
        points = _read_table(p)
    else:
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
    missing = [c for c in ("time", "object_id", "lat", "lon") if c not in set(cols[k] for k in raw.columns if k in cols)]
    if missing:
        raise InputError(f"no column for {', '.join(missing)} (found {', '.join(map(str, raw.columns))})", path=p)
    out = pd.DataFrame({new: raw[old] for old, new in cols.items() if old in raw.columns})
    out = out.loc[:, ~out.columns.duplicated()]
    out["source_line"] = np.arange(first_line, first_line + len(raw), dtype="int64")
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
    new_ac = pts["object_id"].ne(pts["object_id"].shift()).to_numpy()
    gap = np.r_[True, np.diff(t) > settings.gap_s] | new_ac
    track = np.cumsum(gap)
    t0 = pd.Series(t).groupby(track).transform("min").to_numpy()
    t1 = pd.Series(t).groupby(track).transform("max").to_numpy()
    pieces = np.maximum(1, np.ceil((t1 - t0) / settings.max_s)).astype(int)
    piece_len = np.where(pieces > 0, (t1 - t0) / pieces, 1.0)
    piece = np.minimum(((t - t0) / np.where(piece_len > 0, piece_len, 1.0)).astype(int), pieces - 1)
    key = track * 10_000 + piece
    stem = Path(str(pts["source_file"].iloc[0])).name.split(".")[0]
    rows = []
    seg_of_point = np.full(len(pts), None, dtype=object)
    for k, idx in pd.Series(np.arange(len(pts))).groupby(key):
        ix = idx.to_numpy()
        if len(ix) < settings.min_points or t[ix[-1]] - t[ix[0]] < settings.min_s:
            continue
        g = pts.iloc[ix]
        start = g["time"].iloc[0]
        sid = safe_name(f"{stem}_{g['object_id'].iloc[0]}_{start:%Y%m%dT%H%M%S}", what="segment id")
        seg_of_point[ix] = sid
        x, y = local_xy(g["lat"].to_numpy(), g["lon"].to_numpy())
        extent = float(max(np.ptp(x), np.ptp(y)))
        interval = float(np.median(np.diff(t[ix])))
        og = g["on_ground"].astype("float64")
        ground_frac = float(og.mean()) if og.notna().any() else 0.0
        rows.append({
            "segment_id": sid, "object_id": str(g["object_id"].iloc[0]), "label": bool(label),
            "category": category, "source_file": str(g["source_file"].iloc[0]),
            "callsign": _first_text(g["callsign"]), "start": start, "end": g["time"].iloc[-1],
            "duration_s": float(t[ix[-1]] - t[ix[0]]), "n_points": int(len(ix)),
            "median_interval_s": interval,
            "sampling": "sparse" if interval >= settings.sparse_s else "dense",
            "on_ground_frac": ground_frac, "extent_m": extent,
            "ground": bool(ground_frac >= 0.5 or extent < settings.ground_extent_m),
            "line_first": int(g["source_line"].iloc[0]), "line_last": int(g["source_line"].iloc[-1]),
        })
    pts["segment_id"] = pd.array(seg_of_point, dtype="string")
    pts = pts[pts["segment_id"].notna()].reset_index(drop=True)
    segments = pd.DataFrame(rows).set_index("segment_id") if rows else _empty_segments()
    if label and len(segments) and settings.drop_ground_positives:
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


def _stable_hash(text: str, seed: int) -> int:
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
        ids = sorted(group["object_id"], key=lambda a: _stable_hash(str(a), seed))
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


# ----------------------------------------------------------------------------- scorers


class Scorer(Protocol):
    """Anything that gives one score per segment (higher = more likely circling)."""

    name: str

    def segment_scores(self, data: EvalSet) -> pd.Series:
        """Scores indexed by segment id (every segment of *data*)."""
        ...


@dataclass(frozen=True)
class RuleScorer:
    """The turn-counting rule per segment (see :func:`max_net_turn_deg`); score in degrees."""

    window_s: float = 300.0
    thin_m: float = 50.0
    name: str = "rule"

    def segment_scores(self, data: EvalSet) -> pd.Series:
        out = {}
        for sid, g in data.points.groupby("segment_id", sort=False):
            x, y = local_xy(g["lat"].to_numpy(), g["lon"].to_numpy())
            t = _seconds(g["time"])
            out[str(sid)] = max_net_turn_deg(t, x, y, window_s=self.window_s, thin_m=self.thin_m)
        return pd.Series(out, name=self.name, dtype="float64").reindex(data.segments.index, fill_value=0.0)


def traffic_available() -> tuple[bool, str]:
    """Whether the ``traffic`` library's holding-pattern detector can run, and why not."""
    try:
        from traffic.core import Flight  # noqa: F401
    except ImportError as exc:
        return False, f"the traffic package is not importable ({exc}); its holding-pattern baseline is skipped"
    except Exception as exc:  # a broken install (e.g. a pandas it was not built for)
        return False, f"the traffic package failed to import ({type(exc).__name__}: {exc}); baseline skipped"
    return True, "traffic holding-pattern detector available"


@dataclass(frozen=True)
class TrafficHoldingScorer:
    """``traffic``'s ML holding-pattern detector: score = fraction of the segment in holds."""

    name: str = "traffic-holding"

    def segment_scores(self, data: EvalSet) -> pd.Series:
        ok, why = traffic_available()
        if not ok:
            raise FlightpathsError(why)
        from traffic.core import Flight

        out = {}
        for sid, g in data.points.groupby("segment_id", sort=False):
            frame = pd.DataFrame({
                "timestamp": g["time"], "icao24": g["object_id"].astype(str),
                "callsign": g["callsign"].fillna("").astype(str), "latitude": g["lat"],
                "longitude": g["lon"], "altitude": g["altitude_ft"], "groundspeed": g["speed_kt"],
                "track": g["track_deg"]})
            duration = max((g["time"].iloc[-1] - g["time"].iloc[0]).total_seconds(), 1.0)
            try:
                held = sum(h.duration.total_seconds() for h in Flight(frame).holding_pattern())
            except Exception as exc:  # the detector needs speed/track; sparse files lack them
                log.debug("traffic holding detector failed on %s: %s", sid, exc)
                held = 0.0
            out[str(sid)] = held / duration
        return pd.Series(out, name=self.name, dtype="float64").reindex(data.segments.index, fill_value=0.0)


def aggregate_windows(window_probs: pd.Series, window_segment: pd.Series, *, how: str = "max",
                      k: int = 3) -> pd.Series:
    """Window probabilities -> one score per segment: ``max`` or ``topk`` (mean of the k best).

    >>> p = pd.Series([0.1, 0.9, 0.8, 0.2])
    >>> s = pd.Series(["a", "a", "a", "b"])
    >>> aggregate_windows(p, s, how="topk", k=2).round(2).to_dict()
    {'a': 0.85, 'b': 0.2}
    """
    frame = pd.DataFrame({"p": np.asarray(window_probs, float), "s": np.asarray(window_segment)})
    if how == "max":
        return frame.groupby("s")["p"].max()
    if how == "topk":
        return frame.groupby("s")["p"].apply(lambda v: float(np.sort(v.to_numpy())[::-1][:k].mean()))
    raise ValueError(f"unknown aggregation {how!r}; choose from max, topk")


@dataclass(frozen=True)
class ModelScorer:
    """A model bundle: windows of each segment drawn as in training, scored, aggregated.

    Windows come from :func:`flightpaths.tracks.make_windows` with the bundle's window
    settings (each segment is one track); images and probabilities from
    :func:`flightpaths.score.score_windows` (the bundle's render config, figures for hybrid
    bundles). The segment score is, with *how*: ``learned``, the bundle's segment aggregator
    (:class:`flightpaths.score.aggregate.SegmentAggregator`, stored in model.json) over the
    segment's features; ``max`` or ``topk``, the maximum or the mean of the *k* best windows'
    probabilities of *positive_class*; ``auto`` (default), ``learned`` when the bundle has
    an aggregator, else ``max``. Segments with no drawable window score 0 on the window
    probabilities (the learned score still sees their geometry).
    """

    bundle_path: Path | None
    positive_class: str = "circling"
    how: str = "auto"
    k: int = 3
    name: str = "model"
    bundle: Any = None  # an already loaded bundle (a score.pipeline.ScoringModel: classes, render_config, window_settings, predict_images)

    def segment_scores(self, data: EvalSet) -> pd.Series:
        try:
            from .score import score_windows
            from .score.pipeline import bundle_aggregator
            from .tracks import make_windows
            from .train.predict import load_bundle
        except ImportError as exc:
            raise FlightpathsError(f"model evaluation needs the tracks, score and train stages: {exc}") from exc
        if self.bundle is None and self.bundle_path is None:
            raise BundleError("give a model folder or a loaded bundle")
        bundle = self.bundle if self.bundle is not None else load_bundle(self.bundle_path)
        classes = [str(c) for c in bundle.classes]
        if self.positive_class not in classes:
            raise BundleError(f"{self.bundle_path}: no class {self.positive_class!r}; choose from {', '.join(classes)}")
        pts = data.points.assign(track_id=data.points["segment_id"].astype(str))
        windows = make_windows(pts, bundle.window_settings)
        if windows.empty:
            return pd.Series(0.0, index=data.segments.index, name=self.name)
        scored = score_windows(windows, bundle)
        probs = scored[f"p_{self.positive_class}"].astype(float).fillna(0.0).reset_index(drop=True)
        window_segment = _window_segments(windows, data.segments)
        aggregator = bundle_aggregator(bundle)
        how = ("learned" if aggregator is not None else "max") if self.how == "auto" else self.how
        if how == "learned":
            if aggregator is None:
                raise BundleError(f"{self.bundle_path}: this model has no segment aggregator; use how='max'")
            geo = add_window_geometry(windows.reset_index(drop=True)).assign(p=probs.to_numpy())
            table = segment_features(geo, window_segment.to_numpy())
            table = table.reindex(data.segments.index).fillna(0.0)
            return pd.Series(aggregator.predict(table), index=table.index, name=self.name)
        scores = aggregate_windows(probs, window_segment, how=how, k=self.k)
        return scores.rename(self.name).reindex(data.segments.index, fill_value=0.0)


def _window_segments(windows: pd.DataFrame, segments: pd.DataFrame) -> pd.Series:
    """The segment each window belongs to: its track id when that is a segment id, else by time."""
    track = windows["track_id"].astype(str)
    if track.isin(segments.index).all():
        return track.reset_index(drop=True)
    mid = pd.to_datetime(windows["start"], utc=True) + (pd.to_datetime(windows["end"], utc=True)
                                                        - pd.to_datetime(windows["start"], utc=True)) / 2
    left = pd.DataFrame({"object_id": windows["object_id"].astype(str).to_numpy(), "t": mid.to_numpy(),
                         "row": np.arange(len(windows))}).sort_values("t")
    right = segments.reset_index()[["segment_id", "object_id", "start", "end"]].sort_values("start")
    right["t"] = pd.to_datetime(right["start"], utc=True)
    right["object_id"] = right["object_id"].astype(str)
    merged = pd.merge_asof(left, right, on="t", by="object_id", direction="backward")
    inside = merged["t"] <= pd.to_datetime(merged["end"], utc=True)
    return merged.set_index("row").sort_index()["segment_id"].where(inside.to_numpy()).fillna("").astype(str)


# ----------------------------------------------------------------------------- calibration


@dataclass(frozen=True)
class IsotonicCalibrator:
    """A monotone map from raw score to probability (isotonic regression), JSON-friendly.

    ``0.8`` after calibration means that about 80% of segments with that score were
    positive in the data it was fitted on. Stored as breakpoints, applied by interpolation.
    """

    x: tuple[float, ...]
    y: tuple[float, ...]

    @classmethod
    def fit(cls, scores: np.ndarray, labels: np.ndarray) -> IsotonicCalibrator:
        from sklearn.isotonic import IsotonicRegression

        iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        iso.fit(np.asarray(scores, float), np.asarray(labels, float))
        return cls(tuple(map(float, iso.X_thresholds_)), tuple(map(float, iso.y_thresholds_)))

    def __call__(self, scores: np.ndarray) -> np.ndarray:
        return np.interp(np.asarray(scores, float), self.x, self.y)

    def to_dict(self) -> dict[str, list[float]]:
        """For model.json: ``{"x": [...], "y": [...]}``."""
        return {"x": list(self.x), "y": list(self.y)}


def cross_fit_calibration(scores: pd.Series, segments: pd.DataFrame, *, folds: int = 2,
                          seed: int = 0) -> pd.Series:
    """Calibrated probabilities where each aircraft's segments come from a map fitted without it."""
    aircraft = segments["object_id"].astype(str)
    fold = aircraft.map(lambda a: _stable_hash(a, seed) % folds)
    out = pd.Series(np.nan, index=segments.index, name=f"{scores.name}_calibrated")
    labels = segments["label"].astype(float)
    for f in range(folds):
        train, test = fold != f, fold == f
        if labels[train].nunique() < 2 or not test.any():
            continue
        cal = IsotonicCalibrator.fit(scores[train].to_numpy(), labels[train].to_numpy())
        out[test] = cal(scores[test].to_numpy())
    return out


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, *, bins: int = 10) -> float:
    """Mean |predicted - observed| over equal-width probability bins, weighted by bin size.

    >>> expected_calibration_error(np.array([0.0, 1.0]), np.array([0, 1]))
    0.0
    """
    p = np.asarray(probs, float)
    y = np.asarray(labels, float)
    ok = np.isfinite(p)
    p, y = p[ok], y[ok]
    if not len(p):
        return float("nan")
    which = np.minimum((p * bins).astype(int), bins - 1)
    err = 0.0
    for b in np.unique(which):
        m = which == b
        err += m.sum() / len(p) * abs(p[m].mean() - y[m].mean())
    return float(err)


# ----------------------------------------------------------------------------- metrics


def _tie_groups(scores: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Order (highest first) and group index of tied scores in that order."""
    order = np.argsort(-np.asarray(scores, float), kind="mergesort")
    s = np.asarray(scores, float)[order]
    group = np.r_[0, np.cumsum(s[1:] != s[:-1])]
    return order, group


def _grouped(y: np.ndarray, w: np.ndarray, group: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per tie group (in rank order): total weight of positives and of negatives. w: (B, n)."""
    n_groups = int(group[-1]) + 1 if len(group) else 0
    pos = np.zeros((w.shape[0], n_groups))
    neg = np.zeros((w.shape[0], n_groups))
    np.add.at(pos.T, group, (w * y).T)
    np.add.at(neg.T, group, (w * (1 - y)).T)
    return pos, neg


def _ap(pos: np.ndarray, neg: np.ndarray) -> np.ndarray:
    tp, fp = np.cumsum(pos, 1), np.cumsum(neg, 1)
    total = tp[:, -1:]
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = tp / (tp + fp)
        gained = pos / total
        return np.where(total[:, 0] > 0, np.nansum(gained * precision, 1), np.nan)


def _p_at_k(pos: np.ndarray, neg: np.ndarray, k: int) -> np.ndarray:
    w = pos + neg
    cum = np.cumsum(w, 1)
    take = np.clip(k - (cum - w), 0, w)
    with np.errstate(invalid="ignore", divide="ignore"):
        frac = np.where(w > 0, pos / w, 0.0)
        return (take * frac).sum(1) / np.minimum(k, cum[:, -1])


def _recall_at_fpr(pos: np.ndarray, neg: np.ndarray, fpr: float) -> np.ndarray:
    tp, fp = np.cumsum(pos, 1), np.cumsum(neg, 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        rate = fp / fp[:, -1:]
        recall = tp / tp[:, -1:]
    ok = rate <= fpr + 1e-12
    best = np.where(ok, recall, 0.0).max(1)
    return np.where(tp[:, -1] > 0, best, np.nan)


def _metric(name: str) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    if name == "AP":
        return _ap
    if name.startswith("P@"):
        k = int(name[2:])
        return lambda p, n: _p_at_k(p, n, k)
    if name.startswith("R@"):
        f = float(name[2:].rstrip("%")) / 100
        return lambda p, n: _recall_at_fpr(p, n, f)
    raise ValueError(f"unknown metric {name!r}; choose from AP, P@<k>, R@<fpr>%")


def _one(metric: Callable[[np.ndarray, np.ndarray], np.ndarray], labels: Sequence[Any],
         scores: Sequence[float]) -> float:
    y = np.asarray(labels, float)
    order, group = _tie_groups(np.asarray(scores, float))
    pos, neg = _grouped(y[order], np.ones((1, len(y))), group)
    return float(metric(pos, neg)[0])


def average_precision(labels: Sequence[Any], scores: Sequence[float]) -> float:
    """Average precision (area under the step precision-recall curve; ties count as a group).

    >>> average_precision([1, 1, 0, 0], [0.9, 0.8, 0.3, 0.1])
    1.0
    >>> average_precision([0, 1], [0.9, 0.1])
    0.5
    """
    return _one(_ap, labels, scores)


def precision_at_k(labels: Sequence[Any], scores: Sequence[float], k: int) -> float:
    """The share of positives among the *k* highest scores (tied groups counted pro rata).

    >>> precision_at_k([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], 2)
    0.5
    """
    return _one(lambda p, n: _p_at_k(p, n, int(k)), labels, scores)


def recall_at_fpr(labels: Sequence[Any], scores: Sequence[float], fpr: float) -> float:
    """The share of positives found at the lowest threshold whose false-alarm rate is <= *fpr*.

    >>> recall_at_fpr([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1], 0.0)
    0.5
    """
    return _one(lambda p, n: _recall_at_fpr(p, n, fpr), labels, scores)


@dataclass(frozen=True)
class MetricSettings:
    """Which metrics, and how the bootstrap over aircraft runs."""

    ks: tuple[int, ...] = (20, 100)
    fprs: tuple[float, ...] = (0.01, 0.05)
    n_boot: int = 1000
    seed: int = 0
    level: float = 0.95
    baseline: str = "rule"

    @property
    def metric_names(self) -> tuple[str, ...]:
        return ("AP", *(f"P@{k}" for k in self.ks), *(f"R@{f * 100:g}%" for f in self.fprs))


def bootstrap_weights(aircraft: Sequence[str], strata: Sequence[Any], *, n_boot: int,
                      seed: int = 0) -> np.ndarray:
    """(n_boot, n_items) multiplicities: aircraft drawn with replacement within each stratum.

    Row 0 is the observed data (all ones); rows 1.. are replicates. Every segment of a drawn
    aircraft comes along as many times as the aircraft was drawn.
    """
    aircraft = np.asarray(aircraft, dtype=object)
    strata = np.asarray(strata, dtype=object)
    ids, inverse = np.unique(aircraft.astype(str), return_inverse=True)
    stratum_of = pd.Series(strata).groupby(inverse).agg(lambda s: s.iloc[0]).reindex(range(len(ids))).to_numpy()
    rng = np.random.default_rng(seed)
    counts = np.ones((n_boot + 1, len(ids)))
    for s in pd.unique(stratum_of):
        members = np.flatnonzero(stratum_of == s)
        draws = rng.integers(0, len(members), size=(n_boot, len(members)))
        c = np.zeros((n_boot, len(members)))
        np.add.at(c, (np.repeat(np.arange(n_boot), len(members)), draws.ravel()), 1.0)
        counts[1:, members] = c
    return counts[:, inverse]


def evaluate_scores(scores: pd.DataFrame, segments: pd.DataFrame, *,
                    settings: MetricSettings = MetricSettings(),
                    subsets: Mapping[str, pd.Series] | None = None) -> pd.DataFrame:
    """Metrics with bootstrap intervals for every scorer (a column of *scores*) and subset.

    *subsets* maps a name to a boolean mask over segments (default: :func:`default_subsets`).
    Returns one row per (subset, scorer, metric): value, lo, hi, n_pos, n_neg, n_aircraft;
    plus rows ``AP-minus-<baseline>`` for every other scorer (the difference on the same
    bootstrap replicates).
    """
    segments = segments.loc[scores.index]
    labels = segments["label"].astype(bool).to_numpy()
    strata = segments.groupby("object_id")["label"].transform("max").to_numpy()
    weights = bootstrap_weights(segments["object_id"].astype(str).to_numpy(), strata,
                                n_boot=settings.n_boot, seed=settings.seed)
    subsets = dict(subsets) if subsets is not None else default_subsets(segments)
    alpha = (1 - settings.level) / 2
    rows = []
    for subset, mask in subsets.items():
        m = np.asarray(mask, bool)
        y = labels[m].astype(float)
        if y.sum() == 0 or y.sum() == len(y):
            continue
        w = weights[:, m]
        base = dict(subset=subset, n_pos=int(y.sum()), n_neg=int(len(y) - y.sum()),
                    n_aircraft=int(segments["object_id"][m].nunique()))
        ap_by_scorer = {}
        for scorer in scores.columns:
            order, group = _tie_groups(scores[scorer].to_numpy()[m])
            pos, neg = _grouped(y[order], w[:, order], group)
            for name in settings.metric_names:
                vals = _metric(name)(pos, neg)
                if name == "AP":
                    ap_by_scorer[scorer] = vals
                rows.append({**base, "scorer": scorer, "metric": name, **_interval(vals, alpha)})
        if settings.baseline in ap_by_scorer:
            for scorer, vals in ap_by_scorer.items():
                if scorer != settings.baseline:
                    diff = vals - ap_by_scorer[settings.baseline]
                    rows.append({**base, "scorer": scorer, "metric": f"AP-minus-{settings.baseline}",
                                 **_interval(diff, alpha)})
    return pd.DataFrame(rows, columns=["subset", "scorer", "metric", "value", "lo", "hi", "n_pos", "n_neg",
                                       "n_aircraft"])


def _interval(vals: np.ndarray, alpha: float) -> dict[str, float]:
    boot = vals[1:][np.isfinite(vals[1:])]
    lo, hi = (np.quantile(boot, [alpha, 1 - alpha]) if len(boot) else (np.nan, np.nan))
    return {"value": float(vals[0]), "lo": float(lo), "hi": float(hi)}


def default_subsets(segments: pd.DataFrame) -> dict[str, pd.Series]:
    """all; dense / sparse (each class restricted to that sampling); each positive category
    against all negatives; all positives against each negative category."""
    pos = segments["label"].astype(bool)
    out: dict[str, pd.Series] = {"all": pd.Series(True, index=segments.index)}
    for sampling in ("dense", "sparse"):
        out[sampling] = segments["sampling"] == sampling
    for cat in sorted(segments.loc[pos, "category"].unique()):
        out[f"pos:{cat}"] = ~pos | (segments["category"] == cat)
    for cat in sorted(segments.loc[~pos, "category"].unique()):
        out[f"neg:{cat}"] = pos | (segments["category"] == cat)
    return out


def false_alarm_ranks(scores: pd.Series, segments: pd.DataFrame) -> pd.DataFrame:
    """Every negative segment with its rank among negatives (1 = the worst false alarm).

    Tied scores share their average rank.
    """
    neg = segments.index[~segments["label"].astype(bool)]
    s = scores.reindex(neg)
    out = segments.loc[neg, ["object_id", "category", "sampling", "ground", "callsign"]].copy()
    out["score"] = s
    out["rank"] = s.rank(ascending=False, method="average")
    return out.sort_values(["rank", "score"])


# ----------------------------------------------------------------------------- reporting


@dataclass(frozen=True)
class EvaluationResult:
    """What one evaluation run produced."""

    metrics: pd.DataFrame
    scores: pd.DataFrame
    segments: pd.DataFrame
    notes: tuple[str, ...] = ()


def _fmt(row: pd.Series) -> str:
    if not np.isfinite(row["value"]):
        return "n/a"
    if np.isfinite(row["lo"]):
        return f"{row['value']:.3f} [{row['lo']:.3f}, {row['hi']:.3f}]"
    return f"{row['value']:.3f}"


def metrics_markdown(metrics: pd.DataFrame, *, ground: pd.DataFrame | None = None,
                     notes: Sequence[str] = ()) -> str:
    """A markdown report: one table per subset (scorers x metrics, value [95% interval])."""
    lines = ["# Evaluation per flight segment", "",
             "Value [95% bootstrap interval over aircraft]. AP = average precision; P@k = precision "
             "in the k highest-scored segments; R@f% = recall at a false-alarm rate of f%; "
             "AP-minus-rule = the difference in AP with the rule on the same bootstrap replicates.", ""]
    lines += [f"- {n}" for n in notes]
    for subset, block in metrics.groupby("subset", sort=False):
        first = block.iloc[0]
        lines += ["", f"## {subset} ({first['n_pos']} positive, {first['n_neg']} negative segments, "
                      f"{first['n_aircraft']} aircraft)", ""]
        names = list(dict.fromkeys(block["metric"]))
        lines.append("| scorer | " + " | ".join(names) + " |")
        lines.append("|---|" + "---|" * len(names))
        for scorer, rows in block.groupby("scorer", sort=False):
            cells = {r["metric"]: _fmt(r) for _, r in rows.iterrows()}
            lines.append(f"| {scorer} | " + " | ".join(cells.get(n, "") for n in names) + " |")
    if ground is not None and len(ground):
        lines += ["", "## Parked / taxiing segments among false alarms", "",
                  "| scorer | ground segments | best rank among negatives | in top 100 |", "|---|---|---|---|"]
        for _, r in ground.iterrows():
            lines.append(f"| {r['scorer']} | {r['n_ground']} | {r['best_rank']:g} | {r['in_top_100']} |")
    return "\n".join(lines) + "\n"


def _ground_summary(scores: pd.DataFrame, segments: pd.DataFrame) -> pd.DataFrame:
    rows = []
    for scorer in scores.columns:
        ranks = false_alarm_ranks(scores[scorer], segments)
        g = ranks[ranks["ground"].astype(bool)]
        rows.append({"scorer": scorer, "n_ground": len(g),
                     "best_rank": float(g["rank"].min()) if len(g) else float("nan"),
                     "in_top_100": int((g["rank"] <= 100).sum())})
    return pd.DataFrame(rows)


def write_contact_sheet(path: str | Path, data: EvalSet, scores: pd.Series, *, n: int = 12,
                        title: str = "") -> Path:
    """A PNG of the *n* worst misses (lowest-scored positives) and *n* worst false alarms."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    seg = data.segments
    s = scores.reindex(seg.index)
    misses = s[seg["label"].astype(bool)].sort_values(kind="mergesort").head(n)
    alarms = s[~seg["label"].astype(bool)].sort_values(ascending=False, kind="mergesort").head(n)
    cols = 6
    blocks = [("worst misses (positives, lowest scores)", misses), ("worst false alarms (negatives, highest scores)", alarms)]
    nrows = sum(max(1, math.ceil(len(b) / cols)) for _, b in blocks)
    fig, axes = plt.subplots(nrows, cols, figsize=(cols * 2.6, nrows * 2.9), squeeze=False)
    by_seg = dict(tuple(data.points.groupby("segment_id", sort=False)))
    row = 0
    for heading, block in blocks:
        rows_here = max(1, math.ceil(len(block) / cols))
        for i in range(rows_here * cols):
            ax = axes[row + i // cols][i % cols]
            ax.set_xticks([])
            ax.set_yticks([])
            if i >= len(block):
                ax.axis("off")
                continue
            sid = block.index[i]
            g = by_seg[sid]
            x, y = local_xy(g["lat"].to_numpy(), g["lon"].to_numpy())
            ax.plot(x, y, lw=0.7, color="tab:blue")
            ax.plot(x[:1], y[:1], "o", ms=3, color="tab:green")
            ax.set_aspect("equal", adjustable="datalim")
            info = seg.loc[sid]
            ax.set_title(f"{sid[:34]}\n{info['category']} {info['sampling']} {info['extent_m'] / 1000:.1f} km\n"
                         f"score {block.iloc[i]:.3g}", fontsize=6)
        axes[row][0].set_ylabel(heading, fontsize=7)
        row += rows_here
    fig.suptitle(title or f"{scores.name}: worst misses (top) and false alarms (bottom)", fontsize=9)
    fig.tight_layout()
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return atomic_write_bytes(path, buf.getvalue())


def write_evaluation(out_dir: str | Path, data: EvalSet, result: EvaluationResult, *,
                     primary: str | None = None, contact_n: int = 12,
                     holdout: pd.DataFrame | None = None) -> list[Path]:
    """Write metrics.csv, metrics.md, segments.csv (every score), contact_sheet.png and,
    when given, holdout.csv (the aircraft to keep out of training)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    ground = _ground_summary(result.scores, result.segments)
    written = [
        atomic_write_text(out / "metrics.csv", result.metrics.to_csv(index=False, float_format="%.4f")),
        atomic_write_text(out / "metrics.md", metrics_markdown(result.metrics, ground=ground, notes=result.notes)),
    ]
    table = result.segments.join(result.scores)
    written.append(atomic_write_text(out / "segments.csv", table.to_csv(float_format="%.4f")))
    primary = primary or [c for c in result.scores.columns if not c.endswith("_calibrated") and "+" not in c][-1]
    written.append(write_contact_sheet(out / "contact_sheet.png", data, result.scores[primary], n=contact_n,
                                       title=f"{primary}: worst misses (top rows) and false alarms (bottom rows)"))
    if holdout is not None:
        written.append(atomic_write_text(out / "holdout.csv", holdout.to_csv(index=False)))
    return written


def apply_labels(data: EvalSet, path: str | Path) -> EvalSet:
    """Apply a reviewer's segment labels: a CSV with ``segment_id,label`` where label is
    ``1``/``true``/``circling``, ``0``/``false``/``not_circling``, or ``exclude`` (left out).

    Unknown segment ids raise (a typo must not pass silently); segments not listed keep
    their category's label.
    """
    p = Path(path)
    table = pd.read_csv(p, dtype=str, keep_default_na=False)
    for col in ("segment_id", "label"):
        if col not in table.columns:
            raise InputError(f"missing column {col!r} (found {', '.join(table.columns)})", path=p)
    values = {"1": True, "true": True, "circling": True, "0": False, "false": False, "not_circling": False}
    segments = data.segments.copy()
    drop = []
    for i, row in enumerate(table.itertuples(index=False), start=2):
        sid, lab = row.segment_id.strip(), row.label.strip().lower()
        if sid not in segments.index:
            raise InputError(f"{sid!r} is not a segment of this evaluation set", path=p, line=i, column="segment_id")
        if lab == "exclude":
            drop.append(sid)
        elif lab in values:
            segments.loc[sid, "label"] = values[lab]
        else:
            raise InputError(f"{row.label!r} is not a label; expected 1, 0 or exclude", path=p, line=i, column="label")
    keep = segments.index.difference(drop)
    return EvalSet(data.points[data.points["segment_id"].isin(keep)], segments.loc[keep])


@dataclass(frozen=True)
class EvaluateSettings:
    """One evaluation run: which aircraft, which scorers, how many bootstrap replicates."""

    holdout_only: bool = False
    holdout_fraction: float = 0.3
    n_boot: int = 1000
    seed: int = 0
    aggregate: str = "auto"  # auto = the bundle's learned segment aggregator when it has one, else max
    top_k: int = 3
    positive_class: str = "circling"
    contact_n: int = 12
    traffic: bool = True


def evaluate(data: EvalSet, model: str | Path | None = None, *,
             settings: EvaluateSettings = EvaluateSettings(), notes: Sequence[str] = ()) -> EvaluationResult:
    """Score *data* with the rule, the traffic detector (when importable) and *model*.

    With ``holdout_only`` only the aircraft of :func:`holdout_aircraft` are judged. *notes*
    are added to the report.
    """
    notes = list(notes)
    if settings.holdout_only:
        held = set(holdout_aircraft(data.segments, fraction=settings.holdout_fraction, seed=settings.seed))
        data = data.subset(data.segments.index[data.segments["object_id"].isin(held)])
        notes.append(f"held-out aircraft only: {len(held)} aircraft (fraction {settings.holdout_fraction}, "
                     f"seed {settings.seed})")
    scorers: list[Scorer] = [RuleScorer()]
    if settings.traffic:
        ok, why = traffic_available()
        scorers += [TrafficHoldingScorer()] if ok else []
        notes.append(why)
    if model is not None:
        scorers.append(ModelScorer(Path(model), positive_class=settings.positive_class, how=settings.aggregate,
                                   k=settings.top_k))
    metric = MetricSettings(n_boot=settings.n_boot, seed=settings.seed)
    return run_evaluation(data, scorers, settings=metric, notes=notes)


def run_evaluation(data: EvalSet, scorers: Sequence[Scorer], *,
                   settings: MetricSettings = MetricSettings(), notes: Sequence[str] = (),
                   blend: bool = True) -> EvaluationResult:
    """Score every segment with every scorer and compute the metric table.

    With *blend*, every other scorer X also gets ``X+rule``: the mean of the two scorers'
    percentile ranks (the crude combination that the notes found better than either).
    Non-baseline scorers get cross-fitted calibrated probabilities (``X_calibrated``).
    """
    columns = {}
    for scorer in scorers:
        log.info("scoring %d segments with %s", len(data.segments), scorer.name)
        columns[scorer.name] = scorer.segment_scores(data).reindex(data.segments.index).astype(float)
    if blend and settings.baseline in columns:
        base = columns[settings.baseline].rank(pct=True)
        for name in [n for n in columns if n != settings.baseline]:
            columns[f"{name}+{settings.baseline}"] = (columns[name].rank(pct=True) + base) / 2
    scores = pd.DataFrame(columns, index=data.segments.index)
    extra = list(notes)
    for name in list(columns):
        if name == settings.baseline or "+" in name:
            continue
        labels = data.segments["label"].to_numpy(float)
        raw = scores[name].to_numpy(float)
        if len(raw) and np.nanmin(raw) >= 0.0 and np.nanmax(raw) <= 1.0:
            extra.append(f"{name}: expected calibration error of its own probabilities = "
                         f"{expected_calibration_error(raw, labels):.3f}")
        cal = cross_fit_calibration(scores[name], data.segments, seed=settings.seed)
        ece = expected_calibration_error(cal.to_numpy(), labels)
        scores[cal.name] = cal
        extra.append(f"{name}: expected calibration error after isotonic calibration "
                     f"(2-fold cross-fitted by aircraft) = {ece:.3f}")
    metrics = evaluate_scores(scores[list(columns)], data.segments, settings=settings)
    return EvaluationResult(metrics, scores, data.segments, tuple(extra))

