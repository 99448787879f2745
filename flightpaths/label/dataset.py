"""The labelled dataset on disk: class folders, labels.csv, a journal, and the images it came from.

The images come from :mod:`flightpaths.label.images` (:func:`load_images`, re-exported here).

Layout (the trainer's input, ImageNet style)::

    DATASET/<class>/<image>.png   copies (or hard links) of the originals, one folder per class
    DATASET/labels.csv            image (relative to DATASET), window_id, object_id, label,
                                  source (human | rule | import | model), time (UTC)
    DATASET/manifest.csv          the render manifest rows of the labelled images (image =
                                  path in DATASET, render_image = path in the images folder)
    DATASET/render_config.json    the images' render config, copied when known
    DATASET/windowing.json        the track and window settings the images' windows were cut with, when known
    DATASET/journal.jsonl         every decision, append-only, one JSON object per line
    DATASET/dataset.json          classes and where the images came from (for people)

Safety rules:

* Originals are never moved or deleted. A labelled image is *copied* (or hard-linked, with
  ``DatasetSettings(link=True)``) into its class folder; relabelling moves the copy; undoing
  restores the previous state exactly (folder, label, source and time).
* Every decision is appended to the journal and ``fsync``'d *before* any file moves and
  before ``labels.csv`` is atomically rewritten. Opening a dataset replays the journal and
  repairs the folders to match it, so a crash at any point loses at most the decision that
  was in flight (a torn last journal line is dropped with a warning).
* Class names are checked (:func:`check_class_name`); names from data never become paths
  unchecked.
* One labeler at a time: the dataset is locked (``DATASET/.lock``) while open.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import Any

import pandas as pd

from ..errors import FlightpathsError, InputError
from ..fileio import atomic_write_text, csv_cell, csv_plain_frame
from .images import ImageSet, load_images, read_json

try:  # advisory lock against two labelers on one dataset (POSIX)
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

__all__ = [
    "Dataset",
    "DatasetLockedError",
    "DatasetSettings",
    "Decision",
    "Entry",
    "ImageSet",
    "LABEL_COLUMNS",
    "SOURCES",
    "check_class_name",
    "check_class_names",
    "load_images",
    "now_utc",
]

log = logging.getLogger(__name__)

#: Where a label came from.
SOURCES = ("human", "rule", "import", "model")
#: The columns of labels.csv, in order.
LABEL_COLUMNS = ("image", "window_id", "object_id", "label", "source", "time")
_CLASS_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")
_RESERVED = frozenset({"train", "valid"})
#: names Windows will not give a folder (a dataset must copy to any machine)
_WINDOWS_RESERVED = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))})
_TMP_PREFIX = ".fp-tmp-"
_FILE_NAME = re.compile(r"[A-Za-z0-9_-][A-Za-z0-9._~-]{0,199}")


def now_utc() -> str:
    """The current time as ISO 8601 UTC with seconds, e.g. ``2026-11-22T21:30:00Z``."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def check_class_name(name: object) -> str:
    """Return *name* if it can be a class folder; raise :class:`InputError` saying why not.

    Letters (A-Z, a-z), digits, ``-`` and ``_`` only, starting with a letter or digit, at
    most 64 characters; ``train`` and ``valid`` are refused because the trainer reads those
    folders as a ready-made split.

    >>> check_class_name("not_circling")
    'not_circling'
    >>> check_class_name("../etc")
    Traceback (most recent call last):
    ...
    flightpaths.errors.InputError: class name '../etc' is not allowed: use only letters A-Z a-z, digits, '-' and '_', starting with a letter or digit (at most 64 characters)
    """
    text = str(name) if isinstance(name, str) else None
    if text is None or not _CLASS_NAME.fullmatch(text):
        raise InputError(
            f"class name {name!r} is not allowed: use only letters A-Z a-z, digits, '-' and '_', "
            "starting with a letter or digit (at most 64 characters)"
        )
    if text.lower() in _RESERVED:
        raise InputError(f"class name {text!r} is reserved: the trainer reads train/ and valid/ as a split")
    if text.lower() in _WINDOWS_RESERVED:
        raise InputError(f"class name {text!r} is a device name on Windows; the dataset could not be copied there")
    return text


