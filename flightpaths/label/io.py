"""Labels in and out: import from a CSV or a class-folder tree, export to CSV, model predictions.

Matching an image named in a file to an image in the images folder tries, in order: the
window id (``window_id`` column), the path relative to the images folder, the file name,
and the file name without ``.png``. A folder tree is matched by file name, then by content
(sha256), so a tree whose files were renamed still imports.

Bulk labels never overwrite a human's decision: :func:`fill_labels` only fills images that
are undecided (and, for imports, those labelled by a rule, a model or an earlier import).
"""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Protocol

import numpy as np
import pandas as pd

from ..errors import InputError, SchemaError
from ..fileio import atomic_write_text, check_output, csv_plain, csv_plain_frame, csv_safe_frame
from .dataset import LABEL_COLUMNS, Dataset, ImageSet, check_class_name

__all__ = [
    "FillReport",
    "ImportResult",
    "Predictor",
    "export_csv",
    "fill_labels",
    "import_labels",
    "predict_with",
    "read_folder_tree",
    "read_labels_csv",
    "read_predictions",
]

log = logging.getLogger(__name__)
_MAX_LISTED = 5


@dataclass(frozen=True)
class ImportResult:
    """Labels read from a file or folder: ``labels`` (image key -> class) and the problems met."""

    labels: dict[str, str]
    problems: tuple[str, ...] = ()
    unmatched: int = 0
    source: str = ""

    def summary(self) -> str:
        """A line for the log, e.g. ``labels.csv: 40 label(s) for 3 class(es); 2 row(s) not matched``."""
        classes = sorted(set(self.labels.values()))
        text = f"{self.source}: {len(self.labels)} label(s) for {len(classes)} class(es)"
        if self.unmatched:
            text += f"; {self.unmatched} not matched to an image"
        if self.problems:
            text += f"; {len(self.problems)} problem(s), first: {self.problems[0]}"
        return text


class _Matcher:
    """Find an image key from a window id, a relative path, a file name or a stem."""

    def __init__(self, images: ImageSet) -> None:
        table = images.table
        self.keys = set(table["key"])
        self.by_window = _unique_map(zip(table["window_id"].astype(str), table["key"]))
        self.by_name = _unique_map((PurePosixPath(k).name, k) for k in table["key"])
        self.by_stem = _unique_map((PurePosixPath(k).stem, k) for k in table["key"])

    def find(self, window_id: str = "", image: str = "") -> str | None:
        window_id, image = window_id.strip(), image.strip().replace("\\", "/")
        if window_id and window_id in self.by_window:
            return self.by_window[window_id]
        if not image:
            return None
        if image in self.keys:
            return image
        name = PurePosixPath(image).name
        return self.by_name.get(name) or self.by_stem.get(name) or self.by_stem.get(PurePosixPath(image).stem)


def _unique_map(pairs: Any) -> dict[str, str]:
    out: dict[str, str] = {}
    clashes: set[str] = set()
    for k, v in pairs:
        if not k:
            continue
        if k in out and out[k] != v:
            clashes.add(k)
        out[k] = v
    for k in clashes:  # ambiguous names match nothing rather than the wrong image
        del out[k]
    return out


def _listed(problems: list[str], message: str) -> None:
    if len(problems) < _MAX_LISTED:
        problems.append(message)
    elif len(problems) == _MAX_LISTED:
        problems.append("(further problems not listed)")


@dataclass
class _Collected:
    """What an importer gathers: labels by image key, the problems it lists, the images it could not match."""

    labels: dict[str, str] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)
    unmatched: int = 0

    def note(self, message: str) -> None:
        """List a problem (the first few only)."""
        _listed(self.problems, message)

    def result(self, source: str) -> ImportResult:
        """What was gathered, read from *source*."""
        return ImportResult(labels=self.labels, problems=tuple(self.problems), unmatched=self.unmatched, source=source)


def read_labels_csv(path: str | Path, images: ImageSet) -> ImportResult:
    """Read ``window_id``/``image`` + ``label`` columns from a CSV and match them to *images*.

    Bad rows (unknown image, bad class name, blank label) are reported with their line and
    left out; good rows are kept. A later row for the same image wins (with a problem noted
    when the labels differ).
    """
    path = Path(path)
    reader, label_col = _labels_reader(path)
    matcher = _Matcher(images)
    got = _Collected()
    for row in reader:
        where = f"{path}, line {reader.line_num}"
        raw_label = (row.get(label_col) or "").strip()
        if raw_label:
            _take_row(got, row, raw_label, where, label_col, matcher, images.root)
    return got.result(str(path))


