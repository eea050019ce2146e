// mcc-emu live view: draws the feed of /events on an SVG map.
// Vanilla JavaScript, no library, no build step; every buffer is bounded.
"use strict";

const params = new URLSearchParams(location.search);
const token = params.get("token");
// ?frames=N: close the stream after N frames (a still picture for a
// screenshot; headless Chromium's virtual time waits while it is open).
const stopAfter = Number(params.get("frames")) || 0;
const query = token ? "?token=" + encodeURIComponent(token) : "";
const SVG = "http://www.w3.org/2000/svg";
const WIDTH = 1000, HEIGHT = 700, MARGIN = 20;
const WINDOW_S = 30;          // the delay chart's sliding window, scenario seconds
const MAX_WINDOW = 100000;    // requests kept for the chart at most
const CHART_POINTS = 120;     // points on the chart
const RECENT = 12;            // requests and migrations kept per device or cloudlet
const DONE_KEPT = 20;         // finished migrations left drawn (faded)
const COLOURS = {
  "stop-and-copy": "#8e44ad", "pre-copy": "#2980b9", "post-copy": "#e67e22",
  "soft": "#27ae60", "hybrid": "#c0392b", "": "#555",
};

const $ = (id) => document.getElementById(id);
function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  if (parent) parent.appendChild(e);
  return e;
}
function push(list, item, max) { list.push(item); if (list.length > max) list.shift(); }

let world = null, project = null, metresToUnits = 1;
const cells = [], cloudlets = [];
const devices = new Map();       // name -> {dot, link, ap, host, to, recent: []}
const migrations = new Map();    // id -> {line, label, technique, phase, from, to}
const finished = [];             // ids of finished migrations still drawn
const hostRecent = [];           // per cloudlet: recent requests
const vmMigrations = new Map();  // vm -> recent migrations
const hostMigrations = [];       // per cloudlet: recent migrations
// The delay chart's lines: one run, or a comparison's combinations (the
// one on the map first), each {label, reqs: [[sent_s, delay_ms]], chart:
// [[t, p50, p99]], p50, p99 (polylines), colour}.
const series = [];
const SERIES_COLOURS = ["#2b7bb9", "#c0392b", "#27ae60", "#8e44ad", "#e67e22", "#16a085",
  "#7f8c8d", "#d35400", "#2c3e50", "#b7950b"];
let now = 0, seen = 0, dropped = 0, skipped = 0, selected = null, inFlight = null, frames = 0, source = null;

function setupProjection() {
  const pts = world.access_points.map((a) => [a[1], a[2]]).concat(world.cloudlets.map((c) => [c[1], c[2]]));
  let minLat = Infinity, maxLat = -Infinity, minLon = Infinity, maxLon = -Infinity;
  for (const [lat, lon] of pts) {
    minLat = Math.min(minLat, lat); maxLat = Math.max(maxLat, lat);
    minLon = Math.min(minLon, lon); maxLon = Math.max(maxLon, lon);
  }
  if (!isFinite(minLat)) { minLat = maxLat = 0; minLon = maxLon = 0; }
  const k = Math.cos(((minLat + maxLat) / 2) * Math.PI / 180);
  const w = Math.max((maxLon - minLon) * k, 1e-4), h = Math.max(maxLat - minLat, 1e-4);
  const scale = Math.min((WIDTH - 2 * MARGIN) / w, (HEIGHT - 2 * MARGIN) / h);
  const ox = (WIDTH - w * scale) / 2, oy = (HEIGHT - h * scale) / 2;
  project = (lat, lon) => [ox + (lon - minLon) * k * scale, oy + (maxLat - lat) * scale];
  metresToUnits = scale / 111320;
}

function drawWorld() {
  $("scenario").textContent = world.info.scenario;
  $("mode").textContent = world.info.mode + " · " + world.info.policy + " · " +
    world.info.technique + " · " + world.info.speed + "×";
  const cellLayer = $("cells"), hostLayer = $("cloudlets");
  world.access_points.forEach((a, i) => {
    const [x, y] = project(a[1], a[2]);
    const r = Math.max(1.5, Math.min(a[3] * metresToUnits, 60));
    const c = el("circle", { cx: x, cy: y, r: r, class: "cell", "data-ap": a[0] }, cellLayer);
    cells.push({ el: c, devices: 0 });
  });
  world.cloudlets.forEach((c, i) => {
    const [x, y] = project(c[1], c[2]);
    const dot = el("circle", { cx: x, cy: y, r: 5, class: "cloudlet", "data-cloudlet": c[0] }, hostLayer);
    const title = el("title", {}, dot);
    dot.addEventListener("click", () => select({ cloudlet: i }));
    cloudlets.push({ dot, title, x, y, vms: 0 });
    hostRecent.push([]); hostMigrations.push([]);
  });
  if (world.cloudlets.length <= 40) {
    world.cloudlets.forEach((c, i) => {
      const t = el("text", { x: cloudlets[i].x + 7, y: cloudlets[i].y - 5, class: "cloudlet-label" }, hostLayer);
      t.textContent = c[0];
    });
  }
  $("cloudlets-shown").textContent = cloudlets.length;
  const defs = $("markers"), legend = $("technique-legend");
  for (const t in COLOURS) {
    const m = el("marker", { id: "arrow-" + (t || "none"), viewBox: "0 0 10 10", refX: 9, refY: 5,
      markerWidth: 6, markerHeight: 6, orient: "auto-start-reverse" }, defs);
    el("path", { d: "M 0 0 L 10 5 L 0 10 z", fill: COLOURS[t] }, m);
    if (t) legend.insertAdjacentHTML("beforeend",
      `<span><i class="swatch" style="background:${COLOURS[t]}"></i>${t}</span> `);
  }
}

