// The live page of `flightpaths watch`: every data field is set with textContent, never parsed as HTML.
(function () {
  "use strict";
  const token = new URLSearchParams(location.search).get("token") || "";
  const TILES = "https://tile.openstreetmap.org/{z}/{x}/{y}.png";
  const M_PER_DEG = 111195;
  const LOST_AFTER_MS = 5000; // a drop the browser mends within this (it retries after 2 s) is not worth a word
  const SILENT_MS = 35000; // the server speaks at least every 10 s; silence this long is a dead line
  const views = new Map(); // alert_id -> {div, head, box, map, layer, fit, moved}
  const $ = id => document.getElementById(id);
  let data = {};
  let sortKey = "p";

  function text(tag, value, cls) {
    const e = document.createElement(tag);
    e.textContent = value == null ? "" : String(value);
    if (cls) e.className = cls;
    return e;
  }

  function link(label, url) {
    if (!/^https?:\/\//.test(String(url))) return null;
    const a = text("a", label);
    a.href = url;
    a.rel = "noopener noreferrer";
    a.target = "_blank";
    return a;
  }

  // ---------------------------------------------------------------- times, in the reader's zone
  const dayFmt = new Intl.DateTimeFormat(undefined, {weekday: "short", day: "numeric", month: "short", year: "numeric"});
  const secFmt = new Intl.DateTimeFormat(undefined, {hour: "2-digit", minute: "2-digit", second: "2-digit", hourCycle: "h23", timeZoneName: "short"});

  function clock(ms) { return ms == null ? "" : dayFmt.format(new Date(ms)) + ", " + secFmt.format(new Date(ms)); }

  function span(s) {
    s = Math.max(0, Math.round(s));
    if (s < 60) return s + " s";
    const m = Math.round(s / 60);
    return m < 60 ? m + " min" : Math.floor(m / 60) + " h " + String(m % 60).padStart(2, "0") + " min";
  }

  function ago(ms) {
    if (ms == null) return "";
    const s = (Date.now() - ms) / 1000;
    return s < 1 ? "just now" : span(s) + " ago";
  }

  function tick() {
    $("age").textContent = data.feed_ms != null ? "(" + ago(data.feed_ms) + ")" : "";
    document.querySelectorAll("[data-seen]").forEach(e => { e.textContent = ago(Number(e.dataset.seen)); });
  }

  // ---------------------------------------------------------------------------------- tables
  function num(v, digits) { return v == null || v === "" ? "" : Number(v).toFixed(digits); }

  function table(id, rows, cols, empty) {
    const t = $(id);
    t.replaceChildren();
    if (!rows.length) { t.appendChild(document.createElement("tr")).appendChild(text("td", empty, "empty")); return; }
    const h = document.createElement("tr");
    cols.forEach(c => h.appendChild(text("th", c[0])));
    t.appendChild(h);
    rows.forEach(r => {
      const tr = document.createElement("tr");
      cols.forEach(c => { const v = c[1](r); tr.appendChild(v instanceof Node ? v : text("td", v, c[2])); });
      t.appendChild(tr);
    });
  }

  function seenCell(ms) {
    const td = text("td", ago(ms), "num");
    if (ms != null) { td.dataset.seen = String(ms); td.title = clock(ms); }
    return td;
  }

  function linksCell(r) {
    const td = document.createElement("td");
    (r.links || []).forEach(([label, url]) => { const a = link(label, url); if (a) td.append(a, " "); });
    return td;
  }

  const AIRCRAFT = [
    ["callsign", r => r.callsign], ["registration", r => r.registration], ["ICAO", r => r.object_id],
    ["altitude ft", r => num(r.altitude_ft, 0), "num"], ["speed kt", r => num(r.speed_kt, 0), "num"],
    ["position", r => r.lat == null ? "" : num(r.lat, 4) + ", " + num(r.lon, 4), "num"],
    ["last heard", r => seenCell(r.seen_ms)], ["alert", r => r.alert ? "possible circling" : ""],
  ];
  const CLOSED = [
    ["when (local)", r => r.when_local || r.when_utc], ["aircraft", r => who(r)], ["where", r => r.place],
    ["lasted", r => r.start_ms != null && r.end_ms != null ? span((r.end_ms - r.start_ms) / 1000) : "", "num"],
    ["probability", r => num(r.p, 2), "num"], ["check", linksCell],
  ];

  // ---------------------------------------------------------------------------------- alerts
  function who(a) { return [a.callsign, a.registration, a.object_id].filter(x => x).join(" · "); }

  function airport(a) {
    if (!a.airport_code && !a.airport_name) return "";
    let s = [a.airport_code, a.airport_name].filter(x => x).join(" ");
    if (a.airport_km != null) s += ", " + Number(a.airport_km).toFixed(1) + " km away";
    if (a.near_airport === true) s += " (near an airport: arrivals and departures circle too)";
    return s;
  }

  function where(a) {
    const c = a.centre ? a.centre[0].toFixed(4) + ", " + a.centre[1].toFixed(4) : "";
    return a.place ? a.place + (c ? " (" + c + ")" : "") : (c || "no position yet");
  }

  function details(a) {
    const dl = document.createElement("dl");
    const rows = [
      ["who", who(a)],
      ["aircraft", [a.type_code, a.type_desc, a.operator, a.country, a.year].filter(x => x).join(" · ")],
      ["watchlist", a.watchlist === true ? (a.watchlist_note || "listed") : ""],
      ["where", where(a)],
      ["nearest airport", airport(a)],
      ["local time", a.when_local],
      ["UTC", a.when_utc],
      ["so far", a.start_ms != null && a.end_ms != null ? span((a.end_ms - a.start_ms) / 1000) + (a.radius_m ? ", about " + Math.round(a.radius_m) + " m around the centre" : "") : ""],
    ];
    rows.forEach(([k, v]) => { if (v) { dl.appendChild(text("dt", k)); dl.appendChild(text("dd", v)); } });
    return dl;
  }

  const SKIP = new Set(["track", "before", "after", "context", "places", "links", "centre"]);
  function allFields(a) {
    const d = document.createElement("details");
    d.className = "fields";
    d.appendChild(text("summary", "all fields"));
    const t = document.createElement("table");
    Object.keys(a).sort().forEach(k => {
      const v = a[k];
      if (SKIP.has(k) || v == null || v === "" || typeof v === "object") return;
      const tr = document.createElement("tr");
      tr.append(text("th", k), text("td", v));
      t.appendChild(tr);
    });
    const box = document.createElement("div");
    box.className = "scroll";
    box.appendChild(t);
    d.appendChild(box);
    return d;
  }

  function links(a) {
    const p = document.createElement("p");
    p.className = "links";
    p.appendChild(text("span", "check: "));
    (a.links || []).forEach(([label, url]) => { const e = link(label, url); if (e) p.appendChild(e); });
    return p;
  }

  function heading(a) {
    const h = text("h3", "possible " + (a.class || "circling") + ": " + ([a.callsign, a.registration, a.object_id].filter(x => x)[0] || "unknown aircraft") + " ");
    if (a.watchlist === true) h.appendChild(text("span", "watchlist", "badge"));
    if (a.p != null) h.appendChild(text("span", "probability " + num(a.p, 2), "p"));
    return h;
  }

  // -------------------------------------------------------------------------------------- maps
  function ramp(f) {
    const s = [[13, 8, 135], [204, 71, 120], [240, 150, 20]], i = f < 0.5 ? 0 : 1, g = f < 0.5 ? f * 2 : (f - 0.5) * 2;
    return "rgb(" + [0, 1, 2].map(k => Math.round(s[i][k] + (s[i + 1][k] - s[i][k]) * g)).join(",") + ")";
  }

  // The nearest labelled place, for "where", when it is close enough not to shrink the track to a dot.
  function nearPlace(a) {
    if (!a.centre || !a.places || !a.places.length) return [];
    const [, lat, lon] = a.places[0], kx = Math.cos(a.centre[0] * Math.PI / 180);
    const m = M_PER_DEG * Math.hypot(lat - a.centre[0], (lon - a.centre[1]) * kx);
    return m <= Math.max(5000, 3 * (a.radius_m || 0)) ? [[lat, lon]] : [];
  }

  // What the map is fitted to: the track (with the centre), else the centre's circle, else nothing.
  function target(a) {
    const track = a.track || [];
    const near = nearPlace(a);
    if (track.length) return {key: "track", pts: track.concat(a.centre ? [a.centre] : [], near)};
    if (!a.centre) return null;
    const r = Math.max(a.radius_m || 0, 500) * 1.5;
    const dlat = r / M_PER_DEG, dlon = dlat / Math.max(Math.cos(a.centre[0] * Math.PI / 180), 0.05);
    return {key: "centre", pts: [[a.centre[0] - dlat, a.centre[1] - dlon], [a.centre[0] + dlat, a.centre[1] + dlon]].concat(near)};
  }

  function drawContext(layer, a) {
    const ctx = a.context || {land: [], coast: [], borders: []};
    ctx.land.forEach(p => L.polygon(p, {stroke: false, fillColor: "#efe9dc", fillOpacity: 1, className: "fp-land", interactive: false}).addTo(layer));
    ctx.coast.forEach(l => L.polyline(l, {color: "#7a9bb5", weight: 1.2, className: "fp-coast", interactive: false}).addTo(layer));
    ctx.borders.forEach(l => L.polyline(l, {color: "#9a7fa8", weight: 1.2, dashArray: "6 4", className: "fp-border", interactive: false}).addTo(layer));
    (a.places || []).forEach(([name, lat, lon]) => {
      L.circleMarker([lat, lon], {radius: 3, color: "#444", weight: 1, fillColor: "#444", fillOpacity: 1, className: "fp-place"})
        .bindTooltip(text("span", name), {permanent: true, direction: "right", className: "fp-place-label", offset: [4, 0]}).addTo(layer);
    });
  }

  function drawTrack(layer, a) {
    const track = a.track || [], n = track.length;
    [["before", a.before], ["after", a.after]].forEach(([cls, line]) => {
      if (line && line.length > 1) L.polyline(line, {color: "#666", weight: 2, dashArray: "5 6", className: "fp-" + cls}).addTo(layer);
    });
    if (a.centre) {
      if (a.radius_m) L.circle(a.centre, {radius: a.radius_m, color: "#333", weight: 1, dashArray: "2 5", fill: false, className: "fp-radius", interactive: false}).addTo(layer);
      L.circleMarker(a.centre, {radius: 3, color: "#333", weight: 2, fill: false, className: "fp-centre"})
        .bindTooltip(text("span", "centre: " + where(a)), {className: "fp-label"}).addTo(layer);
    }
    const chunks = Math.min(24, Math.max(1, n - 1));
    for (let c = 0; n > 1 && c < chunks; c++) {
      const i = Math.floor(c * (n - 1) / chunks), j = Math.floor((c + 1) * (n - 1) / chunks) + 1;
      L.polyline(track.slice(i, j), {color: ramp(chunks > 1 ? c / (chunks - 1) : 0), weight: 3.5, className: "fp-track"}).addTo(layer);
    }
    const after = a.after || [], last = after.length ? after[after.length - 1] : track[n - 1];
    if (last) {
      L.circleMarker(last, {radius: 5, color: "#222", weight: 1, fillColor: "#f09614", fillOpacity: 1, className: "fp-now"})
        .bindTooltip(text("span", "last position"), {className: "fp-label"}).addTo(layer);
    }
  }

  function draw(view, a) {
    if (view.layer) view.layer.remove();
    view.layer = L.layerGroup().addTo(view.map);
    drawContext(view.layer, a);
    drawTrack(view.layer, a);
    const t = target(a);
    // fit when what is shown changes kind (centre -> track) or grows, unless the reader moved the map
    if (t && (t.key !== view.fit || !view.moved)) {
      view.fitting = true;
      view.map.fitBounds(L.latLngBounds(t.pts), {padding: [30, 30], maxZoom: 14, animate: false});
      view.fitting = false;
      view.fit = t.key;
    }
  }

  // Without Leaflet (a damaged install): the track (or the centre) as a bare drawing.
  function fallback(a) {
    const ns = "http://www.w3.org/2000/svg", svg = document.createElementNS(ns, "svg");
    svg.setAttribute("class", "fallback");
    svg.setAttribute("width", "240");
    svg.setAttribute("height", "240");
    const pts = (a.track || []).concat(a.centre ? [a.centre] : []);
    if (!pts.length) return svg;
    const la = pts.map(p => p[0]), lo = pts.map(p => p[1]), c = Math.cos(la[0] * Math.PI / 180);
    const x0 = Math.min(...lo), x1 = Math.max(...lo), y0 = Math.min(...la), y1 = Math.max(...la);
    const s = 200 / Math.max((x1 - x0) * c, y1 - y0, 0.01);
    const xy = p => [((p[1] - x0) * c * s + 20).toFixed(1), (220 - (p[0] - y0) * s).toFixed(1)];
    const pl = document.createElementNS(ns, "polyline");
    pl.setAttribute("fill", "none");
    pl.setAttribute("stroke", "#c33");
    pl.setAttribute("points", (a.track || []).map(p => xy(p).join(",")).join(" "));
    svg.appendChild(pl);
    if (a.centre) {
      const dot = document.createElementNS(ns, "circle"), [cx, cy] = xy(a.centre);
      dot.setAttribute("cx", cx); dot.setAttribute("cy", cy); dot.setAttribute("r", "4");
      dot.setAttribute("fill", "none"); dot.setAttribute("stroke", "#333");
      svg.appendChild(dot);
    }
    return svg;
  }

  function legend() {
    const d = document.createElement("div");
    d.className = "legend";
    [["ramp", "track, start → now"], ["ctx", "the aircraft before and since"], ["rad", " fitted radius around the centre"],
     ["now", "last position"], ["land", "land and coast (Natural Earth; map tiles © OpenStreetMap when online)"]]
      .forEach(([cls, label]) => { const s = document.createElement("span"); s.append(text("span", "", "sw " + cls), label); d.appendChild(s); });
    return d;
  }

  function showMap(view, a) {
    if (!target(a)) { // no track and no centre: a map would show an empty sea at 0, 0
      if (view.map) { view.map.remove(); view.map = null; view.layer = null; view.fit = null; }
      view.box.className = "nomap";
      view.box.removeAttribute("role");
      view.box.removeAttribute("aria-label");
      view.box.replaceChildren(text("span", "No position for this alert yet: the map appears with the first one."));
      return;
    }
    if (typeof L === "undefined") { view.box.replaceChildren(fallback(a)); return; }
    if (!view.map) {
      view.box.replaceChildren();
      view.box.className = "livemap";
      view.box.setAttribute("role", "img");
      view.map = L.map(view.box, {scrollWheelZoom: false});
      const tiles = L.tileLayer(TILES, {maxZoom: 19, attribution: "&copy; OpenStreetMap contributors"});
      tiles.on("tileload", () => view.box.classList.add("online")); // tiles came: the offline land fill fades
      tiles.addTo(view.map);
      view.map.attributionControl.addAttribution("offline context: Natural Earth");
      L.control.scale({imperial: false}).addTo(view.map);
      view.map.on("zoomstart dragstart", () => { if (!view.fitting) view.moved = true; });
      view.map.on("moveend", () => { view.box.dataset.bounds = view.map.getBounds().toBBoxString(); }); // west,south,east,north
    }
    view.box.setAttribute("aria-label", "map of the possible circling near " + where(a) + ": the track coloured from start to now over map context");
    draw(view, a);
  }

  function alertView(a) {
    let view = views.get(a.alert_id);
    if (!view) {
      const div = document.createElement("article");
      div.className = "alert";
      div.dataset.alertId = a.alert_id;
      const head = document.createElement("div"), box = document.createElement("div");
      box.className = "livemap";
      div.append(head, box, legend());
      view = {div: div, head: head, box: box, map: null, layer: null, fit: null, moved: false, fitting: false};
      views.set(a.alert_id, view);
    }
    view.head.replaceChildren(heading(a), details(a), links(a), allFields(a));
    return view;
  }

  function order(alerts) {
    const key = sortKey === "t" ? a => -(a.end_ms || 0) : a => -(a.p || 0);
    return alerts.slice().sort((x, y) => key(x) - key(y) || (y.end_ms || 0) - (x.end_ms || 0));
  }

  function renderAlerts(alerts) {
    const box = $("alerts"), open = new Set(alerts.map(a => a.alert_id));
    for (const [id, view] of views) {
      if (!open.has(id)) { if (view.map) view.map.remove(); view.div.remove(); views.delete(id); }
    }
    box.querySelectorAll(":scope > p.empty").forEach(p => p.remove());
    order(alerts).forEach(a => {
      const view = alertView(a);
      box.appendChild(view.div);
      showMap(view, a);
    });
    if (!alerts.length) box.replaceChildren(text("p", data.feed_ms == null ? "No alerts yet: waiting for the feed." : "No open alerts.", "empty"));
  }

  function render(d) {
    data = d || {};
    const alerts = data.alerts || [], aircraft = (data.aircraft || []).slice();
    $("feed").textContent = data.feed_ms != null ? clock(data.feed_ms) : "waiting for the feed";
    $("n-alerts").textContent = alerts.length ? "(" + alerts.length + ")" : "";
    $("n-aircraft").textContent = aircraft.length ? "(" + aircraft.length + ")" : "";
    document.title = (alerts.length ? "(" + alerts.length + ") " : "") + "flightpaths watch" +
      (alerts.length ? ": " + alerts.length + " possible circling alert" + (alerts.length > 1 ? "s" : "") : "");
    renderAlerts(alerts);
    aircraft.sort((x, y) => (y.alert - x.alert) || ((y.seen_ms || 0) - (x.seen_ms || 0)));
    table("aircraft", aircraft, AIRCRAFT, data.feed_ms == null ? "No aircraft heard yet." : "No aircraft in view.");
    table("closed", data.closed || [], CLOSED, "No closed episodes yet.");
    tick();
  }

  document.querySelectorAll("button.sort").forEach(b => b.addEventListener("click", () => {
    sortKey = b.dataset.key;
    document.querySelectorAll("button.sort").forEach(x => x.setAttribute("aria-pressed", String(x === b)));
    renderAlerts(data.alerts || []);
  }));

  // ------------------------------------------------------------------- the server's event stream
  // "connection lost" only after a real failure that the browser has not mended within
  // LOST_AFTER_MS (or a silent line), and cleared as soon as the stream is open again.
  let es = null, lostTimer = null, heard = Date.now();

  function status(msg) { const s = $("status"); s.textContent = msg; s.hidden = !msg; }
  function alive() { heard = Date.now(); clearTimeout(lostTimer); lostTimer = null; status(""); }
  function lost() { status("(connection to flightpaths lost; retrying)"); }

  function connect() {
    es = new EventSource("/events?token=" + encodeURIComponent(token));
    es.onopen = alive;
    es.onmessage = e => { alive(); render(JSON.parse(e.data)); };
    es.addEventListener("alive", alive);
    es.onerror = () => {
      if (es.readyState === EventSource.CLOSED) { // refused (e.g. the server restarted): the browser gave up, we retry
        lost();
        setTimeout(connect, 5000);
      } else if (!lostTimer) { // CONNECTING: the browser retries by itself
        lostTimer = setTimeout(() => { lostTimer = null; if (es.readyState !== EventSource.OPEN) lost(); }, LOST_AFTER_MS);
      }
    };
  }

  setInterval(() => {
    tick();
    if (es && es.readyState === EventSource.OPEN && Date.now() - heard > SILENT_MS) { lost(); es.close(); connect(); }
  }, 1000);
  connect();
})();