def _labels_reader(path: Path) -> tuple[csv.DictReader[str], str]:
    """A reader of the labels CSV at *path*, and its label column (``label`` or ``class``)."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(f"not UTF-8 text: {exc.reason}", path=path) from exc
    reader = csv.DictReader(io.StringIO(text))
    fields = [f.strip() for f in reader.fieldnames or []]
    label_col = "label" if "label" in fields else ("class" if "class" in fields else None)
    if label_col is None or not {"window_id", "image"} & set(fields):
        raise SchemaError(
            f"needs a 'label' column and a 'window_id' or 'image' column (found {', '.join(map(repr, fields))})",
            path=path,
            line=1,
        )
    reader.fieldnames = fields
    return reader, label_col


def _take_row(got: _Collected, row: dict[str, str], raw_label: str, where: str, label_col: str, matcher: _Matcher,
              root: Path) -> None:
    """Add one CSV row's label to *got*, or note why it is left out (*where*: file and line)."""
    try:
        label = check_class_name(raw_label)
    except InputError as exc:
        got.note(f"{where}, column {label_col!r}: {exc}")
        return
    key = matcher.find(str(csv_plain(row.get("window_id") or "")), str(csv_plain(row.get("image") or "")))
    if key is None:
        got.unmatched += 1
        what = row.get("window_id") or row.get("image") or ""
        got.note(f"{where}: {what!r} matches no image in {root}")
        return
    if key in got.labels and got.labels[key] != label:
        got.note(f"{where}: {key!r} labelled {got.labels[key]!r} earlier; now {label!r}")
    got.labels[key] = label


def read_folder_tree(folder: str | Path, images: ImageSet) -> ImportResult:
    """Read labels from a class-folder tree (``FOLDER/<class>/**/*.png``) and match them to *images*.

    Folders whose names are not valid class names are reported and skipped (their images are
    not imported); an image found under two classes is reported and left out.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError("folder to import not found", path=root)
    matcher = _FileMatcher(images)
    got = _Collected()
    conflicted: set[str] = set()
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in sub.rglob("*") if p.suffix.lower() == ".png" and p.is_file())
        try:
            label = check_class_name(sub.name)
        except InputError as exc:
            got.note(f"{sub}: {exc}; its {len(files)} image(s) were not imported")
            continue
        for file in files:
            _take_file(got, conflicted, file, label, matcher.find(file), images.root)
    for key in conflicted:
        got.labels.pop(key, None)
    return got.result(str(root))


class _FileMatcher:
    """Find an image key from a file: by its name, else by its content (sha256, hashed only when needed)."""

    def __init__(self, images: ImageSet) -> None:
        self.images = images
        self.by_name = _Matcher(images)
        self.by_hash: dict[str, str] | None = None

    def find(self, file: Path) -> str | None:
        """The key of the image *file* shows, or None."""
        key = self.by_name.find(image=file.name)
        if key is not None:
            return key
        if self.by_hash is None:
            table = self.images.table
            self.by_hash = {_sha256(Path(p)): k for p, k in zip(table["path"], table["key"])}
        return self.by_hash.get(_sha256(file))


def _take_file(got: _Collected, conflicted: set[str], file: Path, label: str, key: str | None, root: Path) -> None:
    """Add one file's label (its class folder) to *got*; an image under two classes goes into *conflicted*."""
    if key is None:
        got.unmatched += 1
        got.note(f"{file}: matches no image in {root}")
        return
    if key in got.labels and got.labels[key] != label:
        conflicted.add(key)
        got.note(f"{file}: the same image is also under {got.labels[key]!r}; left out")
    got.labels[key] = label


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def import_labels(source: str | Path, images: ImageSet) -> ImportResult:
    """Import from a CSV file or a class-folder tree, whichever *source* is."""
    path = Path(source)
    if path.is_dir():
        return read_folder_tree(path, images)
    if not path.is_file():
        raise InputError("file or folder to import not found", path=path)
    return read_labels_csv(path, images)


@dataclass(frozen=True)
class FillReport:
    """What a bulk fill did: labels applied, and images left alone because a person decided them."""

    applied: int
    kept_human: int
    unchanged: int

    def summary(self, source: str) -> str:
        """A line for the log."""
        return (
            f"{source}: {self.applied} label(s) written, {self.kept_human} kept as a person decided, "
            f"{self.unchanged} already so"
        )


