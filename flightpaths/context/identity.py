"""Who an aircraft is: identity fields from the log itself, a local registry, and the address.

:func:`identity_by_object` takes the identity columns a points table carries (registration,
type, operator, year, from the log's own fields) down to one row per object;
:class:`IdentityCollector` does the same over a stream of point chunks; :func:`resolve_identity`
fills each field from the log first, then the registry, then what the address says by itself
(the US N-number, the country of registration), and says where each row came from.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Final

import numpy as np
import pandas as pd

from .icao import countries, id_kinds, n_number

__all__ = [
    "IDENTITY_COLUMNS",
    "POINT_IDENTITY",
    "IdentityCollector",
    "identity_by_object",
    "join_identity",
    "resolve_identity",
]

#: The per-aircraft identity columns that windows and episodes carry.
IDENTITY_COLUMNS: Final = ("registration", "type_code", "type_desc", "operator", "year")
#: points-table column -> identity column (plus ``address_type``, used for ``id_kind``).
POINT_IDENTITY: Final = {
    "registration": "registration",
    "aircraft_type": "type_code",
    "type_desc": "type_desc",
    "operator": "operator",
    "year": "year",
    "address_type": "address_type",
}


def _empty() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype="string") for c in ("object_id", *POINT_IDENTITY.values())})


def identity_by_object(points: pd.DataFrame) -> pd.DataFrame:
    """One row per object with the identity fields its points (or windows) carry, the first
    value seen of each.

    >>> p = pd.DataFrame({"object_id": ["a", "a", "b"], "registration": [None, "N1", None],
    ...                   "aircraft_type": ["AS50", "AS50", None]})
    >>> identity_by_object(p)[["object_id", "registration", "type_code"]].to_dict("records")
    [{'object_id': 'a', 'registration': 'N1', 'type_code': 'AS50'}]
    """
    names = {**{v: v for v in POINT_IDENTITY.values()}, **POINT_IDENTITY}  # points' or windows' names
    have = [c for c in names if c in points.columns]
    if not have or points.empty or "object_id" not in points.columns:
        return _empty()
    frame = points[["object_id", *have]].rename(columns=names)
    frame = frame.loc[:, ~frame.columns.duplicated()]
    cols = [c for c in frame.columns if c != "object_id"]
    frame = _blanks_missing(frame, cols).dropna(subset=cols, how="all")
    if frame.empty:
        return _empty()
    return _first_values(frame, cols)


def _blanks_missing(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """*frame* with its *cols* as stripped text, empty ones missing."""
    for c in cols:
        text = frame[c].astype("string").str.strip()
        frame[c] = text.mask(text == "", pd.NA)
    return frame


def _first_values(frame: pd.DataFrame, cols: list[str]) -> pd.DataFrame:
    """The first value of each of *cols* per object, as the identity table's text columns."""
    out = frame.groupby("object_id", sort=True)[cols].first().reset_index()
    for c in POINT_IDENTITY.values():
        if c not in out.columns:
            out[c] = pd.NA
    return out[["object_id", *POINT_IDENTITY.values()]].astype("string")


class IdentityCollector:
    """Collects :func:`identity_by_object` over a stream of point chunks."""

    def __init__(self) -> None:
        self._parts: list[pd.DataFrame] = []

    def watch(self, chunks: Iterable[pd.DataFrame]) -> Iterator[pd.DataFrame]:
        """Yield *chunks* unchanged, noting each one's identity table (folded into one row per
        object as the notes grow, so memory follows the objects, not the chunks)."""
        folded = 0
        for chunk in chunks:
            part = identity_by_object(chunk)
            if len(part):
                self._parts.append(part)
                if len(self._parts) > 1 and sum(len(p) for p in self._parts) > 2 * folded + 1000:
                    self._parts = [self.table()]
                    folded = len(self._parts[0])
            yield chunk

    def table(self) -> pd.DataFrame:
        """One row per object seen with identity fields."""
        if not self._parts:
            return _empty()
        both = pd.concat(self._parts, ignore_index=True)
        cols = list(POINT_IDENTITY.values())
        return both.groupby("object_id", sort=True)[cols].first().reset_index().astype("string")