// One chart line for a single run (p50 blue, p99 red as the legend says);
// for a comparison one colour per combination, p50 solid, p99 dashed, and
// a legend row each with its figures now.
function setupSeries() {
  const labels = world.info.series && world.info.series.length ? world.info.series
    : [world.info.policy + "-" + world.info.technique];
  const compare = labels.length > 1;
  $("series-legend").innerHTML = "";
  labels.forEach((label, i) => {
    const colour = SERIES_COLOURS[i % SERIES_COLOURS.length];
    const line = (k) => {
      const l = i === 0 ? $(k) : el("polyline", { class: k, points: "" }, $("chart"));
      l.setAttribute("data-series", label);
      if (compare) { l.style.stroke = colour; if (k === "p99") l.style.strokeDasharray = "4 3"; }
      return l;
    };
    const s = { label, reqs: [], chart: [], p50: line("p50"), p99: line("p99"), colour };
    if (compare) {
      const row = document.createElement("div");
      row.className = "series";
      row.setAttribute("data-series", label);
      row.innerHTML = `<i class="swatch" style="background:${colour}"></i>${esc(label)}` +
        (i === 0 ? " (map)" : "") + `: p50 <b class="now-p50">–</b> p99 <b class="now-p99">–</b> ms`;
      $("series-legend").appendChild(row);
      s.legend = row;
    }
    series.push(s);
  });
}

function addToWindow(s, sent, delay) {
  s.reqs.push([sent, delay]);
  if (s.reqs.length > MAX_WINDOW) s.reqs.splice(0, s.reqs.length - MAX_WINDOW);
}

function onFrame(f) {
  now = f.t; inFlight = f.in_flight;
  if (f.skipped) { skipped += f.skipped; $("skipped").textContent = skipped; }
  $("time").textContent = f.t.toFixed(1);
  const present = new Set();
  for (const c of cells) c.devices = 0;
  for (const c of cloudlets) c.vms = 0;
  for (const [name, lat, lon, ap, host, to] of f.devices) {
    present.add(name);
    let d = devices.get(name);
    if (!d) {
      const link = el("line", { class: "link" }, $("links"));
      const dot = el("circle", { r: 3, class: "device", "data-device": name }, $("devices"));
      el("title", {}, dot).textContent = name;
      dot.addEventListener("click", () => select({ device: name }));
      d = { dot, link, recent: [] };
      devices.set(name, d);
    }
    const [x, y] = project(lat, lon);
    d.x = x; d.y = y; d.ap = ap; d.host = host; d.to = to;
    d.dot.setAttribute("cx", x.toFixed(1)); d.dot.setAttribute("cy", y.toFixed(1));
    d.dot.classList.toggle("migrating", to !== null);
    if (host !== null && cloudlets[host]) {
      cloudlets[host].vms++;
      d.link.setAttribute("x1", x.toFixed(1)); d.link.setAttribute("y1", y.toFixed(1));
      d.link.setAttribute("x2", cloudlets[host].x.toFixed(1)); d.link.setAttribute("y2", cloudlets[host].y.toFixed(1));
      d.link.style.display = "";
    } else d.link.style.display = "none";
    if (ap !== null && cells[ap]) cells[ap].devices++;
  }
  for (const [name, d] of devices) {
    if (!present.has(name)) { d.dot.remove(); d.link.remove(); devices.delete(name); }
  }
  for (const c of cells) {
    c.el.classList.toggle("loaded", c.devices > 0);
    c.el.style.fillOpacity = c.devices > 0 ? Math.min(0.6, 0.1 + 0.08 * c.devices) : "";
  }
  cloudlets.forEach((c, i) => {
    const busy = inFlight ? inFlight[i] : 0;
    const cores = world.cloudlets[i][3];
    c.dot.setAttribute("r", (4 + 1.6 * Math.sqrt(c.vms)).toFixed(1));
    c.dot.classList.toggle("busy", busy > cores);
    c.title.textContent = `${world.cloudlets[i][0]}: ${c.vms} VMs` + (inFlight ? `, ${busy} requests in flight` : "");
  });
  for (const r of f.requests) onRequest(r);
  (f.others || []).forEach((rows, i) => {
    const s = series[i + 1];
    if (s) for (const [sent, delay] of rows) addToWindow(s, sent, delay);
  });
  $("devices-shown").textContent = devices.size;
  // Chromium tells its page's heap: shown to check that it stays flat.
  if (performance.memory) {
    $("heap-box").hidden = false;
    $("heap").textContent = (performance.memory.usedJSHeapSize / 1048576).toFixed(1);
  }
  drawChart();
  if (selected) showDetails();
}