def fill_labels(
    dataset: Dataset,
    labels: Mapping[str, str],
    *,
    source: str,
    replace_sources: Sequence[str] = (),
) -> FillReport:
    """Write bulk labels (rule, import, model) without overwriting a person's decisions.

    An image is labelled when it is undecided, or its current label came from one of
    *replace_sources*. Human labels and skips are never touched. New class names are added
    to the dataset (checked).
    """
    todo, kept, unchanged = _labels_to_write(dataset, labels, replace_sources)
    dataset.add_classes(sorted(set(todo.values()) - set(dataset.classes)))
    decisions = dataset.label_many(todo, source=source)
    applied = sum(len(d.images) for d in decisions)
    return FillReport(applied=applied, kept_human=kept, unchanged=unchanged + len(todo) - applied)


def _labels_to_write(dataset: Dataset, labels: Mapping[str, str], replace_sources: Sequence[str]
                     ) -> tuple[dict[str, str], int, int]:
    """The labels to write; how many a person's decision keeps out; how many are already so."""
    todo: dict[str, str] = {}
    kept = unchanged = 0
    for key, label in labels.items():
        entry = dataset.entry(key)
        if entry is None or (not entry.skipped and entry.label is None):
            todo[key] = label
        elif entry.label == label:
            unchanged += 1
        elif entry.source in replace_sources and not entry.skipped:
            todo[key] = label
        else:
            kept += 1
    return todo, kept, unchanged


def export_csv(dataset: Dataset, path: str | Path, *, overwrite: bool = False) -> Path:
    """Write the dataset's labels to *path* (labels.csv's columns plus ``render_image``)."""
    target = check_output(path, overwrite=overwrite)
    frame = dataset.labels_frame()
    entries = dataset.entries()
    by_path = {e.path: e.image for e in entries.values() if e.label}
    frame["render_image"] = [by_path.get(p, "") for p in frame["image"]]
    buf = io.StringIO()
    csv_safe_frame(frame[[*LABEL_COLUMNS, "render_image"]]).to_csv(buf, index=False, lineterminator="\n")
    return atomic_write_text(target, buf.getvalue())


# ----------------------------------------------------------------------------- predictions


