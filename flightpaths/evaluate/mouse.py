"""People or bots: leave-one-source-out evaluation of mouse-telemetry detectors, per file.

A source is a folder of files from one recording setup or one bot generator; its label comes
from its name (``bot`` or ``human`` as a word of it, e.g. ``circles_bot_gan``) or from being passed as people. Every fold holds
out data the detector never saw: each source alone (per-file accuracy: the share of its
files called right), and each pair of one bot source and one human source (accuracy and
AUPR for "bot", defined because both classes are there). Training uses every other source,
each source weighing the same and the two classes balanced.

Scorers, fitted afresh in every fold on the same files:

- ``motion-gbm``: gradient-boosted trees (scikit-learn's HistGradientBoostingClassifier) on
  the normalised motion features of fixed-duration windows (:mod:`flightpaths.tracks.motion`);
  a file's score is the mean of its windows' probabilities.
- ``human-envelope``: no bots in training at all, a file is a bot when it lies outside the
  training people in either of two ways: its windows' motion features (robust z-scores, as
  ``window-envelope``), or its arcs are more regular than those of the most regular training
  people's source (:mod:`flightpaths.tracks.arcs`: raw samples on a conic to within pixel
  rounding); the threshold calls 5% of the training people's files bots. An unseen generator
  need not resemble the bots seen in training, only differ from people.
- ``window-envelope``: the windows' part alone (the scorer before arcs, kept for comparison).
- ``setup-gbm``: the same trees on the recording figures a detector can wrongly lean on (file
  duration, sampling interval, points, raw coordinate range, 0-1 units): the shortcut baseline.

Intervals: percentile bootstrap over files, resampled within each class.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import numpy as np
import pandas as pd

from ..errors import InputError
from ..ingest import IngestSettings, read_logs
from ..metrics import average_precision
from ..tracks.arcs import path_arcs
from ..tracks.motion import MOTION_FEATURES, MotionReport, MotionSettings, motion_windows, screen_fractions

__all__ = [
    "ENVELOPE_FEATURES",
    "SETUP_FEATURES",
    "MouseEvalResult",
    "MouseEvalSettings",
    "MouseSource",
    "MouseTables",
    "evaluate_mouse",
    "file_table",
    "find_sources",
    "leave_one_source_out",
    "mouse_markdown",
]

ENVELOPE_FEATURES: Final = tuple(f for f in MOTION_FEATURES if f not in ("presses", "releases", "hold_s"))
SETUP_FEATURES: Final = ("duration_s", "median_dt_s", "points", "x_range_raw", "y_range_raw", "fraction_units")
_MIN_REFERENCE_FILES: Final = 5
_LABEL = re.compile(r"(?:^|[_\-. ])(bot|human)s?(?=$|[_\-. ])", re.IGNORECASE)  # a word of the name: not "delbot"


@dataclass(frozen=True)
class MouseEvalSettings:
    """Windows, trees and bootstrap of the mouse evaluation (defaults here)."""

    motion: MotionSettings = field(default_factory=MotionSettings)
    n_boot: int = 1000
    seed: int = 0
    threshold: float = 0.5
    pairs: bool = True
    max_iter: int = 200
    learning_rate: float = 0.1
    envelope_windows: int = 3000
    envelope_quantile: float = 0.95


@dataclass(frozen=True)
class MouseSource:
    """One folder of files from one setup or generator, with its label (1 = bot)."""

    name: str
    label: int
    files: tuple[Path, ...]


@dataclass
class MouseEvalResult:
    """Per-fold metrics, per-file scores and what normalising did."""

    folds: pd.DataFrame
    files: pd.DataFrame
    report: MotionReport


@dataclass
class MouseTables:
    """What :func:`file_table` read: windows' motion features, arcs' regularity, one row per file."""

    windows: pd.DataFrame
    arcs: pd.DataFrame
    files: pd.DataFrame
    report: MotionReport


def _files(folder: Path) -> tuple[Path, ...]:
    return tuple(sorted(p for p in folder.rglob("*") if p.is_file() and not p.name.startswith(".")))


def find_sources(labelled: Sequence[Path], people: Sequence[Path] = ()) -> list[MouseSource]:
    """Sources from folders: one named with ``bot``/``human`` is a source; otherwise each of its
    subfolders so named is. Folders in *people* are one human source each, whatever their name."""
    sources: list[MouseSource] = []
    for folder in map(Path, labelled):
        if not folder.is_dir():
            raise InputError("is not a folder", path=folder)
        subs = [folder] if _LABEL.search(folder.name) else sorted(p for p in folder.iterdir() if p.is_dir() and _LABEL.search(p.name))
        if not subs:
            raise InputError("holds no folder named with 'bot' or 'human'; pass people's folders with --mouse-human",
                             path=folder)
        for sub in subs:
            match = _LABEL.search(sub.name)
            assert match is not None
            sources.append(MouseSource(sub.name, int(match.group(1).lower() == "bot"), _files(sub)))
    for folder in map(Path, people):
        if not folder.is_dir():
            raise InputError("is not a folder", path=folder)
        sources.append(MouseSource(folder.name, 0, _files(folder)))
    names = [s.name for s in sources]
    if len(set(names)) < len(names):
        raise InputError(f"two sources share a folder name: {sorted(n for n in set(names) if names.count(n) > 1)}")
    return [s for s in sources if s.files]


def _setup_row(one: pd.DataFrame, settings: MotionSettings) -> dict[str, float]:
    t = (one["time"].astype("datetime64[ns, UTC]").astype("int64").to_numpy() / 1e9).astype(float)
    x = pd.to_numeric(one["x"], errors="coerce").to_numpy(float)
    y = pd.to_numeric(one["y"], errors="coerce").to_numpy(float)
    dt = np.diff(np.sort(t))
    return {
        "duration_s": float(t.max() - t.min()) if len(t) else 0.0,
        "median_dt_s": float(np.median(dt)) if len(dt) else np.nan,
        "points": float(len(t)),
        "x_range_raw": float(np.nanmax(x) - np.nanmin(x)) if len(x) else np.nan,
        "y_range_raw": float(np.nanmax(y) - np.nanmin(y)) if len(y) else np.nan,
        "fraction_units": float(screen_fractions(one, settings)[2] == "fractions"),
    }


def file_table(sources: Sequence[MouseSource], settings: MouseEvalSettings = MouseEvalSettings(),
               echo: Callable[[str], None] = print) -> MouseTables:
    """Read every source: its windows' motion features, its arcs' regularity (:mod:`..tracks.arcs`)
    and one row per file of setup figures.

    The tables carry ``source``, ``label`` and ``file`` (the object id, prefixed by source)."""
    report = MotionReport()
    windows, arcs, files = [], [], []
    for source in sources:
        read = read_logs(list(source.files), settings=IngestSettings())
        points = read.points
        echo(f"{source.name}: {read.report.summary().splitlines()[0]}")
        w = motion_windows(points, settings.motion, report)
        rows = [{"file": f"{source.name}/{oid}", **_setup_row(one, settings.motion)}
                for oid, one in points.groupby("object_id", sort=True, observed=True)]
        files.append(pd.DataFrame(rows).assign(source=source.name, label=source.label))
        windows.append(w.assign(source=source.name, label=source.label, file=source.name + "/" + w["object_id"].astype(str)))
        a = path_arcs(points, settings.motion)
        report.arcs += len(a)
        report.files_with_arcs += a["object_id"].nunique()
        arcs.append(a.assign(source=source.name, label=source.label, file=source.name + "/" + a["object_id"].astype(str)))
    return MouseTables(pd.concat(windows, ignore_index=True), pd.concat(arcs, ignore_index=True),
                       pd.concat(files, ignore_index=True), report)


def _weights(frame: pd.DataFrame) -> np.ndarray:
    """Every source weighs the same within its class; the two classes weigh the same."""
    per_source = 1.0 / frame.groupby("source")["source"].transform("size").to_numpy(float)
    w = pd.Series(per_source)
    for label in (0, 1):
        mask = (frame["label"] == label).to_numpy()
        if mask.any():
            w[mask] = w[mask] / w[mask].sum()
    return np.asarray(w.to_numpy(float), dtype=float)


def _fit_predict(train: pd.DataFrame, test: pd.DataFrame, features: Sequence[str], settings: MouseEvalSettings) -> np.ndarray:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits  # type: ignore[import-untyped]

    model = HistGradientBoostingClassifier(max_iter=settings.max_iter, learning_rate=settings.learning_rate,
                                           random_state=settings.seed)
    def table(frame: pd.DataFrame) -> np.ndarray:  # a column with no value at all (no click held) breaks the binning
        return np.asarray(np.nan_to_num(frame[list(features)].to_numpy(float), nan=-1.0), dtype=float)

    with threadpool_limits(limits=1):  # one thread: OpenMP threads on a shared machine wait far more than they work
        model.fit(table(train), train["label"].to_numpy(int), sample_weight=_weights(train) * len(train))
        return np.asarray(model.predict_proba(table(test))[:, 1], dtype=float)


def _window_distance(train: pd.DataFrame, test: pd.DataFrame, settings: MouseEvalSettings) -> tuple[pd.Series, pd.Series]:
    """Per file, for the training people and for *test*: how far its windows' motion lies outside
    the training people's (robust z over :data:`ENVELOPE_FEATURES`, the mean of each window's
    three largest, capped at 10, averaged over the file's windows)."""
    def table(frame: pd.DataFrame) -> np.ndarray:
        x = np.nan_to_num(frame[list(ENVELOPE_FEATURES)].to_numpy(float))
        return np.asarray(np.sign(x) * np.log1p(np.abs(x)), dtype=float)

    rng = np.random.default_rng(settings.seed)
    people = train[train["label"] == 0]
    pick = np.concatenate([rng.choice(np.flatnonzero((people["source"] == src).to_numpy()), settings.envelope_windows)
                           for src in people["source"].unique()])
    ref = table(people.iloc[pick])
    mid = np.median(ref, axis=0)
    spread = np.quantile(ref, 0.75, axis=0) - np.quantile(ref, 0.25, axis=0) + 1e-6

    def per_file(frame: pd.DataFrame) -> pd.Series:
        z = np.sort(np.minimum(np.abs((table(frame) - mid) / spread), 10.0), axis=1)[:, ::-1]
        return pd.Series(z[:, :3].mean(axis=1), index=frame.index).groupby(frame["file"]).mean()

    return per_file(people), per_file(test)


