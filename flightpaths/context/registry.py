"""A local aircraft registry: who owns or operates an address, and what type it is.

``import_files`` reads the FAA releasable aircraft database (``ReleasableAircraft.zip``, or
its ``MASTER.txt`` with ``ACFTREF.txt`` beside it), the OpenSky Network aircraft database CSV
and the tar1090/readsb aircraft database (``aircraft.csv.gz``: ``icao;reg;type;flags;desc;
year;ownop``) into one parquet file in a store folder (:func:`default_store`: ``$FLIGHTPATHS_DATA``,
else ``$XDG_DATA_HOME/flightpaths``, else ``~/.local/share/flightpaths``). Rows whose address
is not 6 hex digits are skipped and named (file, line, field). ``fetch`` downloads a source
when online. ``lookup`` returns one row per address, each field from the first source that
has it (FAA, then OpenSky, then tar1090).
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import os
import re
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pandas as pd

from ..errors import FlightpathsError, InputError
from ..fileio import atomic_write_bytes, atomic_write_text

__all__ = [
    "FIELDS",
    "SOURCES",
    "ImportReport",
    "default_store",
    "fetch",
    "import_files",
    "lookup",
    "read_registry_file",
    "registry_path",
    "store_info",
]

#: Columns of the registry table (besides ``object_id`` and ``source``).
FIELDS: Final = ("registration", "type_code", "type_desc", "operator", "year")
#: Sources in order of trust: a field comes from the first that has it.
SOURCES: Final = ("faa", "opensky", "tar1090")
URLS: Final = {
    "faa": "https://registry.faa.gov/database/ReleasableAircraft.zip",
    "opensky": "https://opensky-network.org/datasets/metadata/aircraftDatabase.csv",
    "tar1090": "https://github.com/wiedehopf/tar1090-db/raw/csv/aircraft.csv.gz",
}
STORE_ENV: Final = "FLIGHTPATHS_DATA"
_FILE = "registry.parquet"
_INFO = "registry.json"
_HEX = re.compile(r"^[0-9a-f]{6}$")
_MAX_EXAMPLES = 5


def default_store() -> Path:
    """The registry folder: ``$FLIGHTPATHS_DATA``, ``$XDG_DATA_HOME/flightpaths`` or ``~/.local/share/flightpaths``."""
    if os.environ.get(STORE_ENV):
        return Path(os.environ[STORE_ENV]).expanduser()
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base).expanduser() / "flightpaths"


def registry_path(store: str | Path | None = None) -> Path:
    """The registry table in *store* (default: :func:`default_store`); it may not exist yet."""
    store = Path(store) if store is not None else default_store()
    return store if store.suffix == ".parquet" else store / _FILE


@dataclass
class ImportReport:
    """What :func:`import_files` read: rows per source and the rows it skipped, with examples."""

    store: Path
    rows: dict[str, int] = field(default_factory=dict)
    skipped: int = 0
    examples: list[str] = field(default_factory=list)

    def skip(self, message: str) -> None:
        """Count one skipped row; keep the first few messages."""
        self.skipped += 1
        if len(self.examples) < _MAX_EXAMPLES:
            self.examples.append(message)

    def summary(self) -> str:
        """A few lines for the terminal."""
        parts = ", ".join(f"{n:,} from {s}" for s, n in self.rows.items()) or "nothing"
        lines = [f"registry: {parts} -> {self.store}"]
        if self.skipped:
            lines.append(f"{self.skipped:,} row(s) skipped; first: " + "; ".join(self.examples))
        return "\n".join(lines)


# ------------------------------------------------------------------------------ readers


def _clean(series: pd.Series) -> pd.Series:
    text = series.astype("string").str.strip()
    return text.mask(text == "", pd.NA)


def _keep_valid(frame: pd.DataFrame, lines: pd.Series, name: str, column: str, report: ImportReport) -> pd.DataFrame:
    hexid = _clean(frame["object_id"]).str.lower()
    ok = hexid.str.match(_HEX.pattern).fillna(False).to_numpy(bool)
    for line, raw in zip(lines[~ok].head(_MAX_EXAMPLES), frame["object_id"][~ok].head(_MAX_EXAMPLES)):
        report.skip(str(InputError(f"{str(raw).strip()!r} is not a 6-hex-digit address", path=name, line=int(line), column=column)))
    report.skipped += max(0, int((~ok).sum()) - min(_MAX_EXAMPLES, int((~ok).sum())))
    out = frame.loc[ok].copy()
    out["object_id"] = hexid[ok]
    return out


def _year(series: pd.Series) -> pd.Series:
    text = _clean(series).str.extract(r"((?:19|20)\d\d)", expand=False)
    return text.astype("string")


def _read_faa(master: bytes, acftref: bytes | None, name: str, report: ImportReport) -> pd.DataFrame:
    frame = pd.read_csv(io.BytesIO(master), dtype=str, encoding="utf-8-sig", keep_default_na=False)
    frame.columns = [str(c).strip().upper() for c in frame.columns]
    need = ("N-NUMBER", "MODE S CODE HEX", "NAME", "MFR MDL CODE", "YEAR MFR")
    missing = [c for c in need if c not in frame.columns]
    if missing:
        raise InputError(f"not an FAA MASTER file: no column(s) {', '.join(missing)}", path=name, line=1)
    desc = pd.Series(pd.NA, index=frame.index, dtype="string")
    if acftref is not None:
        ref = pd.read_csv(io.BytesIO(acftref), dtype=str, encoding="utf-8-sig", keep_default_na=False)
        ref.columns = [str(c).strip().upper() for c in ref.columns]
        if {"CODE", "MFR", "MODEL"} <= set(ref.columns):
            names = (_clean(ref["MFR"]).fillna("") + " " + _clean(ref["MODEL"]).fillna("")).str.strip()
            lookup = dict(zip(_clean(ref["CODE"]), names))
            desc = _clean(frame["MFR MDL CODE"]).map(lookup).astype("string")
    out = pd.DataFrame({
        "object_id": frame["MODE S CODE HEX"],
        "registration": "N" + _clean(frame["N-NUMBER"]).fillna(""),
        "type_code": pd.Series(pd.NA, index=frame.index, dtype="string"),
        "type_desc": desc,
        "operator": _clean(frame["NAME"]),
        "year": _year(frame["YEAR MFR"]),
    })
    return _keep_valid(out, pd.Series(frame.index + 2), name, "MODE S CODE HEX", report)


def _read_csv_reporting(text: str, name: str, report: ImportReport) -> pd.DataFrame:
    """A CSV (quoted with ' or ") as text columns; each line pandas skips is reported, naming it."""
    quote = "'" if text.lstrip().startswith("'") else '"'
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        frame = pd.read_csv(io.StringIO(text), dtype=str, quotechar=quote, keep_default_na=False, on_bad_lines="warn")
    for warning in caught:  # "Skipping line 7: expected 27 fields, saw 28"
        for match in re.finditer(r"Skipping line (\d+): ([^\n]+)", str(warning.message)):
            report.skip(str(InputError(match.group(2).strip(), path=name, line=int(match.group(1)))))
    return frame


def _read_opensky(data: bytes, name: str, report: ImportReport) -> pd.DataFrame:
    frame = _read_csv_reporting(data.decode("utf-8-sig", errors="replace"), name, report)
    frame.columns = [str(c).strip().strip("'\"").lower() for c in frame.columns]
    if "icao24" not in frame.columns:
        raise InputError("not an OpenSky aircraft database: no 'icao24' column", path=name, line=1)

    def col(*names: str) -> pd.Series:
        for n in names:
            if n in frame.columns:
                return _clean(frame[n])
        return pd.Series(pd.NA, index=frame.index, dtype="string")

    desc = (col("manufacturername").fillna("") + " " + col("model").fillna("")).str.strip()
    operator = col("operator").fillna(col("owner"))
    out = pd.DataFrame({
        "object_id": frame["icao24"], "registration": col("registration"), "type_code": col("typecode"),
        "type_desc": desc.mask(desc == "", pd.NA), "operator": operator, "year": _year(col("built")),
    })
    return _keep_valid(out, pd.Series(frame.index + 2), name, "icao24", report)


def _read_tar1090(data: bytes, name: str, report: ImportReport) -> pd.DataFrame:
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace")), delimiter=";"))
    rows = [r + [""] * (7 - len(r)) for r in rows]
    frame = pd.DataFrame([r[:7] for r in rows], columns=["object_id", "registration", "type_code", "flags", "type_desc",
                                                        "year", "operator"])
    for c in ("registration", "type_code", "type_desc", "operator"):
        frame[c] = _clean(frame[c])
    frame["year"] = _year(frame["year"])
    return _keep_valid(frame.drop(columns=["flags"]), pd.Series(frame.index + 1), name, "icao", report)


def _kind_of(head: bytes) -> str | None:
    text = head.decode("utf-8-sig", errors="replace").lstrip()
    first = text.split("\n", 1)[0].upper()
    if first.startswith("N-NUMBER"):
        return "faa"
    if "ICAO24" in first:
        return "opensky"
    if re.match(r"^[0-9A-F]{6};", first):
        return "tar1090"
    return None


def _read_faa_zip(raw: bytes, path: Path, report: ImportReport) -> pd.DataFrame:
    """The FAA releasable aircraft database as its zip: MASTER.txt, with ACFTREF.txt where there."""
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        names = {Path(n).name.upper(): n for n in zf.namelist()}
        if "MASTER.TXT" not in names:
            raise InputError("a zip without MASTER.txt (the FAA releasable aircraft database has one)", path=path)
        ref = zf.read(names["ACFTREF.TXT"]) if "ACFTREF.TXT" in names else None
        return _read_faa(zf.read(names["MASTER.TXT"]), ref, f"{path}:MASTER.txt", report)


def read_registry_file(path: str | Path, report: ImportReport | None = None) -> tuple[str, pd.DataFrame]:
    """Read one registry file (kind detected from its content): ``(source, rows)``."""
    path = Path(path)
    report = report or ImportReport(Path("."))
    raw = path.read_bytes()
    if raw[:2] == b"PK":
        return "faa", _read_faa_zip(raw, path, report)
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise InputError(f"corrupt gzip file ({exc})", path=path) from exc
    kind = _kind_of(raw[:4096])
    if kind == "faa":
        ref_path = next((p for p in path.parent.iterdir() if p.name.upper() == "ACFTREF.TXT"), None)
        return kind, _read_faa(raw, ref_path.read_bytes() if ref_path else None, str(path), report)
    if kind == "opensky":
        return kind, _read_opensky(raw, str(path), report)
    if kind == "tar1090":
        return kind, _read_tar1090(raw, str(path), report)
    raise InputError("not a registry file flightpaths knows: expected the FAA MASTER.txt (or ReleasableAircraft.zip), "
                     "the OpenSky aircraft database CSV or the tar1090 aircraft.csv(.gz)", path=path, line=1)


# -------------------------------------------------------------------------------- store


def _write_store(table: pd.DataFrame, path: Path) -> None:
    buf = io.BytesIO()
    table.reset_index(drop=True).to_parquet(buf, index=False)
    atomic_write_bytes(path, buf.getvalue())


def _read_store(path: Path) -> pd.DataFrame:
    try:
        return pd.read_parquet(path)
    except (OSError, ValueError) as exc:
        raise FlightpathsError(f"{path}: cannot read the registry ({exc}); import it again") from exc


def import_files(paths: Sequence[str | Path], store: str | Path | None = None) -> ImportReport:
    """Read registry files into the store, replacing earlier rows of the same source(s)."""
    target = registry_path(store)
    report = ImportReport(target)
    parts: dict[str, list[pd.DataFrame]] = {}
    for p in paths:
        kind, rows = read_registry_file(p, report)
        parts.setdefault(kind, []).append(rows.assign(source=kind))
        report.rows[kind] = report.rows.get(kind, 0) + len(rows)
    if not parts:
        raise FlightpathsError("no registry files given")
    old = _read_store(target) if target.exists() else pd.DataFrame()
    if len(old):
        old = old[~old["source"].isin(list(parts))]
    frames = [f for f in [old, *(pd.concat(v, ignore_index=True) for v in parts.values())] if len(f)]
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=["object_id", *FIELDS, "source"])
    for c in ("object_id", *FIELDS, "source"):
        table[c] = table[c].astype("string")
    target.parent.mkdir(parents=True, exist_ok=True)
    _write_store(table.sort_values(["object_id", "source"], kind="stable"), target)
    info = {"sources": {k: int((table["source"] == k).sum()) for k in SOURCES if (table["source"] == k).any()},
            "files": [str(Path(p).resolve()) for p in paths]}
    atomic_write_text(target.with_name(_INFO), json.dumps(info, indent=1) + "\n")
    return report


