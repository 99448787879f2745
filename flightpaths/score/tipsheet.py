"""The tip sheet: one self-contained ``report.html`` a reporter can open offline.

Episodes are ranked by probability, each with a thumbnail of the track (a PNG inlined as a
``data:`` URI), the aircraft, callsign, time span in UTC and a local zone, duration, place
(with links to OpenStreetMap and the ADS-B Exchange replay for that aircraft and day) and the
probability. Filters by class and threshold run in a small inline script; a Content Security
Policy allows that one script (by its hash) and nothing else, and every data field is escaped
with :func:`html.escape`, so a hostile callsign shows as text.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from ..fileio import atomic_write_text, check_output
from .episodes import headline_probability

__all__ = [
    "CAVEAT",
    "adsbx_url",
    "episode_tracks",
    "format_duration",
    "osm_url",
    "thumbnail_png",
    "tip_sheet_html",
    "write_tip_sheet",
]

CAVEAT = (
    "These are leads, not findings. A model saw a pattern in the track (for example an aircraft "
    "flying in circles); a pattern is not a mission. Aircraft circle to train, to wait for a "
    "landing slot, to film, to survey, or because the data is noisy. Verify every lead with the "
    "raw data, the ADS-B Exchange replay, the registration and, above all, people, before "
    "reporting anything."
)
_HEX = re.compile(r"^[0-9a-f]{6}$")
_M_PER_DEG = 111_195.0

_CSS = """
body{font:14px/1.4 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:1.5em;color:#222}
h1{font-size:1.4em;margin:0 0 .3em}
.caveat{background:#fff4d6;border-left:4px solid #e0a000;padding:.6em 1em;margin:1em 0;max-width:60em}
.meta{color:#555;font-size:.9em}
.controls{margin:1em 0;display:flex;gap:1.5em;align-items:center;flex-wrap:wrap}
table{border-collapse:collapse;width:100%}
th,td{border-bottom:1px solid #ddd;padding:.35em .5em;text-align:left;vertical-align:top}
th{background:#f4f4f4;position:sticky;top:0}
td.num{text-align:right;font-variant-numeric:tabular-nums}
img.thumb{width:120px;height:120px;background:#111;display:block}
.p{font-weight:bold}
.small{font-size:.85em;color:#555}
tr.hidden{display:none}
"""

_JS = """
(function(){
  var cls=document.getElementById('cls'), thr=document.getElementById('thr'),
      out=document.getElementById('thrv'), count=document.getElementById('count');
  function apply(){
    var c=cls.value, t=parseFloat(thr.value), n=0;
    out.textContent=t.toFixed(2);
    var rows=document.querySelectorAll('tbody tr');
    for(var i=0;i<rows.length;i++){
      var r=rows[i], ok=(c==='*'||r.getAttribute('data-class')===c)&&parseFloat(r.getAttribute('data-p'))>=t;
      r.className=ok?'':'hidden'; if(ok){n++;}
    }
    count.textContent=String(n);
  }
  cls.addEventListener('change',apply); thr.addEventListener('input',apply); apply();
})();
"""


def _e(value: object) -> str:
    """HTML-escape any value (missing -> empty)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return ""
    return html.escape(str(value), quote=True)


def format_duration(seconds: float) -> str:
    """A short human duration.

    >>> format_duration(45), format_duration(1740), format_duration(3900)
    ('45 s', '29 min', '1 h 05 min')
    """
    seconds = float(seconds)
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = int(round(seconds / 60))
    return f"{minutes} min" if minutes < 60 else f"{minutes // 60} h {minutes % 60:02d} min"


def osm_url(lat: float, lon: float, zoom: int = 12) -> str:
    """OpenStreetMap link with a marker.

    >>> osm_url(40.7, -74.0)
    'https://www.openstreetmap.org/?mlat=40.70000&mlon=-74.00000#map=12/40.70000/-74.00000'
    """
    return f"https://www.openstreetmap.org/?mlat={lat:.5f}&mlon={lon:.5f}#map={zoom}/{lat:.5f}/{lon:.5f}"


def adsbx_url(object_id: str, day: pd.Timestamp) -> str | None:
    """ADS-B Exchange replay of one aircraft on one UTC day; ``None`` unless a 24-bit ICAO hex.

    >>> adsbx_url("A1B2C3", pd.Timestamp("2024-05-01 23:10", tz="UTC"))
    'https://globe.adsbexchange.com/?icao=a1b2c3&showTrace=2024-05-01'
    >>> adsbx_url("session_7", pd.Timestamp("2024-05-01", tz="UTC")) is None
    True
    """
    hexid = str(object_id).strip().lower()
    if not _HEX.match(hexid) or pd.isna(day):
        return None
    ts = pd.Timestamp(day)
    ts = ts.tz_localize("UTC") if ts.tzinfo is None else ts.tz_convert("UTC")
    return f"https://globe.adsbexchange.com/?icao={hexid}&showTrace={ts:%Y-%m-%d}"


def thumbnail_png(x: np.ndarray, y: np.ndarray, *, size: int = 120, y_down: bool = False) -> bytes:
    """A small PNG of one track: fitted to the box, colour running from blue (start) to yellow
    (end), with a green start and red end dot and a scale figure in the corner.

    >>> thumbnail_png(np.array([0.0, 100, 100, 0]), np.array([0.0, 0, 100, 100]))[:4]
    b'\\x89PNG'
    """
    img = Image.new("RGB", (size, size), (17, 17, 17))
    draw = ImageDraw.Draw(img)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = np.asarray(x, float)[ok], np.asarray(y, float)[ok]
    if len(x):
        span = max(float(np.ptp(x)), float(np.ptp(y)), 1e-9)
        pad = 8
        scale = (size - 2 * pad) / span
        cx, cy = (x.max() + x.min()) / 2, (y.max() + y.min()) / 2
        sx = size / 2 + (x - cx) * scale
        sy = size / 2 + ((y - cy) if y_down else (cy - y)) * scale
        n = len(sx)
        for i in range(n - 1):
            f = i / max(n - 2, 1)
            colour = (int(60 + 195 * f), int(120 + 100 * f), int(255 - 215 * f))
            draw.line([(sx[i], sy[i]), (sx[i + 1], sy[i + 1])], fill=colour, width=2)
        draw.ellipse([sx[0] - 3, sy[0] - 3, sx[0] + 3, sy[0] + 3], fill=(40, 200, 80))
        draw.ellipse([sx[-1] - 3, sy[-1] - 3, sx[-1] + 3, sy[-1] + 3], fill=(230, 50, 50))
        label = f"{span / 1000:.1f} km" if not y_down and span >= 1000 else (f"{span:.0f} px" if y_down else f"{span:.0f} m")
        draw.text((3, size - 12), label, fill=(200, 200, 200))
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def _window_xyt(row: Mapping[str, object]) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """x, y and absolute time (s since the epoch; NaN when unknown) of one window's points."""
    for xs, ys, ts in (("thumb_x", "thumb_y", "thumb_t"), ("px", "py", "pt")):
        x, y, t = row.get(xs), row.get(ys), row.get(ts)
        if isinstance(x, (np.ndarray, list, tuple)) and isinstance(y, (np.ndarray, list, tuple)) and len(x):
            x, y = np.asarray(x, float), np.asarray(y, float)
            start = row.get("start")
            if isinstance(t, (np.ndarray, list, tuple)) and len(t) == len(x) and isinstance(start, pd.Timestamp):
                t = np.asarray(t, float) + start.timestamp()
            else:
                t = np.full(len(x), np.nan)
            return x, y, t
    return None


def episode_tracks(episodes: pd.DataFrame, windows: pd.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The track of every episode, stitched from its windows' point arrays.

    Windows carry points in local metres around their own centroid (``px``/``py``/``pt``, or
    the decimated ``thumb_x``/``thumb_y``/``thumb_t`` that scoring keeps); each is shifted by
    its centroid's offset from the episode centre, and points that overlapping windows share
    are drawn once, in time order. Screen windows (pixels, no lat/lon) are used as they are.
    Episodes whose windows carry no points are left out.
    """
    if windows.empty or not ({"px", "thumb_x"} & set(windows.columns)):
        return {}
    by_id = windows.drop_duplicates("window_id").set_index("window_id", drop=False)
    out: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for ep in episodes.itertuples(index=False):
        ids = [w for w in str(ep.window_ids).split(";") if w in by_id.index]
        xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        ts: list[np.ndarray] = []
        for wid in sorted(ids, key=lambda w: by_id.at[w, "start"]):
            row = by_id.loc[wid].to_dict()
            xyt = _window_xyt(row)
            if xyt is None:
                continue
            dx = dy = 0.0
            lat, lon = row.get("lat"), row.get("lon")
            if lat is not None and np.isfinite(lat) and np.isfinite(ep.lat):
                dy = (float(lat) - ep.lat) * _M_PER_DEG
                dlon = (float(lon) - ep.lon + 540.0) % 360.0 - 180.0
                dx = dlon * _M_PER_DEG * math.cos(math.radians(ep.lat))
            xs.append(xyt[0] + dx)
            ys.append(xyt[1] + dy)
            ts.append(xyt[2])
        if xs:
            x, y, t = np.concatenate(xs), np.concatenate(ys), np.concatenate(ts)
            if np.isfinite(t).all():  # overlapping windows: each point once, in time order
                t, first = np.unique(np.round(t, 3), return_index=True)
                x, y = x[first], y[first]
            out[str(ep.episode_id)] = (x, y)
    return out


def _when(ts: object, tz: ZoneInfo) -> tuple[str, str]:
    if ts is None or pd.isna(ts):
        return "", ""
    t = pd.Timestamp(ts)
    t = t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")
    return t.strftime("%Y-%m-%d %H:%M:%S UTC"), t.tz_convert(tz).strftime("%Y-%m-%d %H:%M:%S %Z")


def _row_html(ep: Mapping[str, object], thumb: bytes | None, tz: ZoneInfo) -> str:
    start_utc, start_local = _when(ep.get("start"), tz)
    end_utc, end_local = _when(ep.get("end"), tz)
    lat, lon = ep.get("lat"), ep.get("lon")
    has_pos = isinstance(lat, float) and isinstance(lon, float) and np.isfinite(lat) and np.isfinite(lon)
    links = []
    if has_pos:
        links.append(f'<a href="{_e(osm_url(lat, lon))}" rel="noopener noreferrer" target="_blank">OpenStreetMap</a>')
    replay = adsbx_url(str(ep.get("object_id")), ep.get("start"))  # type: ignore[arg-type]
    if replay and has_pos:
        links.append(f'<a href="{_e(replay)}" rel="noopener noreferrer" target="_blank">ADS-B Exchange replay</a>')
    place = f"{lat:.4f}, {lon:.4f}" if has_pos else "(screen track)"
    radius = ep.get("radius_m")
    radius_txt = f"radius ≈ {float(radius):,.0f} m" if isinstance(radius, float) and np.isfinite(radius) else ""
    img = (
        f'<img class="thumb" alt="track of episode {_e(ep.get("rank"))}" '
        f'src="data:image/png;base64,{base64.b64encode(thumb).decode("ascii")}">'
        if thumb
        else '<span class="small">no thumbnail</span>'
    )
    source = _e(ep.get("source_file"))
    lines = f", lines {_e(ep.get('line_first'))}–{_e(ep.get('line_last'))}" if _e(ep.get("line_first")) else ""
    peak = float(ep.get("peak_p", 0.0))  # type: ignore[arg-type]
    mean = float(ep.get("mean_p", 0.0))  # type: ignore[arg-type]
    shown, is_segment = headline_probability(ep)  # the learned flight-segment probability leads
    detail = f"flight segment<br>peak window {peak:.2f} · mean {mean:.2f}" if is_segment else f"peak window<br>mean {mean:.2f}"
    return (
        f'<tr data-class="{_e(ep.get("class"))}" data-p="{shown:.6f}">'
        f'<td class="num">{_e(ep.get("rank"))}</td><td>{img}</td>'
        f'<td><span class="p">{shown:.2f}</span><br><span class="small">{detail}'
        f'<br>{_e(ep.get("class"))}</span></td>'
        f'<td><code>{_e(ep.get("object_id"))}</code><br>{_e(ep.get("callsign"))}</td>'
        f"<td>{_e(start_utc)}<br>{_e(end_utc)}<br><span class=\"small\">{_e(start_local)} – {_e(end_local)}</span></td>"
        f'<td class="num">{_e(format_duration(float(ep.get("duration_s", 0.0))))}<br>'  # type: ignore[arg-type]
        f'<span class="small">{_e(ep.get("n_windows"))} windows</span></td>'
        f'<td>{_e(place)}<br><span class="small">{_e(radius_txt)}</span><br>{" · ".join(links)}</td>'
        f'<td class="small">{source}{lines}<br>peak window <code>{_e(ep.get("peak_window_id"))}</code></td></tr>'
    )


def _ranked(episodes: pd.DataFrame) -> pd.DataFrame:
    """Episodes in their rank order (``rank``; else by peak and mean window probability)."""
    if not len(episodes):
        return episodes
    if "rank" in episodes.columns and episodes["rank"].notna().all():
        return episodes.sort_values("rank", kind="stable")
    return episodes.sort_values(["peak_p", "mean_p"], ascending=False, kind="stable")


def tip_sheet_html(
    episodes: pd.DataFrame,
    *,
    thumbnails: Mapping[str, bytes] | None = None,
    classes: Sequence[str] = (),
    threshold: float = 0.5,
    local_tz: str = "UTC",
    title: str = "flightpaths tip sheet",
    meta: Mapping[str, object] | None = None,
) -> str:
    """The tip sheet as one HTML string (no external resources at all)."""
    tz = ZoneInfo(local_tz)
    thumbnails = thumbnails or {}
    episodes = _ranked(episodes)
    rows = [_row_html(ep, thumbnails.get(str(ep["episode_id"])), tz) for ep in episodes.to_dict(orient="records")]
    shown = sorted(set(classes) | {str(c) for c in episodes.get("class", pd.Series(dtype=str))})
    options = "".join(f'<option value="{_e(c)}">{_e(c)}</option>' for c in shown)
    meta_html = " · ".join(f"{_e(k)}: {_e(v)}" for k, v in (meta or {}).items())
    script_hash = base64.b64encode(hashlib.sha256(_JS.encode("utf-8")).digest()).decode("ascii")
    csp = f"default-src 'none'; img-src data:; style-src 'unsafe-inline'; script-src 'sha256-{script_hash}'"
    body = "\n".join(rows) if rows else '<tr><td colspan="8">No episodes above the threshold.</td></tr>'
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{_e(title)}</h1>
<p class="meta">{meta_html}</p>
<div class="caveat"><strong>Read this first.</strong> {_e(CAVEAT)}</div>
<div class="controls">
<label>Class <select id="cls"><option value="*">all classes</option>{options}</select></label>
<label>Minimum probability <input id="thr" type="range" min="{threshold:.2f}" max="1" step="0.01" value="{threshold:.2f}">
<output id="thrv">{threshold:.2f}</output></label>
<span><span id="count">{len(rows)}</span> of {len(rows)} episodes shown</span>
</div>
<table><thead><tr><th>#</th><th>Track</th><th>Probability</th><th>Aircraft / callsign</th>
<th>Time (UTC; {_e(local_tz)})</th><th>Duration</th><th>Place</th><th>Source</th></tr></thead>
<tbody>
{body}
</tbody></table>
<script>{_JS}</script>
</body></html>
"""


def write_tip_sheet(
    episodes: pd.DataFrame,
    path: str | Path,
    *,
    windows: pd.DataFrame | None = None,
    classes: Sequence[str] = (),
    threshold: float = 0.5,
    local_tz: str = "UTC",
    meta: Mapping[str, object] | None = None,
    overwrite: bool = False,
    max_thumbnails: int = 1000,
) -> Path:
    """Write ``report.html``: thumbnails drawn from *windows*' point arrays when given (for the
    *max_thumbnails* best episodes, so that a huge run still gives a file a browser opens)."""
    target = check_output(path, overwrite=overwrite)
    thumbs: dict[str, bytes] = {}
    if windows is not None and len(episodes):
        best = _ranked(episodes).head(max_thumbnails)
        screen = {str(e.episode_id): not (isinstance(e.lat, float) and np.isfinite(e.lat)) for e in best.itertuples()}
        for eid, (x, y) in episode_tracks(best, windows).items():
            thumbs[eid] = thumbnail_png(x, y, y_down=screen.get(eid, False))
    text = tip_sheet_html(episodes, thumbnails=thumbs, classes=classes, threshold=threshold, local_tz=local_tz, meta=meta)
    return atomic_write_text(target, text)
