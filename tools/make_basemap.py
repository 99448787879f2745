"""Build ``flightpaths/score/data/basemap.npz`` (the tip sheet's offline map context) from
world-atlas's ``countries-50m.json`` (TopoJSON of Natural Earth 1:50m, public domain; the
world-atlas package is ISC-licensed).

Usage (once, or when world-atlas changes; needs npm for the download only):

    cd "$(mktemp -d)" && npm pack world-atlas@2.0.2 && tar xzf world-atlas-2.0.2.tgz
    python tools/make_basemap.py package/countries-50m.json flightpaths/score/data/basemap.npz

Writes land polygons (their outlines are the coastlines) and land borders (arcs shared by two
countries), as quantized integer coordinates (delta-encoded over the whole array: a cumulative
sum restores them) plus the TopoJSON transform, compressed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np


def _decode_arcs(topo: dict) -> list[np.ndarray]:
    """Each arc as an (n, 2) int array of absolute quantized coordinates."""
    return [np.cumsum(np.asarray(arc, dtype=np.int64), axis=0) for arc in topo["arcs"]]


def _ring(arcs: list[np.ndarray], indices: list[int]) -> np.ndarray:
    parts = []
    for k, i in enumerate(indices):
        a = arcs[i] if i >= 0 else arcs[~i][::-1]
        parts.append(a if k == 0 else a[1:])
    return np.concatenate(parts)


def _polygons(geometry: dict) -> list[list[list[int]]]:
    if geometry["type"] == "Polygon":
        return [geometry["arcs"]]
    if geometry["type"] == "MultiPolygon":
        return list(geometry["arcs"])
    return []


def build(topo: dict) -> dict[str, np.ndarray]:
    arcs = _decode_arcs(topo)
    rings: list[np.ndarray] = []
    polygon_of_ring: list[int] = []
    n_poly = 0
    for geom in topo["objects"]["land"]["geometries"]:
        for poly in _polygons(geom):
            for ring in poly:
                rings.append(_ring(arcs, ring))
                polygon_of_ring.append(n_poly)
            n_poly += 1
    users: dict[int, set[int]] = {}
    for g, geom in enumerate(topo["objects"]["countries"]["geometries"]):
        for poly in _polygons(geom):
            for ring in poly:
                for i in ring:
                    users.setdefault(i if i >= 0 else ~i, set()).add(g)
    borders = [arcs[i] for i, who in sorted(users.items()) if len(who) >= 2]

    def pack(lines: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        offsets = np.cumsum([0] + [len(x) for x in lines]).astype(np.int64)
        xy = np.concatenate(lines)
        return np.diff(xy, axis=0, prepend=np.zeros((1, 2), np.int64)).astype(np.int32), offsets  # deltas pack smaller

    land_xy, land_off = pack(rings)
    border_xy, border_off = pack(borders)
    t = topo["transform"]
    return {
        "land_xy": land_xy,
        "land_offsets": land_off,
        "land_polygon": np.asarray(polygon_of_ring, dtype=np.int32),
        "border_xy": border_xy,
        "border_offsets": border_off,
        "scale": np.asarray(t["scale"], dtype=np.float64),
        "translate": np.asarray(t["translate"], dtype=np.float64),
    }


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print(__doc__, file=sys.stderr)
        return 2
    arrays = build(json.loads(Path(argv[0]).read_text(encoding="utf-8")))
    Path(argv[1]).parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(argv[1], **arrays)
    print(f"{argv[1]}: {Path(argv[1]).stat().st_size:,} bytes; {len(arrays['land_offsets']) - 1} land rings, "
          f"{len(arrays['border_offsets']) - 1} border lines")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