def store_info(store: str | Path | None = None) -> dict[str, object]:
    """Where the registry is and how many rows of each source it holds (``exists`` False when none)."""
    path = registry_path(store)
    if not path.exists():
        return {"path": str(path), "exists": False, "sources": {}}
    table = pd.read_parquet(path, columns=["source"])
    return {"path": str(path), "exists": True, "sources": table["source"].value_counts().to_dict()}


def lookup(object_ids: Sequence[str], store: str | Path | None = None) -> pd.DataFrame:
    """One row per known address among *object_ids*: the registry fields, each from the first
    source that has it, and ``source`` (``registry:faa``, ``registry:faa+opensky``, ...)."""
    path = registry_path(store)
    ids = sorted({str(i).lower() for i in object_ids if _HEX.match(str(i).lower())})
    empty = pd.DataFrame({c: pd.Series(dtype="string") for c in ("object_id", *FIELDS, "source")})
    if not path.exists() or not ids:
        return empty
    try:
        rows = pd.read_parquet(path, filters=[("object_id", "in", ids)])
    except (OSError, ValueError) as exc:
        raise FlightpathsError(f"{path}: cannot read the registry ({exc}); import it again") from exc
    if rows.empty:
        return empty
    rank = {s: i for i, s in enumerate(SOURCES)}
    rows = rows.assign(_rank=rows["source"].map(rank).fillna(len(SOURCES))).sort_values(["object_id", "_rank"], kind="stable")
    best = rows.groupby("object_id", sort=True)[list(FIELDS)].first()
    used = rows.dropna(subset=list(FIELDS), how="all").groupby("object_id", sort=True)["source"].agg(
        lambda s: "registry:" + "+".join(dict.fromkeys(s)))
    best["source"] = used
    return best.reset_index().astype("string")