def _window_envelope(train: pd.DataFrame, test: pd.DataFrame, settings: MouseEvalSettings) -> pd.Series:
    """The windows' distance of each *test* file mapped to ``s / (s + t)``, ``t`` the
    ``envelope_quantile`` of the training people's files (0.5 is the threshold)."""
    people, held = _window_distance(train, test, settings)
    t = float(np.quantile(people, settings.envelope_quantile))
    return held / (held + t)


def _arc_regularity(train: pd.DataFrame, test: pd.DataFrame) -> tuple[pd.Series, pd.Series]:
    """Per file with arcs, for the training people and for *test*: how much more regular its
    arcs are than those of the most regular training people's source. A file's figure is the
    median log10 ``arc_residual`` of its arcs of one length; against each people's source it is
    a robust z-score, (source's median - file's) / source's interquartile range, at that length,
    and the file's value the least of these at the longest length it has arcs of: positive when
    it is smoother than people of every training setup. A source with fewer than five files
    with arcs of a length is no reference at that length."""
    def per_file(frame: pd.DataFrame) -> pd.Series:
        log = np.log10(np.maximum(frame["arc_residual"].to_numpy(float), 1e-7))
        return pd.Series(log, index=frame.index).groupby([frame["arc_length"], frame["file"]]).median()

    people = train[train["label"] == 0]
    ref = per_file(people)
    source = people.groupby("file")["source"].first()
    stats = {length: [(float(np.median(g)), float(np.subtract(*np.quantile(g, [0.75, 0.25]))) + 1e-6)
                      for _, g in v.groupby(source.reindex(v.index.get_level_values(1)).to_numpy())
                      if len(g) >= _MIN_REFERENCE_FILES]  # a spread needs a few files
             for length, v in ref.groupby(level=0)}
    stats = {length: found for length, found in stats.items() if found}

    def z(m: pd.Series) -> pd.Series:
        by_length = {length: pd.concat([(mid - v.droplevel(0)) / iqr for mid, iqr in stats[length]], axis=1).min(axis=1)
                     for length, v in m.groupby(level=0) if length in stats}
        if not by_length:
            return pd.Series(dtype=float)
        table = pd.DataFrame(by_length)[sorted(by_length, reverse=True)]
        return table.bfill(axis=1).iloc[:, 0]  # the longest length the file has arcs of

    return z(ref), z(per_file(test))