def check_class_names(names: Iterable[object], existing: Iterable[str] = ()) -> tuple[str, ...]:
    """Check every name (see :func:`check_class_name`) and drop repeats, keeping the order.
    Two names that differ only in case (``Circling``, ``circling``) are refused: on macOS and
    Windows they are one folder. *existing* classes count too."""
    out: list[str] = []
    folded = {c.casefold(): c for c in existing}
    for name in names:
        checked = check_class_name(name)
        other = folded.get(checked.casefold())
        if other is not None and other != checked:
            raise InputError(f"class name {checked!r} differs from {other!r} only in case; on macOS and Windows "
                             "they would be one folder")
        folded[checked.casefold()] = checked
        if checked not in out:
            out.append(checked)
    return tuple(out)


class DatasetLockedError(FlightpathsError):
    """The dataset is open in another labeler."""


# ----------------------------------------------------------------------------- the dataset


@dataclass(frozen=True)
class DatasetSettings:
    """How images get into class folders: copies (default) or hard links (``link=True``)."""

    link: bool = False


@dataclass(frozen=True)
class Entry:
    """The state of one image in the dataset: labelled (``label``), skipped, or neither."""

    image: str
    name: str
    label: str | None
    source: str
    time: str
    skipped: bool = False
    window_id: str = ""
    object_id: str = ""
    src: str = ""

    @property
    def path(self) -> str | None:
        """Path of the copy relative to the dataset (``<class>/<name>``), None when unlabelled."""
        return f"{self.label}/{self.name}" if self.label else None


@dataclass(frozen=True)
class Decision:
    """One journaled decision: the images it changed (undo reverts all of them together)."""

    seq: int
    source: str
    images: tuple[str, ...]
    label: str | None
    skipped: bool = False


@dataclass
class _Undo:
    seq: int
    source: str
    before: dict[str, Entry | None] = field(default_factory=dict)
    label: str | None = None
    skipped: bool = False


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover
        pass
    finally:
        os.close(fd)


def _inside(child: Path, parent: Path) -> bool:
    try:
        child.resolve().relative_to(parent.resolve())
    except ValueError:
        return False
    return True