function onRequest([device, sent, delay, host, outcome]) {
  const d = devices.get(device);
  const row = { device, sent, delay, host, outcome };
  if (d) push(d.recent, row, RECENT);
  if (host !== null && hostRecent[host]) push(hostRecent[host], row, RECENT);
  if (outcome === "ok" || outcome === "timed_out") addToWindow(series[0], sent, delay);
}

function quantile(sorted, q) {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN;
}

function drawChart() {
  const from = now - WINDOW_S;
  for (const s of series) {
    let cut = 0;
    while (cut < s.reqs.length && s.reqs[cut][0] < from) cut++;
    if (cut) s.reqs = s.reqs.slice(cut);
    const delays = s.reqs.map((r) => r[1]).sort((a, b) => a - b);
    const p50 = delays.length ? quantile(delays, 0.5) : null;
    const p99 = delays.length ? quantile(delays, 0.99) : null;
    push(s.chart, [now, p50, p99], CHART_POINTS);
    if (s.legend && p50 !== null) {
      s.legend.querySelector(".now-p50").textContent = p50.toFixed(1);
      s.legend.querySelector(".now-p99").textContent = p99.toFixed(1);
    }
  }
  const first = series[0].chart[series[0].chart.length - 1];
  if (first[1] !== null) {
    $("p50-now").textContent = first[1].toFixed(1);
    $("p99-now").textContent = first[2].toFixed(1);
  }
  const max = Math.max(0, ...series.flatMap((s) => s.chart.map((c) => c[2] || 0))) * 1.1 || 1;
  $("chart-max").textContent = max.toFixed(0);
  // Every line has a point per frame: x is the frame's place, the same for all.
  for (const s of series) {
    const n = s.chart.length;
    const pts = (k) => s.chart.map((c, i) => c[k] === null ? null :
      `${(n > 1 ? i * 310 / (n - 1) : 0) + 5},${(155 - c[k] / max * 150).toFixed(1)}`)
      .filter((p) => p !== null).join(" ");
    s.p50.setAttribute("points", pts(1));
    s.p99.setAttribute("points", pts(2));
  }
}

function hostIndex(name) { return world.cloudlets.findIndex((c) => c[0] === name); }

function onEvent(e) {
  if (e.kind !== "migration") return;
  const from = hostIndex(e.from), to = hostIndex(e.to);
  let m = migrations.get(e.id);
  if (!m || m.ended) {
    if (m) { m.line.remove(); m.label.remove(); }
    if (from < 0 || to < 0) return;
    const a = cloudlets[from], b = cloudlets[to];
    const colour = COLOURS[e.technique] || COLOURS[""];
    const line = el("line", { x1: a.x, y1: a.y, x2: b.x, y2: b.y, class: "migration", stroke: colour,
      "marker-end": `url(#arrow-${e.technique || "none"})`, "data-migration": e.id,
      "data-technique": e.technique }, $("migrations"));
    const label = el("text", { x: (a.x + b.x) / 2 + 4, y: (a.y + b.y) / 2 - 4,
      class: "migration-label", fill: colour }, $("migrations"));
    m = { line, label, technique: e.technique, vm: e.vm, from, to, start: e.t };
    migrations.set(e.id, m);
    seen++;
    const entry = { t: e.t, vm: e.vm, from: e.from, to: e.to, technique: e.technique, phase: e.phase };
    if (!vmMigrations.has(e.vm)) vmMigrations.set(e.vm, []);
    push(vmMigrations.get(e.vm), entry, RECENT);
    if (vmMigrations.size > 5000) vmMigrations.delete(vmMigrations.keys().next().value);
    push(hostMigrations[from], entry, RECENT); push(hostMigrations[to], entry, RECENT);
    m.entry = entry;
  }
  const phase = e.phase === "postcopy" && e.technique === "soft" ? "handoff + push"
    : e.phase === "precopy" ? `pre-copy round ${e.round}` : e.phase;
  m.entry.phase = phase;
  m.line.setAttribute("data-phase", e.phase);
  m.label.textContent = `${e.vm}: ${phase}`;
  if (e.phase === "done" || e.phase === "aborted") {
    m.ended = true;
    m.line.classList.add("done");
    m.label.textContent = "";
    finished.push(e.id);
    while (finished.length > DONE_KEPT) {
      const old = migrations.get(finished.shift());
      if (old && old.ended) { old.line.remove(); old.label.remove(); migrations.delete(old.line.getAttribute("data-migration")); }
    }
  }
  $("migrations-seen").textContent = seen;
  $("migrations-active").textContent = [...migrations.values()].filter((x) => !x.ended).length;
}

