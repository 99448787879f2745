"""The tip sheet: one self-contained ``tipsheet.html`` a reporter can open offline.

One lead per aircraft, ranked by its best probability, with its moments (episodes) listed: who
(registration, type, operator when the episodes carry them, else the address and callsign),
where (place name or coordinates, nearest airport), when (local time and UTC), how long, how
sure, a thumbnail of each track over coastlines and borders, and a map (Leaflet, inlined; map
tiles from OpenStreetMap when online, shipped Natural Earth context offline). Links go to the
replay on ADS-B Exchange, adsb.lol and airplanes.live and, for US aircraft, the FAA registry.
Filters (class, probability down to 0, with a count of what they hide) and sorting run in an
inline script; a Content Security Policy allows exactly the inline scripts (by hash), and every
data field is escaped (:func:`html.escape` in the page, ``\\u003c`` in the inlined JSON), so a
hostile callsign shows as text.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import json
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, TypeGuard
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pandas as pd
from PIL import Image, ImageDraw

from ..fileio import atomic_write_text, check_output
from .behaviour_model import other_stretches
from .episodes import headline_probability
from .leadmap import (
    CONTEXT_MINUTES,
    EpisodeMap,
    PlacesNear,
    episode_maps,
    episode_tracks,
)
from .paths import PATH_MARGIN_S

__all__ = [
    "CAVEAT",
    "HELIPORT_SHOWN_KM",
    "ThumbContext",
    "adsbx_url",
    "episode_tracks",
    "faa_registry_url",
    "format_duration",
    "osm_url",
    "replay_urls",
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
_N_NUMBER = re.compile(r"^N[1-9][0-9A-Z]{0,4}$")
_M_PER_DEG = 111_195.0
_TILES = "https://tile.openstreetmap.org"
#: Track colours from start to end (dark blue, magenta, orange), used on the map and thumbnails.
_RAMP = ((13, 8, 135), (204, 71, 120), (240, 150, 20))

_CSS = """
*{box-sizing:border-box}
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0;padding:1em 1.5em;color:#222;background:#fafafa}
h1{font-size:1.45em;margin:0 0 .2em}
.caveat{background:#fff4d6;border-left:4px solid #e0a000;padding:.6em 1em;margin:.8em 0;max-width:62em}
.meta{color:#555;font-size:.85em;margin:0}
.controls{position:sticky;top:0;z-index:1000;background:#fafafa;border-bottom:1px solid #ddd;padding:.6em 0;
 display:flex;gap:.6em 1.4em;align-items:center;flex-wrap:wrap}
.controls label{white-space:nowrap}
#thr{vertical-align:middle;width:10em}
#status{color:#444}
#leads{max-width:76em}
.lead{background:#fff;border:1px solid #ddd;border-radius:6px;margin:1em 0;padding:.8em 1em}
.lead[hidden],.moment[hidden],#mapbox[hidden]{display:none}
.lead>header{display:flex;gap:1em;align-items:baseline;flex-wrap:wrap}
.lead h2{font-size:1.2em;margin:0}
.rank{color:#777;font-weight:normal}
.who{color:#333}
.badge{background:#8b0000;color:#fff;border-radius:3px;padding:0 .4em;font-size:.85em}
.prob{margin-left:auto;font-size:1.1em}
.prob b{font-size:1.25em}
.ids{color:#555;font-size:.9em;margin:.15em 0 .4em}
.moments{list-style:none;margin:0;padding:0}
.moment{display:flex;gap:1em;border-top:1px solid #eee;padding:.6em 0}
.behaviour{background:#eef;border-radius:.3em;padding:0 .3em}
.thumbwrap{flex:none}
img.thumb{width:120px;height:120px;display:block;border:1px solid #ccc;border-radius:3px;cursor:zoom-in;background:#f4f4f4}
img.thumb.big{width:300px;height:300px;cursor:zoom-out}
img.thumb:focus-visible,button:focus-visible{outline:3px solid #2c4a7a;outline-offset:2px}
.facts{flex:1;min-width:0;overflow-wrap:anywhere}
.ids,.meta{overflow-wrap:anywhere}
.facts p{margin:.1em 0}
.when{font-weight:600}
.small{font-size:.85em;color:#555}
.links a{margin-right:.8em;white-space:nowrap}
button{font:inherit;padding:.15em .7em;border:1px solid #888;border-radius:4px;background:#f0f0f0;cursor:pointer}
button[aria-pressed=true]{background:#2c4a7a;color:#fff;border-color:#2c4a7a}
#mapbox{margin:.4em 0 .8em;border:1px solid #bbb;border-radius:4px;background:#fff}
#map{height:420px;background:#cfe0ec}
.legend{font-size:.85em;color:#333;padding:.4em .6em;display:flex;flex-wrap:wrap;gap:.3em 1.2em;align-items:center}
.sw{display:inline-block;width:2.2em;height:.5em;vertical-align:middle;margin-right:.3em;border-radius:2px}
.sw.ramp{background:linear-gradient(90deg,#0d0887,#cc4778,#f09614)}
.sw.before{background:#8f8bd0;height:3px;margin-right:0}
.sw.after{background:#f5c27a;height:3px}
.fp-time{background:rgba(255,255,255,.9);border:1px solid #888;padding:0 .3em;font-size:11px;color:#222}
.sw.rad{border:1px dashed #333;border-radius:50%;width:.9em;height:.9em}
.sw.land{background:#efe9dc;border:1px solid #7a9bb5}
.sw.dot{width:.5em;height:.5em;border-radius:50%;background:#444}
.fp-place-label{background:rgba(255,255,255,.8);border:0;box-shadow:none;padding:0 .3em;font-size:11px;color:#333}
#mapbox.online path.fp-land{fill-opacity:0}
#mapbox.online path.fp-coast{stroke-opacity:.25}
code{font-size:.95em}
@media (max-width:640px){
 body{padding:.6em}
 .moment{flex-direction:column}
 img.thumb.big{width:100%;height:auto}
 #map{height:320px}
 .prob{margin-left:0}
 .controls{position:static}
}
"""

_JS = """
(function(){
  var data=JSON.parse(document.getElementById('lead-data').textContent);
  var cls=document.getElementById('cls'), thr=document.getElementById('thr'), out=document.getElementById('thrv'),
      count=document.getElementById('count'), hidden=document.getElementById('hidden'), list=document.getElementById('leads');
  var leads=Array.prototype.slice.call(list.querySelectorAll('article.lead'));
  function apply(){
    var c=cls.value, t=parseFloat(thr.value), shown=0, off=0;
    out.textContent=t.toFixed(2);
    leads.forEach(function(lead){
      var any=false;
      lead.querySelectorAll('li.moment').forEach(function(m){
        var ok=(c==='*'||m.getAttribute('data-class')===c)&&parseFloat(m.getAttribute('data-p'))>=t;
        m.hidden=!ok; if(ok){any=true;}
      });
      lead.hidden=!any; if(any){shown++;}else{off++;}
    });
    count.textContent=String(shown);
    hidden.textContent=off?(off+(off===1?' lead':' leads')+' hidden by the filter'+(t>0?' (move the slider to 0 to see all)':'')):'none hidden';
  }
  function sortBy(key){
    var sign=key==='t'?1:-1;
    leads.sort(function(a,b){
      var d=sign*(parseFloat(a.getAttribute('data-'+key))-parseFloat(b.getAttribute('data-'+key)));
      return d||(parseFloat(a.getAttribute('data-rank'))-parseFloat(b.getAttribute('data-rank')));
    });
    leads.forEach(function(l){list.appendChild(l);});
    document.querySelectorAll('button.sort').forEach(function(b){b.setAttribute('aria-pressed',String(b.getAttribute('data-key')===key));});
  }
  document.querySelectorAll('button.sort').forEach(function(b){b.addEventListener('click',function(){sortBy(b.getAttribute('data-key'));});});
  cls.addEventListener('change',apply); thr.addEventListener('input',apply);
  document.querySelectorAll('img.thumb').forEach(function(img){
    function toggle(){img.setAttribute('aria-pressed',String(img.classList.toggle('big')));}
    img.addEventListener('click',toggle);
    img.addEventListener('keydown',function(ev){if(ev.key==='Enter'||ev.key===' '){ev.preventDefault();toggle();}});
  });
  var box=document.getElementById('mapbox'), map=null, layer=null;
  function text(s){var e=document.createElement('span'); e.textContent=s; return e;}
  function ramp(f){
    var s=[[13,8,135],[204,71,120],[240,150,20]], i=f<0.5?0:1, g=f<0.5?f*2:(f-0.5)*2, c=[];
    for(var k=0;k<3;k++){c.push(Math.round(s[i][k]+(s[i+1][k]-s[i][k])*g));}
    return 'rgb('+c.join(',')+')';
  }
  function draw(d){
    if(layer){layer.remove();}
    layer=L.layerGroup().addTo(map);
    d.land.forEach(function(p){L.polygon(p,{stroke:false,fillColor:'#efe9dc',fillOpacity:1,className:'fp-land',interactive:false}).addTo(layer);});
    d.coast.forEach(function(l){L.polyline(l,{color:'#7a9bb5',weight:1.2,className:'fp-coast',interactive:false}).addTo(layer);});
    d.borders.forEach(function(l){L.polyline(l,{color:'#9a7fa8',weight:1.2,dashArray:'6 4',className:'fp-border',interactive:false}).addTo(layer);});
    d.places.forEach(function(p){
      L.circleMarker([p.lat,p.lon],{radius:3,color:'#444',weight:1,fillColor:'#444',fillOpacity:1,className:'fp-place'})
        .bindTooltip(text(p.name),{permanent:true,direction:'right',className:'fp-place-label',offset:[4,0]}).addTo(layer);
    });
    var dash=d.approx?'5 6':null, tm=d.times||{};
    function stamp(ll,s,dir){
      L.circleMarker(ll,{radius:2,color:'#555',weight:1,fill:false,className:'fp-stamp'})
        .bindTooltip(text(s),{permanent:true,direction:dir,className:'fp-time',offset:[dir==='left'?-4:4,0]}).addTo(layer);
    }
    if(d.before.length>1){L.polyline(d.before,{color:'#8f8bd0',weight:2.5,opacity:.8,dashArray:dash,className:'fp-before'}).addTo(layer);
      if(tm.before){stamp(d.before[0],tm.before,'left');}}
    if(d.after.length>1){L.polyline(d.after,{color:'#f5c27a',weight:2.5,opacity:.9,dashArray:dash,className:'fp-after'}).addTo(layer);
      if(tm.after){stamp(d.after[d.after.length-1],tm.after,'right');}}
    if(d.radius_m){L.circle(d.centre,{radius:d.radius_m,color:'#333',weight:1,dashArray:'2 5',
    fill:false,className:'fp-radius',interactive:false}).addTo(layer);}
    L.circleMarker(d.centre,{radius:3,color:'#333',weight:2,fill:false,className:'fp-centre'}).bindTooltip(text('centre: '+d.label)).addTo(layer);
    var n=d.track.length, chunks=Math.min(24,Math.max(1,n-1));
    for(var c=0;c<chunks;c++){
      var a=Math.floor(c*(n-1)/chunks), b=Math.floor((c+1)*(n-1)/chunks)+1;
      L.polyline(d.track.slice(a,b+0),{color:ramp(chunks>1?c/(chunks-1):0),weight:3.5,className:'fp-track'}).addTo(layer);
    }
    if(n){
      L.circleMarker(d.track[0],{radius:5,color:'#0d0887',weight:2,fillColor:'#fff',fillOpacity:1,className:'fp-start'})
        .bindTooltip(text('start'+(tm.start?' '+tm.start:'')),{permanent:true,direction:'top',className:'fp-time'}).addTo(layer);
      L.circleMarker(d.track[n-1],{radius:5,color:'#222',weight:1,fillColor:'#f09614',fillOpacity:1,className:'fp-end'})
        .bindTooltip(text('end'+(tm.end?' '+tm.end:'')),{permanent:true,direction:'bottom',className:'fp-time'}).addTo(layer);
    }
    var pts=d.track.concat([d.centre]);
    if(d.places.length){pts.push([d.places[0].lat,d.places[0].lon]);}  // the nearest named place, for "where"
    map.fitBounds(L.latLngBounds(pts),{padding:[30,30],maxZoom:15});
  }
  function show(eid,slot,btn){
    var d=data[eid]; if(!d){return;}
    slot.appendChild(box); box.hidden=false;
    document.getElementById('maptitle').textContent=btn?btn.getAttribute('data-title'):'';
    if(!map){
      map=L.map('map',{scrollWheelZoom:false});
      var tiles=L.tileLayer('""" + _TILES + """/{z}/{x}/{y}.png',{maxZoom:19,
        attribution:'&copy; <a href="https://www.openstreetmap.org/copyright">OpenStreetMap</a> contributors'});
      tiles.on('tileload',function(){box.classList.add('online');});
      tiles.addTo(map);
      map.attributionControl.addAttribution('offline context: Natural Earth');
      L.control.scale({imperial:false}).addTo(map);
    }
    map.invalidateSize();
    draw(d);
    document.querySelectorAll('button.showmap').forEach(function(b){b.setAttribute('aria-pressed',String(b===btn));});
  }
  document.querySelectorAll('button.showmap').forEach(function(b){
    b.addEventListener('click',function(){
      var lead=b.closest('article.lead'); show(b.getAttribute('data-ep'),lead.querySelector('.mapslot'),b);
    });
  });
  apply();
  var first=leads.filter(function(l){return !l.hidden;})[0], fb=null, fp=-1;
  if(first){first.querySelectorAll('li.moment:not([hidden])').forEach(function(m){
    var b=m.querySelector('button.showmap'), p=parseFloat(m.getAttribute('data-p')); if(b&&p>fp){fb=b;fp=p;}
  });}
  if(fb&&typeof L!=='undefined'){fb.click();}
})();
"""


@lru_cache(maxsize=1)
def _leaflet() -> tuple[str, str]:
    """The vendored Leaflet script and stylesheet (``score/web/``)."""
    web = resources.files("flightpaths.score").joinpath("web")
    return web.joinpath("leaflet.js").read_text(encoding="utf-8"), web.joinpath("leaflet.css").read_text(encoding="utf-8")


def _e(value: object) -> str:
    """HTML-escape any value (missing -> empty)."""
    if _missing(value):
        return ""
    return html.escape(str(value), quote=True)


def _missing(value: object) -> bool:
    if value is None or value is pd.NA or value is pd.NaT:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    return isinstance(value, str) and not value.strip()


def _finite(value: object) -> TypeGuard[float]:
    """A real, finite number (numpy scalars included)."""
    return isinstance(value, (int, float, np.floating, np.integer)) and math.isfinite(float(value))  # type: ignore[arg-type]


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


def _utc(ts: object) -> pd.Timestamp | None:
    if _missing(ts) or pd.isna(ts):  # type: ignore[arg-type]
        return None
    t = pd.Timestamp(ts)  # type: ignore[arg-type]
    return t.tz_localize("UTC") if t.tzinfo is None else t.tz_convert("UTC")


def adsbx_url(object_id: str, day: pd.Timestamp, end: pd.Timestamp | None = None) -> str | None:
    """ADS-B Exchange replay of one aircraft on one UTC day (from *day* to *end*, in UTC, when
    *end* is given); ``None`` unless a 24-bit ICAO hex.

    >>> adsbx_url("A1B2C3", pd.Timestamp("2024-05-01 23:10", tz="UTC"))
    'https://globe.adsbexchange.com/?icao=a1b2c3&showTrace=2024-05-01'
    >>> adsbx_url("session_7", pd.Timestamp("2024-05-01", tz="UTC")) is None
    True
    """
    return replay_urls(object_id, day, end).get("ADS-B Exchange")


def replay_urls(object_id: str, start: object, end: object = None) -> dict[str, str]:
    """Replay links (ADS-B Exchange, adsb.lol, airplanes.live) of one aircraft at that time.

    All three run tar1090: ``showTrace`` is the UTC day, ``startTime``/``endTime`` the span
    (UTC, a few minutes either side). Empty unless *object_id* is a 24-bit ICAO hex.

    >>> replay_urls("a1b2c3", pd.Timestamp("2024-05-01 12:02", tz="UTC"), pd.Timestamp("2024-05-01 12:31", tz="UTC"))["adsb.lol"]
    'https://adsb.lol/?icao=a1b2c3&showTrace=2024-05-01&startTime=11:57&endTime=12:36'
    >>> replay_urls("~1234ab", pd.Timestamp("2024-05-01", tz="UTC"))
    {}
    """
    hexid = str(object_id).strip().lower()
    t0, t1 = _utc(start), _utc(end)
    if not _HEX.match(hexid) or t0 is None:
        return {}
    query = f"?icao={hexid}&showTrace={t0:%Y-%m-%d}"
    if t1 is not None and t1.date() == t0.date():
        a, b = t0 - pd.Timedelta(minutes=5), t1 + pd.Timedelta(minutes=5)
        a, b = max(a, t0.normalize()), min(b, t0.normalize() + pd.Timedelta(minutes=1439))
        query += f"&startTime={a:%H:%M}&endTime={b:%H:%M}"
    return {
        "ADS-B Exchange": f"https://globe.adsbexchange.com/{query}",
        "adsb.lol": f"https://adsb.lol/{query}",
        "airplanes.live": f"https://globe.airplanes.live/{query}",
    }


def faa_registry_url(registration: object, country: object = None) -> str | None:
    """The FAA registry page of a US registration (an N-number), else ``None``.

    >>> faa_registry_url("N752AM")
    'https://registry.faa.gov/AircraftInquiry/Search/NNumberResult?nNumberTxt=752AM'
    >>> faa_registry_url("G-ABCD") is None, faa_registry_url("N752AM", "Canada") is None
    (True, True)
    """
    reg = "" if _missing(registration) else str(registration).strip().upper().replace("-", "")
    if not _N_NUMBER.match(reg):
        return None
    if not _missing(country) and str(country).strip().lower() not in ("united states", "us", "usa"):
        return None
    return f"https://registry.faa.gov/AircraftInquiry/Search/NNumberResult?nNumberTxt={reg[1:]}"


@dataclass(frozen=True)
class ThumbContext:
    """Geographic context under a thumbnail, in the track's own local metres (x east, y north):
    *land* rings, *lines* (coastlines), *borders*, and *places* as ``(x, y, name)``."""

    land: list[np.ndarray] = field(default_factory=list)
    lines: list[np.ndarray] = field(default_factory=list)
    borders: list[np.ndarray] = field(default_factory=list)
    places: list[tuple[float, float, str]] = field(default_factory=list)


def _ramp(f: float) -> tuple[int, int, int]:
    """Track colour at fraction *f* of the way from start to end.

    >>> _ramp(0.0), _ramp(1.0)
    ((13, 8, 135), (240, 150, 20))
    """
    i, g = (0, f * 2) if f < 0.5 else (1, (f - 0.5) * 2)
    a, b = _RAMP[i], _RAMP[i + 1]
    return tuple(round(a[k] + (b[k] - a[k]) * g) for k in range(3))  # type: ignore[return-value]


def thumbnail_png(
    x: np.ndarray, y: np.ndarray, *, size: int = 200, y_down: bool = False, context: ThumbContext | None = None
) -> bytes:
    """A small PNG of one track on a light background: fitted to the box, coloured from dark
    blue (start) through magenta to orange (end), a white start and an orange end dot, a
    scale figure in the corner and, with *context*, land, coastlines, borders and place dots
    under it (water light blue, land cream).

    >>> thumbnail_png(np.array([0.0, 100, 100, 0]), np.array([0.0, 0, 100, 100]))[:4]
    b'\\x89PNG'
    """
    has_coast = context is not None and bool(context.lines)
    img = Image.new("RGB", (size, size), (207, 224, 236) if has_coast else (246, 244, 238))
    draw = ImageDraw.Draw(img)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = np.asarray(x, float)[ok], np.asarray(y, float)[ok]
    if len(x):
        span = max(float(np.ptp(x)), float(np.ptp(y)), 1e-9)
        pad = size * 0.08
        scale = (size - 2 * pad) / span
        cx, cy = (x.max() + x.min()) / 2, (y.max() + y.min()) / 2

        def px(ax: np.ndarray, ay: np.ndarray) -> list[tuple[float, float]]:
            sx = size / 2 + (np.asarray(ax) - cx) * scale
            sy = size / 2 + ((np.asarray(ay) - cy) if y_down else (cy - np.asarray(ay))) * scale
            return list(zip(sx.tolist(), sy.tolist()))

        if context is not None:
            for ring in context.land:
                if len(ring) >= 3:
                    draw.polygon(px(ring[:, 0], ring[:, 1]), fill=(239, 233, 220))
            for line in context.lines:
                if len(line) >= 2:
                    draw.line(px(line[:, 0], line[:, 1]), fill=(122, 155, 181), width=1)
            for line in context.borders:
                if len(line) >= 2:
                    draw.line(px(line[:, 0], line[:, 1]), fill=(154, 127, 168), width=1)
            for qx, qy, _name in context.places[:6]:
                (sx, sy), = px(np.array([qx]), np.array([qy]))
                if 0 <= sx < size and 0 <= sy < size:
                    draw.ellipse([sx - 2.5, sy - 2.5, sx + 2.5, sy + 2.5], fill=(68, 68, 68))
        pts = px(x, y)
        n = len(pts)
        width = max(2, size // 70)
        for i in range(n - 1):
            draw.line([pts[i], pts[i + 1]], fill=_ramp(i / max(n - 2, 1)), width=width)
        r = max(3, size // 40)
        (x0, y0), (x1, y1) = pts[0], pts[-1]
        draw.ellipse([x0 - r, y0 - r, x0 + r, y0 + r], fill=(255, 255, 255), outline=_RAMP[0], width=2)
        draw.ellipse([x1 - r, y1 - r, x1 + r, y1 + r], fill=_RAMP[2], outline=(34, 34, 34))
        label = f"{span / 1000:.1f} km" if not y_down and span >= 1000 else (f"{span:.0f} px" if y_down else f"{span:.0f} m")
        draw.rectangle([2, size - 14, 8 + 6 * len(label), size - 2], fill=(255, 255, 255))
        draw.text((4, size - 13), label, fill=(40, 40, 40))
    buf = io.BytesIO()
    img.quantize(colors=64, method=Image.Quantize.MEDIANCUT).save(buf, format="PNG", compress_level=9)  # small, exact enough
    return buf.getvalue()


def _zone(name: object, default: ZoneInfo) -> ZoneInfo:
    if _missing(name):
        return default
    try:
        return ZoneInfo(str(name))
    except (ZoneInfoNotFoundError, ValueError):
        return default


def _span_text(start: object, end: object, tz: ZoneInfo) -> tuple[str, str]:
    """('Sat 1 Jun 2024, 05:31–05:59 EDT', '09:31–09:59 UTC') for a span; empty when unknown."""
    t0, t1 = _utc(start), _utc(end)
    if t0 is None:
        return "", ""
    a = t0.tz_convert(tz)
    local = f"{a:%a} {a.day} {a:%b %Y}, {a:%H:%M}"
    utc = f"{t0:%H:%M}"
    if t1 is not None:
        b = t1.tz_convert(tz)
        local += f"–{b:%H:%M}" if b.date() == a.date() else f" – {b:%a} {b.day} {b:%b}, {b:%H:%M}"
        utc += f"–{t1:%H:%M}" if t1.date() == t0.date() else f" – {t1:%d %b %H:%M}"
    return f"{local} {a:%Z}", f"{t0:%Y-%m-%d} {utc} UTC"


def _where(ep: Mapping[str, Any]) -> str:
    lat, lon = ep.get("lat"), ep.get("lon")
    coords = f"{float(lat):.4f}, {float(lon):.4f}" if _finite(lat) and _finite(lon) else "(screen track)"
    return f"{ep['place']} ({coords})" if not _missing(ep.get("place")) else coords


def _airport(ep: Mapping[str, Any]) -> str:
    code, name, km = ep.get("airport_code"), ep.get("airport_name"), ep.get("airport_km")
    if _missing(code) and _missing(name):
        return ""
    label = " ".join(str(v) for v in (code, name) if not _missing(v))
    dist = f", {float(km):.1f} km away" if _finite(km) else ""
    flag = ep.get("near_airport")
    near = " (near an airport: arrivals and departures circle too)" if isinstance(flag, (bool, np.bool_)) and flag else ""
    return f"nearest airport {label}{dist}{near}"


#: the nearest heliport is named in a moment when it is at most this far (km) from the centre
HELIPORT_SHOWN_KM = 5.0


def _heliport(ep: Mapping[str, Any]) -> str:
    code, name, km = ep.get("heliport_code"), ep.get("heliport_name"), ep.get("heliport_km")
    if (_missing(code) and _missing(name)) or not _finite(km) or km > HELIPORT_SHOWN_KM:
        return ""
    label = " ".join(str(v) for v in (code, name) if not _missing(v))
    return f"nearest heliport {label}, {float(km):.1f} km away"


def _link(url: str, text: str) -> str:
    return f'<a href="{_e(url)}" rel="noopener noreferrer" target="_blank">{_e(text)}</a>'


def _moment_html(ep: Mapping[str, Any], thumb: bytes | None, tz: ZoneInfo, has_map: bool) -> str:
    shown, is_segment = headline_probability(ep)
    shown = shown if math.isfinite(shown) else 0.0
    local, utc = _span_text(ep.get("start"), ep.get("end"), _zone(ep.get("tz"), tz))
    duration = format_duration(float(ep.get("duration_s", 0.0) or 0.0))
    where = _where(ep)
    radius = ep.get("radius_m")
    radius_txt = f" · fitted radius ≈ {float(radius):,.0f} m" if _finite(radius) else ""
    links = [_link(u, t) for t, u in replay_urls(str(ep.get("object_id")), ep.get("start"), ep.get("end")).items()]
    if _finite(ep.get("lat")) and _finite(ep.get("lon")):
        links.append(_link(osm_url(float(ep["lat"]), float(ep["lon"])), "OpenStreetMap"))
    detail = (
        f"flight-segment probability; peak window {float(ep.get('peak_p', 0.0)):.2f}, mean {float(ep.get('mean_p', 0.0)):.2f}"
        if is_segment
        else f"peak window probability; mean {float(ep.get('mean_p', 0.0)):.2f}"
    )
    lines = f", lines {_e(ep.get('line_first'))}–{_e(ep.get('line_last'))}" if not _missing(ep.get("line_first")) else ""
    alt = f"track of {ep.get('callsign') or ep.get('object_id')}, {local}, {duration}; colour runs from start to end"
    img = (
        f'<img class="thumb" alt="{_e(alt)}" title="click to enlarge" tabindex="0" role="button" aria-pressed="false" '
        f'src="data:image/png;base64,{base64.b64encode(thumb).decode("ascii")}">'
        if thumb
        else '<span class="small">no thumbnail</span>'
    )
    title = f"{ep.get('callsign') or ep.get('object_id')}: {local}"
    button = (
        f'<button class="showmap" type="button" data-ep="{_e(ep["episode_id"])}" data-title="{_e(title)}" '
        f'aria-pressed="false">Map</button> '
        if has_map
        else ""
    )
    airport = " · ".join(x for x in (_airport(ep), _heliport(ep)) if x)
    return (
        f'<li class="moment" data-class="{_e(ep.get("class"))}" data-p="{shown:.6f}" data-ep="{_e(ep["episode_id"])}">'
        f'<div class="thumbwrap">{img}</div><div class="facts">'
        f'<p>{button}<span class="when">{_e(local)}</span> · {_e(duration)} · '
        f'possible {_e(ep.get("class"))}, <b>p {shown:.2f}</b>{_behaviour_badge(ep)}</p>'
        f'<p class="small">{_e(utc)} · {_e(detail)}</p>'
        f"<p>{_e(where)}<span class=\"small\">{_e(radius_txt)}</span></p>"
        + (f'<p class="small">{_e(airport)}</p>' if airport else "")
        + f'<p class="links">{"".join(links)}</p>'
        f'<p class="small">source: {_e(ep.get("source_file"))}{lines}; callsign {_e(ep.get("callsign"))}; '
        f'peak window <code>{_e(ep.get("peak_window_id"))}</code></p>'
        "</div></li>"
    )


def _behaviour_badge(ep: Mapping[str, Any]) -> str:
    """' · <span class="behaviour">possible orbit (0.93), with hover 9 min</span>' when the episode
    has a behaviour (and holds a stretch of another lead behaviour, ``behaviours``)."""
    name = ep.get("behaviour")
    if _missing(name):
        return ""
    p = ep.get("p_behaviour")
    share = f" ({float(p):.2f})" if _finite(p) else ""
    also = other_stretches(name, ep.get("behaviours"))
    held = f", with {_e(also)}" if also else ""
    return f' · <span class="behaviour" title="what the aircraft was doing, by the behaviour classifier">possible {_e(name)}{share}{held}</span>'


def _first(group: pd.DataFrame, name: str) -> object:
    if name not in group:
        return None
    values = [v for v in group[name].tolist() if not _missing(v)]
    return values[0] if values else None


def _year(value: object) -> str:
    """'2004' for 2004, 2004.0 or '2004'."""
    return str(int(value)) if _finite(value) and float(value).is_integer() else str(value)


def _who(group: pd.DataFrame) -> str:
    """'Eurocopter AS350 (AS50) · City Police · United States · built 2004', from what is known."""
    kind = " ".join(str(x) for x in (_first(group, "type_desc"), _first(group, "type_code")) if x)
    if _first(group, "type_desc") and _first(group, "type_code"):
        kind = f"{_first(group, 'type_desc')} ({_first(group, 'type_code')})"
    year = _first(group, "year")
    parts = (kind, _first(group, "operator"), _first(group, "country"), f"built {_year(year)}" if year else None)
    return " · ".join(str(p) for p in parts if p)


def _lead_html(rank: int, group: pd.DataFrame, thumbs: Mapping[str, bytes], maps: Mapping[str, object], tz: ZoneInfo) -> str:
    records = group.to_dict(orient="records")
    probs = [headline_probability(r)[0] for r in records]
    best = max((p for p in probs if math.isfinite(p)), default=0.0)
    oid = str(records[0].get("object_id"))
    reg, callsigns = _first(group, "registration"), sorted({str(c) for c in group.get("callsign", []) if not _missing(c)})
    name = str(reg or (callsigns[0] if callsigns else oid))
    who = _who(group)
    ids = [f"address {oid}"] + ([f"callsign {', '.join(callsigns)}"] if callsigns else [])
    source = _first(group, "identity_source")
    if source:
        ids.append(f"identity from {source}")
    links = []
    faa = faa_registry_url(reg, _first(group, "country"))
    if faa:
        links.append(_link(faa, "FAA registry"))
    watch = ""
    if any(v is True or str(v).lower() == "true" for v in group.get("watchlist", [])):
        note = _first(group, "watchlist_note")
        watch = f' <span class="badge">watchlist{": " + _e(note) if note else ""}</span>'
    best_row = max(records, key=lambda r: headline_probability(r)[0] if math.isfinite(headline_probability(r)[0]) else -1.0)
    if not _missing(best_row.get("place")):
        ids.append(f"best moment: {best_row['place']}")
    starts = [t.timestamp() for t in (_utc(r.get("start")) for r in records) if t is not None]
    total = sum(float(r.get("duration_s", 0.0) or 0.0) for r in records)
    n = len(records)
    moments = "".join(
        _moment_html(r, thumbs.get(str(r["episode_id"])), tz, str(r["episode_id"]) in maps) for r in records
    )
    return (
        f'<article class="lead" data-rank="{rank}" data-p="{best:.6f}" data-t="{min(starts) if starts else 0:.0f}" '
        f'data-d="{total:.0f}" data-object="{_e(oid)}">'
        f'<header><h2><span class="rank">#{rank}</span> {_e(name)}</h2>'
        f'<span class="who">{_e(who)}</span>{watch}'
        f'<span class="prob">best <b>{best:.2f}</b></span></header>'
        f'<p class="ids">{_e(" · ".join(ids))} · {n} moment{"s" if n != 1 else ""}, {_e(format_duration(total))} in all'
        f'{" · " + " ".join(links) if links else ""}</p>'
        f'<div class="mapslot"></div><ol class="moments">{moments}</ol></article>'
    )


def _leads(episodes: pd.DataFrame) -> list[pd.DataFrame]:
    """Episodes grouped by aircraft; leads by their best probability, moments by time."""
    if episodes.empty:
        return []
    eps = episodes.copy()
    eps["_p"] = [headline_probability(r)[0] for r in eps.to_dict(orient="records")]
    eps["_p"] = eps["_p"].fillna(-1.0)
    groups = [g.sort_values("start", kind="stable") for _, g in eps.groupby("object_id", sort=False)]
    groups.sort(key=lambda g: (-float(g["_p"].max()), str(g["object_id"].iloc[0])))
    return [g.drop(columns="_p") for g in groups]


def _json_for_script(value: object) -> str:
    """JSON that is safe inside a ``<script type="application/json">`` element."""
    text = json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


def tip_sheet_html(
    episodes: pd.DataFrame,
    *,
    thumbnails: Mapping[str, bytes] | None = None,
    maps: Mapping[str, EpisodeMap] | None = None,
    classes: Sequence[str] = (),
    threshold: float = 0.5,
    local_tz: str = "UTC",
    title: str = "flightpaths tip sheet",
    meta: Mapping[str, object] | None = None,
    margin_s: float = PATH_MARGIN_S,
) -> str:
    """The tip sheet as one HTML string: everything inlined, nothing fetched except map tiles
    (which simply fail offline; the shipped map context is drawn under the track either way)."""
    tz = ZoneInfo(local_tz)
    thumbnails, maps = thumbnails or {}, maps or {}
    leads = _leads(episodes)
    body = "\n".join(_lead_html(i, g, thumbnails, maps, tz) for i, g in enumerate(leads, start=1))
    shown = sorted(set(classes) | {str(c) for c in episodes.get("class", pd.Series(dtype=str)) if not _missing(c)})
    options = "".join(f'<option value="{_e(c)}">{_e(c)}</option>' for c in shown)
    meta_html = " · ".join(f"{_e(k)}: {_e(v)}" for k, v in (meta or {}).items())
    leaflet_js, leaflet_css = _leaflet()
    data = _json_for_script({eid: m.to_json() for eid, m in maps.items()})
    csp = (
        f"default-src 'none'; img-src data: {_TILES}; style-src 'unsafe-inline'; "
        f"script-src {_sha(leaflet_js)} {_sha(_JS)}"
    )
    if not leads:
        body = '<p class="lead">No episodes above the threshold.</p>'
    legend = (
        '<div class="legend"><span><span class="sw ramp"></span>the moment, start → end (times at the markers)</span>'
        f'<span><span class="sw before"></span><span class="sw after"></span>the aircraft {margin_s / 60:.0f} min before and after '
        f'(dashed where approximate: window centres, {CONTEXT_MINUTES:.0f} min)</span>'
        '<span><span class="sw rad"></span> fitted radius around the centre</span>'
        '<span><span class="sw dot"></span>places (when known)</span>'
        '<span><span class="sw land"></span>land and coast (Natural Earth 1:50,000,000; map tiles © OpenStreetMap when online)</span></div>'
    )
    n = len(leads)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_e(title)}</title><style>{leaflet_css}</style><style>{_CSS}</style></head>
<body>
<h1>{_e(title)}</h1>
<p class="meta">{meta_html}</p>
<div class="caveat"><strong>Read this first.</strong> {_e(CAVEAT)}</div>
<div class="controls">
<label>Class <select id="cls"><option value="*">all classes</option>{options}</select></label>
<label>Minimum probability <input id="thr" type="range" min="0" max="1" step="0.01" value="{threshold:.2f}">
<output id="thrv">{threshold:.2f}</output></label>
<span>Sort by <button class="sort" type="button" data-key="p" aria-pressed="true">probability</button>
<button class="sort" type="button" data-key="t" aria-pressed="false">time</button>
<button class="sort" type="button" data-key="d" aria-pressed="false">duration</button></span>
<span id="status"><span id="count">{n}</span> of {n} aircraft shown; <span id="hidden">none hidden</span></span>
</div>
<main id="leads">
{body}
</main>
<section id="mapbox" hidden aria-label="map of the selected moment"><div class="small" id="maptitle"></div>
<div id="map" role="img" aria-label="map: the track coloured by time over map context"></div>{legend}</section>
<script type="application/json" id="lead-data">{data}</script>
<script>{leaflet_js}</script>
<script>{_JS}</script>
</body></html>
"""


def _thumb_context(m: EpisodeMap) -> ThumbContext:
    """The map context of *m* in local metres around its centre (as the track's x/y)."""
    lat0, lon0 = m.centre
    kx = _M_PER_DEG * math.cos(math.radians(lat0))

    def local(points: Sequence[tuple[float, float]]) -> np.ndarray:
        a = np.asarray(points, float).reshape(-1, 2)
        return np.column_stack([((a[:, 0] - lon0 + 540.0) % 360.0 - 180.0) * kx, (a[:, 1] - lat0) * _M_PER_DEG])

    ctx = m.context
    places = [((lon - lon0) * kx, (lat - lat0) * _M_PER_DEG, name) for name, lat, lon in m.places]
    return ThumbContext(
        land=[local(ring) for poly in ctx.land for ring in poly[:1]],
        lines=[local(line) for line in ctx.coast],
        borders=[local(line) for line in ctx.borders],
        places=places,
    )


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
    places_near: PlacesNear | None = None,
    paths: pd.DataFrame | None = None,
    margin_s: float = PATH_MARGIN_S,
) -> Path:
    """Write ``tipsheet.html``: thumbnails and maps drawn from *windows*' point arrays when given
    (for the *max_thumbnails* best episodes, so that a huge run still gives a file a browser
    opens); *places_near* (``flightpaths.context.places.places_near`` or a test double) adds
    place labels to the maps; *paths* (the aircraft's kept points, see
    :mod:`flightpaths.score.paths`) draw each map's track and the path *margin_s* before and after."""
    target = check_output(path, overwrite=overwrite)
    thumbs: dict[str, bytes] = {}
    maps: dict[str, EpisodeMap] = {}
    if windows is not None and len(episodes):
        best = episodes.assign(_p=[headline_probability(r)[0] for r in episodes.to_dict(orient="records")])
        best = best.sort_values("_p", ascending=False, kind="stable").head(max_thumbnails).drop(columns="_p")
        tracks = episode_tracks(best, windows, with_time=True)
        maps = episode_maps(best, windows, tracks, places_near=places_near, paths=paths, margin_s=margin_s,
                            local_tz=local_tz)
        for e in best.itertuples():
            eid = str(e.episode_id)
            if eid not in tracks:
                continue
            screen = not _finite(e.lat)
            ctx = _thumb_context(maps[eid]) if eid in maps else None
            thumbs[eid] = thumbnail_png(tracks[eid][0], tracks[eid][1], y_down=screen, context=ctx)
    text = tip_sheet_html(
        episodes, thumbnails=thumbs, maps=maps, classes=classes, threshold=threshold, local_tz=local_tz, meta=meta,
        margin_s=margin_s,
    )
    return atomic_write_text(target, text)
