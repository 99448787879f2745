// flightpaths labeler: one page, no dependencies, works offline.
// Every piece of data is put on the page with textContent (never innerHTML), so a callsign
// or class name that looks like HTML shows as text. Decisions are sent in order through one
// queue; the server saves each to its journal before it answers.
"use strict";

(() => {
  const token = new URLSearchParams(location.search).get("token") || "";
  const GRID_PAGE = 48;
  const $ = (id) => document.getElementById(id);

  const S = {
    classes: [],
    items: [],          // review order, fixed for this page load
    byId: new Map(),    // id -> item
    pos: 0,
    mode: "single",
    selected: new Set(),
    anchor: null,
    gridPage: 0,
    counts: {},
    total: 0,
    canUndo: false,
    orderBy: "",
    pending: 0,
    queue: Promise.resolve(),
  };

  // ------------------------------------------------------------------ talking to the server

  async function api(path, body) {
    const init = { headers: { "X-Token": token }, cache: "no-store" };
    if (body !== undefined) {
      init.method = "POST";
      init.headers["Content-Type"] = "application/json";
      init.body = JSON.stringify(body);
    }
    const response = await fetch(path, init);
    let data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) throw new Error((data && data.error) || `${response.status} ${response.statusText}`);
    return data;
  }

  function enqueue(path, body) {
    S.pending += 1;
    renderSaving();
    const run = S.queue.then(() => api(path, body));
    S.queue = run.then(applyResult).catch((err) => {  // the queue itself never rejects
      showBanner(`Not saved: ${err.message}. Showing the saved state again.`);
      return reload(true).catch((again) => showBanner(`Not saved, and the labeler does not answer: ${again.message}. ` +
        "If it was restarted, open the new address it printed."));
    }).finally(() => {
      S.pending -= 1;
      if (S.pending === 0) render(); else renderSaving();
    });
    return S.queue;
  }

  function applyResult(result) {
    for (const changed of result.changed || []) {
      const item = S.byId.get(changed.id);
      if (item) Object.assign(item, changed);
    }
    applySummary(result);
    if (result.undone && result.changed && result.changed.length) {
      const idx = S.items.findIndex((it) => it.id === result.changed[0].id);
      if (idx >= 0) S.pos = idx;
    }
    render();
    return result;
  }

  function applySummary(s) {
    S.classes = s.classes;
    S.counts = s.counts;
    S.total = s.total;
    S.canUndo = s.can_undo;
  }

  async function reload(keepPosition) {
    const keepId = keepPosition && S.items[S.pos] ? S.items[S.pos].id : null;
    const state = await api("/api/state");
    applySummary(state);
    S.orderBy = state.order_by;
    S.items = state.items;
    S.byId = new Map(S.items.map((it) => [it.id, it]));
    const keepIdx = keepId === null ? -1 : S.items.findIndex((it) => it.id === keepId);
    S.pos = keepIdx >= 0 ? keepIdx : firstToReview(0);
    render();
    document.body.dataset.ready = "1";
  }

  // ------------------------------------------------------------------ decisions

  const needsReview = (it) => !it.skipped && (it.label === null || it.source === "rule" || it.source === "model");

  function firstToReview(from) {
    for (let i = from; i < S.items.length; i++) if (needsReview(S.items[i])) return i;
    for (let i = 0; i < from && i < S.items.length; i++) if (needsReview(S.items[i])) return i;
    return Math.min(from, Math.max(S.items.length - 1, 0));
  }

  function decide(ids, label, skipped) {
    if (!ids.length) return;
    for (const id of ids) {  // show it at once; the server's answer confirms or corrects
      const it = S.byId.get(id);
      it.label = skipped ? null : label;
      it.skipped = skipped;
      it.source = "human";
    }
    if (skipped) enqueue("/api/skip", { ids });
    else enqueue("/api/label", { ids, label });
    if (S.mode === "single") {
      S.pos = firstToReview(S.pos + 1);
    } else {
      S.selected.clear();
    }
    render();
  }

  function labelWith(index) {
    const cls = S.classes[index];
    if (cls === undefined) return;
    decide(targetIds(), cls, false);
  }

  function targetIds() {
    if (S.mode === "grid") return [...S.selected];
    const it = S.items[S.pos];
    return it ? [it.id] : [];
  }

  function undo() {
    if (!S.canUndo && S.pending === 0) { showBanner("Nothing to undo.", true); return; }
    enqueue("/api/undo", {});
  }

  function move(step) {
    if (S.mode === "grid") {
      const pages = Math.max(1, Math.ceil(S.items.length / GRID_PAGE));
      S.gridPage = Math.min(Math.max(S.gridPage + step, 0), pages - 1);
    } else {
      S.pos = Math.min(Math.max(S.pos + step, 0), Math.max(S.items.length - 1, 0));
    }
    render();
  }

  function toggleGrid() {
    S.mode = S.mode === "single" ? "grid" : "single";
    if (S.mode === "grid") S.gridPage = Math.floor(S.pos / GRID_PAGE);
    S.selected.clear();
    render();
  }

  // ------------------------------------------------------------------ drawing (textContent only)

  const imageUrl = (id) => `/api/image/${id}?token=${encodeURIComponent(token)}`;

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  function describe(it) {
    if (it.skipped) return ["skipped", "skipped"];
    if (it.label === null) return ["not labelled yet", ""];
    const review = it.source === "rule" || it.source === "model";
    return [`${it.label} (${it.source}${review ? ", to review" : ""})`, review ? "review" : "done"];
  }

  function renderSaving() {
    const node = $("saving");
    node.dataset.pending = String(S.pending);
    node.textContent = S.pending ? `saving ${S.pending}…` : "";
  }

  function renderProgress() {
    const c = S.counts;
    const parts = [`${c.labelled || 0} / ${S.total} labelled`, `${c.skipped || 0} skipped`];
    for (const cls of S.classes) parts.push(`${cls} ${c[cls] || 0}`);
    if (S.orderBy) parts.push(`order: ${S.orderBy}`);
    $("progress").textContent = parts.join(" · ");
    $("undo").disabled = !S.canUndo && S.pending === 0;
  }

  function renderClasses(current) {
    const box = $("classes");
    box.replaceChildren();
    S.classes.forEach((cls, i) => {
      const b = el("button", null, current && current.label === cls ? "current" : "");
      b.type = "button";
      b.dataset.classIndex = String(i);
      b.append(document.createTextNode(cls));
      if (i < 9) b.append(el("kbd", String(i + 1)));
      b.title = `Label as ${cls}`;
      b.addEventListener("click", () => labelWith(i));
      box.append(b);
    });
  }

  function renderSingle() {
    const it = S.items[S.pos];
    const img = $("image");
    const fields = $("fields");
    const hints = $("hints");
    fields.replaceChildren();
    hints.replaceChildren();
    if (!it) {
      $("title").textContent = "No images";
      img.removeAttribute("src");
      return;
    }
    const url = imageUrl(it.id);
    if (img.getAttribute("src") !== url) img.src = url;
    img.alt = `track image ${it.name}`;
    $("viewer").dataset.id = String(it.id);
    $("viewer").dataset.windowId = it.window_id || it.name;
    $("title").textContent = it.window_id || it.key;
    const [text, cls] = describe(it);
    const badge = $("current-label");
    badge.textContent = text;
    badge.className = `label-badge ${cls}`;
    $("position").textContent = `image ${S.pos + 1} of ${S.items.length}`;
    const rows = [["image", it.key], ...it.fields];
    if (it.copies > 1) rows.push(["repeats", `${it.copies - 1} other image(s) look the same`]);
    for (const [k, v] of rows) {
      const dt = el("dt", k);
      const dd = el("dd", v);
      if (k === "callsign") dd.id = "callsign";
      fields.append(dt, dd);
    }
    if (it.rule) hints.append(el("p", `rule: ${it.rule.label} (${it.rule.reason})`));
    if (it.model) {
      const probs = Object.entries(it.model.p).map(([k, v]) => `${k} ${v === null ? "?" : v.toFixed(2)}`).join(", ");
      hints.append(el("p", `model: ${it.model.label} (${probs})`));
    }
    $("prev").disabled = S.pos <= 0;
    $("next").disabled = S.pos >= S.items.length - 1;
    const next = S.items[S.pos + 1];  // warm the cache for the next image
    if (next) new Image().src = imageUrl(next.id);
  }

  function renderGrid() {
    const box = $("grid-items");
    box.replaceChildren();
    const pages = Math.max(1, Math.ceil(S.items.length / GRID_PAGE));
    const start = S.gridPage * GRID_PAGE;
    S.items.slice(start, start + GRID_PAGE).forEach((it, k) => {
      const idx = start + k;
      const fig = el("figure", null, "cell");
      fig.dataset.id = String(it.id);
      if (S.selected.has(it.id)) fig.classList.add("selected");
      if (!needsReview(it)) fig.classList.add("done");
      if (idx === S.pos) fig.classList.add("current");
      const img = el("img");
      img.loading = "lazy";
      img.alt = it.name;
      img.src = imageUrl(it.id);
      const [text] = describe(it);
      const cap = el("figcaption");
      cap.append(el("span", text, "cap-label"), el("span", it.window_id || it.name, "cap-id"));
      fig.append(img, cap);
      fig.title = `${it.key}: ${text}`;
      fig.addEventListener("click", (ev) => selectCell(idx, ev.shiftKey));
      fig.addEventListener("dblclick", () => { S.pos = idx; toggleGrid(); });
      box.append(fig);
    });
    $("grid-page").textContent = `page ${S.gridPage + 1} of ${pages}`;
    $("grid-selected").textContent = S.selected.size ? `${S.selected.size} selected: press a class key` : "click images to select";
    $("grid-prev").disabled = S.gridPage <= 0;
    $("grid-next").disabled = S.gridPage >= pages - 1;
  }

  function selectCell(idx, range) {
    const id = S.items[idx].id;
    if (range && S.anchor !== null) {
      const [a, b] = [Math.min(S.anchor, idx), Math.max(S.anchor, idx)];
      for (let i = a; i <= b; i++) S.selected.add(S.items[i].id);
    } else if (S.selected.has(id)) {
      S.selected.delete(id);
    } else {
      S.selected.add(id);
    }
    S.anchor = idx;
    render();
  }

  function selectPage() {
    const start = S.gridPage * GRID_PAGE;
    for (const it of S.items.slice(start, start + GRID_PAGE)) S.selected.add(it.id);
    render();
  }

  function render() {
    renderSaving();
    $("single").hidden = S.mode !== "single";
    $("grid").hidden = S.mode !== "grid";
    $("toggle-grid").firstChild.textContent = S.mode === "single" ? "Grid " : "One image ";
    renderProgress();
    renderClasses(S.mode === "single" ? S.items[S.pos] : null);
    if (S.mode === "single") renderSingle(); else renderGrid();
    const done = S.items.length > 0 && !S.items.some(needsReview);
    document.body.dataset.allDone = done ? "1" : "0";
    if (done && S.pending === 0 && $("banner").hidden) showBanner(`All ${S.items.length} images are decided. Labels are in labels.csv; you can close this tab.`, true);
  }

  function showBanner(message, info) {
    const b = $("banner");
    b.textContent = message;
    b.className = info ? "info" : "";
    b.hidden = false;
    clearTimeout(showBanner.timer);
    showBanner.timer = setTimeout(() => { b.hidden = true; }, info ? 4000 : 8000);
  }

  // ------------------------------------------------------------------ keys and buttons

  function onKey(ev) {
    const target = ev.target;
    if (target && (target.tagName === "INPUT" || target.tagName === "TEXTAREA")) return;
    if ((ev.ctrlKey || ev.metaKey) && ev.key.toLowerCase() === "z") { ev.preventDefault(); undo(); return; }
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const k = ev.key;
    if (k >= "1" && k <= "9") { labelWith(Number(k) - 1); }
    else if (k === "s" || k === "0") { decide(targetIds(), null, true); }
    else if (k === "u" || k === "Backspace") { undo(); }
    else if (k === "ArrowLeft") { move(-1); }
    else if (k === "ArrowRight") { move(1); }
    else if (k === "g") { toggleGrid(); }
    else if (k === "a" && S.mode === "grid") { selectPage(); }
    else if (k === "Escape") { S.selected.clear(); $("help").hidden = true; render(); }
    else if (k === "?") { $("help").hidden = !$("help").hidden; }
    else return;
    ev.preventDefault();
  }

  async function addClass(ev) {
    ev.preventDefault();
    const input = $("new-class");
    const name = input.value.trim();
    if (!name) return;
    try {
      applyResult(await api("/api/classes", { name }));
      input.value = "";
      input.blur();
    } catch (err) {
      showBanner(err.message);
    }
  }

  document.addEventListener("DOMContentLoaded", () => {
    document.addEventListener("keydown", onKey);
    $("undo").addEventListener("click", undo);
    $("toggle-grid").addEventListener("click", toggleGrid);
    $("toggle-help").addEventListener("click", () => { $("help").hidden = !$("help").hidden; });
    $("prev").addEventListener("click", () => move(-1));
    $("next").addEventListener("click", () => move(1));
    $("grid-prev").addEventListener("click", () => move(-1));
    $("grid-next").addEventListener("click", () => move(1));
    $("grid-all").addEventListener("click", selectPage);
    $("grid-none").addEventListener("click", () => { S.selected.clear(); render(); });
    $("skip").addEventListener("click", () => decide(targetIds(), null, true));
    $("add-class").addEventListener("submit", addClass);
    $("image").addEventListener("load", (ev) => {  // small renders: show their pixels, not a blur
      const img = ev.target;
      img.classList.toggle("upscaled", img.naturalWidth * 2 <= img.clientWidth);
    });
    reload(false).catch((err) => showBanner(`Could not load: ${err.message}`));
  });
})();