def _envelope(train_w: pd.DataFrame, test_w: pd.DataFrame, train_a: pd.DataFrame, test_a: pd.DataFrame,
              settings: MouseEvalSettings) -> pd.Series:
    """People-only scores of the *test* files from their windows' motion and their arcs'
    regularity. Each part is measured from its own ``envelope_quantile`` of the training people's
    files (log of the windows' distance; arc regularity as it is), a file takes the larger
    (windows only when it has no arc), and the result is centred on the same quantile of the
    training people's files and mapped through a logistic (0.5 is the threshold)."""
    q = settings.envelope_quantile
    people_w, held_w = _window_distance(train_w, test_w, settings)
    people_a, held_a = _arc_regularity(train_a, test_a)

    def combined(w: pd.Series, a: pd.Series) -> pd.Series:
        part_w = np.log(w + 1e-9) - float(np.log(np.quantile(people_w, q) + 1e-9))
        part_a = (a - float(np.quantile(people_a, q))).reindex(w.index) if len(people_a) else pd.Series(np.nan, index=w.index)
        return pd.Series(np.fmax(part_w.to_numpy(float), part_a.to_numpy(float)), index=w.index)

    people = combined(people_w, people_a)
    centre = float(np.quantile(people, q))
    return 1.0 / (1.0 + np.exp(-(combined(held_w, held_a) - centre)))


