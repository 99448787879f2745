// The live page of `flightpaths watch`: every data field is set with textContent, never parsed as HTML.
(function () {
  "use strict";
  const token = new URLSearchParams(location.search).get("token") || "";
  const TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
  const views = new Map(); // alert_id -> {div, map, layer}

  function text(tag, value, cls) {
    const e = document.createElement(tag);
    e.textContent = value == null ? "" : String(value);
    if (cls) e.className = cls;
    return e;
  }

  function table(id, rows, keys) {
    const t = document.getElementById(id);
    t.replaceChildren();
    const h = document.createElement("tr");
    keys.forEach(k => h.appendChild(text("th", k)));
    t.appendChild(h);
    rows.forEach(r => { const tr = document.createElement("tr"); keys.forEach(k => tr.appendChild(text("td", r[k]))); t.appendChild(tr); });
  }

  // Without Leaflet (a damaged install): the track as a bare line.
  function fallback(track) {
    const ns = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "fallback");
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

  function details(a) {
    const dl = document.createElement("dl");
    const rows = [
      ["who", [a.callsign, a.registration, a.object_id].filter(x => x).join(" · ")],
      ["aircraft", [a.type_code, a.type_desc, a.operator, a.country].filter(x => x).join(" · ")],
      ["where", a.place || (a.centre ? a.centre[0].toFixed(4) + ", " + a.centre[1].toFixed(4) : "")],
      ["local time", a.when_local],
      ["UTC", a.when_utc],
      ["probability", a.p_segment != null ? Number(a.p_segment).toFixed(2) : (a.peak_p != null ? Number(a.peak_p).toFixed(2) : "")],
    ];
    rows.forEach(([k, v]) => { if (v) { dl.appendChild(text("dt", k)); dl.appendChild(text("dd", v)); } });
    return dl;
  }

  function draw(view, a) {
    if (view.layer) view.layer.remove();
    const layer = L.layerGroup().addTo(view.map);
    view.layer = layer;
    const ctx = a.context || {land: [], coast: [], borders: []};
    ctx.land.forEach(p => L.polygon(p, {stroke: false, fillColor: "#efe9dc", fillOpacity: 1, className: "fp-land", interactive: false}).addTo(layer));
    ctx.coast.forEach(l => L.polyline(l, {color: "#7a9bb5", weight: 1.2, className: "fp-coast", interactive: false}).addTo(layer));
    ctx.borders.forEach(l => L.polyline(l, {color: "#9a7fa8", weight: 1.2, dashArray: "6 4", className: "fp-border", interactive: false}).addTo(layer));
    const track = a.track || [];
    if (track.length > 1) L.polyline(track, {color: "#c33", weight: 3, className: "fp-track"}).addTo(layer);
    if (track.length) {
      L.circleMarker(track[track.length - 1], {radius: 5, color: "#222", weight: 1, fillColor: "#f09614", fillOpacity: 1, className: "fp-now"})
        .bindTooltip(text("span", "last position"), {className: "fp-label"}).addTo(layer);
    }
    if (a.centre) {
      L.circleMarker(a.centre, {radius: 3, color: "#333", weight: 2, fill: false, className: "fp-centre"})
        .bindTooltip(text("span", "centre: " + (a.place || a.centre.join(", "))), {className: "fp-label"}).addTo(layer);
    }
    const pts = track.concat(a.centre ? [a.centre] : []);
    if (pts.length && !view.fitted) { view.map.fitBounds(L.latLngBounds(pts), {padding: [30, 30], maxZoom: 14}); view.fitted = true; }
  }

  function alertView(a) {
    let view = views.get(a.alert_id);
    if (!view) {
      const div = document.createElement("div");
      div.className = "alert";
      div.dataset.alertId = a.alert_id;
      const head = document.createElement("div");
      const box = document.createElement("div");
      box.className = "livemap";
      div.append(head, box);
      view = {div: div, head: head, box: box, map: null, layer: null, fitted: false};
      views.set(a.alert_id, view);
    }
    view.head.replaceChildren(text("h3", "possible circling: " + ([a.callsign, a.registration, a.object_id].filter(x => x)[0] || "")), details(a));
    return view;
  }

  function showMap(view, a) {
    if (typeof L === "undefined") { view.box.replaceChildren(fallback(a.track || [])); return; }
    if (!view.map) {
      view.map = L.map(view.box, {scrollWheelZoom: false});
      const tiles = L.tileLayer(TILES, {maxZoom: 19, attribution: "&copy; OpenStreetMap contributors"});
      tiles.addTo(view.map);
      view.map.attributionControl.addAttribution("offline context: Natural Earth");
      L.control.scale({imperial: false}).addTo(view.map);
    }
    draw(view, a);
  }

  function render(d) {
    document.getElementById("feed").textContent = d.feed_time || "";
    const box = document.getElementById("alerts");
    const alerts = d.alerts || [];
    const open = new Set(alerts.map(a => a.alert_id));
    for (const [id, view] of views) {
      if (!open.has(id)) { if (view.map) view.map.remove(); view.div.remove(); views.delete(id); }
    }
    alerts.forEach(a => {
      const view = alertView(a);
      box.appendChild(view.div); // in the server's order
      showMap(view, a);
    });
    if (!alerts.length) box.replaceChildren(text("p", "none"));
    else box.querySelectorAll(":scope > p").forEach(p => p.remove());
    table("aircraft", d.aircraft || [], ["object_id", "callsign", "time", "lat", "lon", "alert"]);
    table("closed", d.closed || [], ["object_id", "callsign", "start", "end", "p_segment", "place"]);
  }

  const es = new EventSource("/events?token=" + encodeURIComponent(token));
  es.onmessage = e => { document.getElementById("status").textContent = ""; render(JSON.parse(e.data)); };
  es.onerror = () => { document.getElementById("status").textContent = "(connection lost; retrying)"; };
})();
