"""The behaviour classifier: gradient-boosted trees over behaviour features, evaluated in numpy.

Trained with scikit-learn's ``HistGradientBoostingClassifier`` (``benchmarks/make_behaviour_model.py``)
and shipped without pickle: the trees' nodes go to ``behaviour.safetensors`` (flat arrays) and
the classes, features and notes to ``behaviour.json``, beside the built-in model in
``flightpaths/models/default/``. :meth:`BehaviourModel.predict_proba` walks every tree for all
rows at once (one step per tree level) and gives the same probabilities as scikit-learn's
``predict_proba`` (a test holds this).

:func:`add_behaviour` names the behaviour of each episode (``behaviour``, ``p_behaviour``)
from the behaviour features of its windows (:mod:`flightpaths.score.behaviour`).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from ..errors import BundleError
from ..fileio import atomic_write_bytes, atomic_write_text
from .behaviour import BEHAVIOUR_FEATURES, segment_behaviour

__all__ = [
    "BEHAVIOUR_MODEL_FORMAT",
    "BEHAVIOUR_STRETCH_P",
    "BEHAVIOUR_STRETCH_S",
    "DEFAULT_BEHAVIOUR_DIR",
    "LEAD_BEHAVIOURS",
    "BehaviourModel",
    "add_behaviour",
    "add_behaviour_episodes",
    "default_behaviour_model",
    "behaviour_stretches",
    "filter_behaviours",
    "held_behaviours",
    "other_stretches",
    "show_behaviour_episodes",
    "window_behaviours",
    "window_lead_probability",
]

log = logging.getLogger(__name__)

BEHAVIOUR_MODEL_FORMAT: Final = 1
#: Where the built-in behaviour classifier lives (beside the built-in circling model).
DEFAULT_BEHAVIOUR_DIR: Final = Path(__file__).resolve().parents[1] / "models" / "default"
_JSON, _WEIGHTS = "behaviour.json", "behaviour.safetensors"
#: Behaviours that make an episode by themselves, where the circling model flags no window
#: (:func:`add_behaviour_episodes`).
LEAD_BEHAVIOURS: Final[tuple[str, ...]] = ("orbit", "hover", "racetrack")
#: Seconds of an episode's windows, each read alone, that one behaviour must cover for the
#: episode's ``behaviours`` to list it (a little under one 5-minute window).
BEHAVIOUR_STRETCH_S: Final = 240.0
#: A window counts towards a stretch of its likeliest behaviour only at this probability or more.
BEHAVIOUR_STRETCH_P: Final = 0.8
#: ``found_by`` of an episode: the circling model's windows, or the behaviour classifier's alone.
FOUND_BY_MODEL, FOUND_BY_BEHAVIOUR = "circling model", "behaviour"
_NODE_ARRAYS: Final = ("feature", "threshold", "left", "right", "leaf", "value", "missing_left")

@dataclass(frozen=True, eq=False)
class BehaviourModel:
    """Boosted trees: ``raw[class] = baseline[class] + sum of its trees' leaf values``, softmax.

    Nodes of every tree are stored end to end in flat arrays; ``tree_start[i]`` is the first
    node of tree i, trees ordered iteration by iteration, one per class within an iteration.
    """

    classes: tuple[str, ...]
    features: tuple[str, ...]
    baseline: np.ndarray
    tree_start: np.ndarray
    nodes: Mapping[str, np.ndarray]
    meta: Mapping[str, Any]

    def __post_init__(self) -> None:
        k = len(self.classes)
        if not k or len(self.baseline) != k or len(self.tree_start) % k:
            raise BundleError(f"behaviour model: {k} classes, {len(self.baseline)} baselines and "
                              f"{len(self.tree_start)} trees do not fit together")
        missing = [n for n in _NODE_ARRAYS if n not in self.nodes]
        if missing:
            raise BundleError(f"behaviour model: node array(s) {', '.join(missing)} missing")
        sizes = {len(self.nodes[n]) for n in _NODE_ARRAYS}
        total = len(self.nodes["feature"])
        if len(sizes) != 1 or (len(self.tree_start) and int(self.tree_start.max()) >= total):
            raise BundleError("behaviour model: node arrays of different lengths or trees beyond them")
        inner = ~self.nodes["leaf"].astype(bool)
        for name in ("left", "right"):
            if np.any(inner & ((self.nodes[name] < 0) | (self.nodes[name] >= total))):
                raise BundleError(f"behaviour model: a node's {name} child is outside the tree")
        if np.any(inner & ((self.nodes["feature"] < 0) | (self.nodes["feature"] >= len(self.features)))):
            raise BundleError("behaviour model: a node splits on an unknown feature")

    @classmethod
    def from_sklearn(cls, model: Any, features: Sequence[str], *, meta: Mapping[str, Any] | None = None) -> BehaviourModel:
        """Export a fitted multi-class ``HistGradientBoostingClassifier`` (numeric features)."""
        classes = tuple(str(c) for c in model.classes_)
        if len(classes) < 3:
            raise BundleError("behaviour model: export needs three classes or more (one tree per class)")
        parts: dict[str, list[np.ndarray]] = {n: [] for n in _NODE_ARRAYS}
        starts, offset = [], 0
        for iteration in model._predictors:
            for tree in iteration:
                nd = tree.nodes
                if np.any(nd["is_categorical"]):
                    raise BundleError("behaviour model: categorical splits are not supported")
                starts.append(offset)
                parts["feature"].append(nd["feature_idx"].astype(np.int32))
                parts["threshold"].append(nd["num_threshold"].astype(np.float64))
                parts["left"].append((nd["left"].astype(np.int64) + offset).astype(np.int32))
                parts["right"].append((nd["right"].astype(np.int64) + offset).astype(np.int32))
                parts["leaf"].append(nd["is_leaf"].astype(np.uint8))
                parts["value"].append(nd["value"].astype(np.float64))
                parts["missing_left"].append(nd["missing_go_to_left"].astype(np.uint8))
                offset += len(nd)
        nodes = {n: np.concatenate(v) for n, v in parts.items()}
        return cls(classes, tuple(features), np.asarray(model._baseline_prediction, float).ravel(),
                   np.asarray(starts, np.int64), nodes, dict(meta or {}))

    def raw(self, x: np.ndarray) -> np.ndarray:
        """Raw scores (rows x classes) of a feature matrix in :attr:`features` order."""
        x = np.asarray(x, float)
        n, k = len(x), len(self.classes)
        out = np.tile(self.baseline, (n, 1))
        if not n:
            return out
        nd = self.nodes
        leaf, feature, threshold = nd["leaf"].astype(bool), nd["feature"], nd["threshold"]
        left, right, miss = nd["left"], nd["right"], nd["missing_left"].astype(bool)
        rows = np.arange(n)
        node = np.repeat(self.tree_start[None, :], n, axis=0)  # rows x trees
        while True:
            inner = ~leaf[node]
            if not inner.any():
                break
            value = x[rows[:, None], np.where(inner, feature[node], 0)]
            go_left = np.where(np.isnan(value), miss[node], value <= threshold[node])
            node = np.where(inner, np.where(go_left, left[node], right[node]), node)
        leaves = nd["value"][node].reshape(n, -1, k)
        raw: np.ndarray = out + leaves.sum(axis=1)
        return raw

    def predict_proba(self, table: pd.DataFrame) -> np.ndarray:
        """Class probabilities (rows x :attr:`classes`) of a table with the :attr:`features` columns."""
        missing = [f for f in self.features if f not in table.columns]
        if missing:
            raise BundleError(f"behaviour features missing: {', '.join(missing)}")
        raw = self.raw(table[list(self.features)].to_numpy(float))
        raw -= raw.max(axis=1, keepdims=True)
        e = np.exp(raw)
        p: np.ndarray = e / e.sum(axis=1, keepdims=True)
        return p

    def predict(self, table: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
        """The likeliest class of each row and its probability."""
        p = self.predict_proba(table)
        best = p.argmax(axis=1) if len(p) else np.zeros(0, int)
        return np.asarray(self.classes, dtype=object)[best], p[np.arange(len(p)), best]

    def save(self, folder: str | Path) -> Path:
        """Write ``behaviour.safetensors`` and ``behaviour.json`` into *folder*; returns the JSON path."""
        from safetensors.numpy import save

        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        tensors = {**{n: np.ascontiguousarray(v) for n, v in self.nodes.items()},
                   "baseline": self.baseline.astype(np.float64), "tree_start": self.tree_start.astype(np.int64)}
        atomic_write_bytes(folder / _WEIGHTS, save(tensors))
        head = {"format": BEHAVIOUR_MODEL_FORMAT, "kind": "boosted-trees", "classes": list(self.classes),
                "features": list(self.features), **{k: v for k, v in self.meta.items() if k not in ("format", "kind")}}
        return atomic_write_text(folder / _JSON, json.dumps(head, indent=1, sort_keys=True, default=str) + "\n")

    @classmethod
    def load(cls, folder: str | Path) -> BehaviourModel:
        """Read what :meth:`save` wrote; a clear :class:`BundleError` for anything else."""
        from safetensors.numpy import load_file

        folder = Path(folder)
        try:
            head = json.loads((folder / _JSON).read_text(encoding="utf-8"))
            tensors = load_file(str(folder / _WEIGHTS))
        except (OSError, ValueError) as exc:
            raise BundleError(f"{folder}: cannot read the behaviour model ({exc})") from exc
        if not isinstance(head, dict) or head.get("kind") != "boosted-trees" or head.get("format") != BEHAVIOUR_MODEL_FORMAT:
            raise BundleError(f"{folder / _JSON}: not a behaviour model of format {BEHAVIOUR_MODEL_FORMAT}")
        try:
            nodes = {n: tensors[n] for n in _NODE_ARRAYS}
            return cls(tuple(map(str, head["classes"])), tuple(map(str, head["features"])), tensors["baseline"],
                       tensors["tree_start"], nodes, {k: v for k, v in head.items() if k not in ("classes", "features")})
        except (KeyError, TypeError) as exc:
            raise BundleError(f"{folder}: the behaviour model is malformed ({exc})") from exc

_DEFAULT: dict[str, BehaviourModel | None] = {}

def default_behaviour_model(folder: str | Path | None = None) -> BehaviourModel | None:
    """The behaviour classifier in *folder* (default: the built-in one), loaded once; None when
    the folder has none."""
    path = Path(folder) if folder is not None else DEFAULT_BEHAVIOUR_DIR
    key = str(path.resolve())
    if key not in _DEFAULT:
        _DEFAULT[key] = BehaviourModel.load(path) if (path / _JSON).exists() else None
    return _DEFAULT[key]

def add_behaviour(episodes: pd.DataFrame, windows: pd.DataFrame, model: BehaviourModel | None, *,
                  stretch_s: float = BEHAVIOUR_STRETCH_S) -> pd.DataFrame:
    """*episodes* with ``behaviour`` (one of the model's classes) and ``p_behaviour``,
    from the behaviour features of each episode's windows (``window_ids``), and ``behaviours``:
    every behaviour that its windows, each read alone, show (at :data:`BEHAVIOUR_STRETCH_P` or
    more) for *stretch_s* seconds or more (:func:`behaviour_stretches`), so a hover inside an episode named orbit is not lost.
    An episode whose windows have no features gets ``<NA>`` and NaN. Nothing changes without a *model*."""
    out = episodes.copy()
    if model is None:
        return out
    out["behaviour"] = pd.array([pd.NA] * len(out), dtype="string")
    out["p_behaviour"] = np.nan
    out["behaviours"] = pd.array([pd.NA] * len(out), dtype="string")
    if not len(out) or not len(windows) or BEHAVIOUR_FEATURES[0] not in windows.columns:
        return out
    position = {w: i for i, w in enumerate(windows["window_id"].astype(str))}
    rows, keys = [], []
    for eid, wids in zip(out["episode_id"].astype(str), out["window_ids"].astype(str)):
        found = np.asarray([position[w] for w in wids.split(";") if w in position], dtype=np.int64)
        rows.append(found)
        keys.append(np.full(len(found), eid, dtype=object))
    idx = np.concatenate(rows) if rows else np.zeros(0, int)
    if "start" in windows.columns and "end" in windows.columns:
        out["behaviours"] = pd.array(_episode_stretches(windows, rows, idx, model, stretch_s), dtype="string")
    table = segment_behaviour(windows.iloc[idx], np.concatenate(keys) if keys else np.zeros(0, object))
    table = table[table.notna().any(axis=1)]
    if not len(table):
        return out
    label, p = model.predict(table)
    by_id = pd.DataFrame({"behaviour": label, "p": p}, index=table.index)
    eid = out["episode_id"].astype(str)
    out["behaviour"] = pd.array(eid.map(by_id["behaviour"]).to_numpy(dtype=object), dtype="string")
    out["p_behaviour"] = eid.map(by_id["p"]).to_numpy(float)
    return out


def _episode_stretches(windows: pd.DataFrame, rows: list[np.ndarray], idx: np.ndarray, model: BehaviourModel,
                       stretch_s: float) -> list[object]:
    """:func:`behaviour_stretches` of each episode's window rows (``<NA>`` where none is long enough)."""
    unique = np.unique(idx)
    label, p = window_behaviours(windows.iloc[unique], model)
    label[~(p >= BEHAVIOUR_STRETCH_P)] = ""
    by_row = dict(zip(unique.tolist(), label.tolist()))
    start, end = _ns(windows["start"]), _ns(windows["end"])
    out: list[object] = []
    for found in rows:
        names = np.asarray([by_row[i] for i in found.tolist()], dtype=object)
        text = behaviour_stretches(start[found], end[found], names, stretch_s)
        out.append(text or pd.NA)
    return out


def _ns(values: pd.Series) -> np.ndarray:
    """UTC nanoseconds of a datetime column."""
    out: np.ndarray = pd.to_datetime(values, utc=True).astype("datetime64[ns, UTC]").astype("int64").to_numpy()
    return out


def _covered_s(start: np.ndarray, end: np.ndarray) -> float:
    """Seconds covered by the union of the intervals [start, end) (nanoseconds)."""
    if not len(start):
        return 0.0
    order = np.argsort(start, kind="stable")
    s = start[order].astype(np.int64)
    e = np.maximum.accumulate(end[order].astype(np.int64))
    heads = np.flatnonzero(np.r_[True, s[1:] > e[:-1]])  # a run starts where the reach so far ends before it
    return float((np.maximum.reduceat(e, heads) - s[heads]).sum() / 1e9)


def behaviour_stretches(start: np.ndarray, end: np.ndarray, labels: np.ndarray, stretch_s: float = BEHAVIOUR_STRETCH_S) -> str:
    """'orbit 29 min, hover 10 min': each behaviour of *labels* (one per window, "" = none)
    whose windows (*start*, *end* in nanoseconds) cover *stretch_s* seconds or more, the
    longest first, with the minutes its windows cover (windows overlap, so the minutes may add
    up to more than the episode).

    >>> t = np.array([0, 300, 600, 600]) * 10**9
    >>> behaviour_stretches(t, t + 600 * 10**9, np.array(["orbit", "orbit", "hover", ""], dtype=object))
    'orbit 15 min, hover 10 min'
    """
    found = []
    for name in dict.fromkeys(str(x) for x in labels if x):
        mine = labels == name
        seconds = _covered_s(start[mine], end[mine])
        if seconds >= stretch_s:
            found.append((-seconds, name))
    return ", ".join(f"{name} {round(-neg / 60)} min" for neg, name in sorted(found))


def held_behaviours(value: object) -> list[str]:
    """The behaviour names of a ``behaviours`` cell (:func:`behaviour_stretches`).

    >>> held_behaviours("orbit 29 min, hover 10 min"), held_behaviours(None)
    (['orbit', 'hover'], [])
    """
    if not isinstance(value, str):
        return []
    return [part.split()[0] for part in value.split(",") if part.strip()]


def other_stretches(behaviour: object, behaviours: object, shown: Sequence[str] = LEAD_BEHAVIOURS) -> str:
    """The stretches of a ``behaviours`` cell of the *shown* behaviours other than the named
    *behaviour*, as the tip sheet and KML add them.

    >>> other_stretches("orbit", "orbit 29 min, hover 9 min, other 5 min")
    'hover 9 min'
    """
    if not isinstance(behaviours, str):
        return ""
    parts = [part.strip() for part in behaviours.split(",") if part.strip()]
    return ", ".join(part for part in parts if part.split()[0] in shown and part.split()[0] != behaviour)


def window_behaviours(windows: pd.DataFrame, model: BehaviourModel | None) -> tuple[np.ndarray, np.ndarray]:
    """Per window, from its own behaviour features (as a one-window segment): the likeliest
    behaviour and its probability; "" and NaN where the window has no features (or no *model*)."""
    label = np.full(len(windows), "", dtype=object)
    prob = np.full(len(windows), np.nan)
    if model is None or not len(windows) or BEHAVIOUR_FEATURES[0] not in windows.columns:
        return label, prob
    has = windows[BEHAVIOUR_FEATURES[0]].notna().to_numpy()
    if not has.any():
        return label, prob
    rows = np.flatnonzero(has)
    table = segment_behaviour(windows.iloc[rows].drop(columns="window_s", errors="ignore"),
                              np.char.mod("%d", rows).astype(object))
    found, p = model.predict(table)
    at = table.index.astype(int)
    label[at], prob[at] = found, p
    return label, prob


def window_lead_probability(windows: pd.DataFrame, model: BehaviourModel | None,
                            behaviours: Sequence[str] = LEAD_BEHAVIOURS) -> np.ndarray:
    """Per window, from its own behaviour features (as a one-window segment): the classifier's
    probability of its likeliest behaviour when that is one of *behaviours*, else 0; NaN where
    the window has no features (or there is no *model*)."""
    label, p = window_behaviours(windows, model)
    out: np.ndarray = np.where(label == "", np.nan, np.where(np.isin(label, list(behaviours)), p, 0.0))
    return out


def add_behaviour_episodes(episodes: pd.DataFrame, windows: pd.DataFrame, *, positive_class: str,
                           threshold: float = 0.5, column: str = "lead_p") -> pd.DataFrame:
    """*episodes* (``found_by`` = "circling model") and, after them, the runs of windows whose
    *column* (:func:`window_lead_probability`) is at *threshold* or more, merged as
    :func:`~flightpaths.score.episodes.merge_episodes` merges, that overlap no episode of the
    same aircraft (``found_by`` = "behaviour"; their ``peak_p`` and ``mean_p`` are the
    behaviour's window probabilities, not the circling model's)."""
    from .episodes import merge_episodes

    out = episodes.assign(found_by=FOUND_BY_MODEL)
    if column not in windows.columns or not len(windows):
        return out
    flagged = windows[windows[column].fillna(0.0).to_numpy(float) >= threshold]
    if not len(flagged):
        return out
    probs = [c for c in flagged.columns if isinstance(c, str) and c.startswith("p_")]
    found = merge_episodes(flagged.drop(columns=probs).assign(**{f"p_{positive_class}": flagged[column]}),
                           threshold=threshold, classes=[positive_class])
    if len(out):
        keep = [not _overlaps(out, str(r.object_id), r.start, r.end) for r in found.itertuples()]
        found = found[np.asarray(keep, bool)]
    if not len(found):
        return out
    found = found.assign(found_by=FOUND_BY_BEHAVIOUR)
    merged = pd.concat([out, found], ignore_index=True) if len(out) else found.reset_index(drop=True)
    merged["rank"] = np.arange(1, len(merged) + 1, dtype="int64")
    return merged


def show_behaviour_episodes(episodes: pd.DataFrame) -> pd.DataFrame:
    """Episodes found by the behaviour classifier alone (``found_by`` = "behaviour") whose named
    behaviour is a :data:`LEAD_BEHAVIOURS` are shown with the larger of their ``p_segment``
    (the circling probability) and their ``p_behaviour``, so that a hover or a racetrack that
    is not circling still reaches the tip sheet; re-ranked by ``p_segment`` as
    :func:`flightpaths.score.aggregate.add_segment_probability` ranks."""
    if not len(episodes) or "found_by" not in episodes.columns or "behaviour" not in episodes.columns:
        return episodes
    out = episodes.copy()
    lead = (out["found_by"] == FOUND_BY_BEHAVIOUR) & out["behaviour"].isin(list(LEAD_BEHAVIOURS)).fillna(False)
    if not lead.any():
        return out
    seg = out["p_segment"].to_numpy(float) if "p_segment" in out.columns else np.full(len(out), np.nan)
    lifted = np.fmax(seg, out["p_behaviour"].to_numpy(float))
    out["p_segment"] = np.where(lead.to_numpy(bool), lifted, seg)
    out = out.sort_values(["p_segment", "peak_p", "mean_p", "start"], ascending=[False, False, False, True],
                          na_position="last", kind="stable")
    out["rank"] = np.arange(1, len(out) + 1, dtype="int64")
    return out.reset_index(drop=True)


def _overlaps(episodes: pd.DataFrame, object_id: str, start: pd.Timestamp, end: pd.Timestamp) -> bool:
    same = episodes["object_id"].astype(str) == object_id
    return bool((same & (episodes["start"] <= end) & (episodes["end"] >= start)).any())


def filter_behaviours(episodes: pd.DataFrame, behaviours: Sequence[str]) -> pd.DataFrame:
    """The episodes whose ``behaviour`` is one of *behaviours*, or whose ``behaviours`` holds a
    stretch of one of the :data:`LEAD_BEHAVIOURS` among them (an orbit with a hover in it is kept
    for ``hover``; a survey or transit stretch inside an orbit does not make it a survey); all of
    them when *behaviours* is empty; ranked 1, 2, ... in their order.

    >>> eps = pd.DataFrame({"rank": [1, 2, 3], "behaviour": ["orbit", "survey", "hover"],
    ...                     "behaviours": ["orbit 20 min, hover 5 min", "survey 30 min", None]})
    >>> filter_behaviours(eps, ("hover",))["rank"].tolist()
    [1, 2]
    >>> filter_behaviours(eps.assign(behaviours=["orbit 20 min, survey 5 min", None, None]), ("survey",))["behaviour"].tolist()
    ['survey']
    """
    if not behaviours:
        return episodes
    if "behaviour" not in episodes.columns:
        log.warning("warning: no episode has a behaviour (the model has no segment aggregator, or no behaviour "
                    "classifier was found), so --behaviour %s keeps none", ",".join(behaviours))
        return episodes.iloc[:0]
    wanted = set(behaviours) & set(LEAD_BEHAVIOURS)  # a stretch counts for the behaviours a lead is about
    keep = episodes["behaviour"].isin(list(behaviours)).fillna(False).to_numpy(bool)
    if "behaviours" in episodes.columns:
        keep = keep | np.asarray([bool(wanted.intersection(held_behaviours(v))) for v in episodes["behaviours"]], dtype=bool)
    out = episodes[keep].reset_index(drop=True)
    if "rank" in out.columns:
        out["rank"] = np.arange(1, len(out) + 1, dtype="int64")
    return out
