// The offloader's dashboard: polls api/v1/stats and api/v1/devices on
// this origin and draws plain SVG. No library, no other origin; device
// ids and reasons reach the page only through textContent, never as HTML.
"use strict";

const WINDOW_MS = 15 * 60 * 1000;
const SVGNS = "http://www.w3.org/2000/svg";

// hist holds the samples received, as columns, trimmed to WINDOW_MS.
const hist = { t: [], ok: [], failed: [], channels: [], connected: [], inFlight: [], p50: [], p90: [], p99: [] };
let lastT = 0;
let intervalMs = 1000;
let failures = 0;

function $(id) { return document.getElementById(id); }

function setText(id, s) { const e = $(id); if (e.textContent !== s) e.textContent = s; }

function fmtInt(n) { return n == null ? "–" : Math.round(n).toLocaleString("en-US"); }

function fmtSec(s) {
  if (s == null) return "–";
  if (s < 1e-3) return (s * 1e6).toFixed(0) + " µs";
  if (s < 1) return (s * 1e3).toFixed(s < 0.01 ? 2 : 1) + " ms";
  return s.toFixed(2) + " s";
}

function fmtBytes(b) {
  if (b == null || b < 0) return "unknown";
  const u = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (b >= 1024 && i < u.length - 1) { b /= 1024; i++; }
  return b.toFixed(i ? 1 : 0) + " " + u[i];
}

function fmtPct(r) { return r == null ? "–" : (r * 100).toFixed(1) + " %"; }

function fmtDuration(s) {
  if (s == null) return "–";
  s = Math.floor(s);
  const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60);
  if (d) return d + "d " + h + "h " + m + "m";
  if (h) return h + "h " + m + "m";
  return m + "m " + (s % 60) + "s";
}

function fmtAgo(ms, now) {
  if (!ms || ms <= 0) return "–";
  const s = Math.max(0, (now - ms) / 1000);
  if (s < 60) return s.toFixed(0) + " s ago";
  if (s < 3600) return (s / 60).toFixed(0) + " min ago";
  return new Date(ms).toISOString().replace("T", " ").slice(0, 19) + " UTC";
}

function el(tag, text, cls) {
  const e = document.createElement(tag);
  if (text != null) e.textContent = text;
  if (cls) e.className = cls;
  return e;
}

function svgEl(tag, attrs) {
  const e = document.createElementNS(SVGNS, tag);
  for (const k in attrs) e.setAttribute(k, attrs[k]);
  return e;
}

// niceMax rounds up to 1, 2 or 5 times a power of ten.
function niceMax(v) {
  if (!(v > 0)) return 1;
  const p = Math.pow(10, Math.floor(Math.log10(v)));
  for (const m of [1, 2, 5, 10]) if (v <= m * p) return m * p;
  return 10 * p;
}

// drawChart draws series (each {values, cls}) against hist.t over the
// last WINDOW_MS, with a zero-based y axis; a null value breaks a line.
function drawChart(svg, series, fmt) {
  const w = Math.max(200, svg.clientWidth || 900), h = Math.max(100, svg.clientHeight || 180);
  svg.setAttribute("viewBox", "0 0 " + w + " " + h);
  svg.setAttribute("preserveAspectRatio", "none");
  while (svg.firstChild) svg.removeChild(svg.firstChild);
  const left = 64, right = 8, top = 8, bottom = 18;
  const end = hist.t.length ? hist.t[hist.t.length - 1] : Date.now(), start = end - WINDOW_MS;
  let max = 0;
  for (const s of series) for (const v of s.values) if (v != null && v > max) max = v;
  max = niceMax(max);
  const x = t => left + (t - start) / WINDOW_MS * (w - left - right);
  const y = v => top + (1 - v / max) * (h - top - bottom);
  for (const f of [0, 0.5, 1]) {
    svg.appendChild(svgEl("line", { class: "grid", x1: left, x2: w - right, y1: y(max * f), y2: y(max * f) }));
    const label = svgEl("text", { class: "axis", x: left - 4, y: y(max * f) + 4, "text-anchor": "end" });
    label.textContent = fmt(max * f);
    svg.appendChild(label);
  }
  for (const [i, name] of ["−15 min", "−10 min", "−5 min", "now"].entries()) {
    const label = svgEl("text", { class: "axis", x: x(start + i * 5 * 60000), y: h - 4, "text-anchor": i === 0 ? "start" : i === 3 ? "end" : "middle" });
    label.textContent = name;
    svg.appendChild(label);
  }
  for (const s of series) {
    let pts = [], total = 0;
    const flush = () => {
      if (pts.length) svg.appendChild(svgEl("polyline", { class: s.cls, points: pts.join(" ") }));
      total += pts.length;
      pts = [];
    };
    for (let i = 0; i < hist.t.length; i++) {
      const v = s.values[i];
      if (v == null) { flush(); continue; }
      pts.push(x(hist.t[i]).toFixed(1) + "," + y(v).toFixed(1));
    }
    flush();
    svg.dataset["points" + s.cls] = String(total);
  }
}