# ------------------------------------------------------------------------------- fetch


def _download(url: str, dest: Path, *, timeout: float) -> None:
    headers = {"User-Agent": "flightpaths (registry fetch)"}
    try:
        import httpx
    except ImportError:
        httpx = None  # type: ignore[assignment]
    tmp = dest.with_name(dest.name + ".part")
    try:
        if httpx is not None:
            with httpx.stream("GET", url, headers=headers, timeout=timeout, follow_redirects=True) as resp:
                resp.raise_for_status()
                with open(tmp, "wb") as fh:
                    for block in resp.iter_bytes():
                        fh.write(block)
        else:
            _download_urllib(url, headers, tmp, timeout=timeout)
    except Exception as exc:  # network errors of either client  # noqa: BLE001
        tmp.unlink(missing_ok=True)
        raise FlightpathsError(
            f"cannot download {url} ({type(exc).__name__}: {exc}); are you offline? Download the file on a "
            "machine that is online and run `flightpaths registry import FILE`") from exc
    tmp.replace(dest)


def _download_urllib(url: str, headers: dict[str, str], tmp: Path, *, timeout: float) -> None:
    """Download *url* to *tmp* with the standard library (where httpx is not installed)."""
    import urllib.request

    req = urllib.request.Request(url, headers=headers)
    with urllib.request.urlopen(req, timeout=timeout) as resp, open(tmp, "wb") as fh:  # noqa: S310 - fixed or user URL
        while block := resp.read(1 << 20):
            fh.write(block)


def fetch(kind: str, store: str | Path | None = None, *, url: str | None = None, timeout: float = 60.0,
          on_done: Callable[[Path], None] | None = None) -> ImportReport:
    """Download one source (``faa``, ``opensky`` or ``tar1090``) into the store's ``downloads/`` and import it."""
    if kind not in URLS:
        raise FlightpathsError(f"unknown registry source {kind!r}; choose from {', '.join(URLS)}")
    target = registry_path(store)
    folder = target.parent / "downloads"
    folder.mkdir(parents=True, exist_ok=True)
    source = url or URLS[kind]
    name = {"faa": "ReleasableAircraft.zip", "opensky": "aircraftDatabase.csv", "tar1090": "aircraft.csv.gz"}[kind]
    dest = folder / name
    _download(source, dest, timeout=timeout)
    if on_done is not None:
        on_done(dest)
    return import_files([dest], target)