def _folds(sources: Sequence[str], labels: dict[str, int], pairs: bool) -> list[tuple[str, ...]]:
    folds: list[tuple[str, ...]] = [(s,) for s in sources]
    if pairs:
        bots = [s for s in sources if labels[s] == 1]
        people = [s for s in sources if labels[s] == 0]
        folds += [(b, h) for b in bots for h in people]
    return folds


def _bootstrap(y: np.ndarray, score: np.ndarray, settings: MouseEvalSettings) -> dict[str, float]:
    """Accuracy and AUPR (when both classes) with percentile intervals over files, by class."""
    called = score >= settings.threshold
    acc = float((called == (y == 1)).mean())
    both = 0 < y.sum() < len(y)
    aupr = average_precision(y, score) if both else np.nan
    rng = np.random.default_rng(settings.seed)
    groups = [np.flatnonzero(y == k) for k in (0, 1) if (y == k).any()]
    accs, auprs = np.empty(settings.n_boot), np.full(settings.n_boot, np.nan)
    for b in range(settings.n_boot):
        idx = np.concatenate([rng.choice(g, len(g)) for g in groups])
        accs[b] = (called[idx] == (y[idx] == 1)).mean()
        if both:
            auprs[b] = average_precision(y[idx], score[idx])
    out = {"accuracy": acc, "accuracy_lo": float(np.quantile(accs, 0.025)), "accuracy_hi": float(np.quantile(accs, 0.975)),
           "aupr": float(aupr), "aupr_lo": np.nan, "aupr_hi": np.nan}
    if both:
        out["aupr_lo"], out["aupr_hi"] = float(np.nanquantile(auprs, 0.025)), float(np.nanquantile(auprs, 0.975))
    return out


def _split(frame: pd.DataFrame, held: set[str]) -> tuple[pd.DataFrame, pd.DataFrame]:
    out = frame["source"].isin(held).to_numpy()
    return frame[~out], frame[out]


def leave_one_source_out(tables: MouseTables, settings: MouseEvalSettings = MouseEvalSettings(),
                         echo: Callable[[str], None] = print) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per fold and scorer: held-out files, bots, people, accuracy and AUPR with intervals;
    and every held-out file's score per fold and scorer."""
    files = tables.files
    labels = dict(zip(files["source"], files["label"]))
    sources = list(dict.fromkeys(files["source"]))
    rows, scored = [], []
    for fold in _folds(sources, labels, settings.pairs):
        held = set(fold)
        train_w, test_w = _split(tables.windows, held)
        if train_w["label"].nunique() < 2 or not files["source"].isin(held).any():
            echo(f"fold {'+'.join(fold)}: skipped (training would hold one class only)")
            continue
        per_file = _fold_scores(train_w, test_w, _split(tables.arcs, held), _split(files, held), settings)
        truth = files[files["source"].isin(held)].set_index("file")["label"]
        for scorer, score in per_file.items():
            row, frame = _judged(fold, scorer, score.reindex(truth.index), truth, settings)
            rows.append(row)
            scored.append(frame)
            echo(f"{row['held_out']:<45} {scorer:<15} files {row['files']:>5}  accuracy {row['accuracy']:.3f} "
                 f"[{row['accuracy_lo']:.3f}, {row['accuracy_hi']:.3f}]  AUPR {row['aupr']:.3f}")
    return pd.DataFrame(rows), pd.concat(scored, ignore_index=True) if scored else pd.DataFrame()