function append(h) {
  const pipelined = h.kinds.indexOf("pipelined");
  for (let i = 0; i < h.t.length; i++) {
    hist.t.push(h.t[i]);
    hist.ok.push(h.ok_per_second[i]);
    hist.failed.push(h.failed_per_second[i]);
    hist.channels.push(h.channels[i]);
    hist.connected.push(h.connected[i]);
    hist.inFlight.push(h.in_flight[i]);
    const run = pipelined >= 0 ? h.latency[pipelined][1] : [[], [], []];
    hist.p50.push(run[0][i]);
    hist.p90.push(run[1][i]);
    hist.p99.push(run[2][i]);
  }
  if (h.t.length) lastT = h.t[h.t.length - 1];
  const cut = lastT - WINDOW_MS;
  let n = 0;
  while (n < hist.t.length && hist.t[n] <= cut) n++;
  if (n) for (const k in hist) hist[k].splice(0, n);
}

function renderTiles(s) {
  setText("hs-ok", fmtInt(s.handshakes.ok));
  setText("hs-failed", fmtInt(s.handshakes.failed));
  setText("channels", fmtInt(s.channels_open));
  setText("connected", fmtInt(s.devices_connected));
  setText("inflight", fmtInt(s.flights_in_flight) + " / " + fmtInt(s.flights_max_in_flight));
  setText("ratelimited", fmtInt(s.devices_rate_limited));
  setText("cache-entries", fmtInt(s.verify_cache.entries) + " / " + fmtInt(s.verify_cache.max));
  setText("cache-ratio", fmtPct(s.verify_cache.hit_ratio));
}