class Dataset:
    """A labelled dataset folder, opened for reading and labelling.

    Use :meth:`open`; close it (or use ``with``) to release the lock. All methods are
    thread-safe (the web server calls them from several threads).
    """

    JOURNAL = "journal.jsonl"

    def __init__(self, root: Path, images: ImageSet | None, settings: DatasetSettings) -> None:
        self.root = root
        self.images = images
        self.settings = settings
        self._lock = threading.RLock()
        self._classes: list[str] = []
        self._state: dict[str, Entry] = {}
        self._undo: list[_Undo] = []
        self._seq = 0
        self._journal: io.BufferedWriter | None = None
        self._lockfile: int | None = None
        self._manifest_rows: dict[str, dict[str, Any]] = {}
        self.warnings: list[str] = []

    # -- opening ----------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        root: str | Path,
        images: ImageSet | None = None,
        *,
        classes: Sequence[str] = (),
        settings: DatasetSettings = DatasetSettings(),
    ) -> Dataset:
        """Open (or create) the dataset at *root*, replay its journal and repair its folders.

        *classes* are added to the dataset's classes (checked). A folder that exists, is not
        empty and has no journal is refused: it is not a flightpaths dataset, and nothing
        in it is touched.
        """
        wanted = check_class_names(classes)
        root = cls._checked_root(Path(root), images)
        root.mkdir(parents=True, exist_ok=True)
        ds = cls(root.resolve(), images, settings)
        ds._acquire()
        try:
            ds._start(wanted)
        except BaseException:
            ds.close()
            raise
        return ds

    @classmethod
    def _checked_root(cls, root: Path, images: ImageSet | None) -> Path:
        """*root*, unless it overlaps the images, is a file, or holds something other than a dataset."""
        if images is not None and (_inside(root, images.root) or _inside(images.root, root)):
            raise InputError(
                f"the dataset folder and the images folder {images.root} overlap; choose a dataset folder outside it",
                path=root,
            )
        if root.exists() and not root.is_dir():
            raise InputError("exists and is not a folder", path=root)
        journal = root / cls.JOURNAL
        if root.is_dir() and not journal.is_file() and any(p.name != ".lock" for p in root.iterdir()):
            raise InputError(
                f"not a flightpaths dataset (no {cls.JOURNAL}) and not empty; choose a new or empty folder "
                "(an existing class-folder tree can be brought in with --import DIR)",
                path=root,
            )
        return root

    def _start(self, wanted: Sequence[str]) -> None:
        """Replay the journal, add the *wanted* classes, repair the folders and write the outputs."""
        self._replay()
        self._load_old_manifest()
        self._open_journal()
        if not self._seq:
            self._append({"op": "init", "images": str(self.images.root) if self.images else None, "version": 1})
        new = [c for c in wanted if c not in self._classes]
        if new:
            self._append({"op": "classes", "classes": new})
            self._classes.extend(new)
        self._copy_render_config()
        self._repair()
        self._write_outputs()
        self._write_info()

    def _acquire(self) -> None:
        if fcntl is None:  # pragma: no cover
            return
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            os.close(fd)
            raise DatasetLockedError(f"{self.root} is open in another labeler; close that one first") from exc
        self._lockfile = fd

    def _replay(self) -> None:
        """Apply the journal's records; a cut-off last record (an interrupted write) is dropped."""
        path = self.root / self.JOURNAL
        if not path.is_file():
            return
        data = path.read_bytes()
        lines = data.split(b"\n")
        good_end = 0
        offset = 0
        for number, raw in enumerate(lines, start=1):
            end = offset + len(raw) + 1
            is_last = number == len(lines) or (number == len(lines) - 1 and lines[-1] == b"")
            if raw.strip() and not self._replay_record(raw, path, number, is_last or end >= len(data), good_end):
                break
            good_end = min(end, len(data))
            offset = end
        if data and not data.endswith(b"\n") and good_end == len(data):
            with open(path, "ab") as fh:  # a complete last record without its newline
                fh.write(b"\n")
                os.fsync(fh.fileno())

    def _replay_record(self, raw: bytes, path: Path, number: int, may_be_cut: bool, good_end: int) -> bool:
        """Apply journal line *number*; False when it is a cut-off last record (the journal is then cut at *good_end*)."""
        try:
            record = json.loads(raw)
            if not isinstance(record, dict) or "op" not in record:
                raise ValueError("not a journal record")
        except ValueError as exc:
            if not may_be_cut:
                raise InputError(f"unreadable journal record: {exc}", path=path, line=number) from exc
            self._warn(f"{path}, line {number}: incomplete last decision dropped (interrupted write)")
            with open(path, "r+b") as fh:
                fh.truncate(good_end)
                os.fsync(fh.fileno())
            return False
        try:
            self._apply_record(record, path, number)
        except InputError as exc:
            if exc.path is not None:
                raise
            raise InputError(exc.message, path=path, line=number) from exc
        except (KeyError, TypeError, ValueError) as exc:
            raise InputError(f"malformed journal record ({type(exc).__name__}: {exc})", path=path, line=number) from exc
        return True

    def _apply_record(self, rec: dict[str, Any], path: Path, line: int) -> None:
        op = rec["op"]
        self._seq = max(self._seq, int(rec.get("seq", self._seq + 1)))
        if op == "init":
            return
        if op == "classes":
            for name in rec.get("classes", []):
                if name not in self._classes:
                    self._classes.append(check_class_name(name))
            return
        if op == "set":
            self._apply_set(rec)
            return
        if op == "undo":
            if not self._undo or self._undo[-1].seq != rec.get("target"):
                raise InputError(f"undo of decision {rec.get('target')} does not match the journal", path=path, line=line)
            self._restore(self._undo.pop())
            return
        raise InputError(f"unknown journal operation {op!r}", path=path, line=line)

    def _apply_set(self, rec: dict[str, Any]) -> _Undo:
        undo = _Undo(seq=int(rec["seq"]), source=rec["source"], label=rec.get("label"), skipped=bool(rec.get("skip")))
        for ch in rec["changes"]:
            key = ch["image"]
            if not isinstance(ch["name"], str) or not _FILE_NAME.fullmatch(ch["name"]):
                raise InputError(f"journal names the file {ch['name']!r}, which is not a plain file name")
            undo.before[key] = self._state.get(key)
            label = ch.get("label")
            if label is not None and label not in self._classes:
                self._classes.append(check_class_name(label))
            self._state[key] = Entry(
                image=key, name=ch["name"], label=label, source=rec["source"], time=rec["time"],
                skipped=bool(ch.get("skip")), window_id=ch.get("window_id", ""), object_id=ch.get("object_id", ""),
                src=ch.get("src", ""),
            )  # fmt: skip
        self._undo.append(undo)
        return undo

    def _restore(self, undo: _Undo) -> None:
        for key, before in undo.before.items():
            if before is None:
                self._state.pop(key, None)
            else:
                self._state[key] = before

    def _open_journal(self) -> None:
        path = self.root / self.JOURNAL
        new = not path.exists()
        self._journal = open(path, "ab")  # noqa: SIM115 - kept open for the dataset's lifetime
        if new:
            _fsync_dir(self.root)

    def _append(self, record: dict[str, Any]) -> dict[str, Any]:
        assert self._journal is not None, "dataset is closed"
        self._seq += 1
        record = {"seq": self._seq, "time": now_utc(), **record}
        self._journal.write(json.dumps(record, ensure_ascii=True, sort_keys=True).encode() + b"\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())
        return record

    def _load_old_manifest(self) -> None:
        path = self.root / "manifest.csv"
        if path.is_file():
            try:
                old = csv_plain_frame(pd.read_csv(path, dtype=str, keep_default_na=False))
            except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError):
                self._warn(f"{path}: unreadable; it will be rewritten from the images' manifest")
                return
            if "render_image" in old.columns:
                self._manifest_rows = {r["render_image"]: r for r in old.drop(columns=["image"], errors="ignore").to_dict("records")}

    def _copy_render_config(self) -> None:
        """Copy the images' render config and windowing record (they must agree with any already here)."""
        if self.images is None:
            return
        for name, value, what in (("render_config.json", self.images.render_config, "drawn"),
                                  ("windowing.json", self.images.windowing, "cut into windows")):
            if value is None:
                continue
            target = self.root / name
            if target.is_file():
                if read_json(target) != value:
                    raise InputError(
                        f"the {name} of {self.images.root} differs from the dataset's; a model trained on images "
                        f"{what} two ways learns that, not the flight: use a new dataset folder",
                        path=target,
                    )
                continue
            atomic_write_text(target, json.dumps(value, indent=2, sort_keys=True) + "\n")

    # -- reading ----------------------------------------------------------------------------

    @property
    def classes(self) -> tuple[str, ...]:
        """The dataset's classes, in the order they were added."""
        with self._lock:
            return tuple(self._classes)

    def entries(self) -> dict[str, Entry]:
        """A snapshot of every image the dataset knows: key -> :class:`Entry`."""
        with self._lock:
            return dict(self._state)

    def entry(self, key: str) -> Entry | None:
        """The current entry of one image, or None when it was never decided."""
        with self._lock:
            return self._state.get(key)

    def counts(self) -> dict[str, int]:
        """Labelled images per class, plus ``skipped`` and ``labelled`` totals."""
        with self._lock:
            out = {c: 0 for c in self._classes}
            skipped = 0
            for e in self._state.values():
                if e.label:
                    out[e.label] = out.get(e.label, 0) + 1
                elif e.skipped:
                    skipped += 1
            labelled = sum(out.values())
            return {**out, "labelled": labelled, "skipped": skipped}

    def labels_frame(self) -> pd.DataFrame:
        """labels.csv as a DataFrame: one row per labelled image, sorted by image path."""
        with self._lock:
            rows = [
                {"image": e.path, "window_id": e.window_id, "object_id": e.object_id, "label": e.label,
                 "source": e.source, "time": e.time}
                for e in self._state.values() if e.label
            ]  # fmt: skip
        frame = pd.DataFrame(rows, columns=list(LABEL_COLUMNS))
        return frame.sort_values("image", kind="stable").reset_index(drop=True)

    def can_undo(self, sources: Sequence[str] | None = ("human",)) -> bool:
        """Whether :meth:`undo` with the same *sources* would undo something."""
        with self._lock:
            return bool(self._undo) and (sources is None or self._undo[-1].source in sources)

    # -- deciding ---------------------------------------------------------------------------

    def add_classes(self, names: Iterable[str]) -> tuple[str, ...]:
        """Add classes (checked, journaled); returns the classes actually added."""
        with self._lock:
            new = [c for c in check_class_names(names, self._classes) if c not in self._classes]
            if new:
                self._append({"op": "classes", "classes": new})
                self._classes.extend(new)
                self._write_info()
            return tuple(new)

    def label(self, keys: Sequence[str], label: str, *, source: str = "human") -> Decision | None:
        """Put the images *keys* in class *label* (one decision; undo reverts all of them)."""
        return self._decide(keys, check_class_name(label), source=source, skipped=False)

    def skip(self, keys: Sequence[str], *, source: str = "human") -> Decision | None:
        """Mark images as skipped/ignored: no class folder, no labels.csv row, ordered last."""
        return self._decide(keys, None, source=source, skipped=True)

    def unlabel(self, keys: Sequence[str], *, source: str = "human") -> Decision | None:
        """Take images out of their class folders (back to undecided)."""
        return self._decide(keys, None, source=source, skipped=False)

    def label_many(self, labels: Mapping[str, str], *, source: str) -> list[Decision]:
        """Several labels at once (e.g. from a rule or a CSV): one decision per class."""
        by_class: dict[str, list[str]] = {}
        for key, label in labels.items():
            by_class.setdefault(check_class_name(label), []).append(key)
        decisions = [self.label(keys, label, source=source) for label, keys in by_class.items()]
        return [d for d in decisions if d is not None]

    def _decide(self, keys: Sequence[str], label: str | None, *, source: str, skipped: bool) -> Decision | None:
        if source not in SOURCES:
            raise ValueError(f"source must be one of {', '.join(SOURCES)}, not {source!r}")
        with self._lock:
            if label is not None and label not in self._classes:
                raise InputError(f"unknown class {label!r}; the dataset's classes are {', '.join(self._classes)}")
            changes = []
            for key in dict.fromkeys(keys):
                old = self._state.get(key)
                if old is not None and old.label == label and old.skipped == skipped and old.source == source:
                    continue
                changes.append(self._change(key, old, label, skipped))
            if not changes:
                return None
            rec = self._append({"op": "set", "source": source, "label": label, "skip": skipped, "changes": changes})
            undo = self._apply_set(rec)
            self._sync_files({k: self._state.get(k) for k in undo.before})
            self._write_outputs()
            return Decision(seq=undo.seq, source=source, images=tuple(undo.before), label=label, skipped=skipped)

    def _change(self, key: str, old: Entry | None, label: str | None, skipped: bool) -> dict[str, Any]:
        if old is not None:
            name, wid, oid, src = old.name, old.window_id, old.object_id, old.src
            if self.images is not None and key in self.images._by_key():
                src = self.images.row(key)["path"]
        elif self.images is not None and key in self.images._by_key():
            row = self.images.row(key)
            name, src = self._free_name(row["name"], key), row["path"]
            wid, oid = _text(row.get("window_id")), _text(row.get("object_id"))
        else:
            raise InputError(f"unknown image {key!r}: not in the images folder")
        return {"image": key, "name": name, "label": label, "skip": skipped, "window_id": wid, "object_id": oid,
                "src": src}  # fmt: skip

    def _free_name(self, name: str, key: str) -> str:
        """*name*, or *name* with ``_2``, ``_3``... where another image has it (case-blind: a
        dataset must copy to macOS and Windows)."""
        used = {e.name.casefold() for k, e in self._state.items() if k != key}
        if name.casefold() not in used:
            return name
        stem, suffix = os.path.splitext(name)
        n = 2
        while f"{stem}_{n}{suffix}".casefold() in used:
            n += 1
        return f"{stem}_{n}{suffix}"

    def undo(self, *, sources: Sequence[str] | None = ("human",)) -> Decision | None:
        """Undo the latest decision (when its source is in *sources*; None = any source).

        Returns the undone decision, or None when there is nothing (allowed) to undo.
        """
        with self._lock:
            if not self.can_undo(sources):
                return None
            top = self._undo[-1]
            self._append({"op": "undo", "target": top.seq})
            self._undo.pop()
            current = {k: self._state.get(k) for k in top.before}
            self._restore(top)
            self._sync_files(current)
            self._write_outputs()
            return Decision(seq=top.seq, source=top.source, images=tuple(top.before), label=top.label, skipped=top.skipped)

    # -- files ------------------------------------------------------------------------------

    def _class_dirs(self) -> list[Path]:
        return [self.root / c for c in self._classes]

    def _sync_files(self, before: Mapping[str, Entry | None]) -> None:
        """Make the class folders hold exactly the copies the state says, for these images.

        *before* maps each changed image to the entry it had before the change (for its file
        name when the image is now undecided again).
        """
        for key, old in before.items():
            entry = self._state.get(key)
            if entry is not None:
                self._ensure(entry)
            elif old is not None:  # never decided any more: no copy anywhere
                self._ensure(replace(old, label=None, skipped=False))

    def _ensure(self, entry: Entry) -> None:
        target = self.root / entry.label / entry.name if entry.label else None
        present = [d / entry.name for d in self._class_dirs() if (d / entry.name).is_file()]
        if target is not None:
            if target not in present:
                others = [p for p in present if p != target]
                target.parent.mkdir(exist_ok=True)
                if others:
                    os.replace(others[0], target)
                    present.remove(others[0])
                else:
                    self._place(entry, target)
            present = [p for p in present if p != target]
        for stray in present:  # copies in the wrong folder, or of an image no longer labelled
            stray.unlink()
            self._drop_if_empty(stray.parent)

    def _place(self, entry: Entry, target: Path) -> None:
        src = Path(entry.src)
        if not src.is_file():
            self._warn(f"original image {src} not found; {target.relative_to(self.root)} could not be made")
            return
        fd, tmp = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=target.parent)
        os.close(fd)
        try:
            if self.settings.link:
                os.unlink(tmp)
                try:
                    os.link(src, tmp)
                except OSError:  # other file system: fall back to a copy
                    shutil.copy2(src, tmp)
            else:
                shutil.copy2(src, tmp)
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _drop_if_empty(self, folder: Path) -> None:
        try:
            folder.rmdir()  # only succeeds when empty: keeps the trainer from seeing empty classes
        except OSError:
            pass

    def _repair(self) -> None:
        """After a replay: remove stale temporary files, then make every folder match the state."""
        for d in self._class_dirs():
            if d.is_dir():
                for tmp in d.glob(f"{_TMP_PREFIX}*"):
                    tmp.unlink(missing_ok=True)
        for name in ("labels.csv", "manifest.csv", "render_config.json", "dataset.json"):
            for tmp in self.root.glob(f".{name}.*.tmp"):  # left by a crash during an atomic write
                tmp.unlink(missing_ok=True)
        known = {e.name for e in self._state.values()}
        for entry in self._state.values():
            self._ensure(entry)
        # Copies of images that were undone back to "never decided" carry names no entry holds.
        for undone_name in self._orphans(known):
            undone_name.unlink()
            self._drop_if_empty(undone_name.parent)

    def _orphans(self, known: set[str]) -> Iterator[Path]:
        names = {ch for ch in self._journal_names()} - known
        for d in self._class_dirs():
            for name in names:
                if (d / name).is_file():
                    yield d / name

    def _journal_names(self) -> set[str]:
        path = self.root / self.JOURNAL
        names: set[str] = set()
        if not path.is_file():
            return names
        with open(path, "rb") as fh:
            for raw in fh:
                try:
                    rec = json.loads(raw)
                except ValueError:
                    continue
                for ch in rec.get("changes", ()) if isinstance(rec, dict) else ():
                    names.add(ch.get("name", ""))
        names.discard("")
        return names

    # -- outputs ----------------------------------------------------------------------------

    def _write_outputs(self) -> None:
        """Rewrite labels.csv and manifest.csv atomically from the state (csv module: fast)."""
        with self._lock:
            labelled = sorted((e for e in self._state.values() if e.label), key=lambda e: e.path or "")
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(map(csv_cell, LABEL_COLUMNS))
        writer.writerows([csv_cell(v) for v in (e.path, e.window_id, e.object_id, e.label, e.source, e.time)] for e in labelled)
        atomic_write_text(self.root / "labels.csv", buf.getvalue())
        self._write_manifest(labelled)

    def _manifest_row(self, key: str) -> dict[str, str] | None:
        cache = self.__dict__.setdefault("_row_cache", {})
        if key not in cache:
            row: dict[str, Any] | None = None
            if self.images is not None and self.images.has_manifest and key in self.images._by_key():
                row = {k: v for k, v in self.images.row(key).items() if k not in ("key", "path", "name")}
            elif key in self._manifest_rows:
                row = {k: v for k, v in self._manifest_rows[key].items() if k != "render_image"}
            cache[key] = None if row is None else {k: _cell(v) for k, v in row.items()}
        return cache[key]

    def _write_manifest(self, labelled: Sequence[Entry]) -> None:
        rows = []
        columns: dict[str, None] = {"image": None, "render_image": None}
        for e in labelled:
            row = self._manifest_row(e.image)
            if row is not None:
                columns.update(dict.fromkeys(row))
                rows.append({**row, "image": e.path or "", "render_image": e.image})
        target = self.root / "manifest.csv"
        if not rows and not target.is_file():
            return
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=list(columns), restval="", lineterminator="\n")
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)
        atomic_write_text(target, buf.getvalue())

    def _write_info(self) -> None:
        info = {
            "classes": list(self._classes),
            "images": str(self.images.root) if self.images else None,
            "link": self.settings.link,
            "format": "flightpaths-dataset/1",
        }
        atomic_write_text(self.root / "dataset.json", json.dumps(info, indent=2) + "\n")

    def _warn(self, message: str) -> None:
        self.warnings.append(message)
        log.warning("%s", message)

    # -- closing ----------------------------------------------------------------------------

    def close(self) -> None:
        """Close the journal and release the lock (idempotent)."""
        with self._lock:
            if self._journal is not None:
                self._journal.close()
                self._journal = None
            if self._lockfile is not None:
                os.close(self._lockfile)
                self._lockfile = None

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _cell(value: Any) -> str:
    """A manifest value as CSV text: missing values empty, floats in full precision."""
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and value != value):
        return ""
    return str(value)