function select(what) {
  for (const e of document.querySelectorAll(".selected")) e.classList.remove("selected");
  selected = what;
  showDetails();
}

function rows(list, cols) {
  return `<table><tr>${cols.map((c) => `<th>${c[0]}</th>`).join("")}</tr>` +
    list.slice().reverse().map((r) => `<tr>${cols.map((c) => `<td>${c[1](r)}</td>`).join("")}</tr>`).join("") +
    "</table>";
}
const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[c]));
const hostName = (i) => (i === null || i === undefined || !world.cloudlets[i]) ? "–" : esc(world.cloudlets[i][0]);
const reqCols = [["sent s", (r) => r.sent.toFixed(2)], ["device", (r) => esc(r.device)],
  ["delay ms", (r) => r.delay.toFixed(1)], ["host", (r) => hostName(r.host)], ["outcome", (r) => esc(r.outcome)]];
const migCols = [["t s", (r) => r.t.toFixed(1)], ["vm", (r) => esc(r.vm)], ["from", (r) => esc(r.from)],
  ["to", (r) => esc(r.to)], ["technique", (r) => esc(r.technique)], ["phase", (r) => esc(r.phase)]];

function showDetails() {
  const title = $("details-title"), body = $("details-body");
  if (selected.device !== undefined) {
    const d = devices.get(selected.device);
    if (!d) { title.textContent = selected.device + " (gone)"; return; }
    d.dot.classList.add("selected");
    title.textContent = "Device " + selected.device;
    const ap = d.ap !== null && world.access_points[d.ap] ? esc(world.access_points[d.ap][0]) : "none";
    body.innerHTML = `<p>access point ${ap}; VM on ${hostName(d.host)}` +
      (d.to !== null ? `, migrating to ${hostName(d.to)}` : "") + "</p>" +
      "<h2>Recent requests</h2>" + rows(d.recent, reqCols) +
      "<h2>Migrations of its VM</h2>" + rows(vmMigrations.get("vm-" + selected.device) || [], migCols);
  } else {
    const i = selected.cloudlet, c = cloudlets[i];
    c.dot.classList.add("selected");
    title.textContent = "Cloudlet " + world.cloudlets[i][0];
    body.innerHTML = `<p>${world.cloudlets[i][3]} cores; ${c.vms} VMs` +
      (inFlight ? `; ${inFlight[i]} requests in flight` : "") + "</p>" +
      "<h2>Recent requests</h2>" + rows(hostRecent[i], reqCols) +
      "<h2>Migrations in and out</h2>" + rows(hostMigrations[i], migCols);
  }
}

// #device=NAME or #cloudlet=NAME in the address selects one from the start.
function selectFromHash() {
  const hash = new URLSearchParams(location.hash.slice(1));
  if (hash.get("device")) select({ device: hash.get("device") });
  const c = hash.get("cloudlet") ? hostIndex(hash.get("cloudlet")) : -1;
  if (c >= 0) select({ cloudlet: c });
}

function onMessage(text) {
  const m = JSON.parse(text);
  if (m.type === "frame") {
    onFrame(m);
    if (stopAfter && ++frames >= stopAfter) {
      source.close();
      $("status").textContent = `paused after ${frames} frames`;
    }
  }
  else if (m.type === "event") onEvent(m);
  else if (m.type === "dropped") { dropped = m.count; $("dropped").textContent = dropped; }
  else if (m.type === "end") { $("status").textContent = "replay over"; }
  else if (m.type === "stopped") { $("status").textContent = "edge stopped"; }
  else if (m.type === "started") { $("status").textContent = "live"; }
  // serve started another scenario (LoadScenario) or run: another map.
  else if (m.type === "world") { source.close(); location.reload(); }
}

async function main() {
  const answer = await fetch("world.json" + query);
  if (!answer.ok) { $("status").textContent = "cannot read world.json: " + answer.status; return; }
  world = await answer.json();
  setupProjection();
  drawWorld();
  setupSeries();
  selectFromHash();
  source = new EventSource("events" + query);
  source.onopen = () => { $("status").textContent = "live"; $("status").className = "live"; };
  source.onerror = () => { $("status").textContent = "disconnected"; $("status").className = "down"; };
  source.onmessage = (e) => onMessage(e.data);
}
main();
