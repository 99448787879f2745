"""Small registry files in the real formats (FAA MASTER.txt / ACFTREF.txt, OpenSky CSV,
tar1090 aircraft.csv), shared by the tests/test_context_*.py files."""

from __future__ import annotations

import gzip
import zipfile
from pathlib import Path

MASTER_HEADER = (
    "N-NUMBER,SERIAL NUMBER,MFR MDL CODE,ENG MFR MDL,YEAR MFR,TYPE REGISTRANT,NAME,STREET,STREET2,CITY,STATE,"
    "ZIP CODE,REGION,COUNTY,COUNTRY,LAST ACTION DATE,CERT ISSUE DATE,CERTIFICATION,TYPE AIRCRAFT,TYPE ENGINE,"
    "STATUS CODE,MODE S CODE,FRACT OWNER,AIR WORTH DATE,OTHER NAMES(1),OTHER NAMES(2),OTHER NAMES(3),"
    "OTHER NAMES(4),OTHER NAMES(5),EXPIRATION DATE,UNIQUE ID,KIT MFR, KIT MODEL,MODE S CODE HEX,"
)


def master_row(n: str, mdl: str, year: str, name: str, hexid: str) -> str:
    """One MASTER.txt row, space-padded like the FAA's."""
    fields = [n.ljust(5), "3046".ljust(30), mdl, "41514", year.ljust(4), "5", name.ljust(50), "PO BOX 1".ljust(33),
              "".ljust(33), "WASHINGTON".ljust(18), "DC", "20528".ljust(10), "E", "001", "US", "20190101", "20080101",
              "1N".ljust(10), "6", "3", "V ", "52420603", " ", "20080101", "".ljust(50), "".ljust(50), "".ljust(50),
              "".ljust(50), "".ljust(50), "20260131", "00123456", "".ljust(30), "".ljust(20), hexid.upper().ljust(10), ""]
    return ",".join(fields)


ACFTREF = (
    "CODE,MFR,MODEL,TYPE-ACFT,TYPE-ENG,AC-CAT,BUILD-CERT-IND,NO-ENG,NO-SEATS,AC-WEIGHT,SPEED,TC-DATA-SHEET,TC-DATA-HOLDER,\r\n"
    "0550510,AIRBUS HELICOPTERS INC        ,AS350B3            ,6,3,1,0,01,006,CLASS 1,0000,H9EU,AIRBUS HELICOPTERS,\r\n"
    "2072738,CESSNA                        ,182T               ,4,1,1,0,01,004,CLASS 1,0140,3A13,TEXTRON AVIATION,\r\n"
)


def write_faa(folder: Path, *, as_zip: bool = True) -> Path:
    """ReleasableAircraft.zip (or MASTER.txt + ACFTREF.txt) with three aircraft and one bad hex."""
    master = "\ufeff" + "\r\n".join([
        MASTER_HEADER,
        master_row("752AM", "0550510", "2008", "US DEPARTMENT OF HOMELAND SECURITY", "AA2183"),
        master_row("123AB", "2072738", "2004", "SMITH JOHN", "A06D34"),
        master_row("999ZZ", "2072738", "    ", "NOBODY", "XYZ"),
    ]) + "\r\n"
    folder.mkdir(parents=True, exist_ok=True)
    if not as_zip:
        (folder / "MASTER.txt").write_text(master, encoding="utf-8")
        (folder / "ACFTREF.txt").write_text(ACFTREF, encoding="utf-8")
        return folder / "MASTER.txt"
    path = folder / "ReleasableAircraft.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("MASTER.txt", master.encode("utf-8"))
        zf.writestr("ACFTREF.txt", ACFTREF.encode("utf-8"))
        zf.writestr("ardata.pdf", b"%PDF-1.4")
    return path


OPENSKY_HEADER = ("icao24,registration,manufacturericao,manufacturername,model,typecode,serialnumber,linenumber,"
                  "icaoaircrafttype,operator,operatorcallsign,operatoricao,operatoriata,owner,testreg,registered,"
                  "reguntil,status,built,firstflightdate,seatconfiguration,engines,modes,adsb,acars,notes,categoryDescription")


def write_opensky(path: Path, *, single_quotes: bool = False) -> Path:
    """An OpenSky aircraft database CSV: a German police helicopter, and the DHS AS350."""
    rows = [
        ["3ddc63", "D-HBPA", "EUROCOPTER", "Eurocopter", "EC135 P2+", "EC35", "0812", "", "H2T", "Bundespolizei",
         "", "", "", "Bundespolizei", "false", "", "", "", "2009-01-01", "", "", "", "false", "false", "false", "", ""],
        ["aa2183", "N752AM", "AIRBUS HELI", "Airbus Helicopters", "AS350 B3", "AS50", "3046", "", "H1T", "",
         "", "", "", "US Dept of Homeland Security", "false", "", "", "", "2008-05-01", "", "", "", "false", "false",
         "false", "", ""],
    ]
    q = "'" if single_quotes else '"'
    header = ",".join(f"{q}{h}{q}" for h in OPENSKY_HEADER.split(","))
    lines = [header] + [",".join(f"{q}{v}{q}" for v in r) for r in rows]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def write_tar1090(path: Path) -> Path:
    """A tar1090/readsb aircraft.csv.gz (icao;reg;type;flags;desc;year;ownop)."""
    text = ("3ddc63;D-HBPA;EC35;10;EUROCOPTER EC-135;2009;Bundespolizei;\n"
            "c0ffee;C-GABC;B06;00;BELL 206;1990;;\n")
    path.write_bytes(gzip.compress(text.encode("utf-8")))
    return path