def join_identity(frame: pd.DataFrame, identity: pd.DataFrame) -> pd.DataFrame:
    """*frame* (windows) with the identity columns of its objects added (those it lacks)."""
    if identity.empty or frame.empty or "object_id" not in frame.columns:
        return frame
    add = [c for c in identity.columns if c != "object_id" and c not in frame.columns]
    if not add:
        return frame
    keys = frame["object_id"].astype("string")
    table = identity.drop_duplicates("object_id").set_index("object_id")
    out = frame.copy()
    for c in add:
        out[c] = keys.map(table[c]).astype("string").to_numpy()
    return out


def resolve_identity(object_ids: Sequence[str], log: pd.DataFrame, registry: pd.DataFrame | None = None) -> pd.DataFrame:
    """Identity of each object: the log's fields, then the registry's, then the address's.

    Returns one row per id in *object_ids* (same order) with ``registration``, ``type_code``,
    ``type_desc``, ``operator``, ``year``, ``country``, ``id_kind`` and ``identity_source``
    (``log``, ``registry:faa``, ``address``, joined by ``+`` when several gave fields).

    >>> resolve_identity(["aa2183"], pd.DataFrame({"object_id": ["aa2183"], "type_code": ["AS50"]}))[
    ...     ["registration", "type_code", "country", "identity_source"]].to_dict("records")
    [{'registration': 'N752AM', 'type_code': 'AS50', 'country': 'United States', 'identity_source': 'log+address'}]
    """
    ids = pd.Series([str(i) for i in object_ids], dtype="string")
    out = pd.DataFrame({"object_id": ids})
    sources: list[list[str]] = [[] for _ in range(len(ids))]
    for c in IDENTITY_COLUMNS:
        out[c] = pd.Series(pd.NA, index=out.index, dtype="string")
    _fill_identity(out, ids, sources, log, "log")
    if registry is not None and len(registry):
        reg = registry.drop_duplicates("object_id")
        _fill_identity(out, ids, sources, reg, reg.set_index("object_id")["source"] if "source" in reg.columns else "registry")
    _fill_from_address(out, ids, sources)
    types = log.drop_duplicates("object_id").set_index("object_id")["address_type"] if "address_type" in log.columns and len(log) else None
    out["id_kind"] = id_kinds(list(ids), list(ids.map(types)) if types is not None else None)
    out["identity_source"] = ["+".join(s) for s in sources]
    return out


def _fill_identity(out: pd.DataFrame, ids: pd.Series, sources: list[list[str]], table: pd.DataFrame | None,
                   label: str | pd.Series) -> None:
    """Fill the identity fields of *out* still missing from *table*, adding *label* (one for all,
    or per object) to the *sources* of each row it gave a field."""
    if table is None or table.empty:
        return
    t = table.drop_duplicates("object_id").set_index("object_id")
    for c in IDENTITY_COLUMNS:
        if c not in t.columns:
            continue
        new = ids.map(t[c]).astype("string")
        take = out[c].isna().to_numpy() & new.notna().to_numpy() if c in out else new.notna().to_numpy()
        out[c] = new if c not in out else out[c].where(~take, new)
        labels = ids.map(label).astype("string") if isinstance(label, pd.Series) else None
        for i in np.flatnonzero(take):
            name = str(labels.iloc[i]) if labels is not None else label
            if name not in sources[i]:
                sources[i].append(name)


def _fill_from_address(out: pd.DataFrame, ids: pd.Series, sources: list[list[str]]) -> None:
    """The registration a US address encodes (where still missing) and the address's country."""
    lower = ids.str.lower()
    from_address = pd.Series([n_number(i) for i in lower], dtype="string")
    take = out["registration"].isna() & from_address.notna()
    out["registration"] = out["registration"].where(~take, from_address)
    country = pd.Series(countries(list(lower)), dtype="string")
    for i in np.flatnonzero(take.to_numpy() | (country.to_numpy() != "")):
        sources[i].append("address")
    out["country"] = country