function renderLatency(s) {
  setText("lat-window", String(s.latency_window_seconds));
  const body = $("latency").tBodies[0];
  const rows = [];
  for (const l of s.latency) {
    if (l.kind === "unknown" && !l.count) continue;
    const tr = el("tr");
    tr.dataset.kind = l.kind;
    tr.appendChild(el("td", l.kind));
    tr.appendChild(el("td", fmtInt(l.count)));
    for (const v of l.queue) tr.appendChild(el("td", fmtSec(v)));
    for (const v of l.run) tr.appendChild(el("td", fmtSec(v)));
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

function renderFailures(s) {
  const body = $("failures").tBodies[0];
  const rows = [];
  for (const f of s.failures || []) {
    const tr = el("tr");
    tr.dataset.reason = f.reason;
    tr.appendChild(el("td", f.reason.replace(/_/g, " ")));
    tr.appendChild(el("td", fmtInt(f.total), "count"));
    tr.appendChild(el("td", fmtPct(f.share)));
    tr.appendChild(el("td", fmtInt(f.recent)));
    const bar = el("td", null, "bar"), span = el("span");
    span.style.width = ((f.share || 0) * 100).toFixed(1) + "%";
    bar.appendChild(span);
    tr.appendChild(bar);
    rows.push(tr);
  }
  body.replaceChildren(...rows);
  $("failures-empty").hidden = rows.length > 0;
}

function renderProcess(s) {
  const p = s.process;
  setText("p-version", s.version || "–");
  setText("p-uptime", fmtDuration(p.uptime_seconds));
  setText("p-goroutines", fmtInt(p.goroutines));
  setText("p-rss", fmtBytes(p.rss_bytes));
  setText("p-fds", (p.open_fds < 0 ? "unknown" : fmtInt(p.open_fds)) + " / " + (p.max_fds < 0 ? "unlimited" : fmtInt(p.max_fds)));
  const c = s.config;
  if (!c) { setText("p-generation", "–"); setText("p-reload", "–"); return; }
  setText("p-generation", String(c.generation) + " (loaded " + fmtAgo(c.loaded_at, s.now) + ")");
  const r = $("p-reload");
  if (!c.last_reload) { setText("p-reload", "none tried"); r.className = ""; }
  else if (c.last_reload_error) { setText("p-reload", "failed " + fmtAgo(c.last_reload, s.now) + ": " + c.last_reload_error); r.className = "error"; }
  else { setText("p-reload", "succeeded " + fmtAgo(c.last_reload, s.now)); r.className = ""; }
}

function renderCharts() {
  drawChart($("chart-handshakes"), [{ values: hist.ok, cls: "ok" }, { values: hist.failed, cls: "bad" }], v => v.toFixed(v < 10 ? 1 : 0) + "/s");
  drawChart($("chart-load"), [{ values: hist.channels, cls: "c1" }, { values: hist.connected, cls: "c2" }, { values: hist.inFlight, cls: "c3" }], v => Number.isInteger(v) ? fmtInt(v) : v.toFixed(1));
  drawChart($("chart-latency"), [{ values: hist.p50, cls: "c1" }, { values: hist.p90, cls: "c2" }, { values: hist.p99, cls: "c3" }], fmtSec);
}

let deviceQuery = "";
let devicesSeq = 0;

async function refreshDevices() {
  const seq = ++devicesSeq;
  const r = await fetch("api/v1/devices?limit=20&q=" + encodeURIComponent(deviceQuery), { credentials: "same-origin" });
  if (!r.ok) throw new Error("devices: HTTP " + r.status);
  const d = await r.json();
  if (seq !== devicesSeq) return; // a newer search answered first
  const now = Date.now();
  const rows = d.rows.map(row => {
    const tr = el("tr");
    tr.dataset.device = row.id;
    tr.appendChild(el("td", row.id));
    tr.appendChild(el("td", fmtInt(row.channels)));
    tr.appendChild(el("td", fmtInt(row.handshakes)));
    tr.appendChild(el("td", fmtInt(row.failures)));
    tr.appendChild(el("td", row.last_reason ? row.last_reason.replace(/_/g, " ") : "–"));
    tr.appendChild(el("td", fmtInt(row.rate_limited)));
    tr.appendChild(el("td", fmtAgo(row.last_seen, now)));
    return tr;
  });
  $("devices").tBodies[0].replaceChildren(...rows);
  setText("devices-note", deviceQuery
    ? d.matched + " matching, " + rows.length + " shown"
    : "busiest and most failing of " + d.tracked + " tracked (at most " + d.max_tracked + ")");
}

async function tick() {
  try {
    const r = await fetch("api/v1/stats?since=" + lastT, { credentials: "same-origin" });
    if (!r.ok) throw new Error("stats: HTTP " + r.status);
    const s = await r.json();
    intervalMs = s.interval_ms || 1000;
    append(s.history);
    renderTiles(s);
    renderLatency(s);
    renderFailures(s);
    renderProcess(s);
    renderCharts();
    await refreshDevices();
    failures = 0;
    const st = $("status");
    st.textContent = "live, updated " + new Date(s.now).toISOString().slice(11, 19) + " UTC";
    st.className = "status";
  } catch (e) {
    failures++;
    const st = $("status");
    st.textContent = "not updating (" + e.message + ")";
    st.className = "status stale";
  }
  setTimeout(tick, Math.min(intervalMs * Math.pow(2, Math.min(failures, 4)), 30000));
}

document.addEventListener("DOMContentLoaded", () => {
  $("device-search").addEventListener("input", e => {
    deviceQuery = e.target.value.trim();
    refreshDevices().catch(() => {});
  });
  window.addEventListener("resize", renderCharts);
  tick();
});