def read_predictions(source: pd.DataFrame | str | Path, images: ImageSet) -> pd.DataFrame:
    """Model probabilities per image, matched to *images*.

    *source* is a DataFrame or a CSV/parquet file with an ``image`` or ``window_id`` column
    and one ``p_<class>`` column per class. Returns a frame indexed by image key with the
    ``p_<class>`` columns, ``model_label`` (the most likely class), ``p_max`` and
    ``uncertainty`` = 1 - (top probability - second probability): 1 for a coin toss, 0 for
    a sure call. Rows matching no image are dropped with a warning.
    """
    where = "predictions" if isinstance(source, pd.DataFrame) else str(source)
    frame = source if isinstance(source, pd.DataFrame) else _read_table(Path(source))
    pcols = _probability_columns(frame, where)
    classes = [check_class_name(str(c)[2:]) for c in pcols]
    probs = frame[pcols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
    keys = _prediction_keys(frame, images)
    ok = np.array([k is not None for k in keys]) & np.isfinite(probs).all(axis=1)
    if (~ok).any():
        log.warning("%s: %d row(s) match no image or lack probabilities; left out", where, int((~ok).sum()))
    out = pd.DataFrame(probs[ok], columns=[f"p_{c}" for c in classes], index=pd.Index([k for k, g in zip(keys, ok) if g], name="key"))
    return _add_model_label(out[~out.index.duplicated(keep="last")], classes)


def _probability_columns(frame: pd.DataFrame, where: str) -> list[Any]:
    """The ``p_<class>`` columns of *frame*, which must also name each row's image or window."""
    pcols = [c for c in frame.columns if str(c).startswith("p_")]
    if not pcols or not {"image", "window_id"} & set(frame.columns):
        raise SchemaError(
            "predictions need an 'image' or 'window_id' column and p_<class> columns "
            f"(found {', '.join(map(repr, map(str, frame.columns)))})",
            path=where,
        )
    return pcols


def _prediction_keys(frame: pd.DataFrame, images: ImageSet) -> list[str | None]:
    """The image key of each row of *frame* (by window id or image name), None where nothing matches."""
    matcher = _Matcher(images)
    wids = frame["window_id"].astype(str).tolist() if "window_id" in frame.columns else [""] * len(frame)
    names = frame["image"].astype(str).tolist() if "image" in frame.columns else [""] * len(frame)
    return [matcher.find(w, n) for w, n in zip(wids, names)]


def _add_model_label(out: pd.DataFrame, classes: list[str]) -> pd.DataFrame:
    """*out* (``p_<class>`` columns) with ``model_label``, ``p_max`` and ``uncertainty`` added."""
    values = out.to_numpy()
    order = np.sort(values, axis=1)
    top = order[:, -1] if len(values) else np.array([])
    second = order[:, -2] if values.shape[1] > 1 and len(values) else np.zeros(len(values))
    out["model_label"] = [classes[i] for i in values.argmax(axis=1)] if len(values) else []
    out["p_max"] = top
    out["uncertainty"] = 1.0 - (top - second)
    return out


def _warn_if_drawn_otherwise(model: Predictor, images: ImageSet) -> None:
    """Warn when *model* was trained on images drawn with another render config than *images*."""
    trained_on = getattr(model, "render_config", None)
    trained_on = trained_on.to_dict() if hasattr(trained_on, "to_dict") else trained_on
    if trained_on and images.render_config and trained_on != images.render_config:
        log.warning("the model was trained on images drawn with another render config than %s; "
                    "its predictions may be poor (render them again with the model's config)", images.root)  # fmt: skip


def _same_size_batches(paths: pd.Series, batch_size: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """``(start, stop, images)``: runs of at most *batch_size* consecutive RGB images of one size."""
    from PIL import Image

    start = 0
    while start < len(paths):
        arrays: list[np.ndarray] = []
        stop = start
        while stop < len(paths) and len(arrays) < batch_size:
            with Image.open(paths.iat[stop]) as img:
                arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
            if arrays and arr.shape != arrays[0].shape:
                break
            arrays.append(arr)
            stop += 1
        yield start, stop, np.stack(arrays)
        start = stop


def _read_table(path: Path) -> pd.DataFrame:
    if not path.is_file():
        raise InputError("predictions file not found", path=path)
    if path.suffix.lower() == ".parquet":
        return pd.read_parquet(path)
    try:
        return csv_plain_frame(pd.read_csv(path, dtype={"image": str, "window_id": str}, keep_default_na=False))
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise InputError(f"not a readable CSV: {exc}", path=path) from exc


class Predictor(Protocol):
    """What :func:`predict_with` needs from a model (the trainer's Bundle fits)."""

    @property
    def classes(self) -> Sequence[str]: ...

    def predict_images(self, images: np.ndarray, figures: pd.DataFrame | None) -> np.ndarray: ...


def predict_with(
    model: Predictor,
    images: ImageSet,
    *,
    batch_size: int = 32,
    progress: Callable[[int], None] | None = None,
) -> pd.DataFrame:
    """Run *model* over every image (RGB, batches of one size) and return a predictions frame.

    The result has ``image`` (key), ``window_id`` and ``p_<class>`` columns, ready for
    :func:`read_predictions`. The manifest's figures are passed along for hybrid models.
    """
    table = images.table
    _warn_if_drawn_otherwise(model, images)
    figure_cols = [c for c in getattr(model, "figure_columns", ()) or () if c in table.columns]
    classes = [str(c) for c in model.classes]
    rows: list[np.ndarray] = []
    for start, stop, batch in _same_size_batches(table["path"], batch_size):
        figures = table.iloc[start:stop][figure_cols].reset_index(drop=True) if figure_cols else None
        rows.append(_batch_probs(model, batch, figures, len(classes)))
        if progress is not None:
            progress(stop - start)
    return _predictions_frame(table, np.concatenate(rows), classes)


def _batch_probs(model: Predictor, batch: np.ndarray, figures: pd.DataFrame | None, n_classes: int) -> np.ndarray:
    """*model*'s probabilities for *batch*, one row per image and a column per class (checked)."""
    probs = np.asarray(model.predict_images(batch, figures), dtype="float64")
    if probs.shape != (len(batch), n_classes):
        raise InputError(f"the model returned probabilities of shape {probs.shape}, expected {(len(batch), n_classes)}")
    return probs


def _predictions_frame(table: pd.DataFrame, probs: np.ndarray, classes: list[str]) -> pd.DataFrame:
    """``image`` (key), ``window_id`` and ``p_<class>`` columns, one row per image of *table*."""
    out = pd.DataFrame(probs, columns=[f"p_{c}" for c in classes])
    out.insert(0, "image", table["key"].to_numpy())
    out.insert(1, "window_id", table["window_id"].astype(str).to_numpy())
    return out
