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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
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


def read_labels_csv(path: str | Path, images: ImageSet) -> ImportResult:
    """Read ``window_id``/``image`` + ``label`` columns from a CSV and match them to *images*.

    Bad rows (unknown image, bad class name, blank label) are reported with their line and
    left out; good rows are kept. A later row for the same image wins (with a problem noted
    when the labels differ).
    """
    path = Path(path)
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
    matcher = _Matcher(images)
    labels: dict[str, str] = {}
    problems: list[str] = []
    unmatched = 0
    for row in reader:
        line = reader.line_num
        raw_label = (row.get(label_col) or "").strip()
        if not raw_label:
            continue
        try:
            label = check_class_name(raw_label)
        except InputError as exc:
            _listed(problems, f"{path}, line {line}, column {label_col!r}: {exc}")
            continue
        key = matcher.find(str(csv_plain(row.get("window_id") or "")), str(csv_plain(row.get("image") or "")))
        if key is None:
            unmatched += 1
            what = row.get("window_id") or row.get("image") or ""
            _listed(problems, f"{path}, line {line}: {what!r} matches no image in {images.root}")
            continue
        if key in labels and labels[key] != label:
            _listed(problems, f"{path}, line {line}: {key!r} labelled {labels[key]!r} earlier; now {label!r}")
        labels[key] = label
    return ImportResult(labels=labels, problems=tuple(problems), unmatched=unmatched, source=str(path))


def read_folder_tree(folder: str | Path, images: ImageSet) -> ImportResult:
    """Read labels from a class-folder tree (``FOLDER/<class>/**/*.png``) and match them to *images*.

    Folders whose names are not valid class names are reported and skipped (their images are
    not imported); an image found under two classes is reported and left out.
    """
    root = Path(folder)
    if not root.is_dir():
        raise InputError("folder to import not found", path=root)
    matcher = _Matcher(images)
    by_hash: dict[str, str] | None = None
    labels: dict[str, str] = {}
    conflicted: set[str] = set()
    problems: list[str] = []
    unmatched = 0
    for sub in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = sorted(p for p in sub.rglob("*") if p.suffix.lower() == ".png" and p.is_file())
        try:
            label = check_class_name(sub.name)
        except InputError as exc:
            _listed(problems, f"{sub}: {exc}; its {len(files)} image(s) were not imported")
            continue
        for file in files:
            key = matcher.find(image=file.name)
            if key is None:
                if by_hash is None:
                    by_hash = {_sha256(Path(p)): k for p, k in zip(images.table["path"], images.table["key"])}
                key = by_hash.get(_sha256(file))
            if key is None:
                unmatched += 1
                _listed(problems, f"{file}: matches no image in {images.root}")
                continue
            if key in labels and labels[key] != label:
                conflicted.add(key)
                _listed(problems, f"{file}: the same image is also under {labels[key]!r}; left out")
            labels[key] = label
    for key in conflicted:
        labels.pop(key, None)
    return ImportResult(labels=labels, problems=tuple(problems), unmatched=unmatched, source=str(root))


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
    pcols = [c for c in frame.columns if str(c).startswith("p_")]
    if not pcols or not {"image", "window_id"} & set(frame.columns):
        raise SchemaError(
            "predictions need an 'image' or 'window_id' column and p_<class> columns "
            f"(found {', '.join(map(repr, map(str, frame.columns)))})",
            path=where,
        )
    classes = [check_class_name(str(c)[2:]) for c in pcols]
    probs = frame[pcols].apply(pd.to_numeric, errors="coerce").to_numpy(dtype="float64")
    matcher = _Matcher(images)
    wids = frame["window_id"].astype(str).tolist() if "window_id" in frame.columns else [""] * len(frame)
    names = frame["image"].astype(str).tolist() if "image" in frame.columns else [""] * len(frame)
    keys = [matcher.find(w, n) for w, n in zip(wids, names)]
    ok = np.array([k is not None for k in keys]) & np.isfinite(probs).all(axis=1)
    if (~ok).any():
        log.warning("%s: %d row(s) match no image or lack probabilities; left out", where, int((~ok).sum()))
    out = pd.DataFrame(probs[ok], columns=[f"p_{c}" for c in classes], index=pd.Index([k for k, g in zip(keys, ok) if g], name="key"))
    out = out[~out.index.duplicated(keep="last")]
    values = out.to_numpy()
    order = np.sort(values, axis=1)
    top = order[:, -1] if len(values) else np.array([])
    second = order[:, -2] if values.shape[1] > 1 and len(values) else np.zeros(len(values))
    out["model_label"] = [classes[i] for i in values.argmax(axis=1)] if len(values) else []
    out["p_max"] = top
    out["uncertainty"] = 1.0 - (top - second)
    return out


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
    from PIL import Image

    table = images.table
    trained_on = getattr(model, "render_config", None)
    trained_on = trained_on.to_dict() if hasattr(trained_on, "to_dict") else trained_on
    if trained_on and images.render_config and trained_on != images.render_config:
        log.warning("the model was trained on images drawn with another render config than %s; "
                    "its predictions may be poor (render them again with the model's config)", images.root)  # fmt: skip
    figure_cols = [c for c in getattr(model, "figure_columns", ()) or () if c in table.columns]
    classes = [str(c) for c in model.classes]
    rows: list[np.ndarray] = []
    start = 0
    while start < len(table):
        arrays, stop = [], start
        while stop < len(table) and len(arrays) < batch_size:
            with Image.open(table["path"].iat[stop]) as img:
                arr = np.asarray(img.convert("RGB"), dtype=np.uint8)
            if arrays and arr.shape != arrays[0].shape:
                break
            arrays.append(arr)
            stop += 1
        figures = table.iloc[start:stop][figure_cols].reset_index(drop=True) if figure_cols else None
        probs = np.asarray(model.predict_images(np.stack(arrays), figures), dtype="float64")
        if probs.shape != (stop - start, len(classes)):
            raise InputError(f"the model returned probabilities of shape {probs.shape}, expected {(stop - start, len(classes))}")
        rows.append(probs)
        if progress is not None:
            progress(stop - start)
        start = stop
    out = pd.DataFrame(np.concatenate(rows), columns=[f"p_{c}" for c in classes])
    out.insert(0, "image", table["key"].to_numpy())
    out.insert(1, "window_id", table["window_id"].astype(str).to_numpy())
    return out
