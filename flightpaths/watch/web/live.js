// The live page of `flightpaths watch`: every data field is set with textContent, never parsed as HTML.
(function () {
  "use strict";
  const token = new URLSearchParams(location.search).get("token") || "";

  function cell(tr, text) {
    const td = document.createElement("td");
    td.textContent = text == null ? "" : String(text);
    tr.appendChild(td);
  }

  function table(id, rows, keys) {
    const t = document.getElementById(id);
    t.replaceChildren();
    const h = document.createElement("tr");
    keys.forEach(k => { const th = document.createElement("th"); th.textContent = k; h.appendChild(th); });
    t.appendChild(h);
    rows.forEach(r => { const tr = document.createElement("tr"); keys.forEach(k => cell(tr, r[k])); t.appendChild(tr); });
  }

  function map(track) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("width", "240");
    svg.setAttribute("height", "240");
    if (track.length < 2) return svg;
    const la = track.map(p => p[0]), lo = track.map(p => p[1]);
    const c = Math.cos(la[0] * Math.PI / 180);
    const x0 = Math.min(...lo), x1 = Math.max(...lo), y0 = Math.min(...la), y1 = Math.max(...la);
    const s = 230 / Math.max((x1 - x0) * c, y1 - y0, 1e-6);
    const pl = document.createElementNS(ns, "polyline");
    pl.setAttribute("fill", "none");
    pl.setAttribute("stroke", "#c33");
    pl.setAttribute("points", track.map(p => ((p[1] - x0) * c * s + 5).toFixed(1) + "," + (235 - (p[0] - y0) * s).toFixed(1)).join(" "));
    svg.appendChild(pl);
    return svg;
  }

  function render(d) {
    document.getElementById("feed").textContent = d.feed_time || "";
    const box = document.getElementById("alerts");
    box.replaceChildren();
    (d.alerts || []).forEach(a => {
      const div = document.createElement("div");
      div.className = "alert";
      const p = document.createElement("p");
      p.textContent = [a.callsign, a.registration, a.object_id, a.type_code, a.operator, a.place].filter(x => x).join(" · ")
        + " — from " + a.start + " to " + a.end + ", p=" + (a.p_segment ?? a.peak_p);
      div.appendChild(p);
      div.appendChild(map(a.track || []));
      box.appendChild(div);
    });
    table("aircraft", d.aircraft || [], ["object_id", "callsign", "time", "lat", "lon", "alert"]);
    table("closed", d.closed || [], ["object_id", "callsign", "start", "end", "p_segment", "place"]);
  }

  const es = new EventSource("/events?token=" + encodeURIComponent(token));
  es.onmessage = e => { document.getElementById("status").textContent = ""; render(JSON.parse(e.data)); };
  es.onerror = () => { document.getElementById("status").textContent = "(connection lost; retrying)"; };
})();