def _fold_scores(train_w: pd.DataFrame, test_w: pd.DataFrame, arcs: tuple[pd.DataFrame, pd.DataFrame],
                 files: tuple[pd.DataFrame, pd.DataFrame], settings: MouseEvalSettings) -> dict[str, pd.Series]:
    """Each scorer's score of every held-out file, fitted on the fold's training side
    (*arcs* and *files*: training and held-out parts)."""
    train_f, test_f = files
    return {
        "human-envelope": _envelope(train_w, test_w, *arcs, settings),
        "window-envelope": _window_envelope(train_w, test_w, settings),
        "motion-gbm": pd.Series(_fit_predict(train_w, test_w, MOTION_FEATURES, settings), index=test_w.index)
        .groupby(test_w["file"]).mean(),
        "setup-gbm": pd.Series(_fit_predict(train_f, test_f, SETUP_FEATURES, settings), index=test_f["file"].to_numpy()),
    }


def _judged(fold: Sequence[str], scorer: str, score: pd.Series, truth: pd.Series, settings: MouseEvalSettings
            ) -> tuple[dict[str, Any], pd.DataFrame]:
    """One scorer's row of a fold (counts, accuracy and AUPR with intervals) and its held-out files' scores."""
    no_window = score.isna()  # files with no full window: undecided, counted as wrong
    y = truth.to_numpy(int)
    s = np.where(no_window.to_numpy(), 1.0 - y, score.to_numpy(float))  # setup-gbm: every file has a row
    row = {"held_out": "+".join(fold), "scorer": scorer, "files": len(y), "bots": int(y.sum()),
           "people": int((y == 0).sum()), "no_window": int(no_window.sum()), **_bootstrap(y, s, settings)}
    frame = pd.DataFrame({"held_out": row["held_out"], "scorer": scorer, "file": truth.index,
                          "label": y, "score": score.to_numpy(float)})
    return row, frame


def evaluate_mouse(labelled: Sequence[Path], people: Sequence[Path] = (), settings: MouseEvalSettings = MouseEvalSettings(),
                   echo: Callable[[str], None] = print) -> MouseEvalResult:
    """Find the sources, read them, and run :func:`leave_one_source_out`."""
    sources = find_sources(labelled, people)
    if len({s.label for s in sources}) < 2 or len(sources) < 3:
        raise InputError("leave-one-source-out needs at least three sources with both bots and people among them")
    tables = file_table(sources, settings, echo)
    echo(tables.report.summary())
    folds, scored = leave_one_source_out(tables, settings, echo)
    return MouseEvalResult(folds, scored, tables.report)


def _cell(value: Any, lo: Any, hi: Any) -> str:
    if value is None or not np.isfinite(value):
        return "n/a"
    return f"{value:.3f} [{lo:.3f}, {hi:.3f}]"


def mouse_markdown(result: MouseEvalResult) -> str:
    """The fold table as Markdown: accuracy and AUPR with 95% intervals, motion model beside the baseline."""
    lines = ["| held out | files (bots/people) | scorer | per-file accuracy | AUPR for bot |", "|---|---|---|---|---|"]
    for r in result.folds.itertuples():
        lines.append(f"| {r.held_out} | {r.files} ({r.bots}/{r.people}) | {r.scorer} | "
                     f"{_cell(r.accuracy, r.accuracy_lo, r.accuracy_hi)} | {_cell(r.aupr, r.aupr_lo, r.aupr_hi)} |")
    return "\n".join(lines) + "\n\n" + result.report.summary() + "\n"
