// rfidgw zone tuning page. Plain JS, no build step, no external resources.
// Everything from the gateway is untrusted text: it goes into the DOM only
// through textContent and setAttribute, never innerHTML.
"use strict";

(function () {
  const TOKEN = new URLSearchParams(location.search).get("token");
  const MAX_EVENTS = 100;       // rows kept in the events table
  const TAG_REFRESH_MS = 1000;  // tag view refresh while open
  const PLOT_SPAN_S = 120;      // RSSI plot: last two minutes
  const COLORS = ["#1f5fbf", "#c62828", "#17803d", "#b26a00", "#7b1fa2", "#00838f", "#5d4037", "#ad1457"];

  const $ = (id) => document.getElementById(id);

  // api builds a relative URL (so the page works under a path prefix) that
  // carries the token the page was opened with.
  function api(path, params) {
    const q = new URLSearchParams(params || {});
    if (TOKEN) q.set("token", TOKEN);
    const s = q.toString();
    return path + (s ? "?" + s : "");
  }

  // el creates an element; attrs are set with setAttribute, children are
  // nodes or strings (as text nodes).
  function el(tag, attrs, ...children) {
    const e = document.createElement(tag);
    for (const [k, v] of Object.entries(attrs || {})) {
      if (v === null || v === undefined || v === false) continue;
      e.setAttribute(k, v === true ? "" : String(v));
    }
    for (const c of children) {
      if (c === null || c === undefined) continue;
      e.append(c instanceof Node ? c : document.createTextNode(String(c)));
    }
    return e;
  }

  const fmt1 = (x) => (typeof x === "number" && isFinite(x) ? x.toFixed(1) : "–");
  const pad = (n, w) => String(n).padStart(w || 2, "0");
  // Every time on the page is in the browser's time zone, named once in
  // the header clock; a date is added when it is not the clock's day.
  function tzName(d) {
    try {
      const p = new Intl.DateTimeFormat([], { timeZoneName: "short" }).formatToParts(d).find((x) => x.type === "timeZoneName");
      return p ? p.value : "";
    } catch (e) { return ""; }
  }
  const ymd = (d) => d.getFullYear() + "-" + pad(d.getMonth() + 1) + "-" + pad(d.getDate());
  const hms = (d) => pad(d.getHours()) + ":" + pad(d.getMinutes()) + ":" + pad(d.getSeconds());
  function fmtTime(s) {
    if (!s) return "–";
    const d = new Date(s);
    if (isNaN(d)) return String(s);
    const t = hms(d) + "." + pad(d.getMilliseconds(), 3);
    const c = clockNow();
    return c && ymd(c) === ymd(d) ? t : ymd(d) + " " + t;
  }
  function fmtSecs(x) {
    if (typeof x !== "number" || !isFinite(x)) return "–";
    return (Math.abs(x) < 10 ? x.toFixed(1) : Math.round(x)) + " s";
  }
  function fmtBytes(n) {
    if (typeof n !== "number") return "–";
    const u = ["B", "KiB", "MiB", "GiB", "TiB"];
    let i = 0;
    while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
    return (i ? n.toFixed(1) : String(n)) + " " + u[i];
  }
  function fmtLag(s) {
    if (typeof s !== "number") return "–";
    if (s < 60) return s.toFixed(1) + " s";
    if (s < 3600) return (s / 60).toFixed(1) + " min";
    return (s / 3600).toFixed(1) + " h";
  }
  function tagLink(epc) {
    return el("button", { type: "button", class: "tag-link epc", "data-open-epc": epc, title: "show this tag" }, epc);
  }

  // ---- state ----
  let selectedEPC = null;
  let lastAt = null;          // the gateway's clock at the last snapshot
  let clock = null;           // {now: Date, recorded, wall: ms when received}
  let zoneCards = new Map();  // zone id -> {card, key}
  let zoneSettings = new Map(); // zone id -> settings (min_rssi, hysteresis_db, dwell_s, ...)
  let antennaZones = new Map(); // "reader #ant" -> [zone ids]

  // clockNow is the gateway's clock now: the last snapshot's, advanced by
  // the time since (a replayed file runs at its own speed; close enough
  // between two snapshots).
  function clockNow() {
    if (!clock) return null;
    return new Date(clock.now.getTime() + (Date.now() - clock.wall));
  }
  function renderClock() {
    const d = clockNow();
    if (!d) return;
    const c = $("clock");
    c.textContent = ymd(d) + " " + hms(d) + " " + tzName(d);
    c.setAttribute("datetime", d.toISOString());
    c.setAttribute("data-recorded", clock.recorded ? "true" : "false");
    const note = $("clock-note");
    note.hidden = !clock.recorded;
    note.textContent = clock.recorded ? "recorded time: playing a reads file" : "";
    $("events-time-h").textContent = "time (" + tzName(d) + ")";
  }

  // ---- readers ----
  function renderReaders(readers) {
    const box = $("readers");
    antennaZones = new Map();
    for (const r of readers) {
      for (const a of r.antennas || []) antennaZones.set(r.id + " #" + a.antenna, (a.zones || []).concat(r.zones || []));
      antennaZones.set(r.id + " #*", r.zones || []);
    }
    const nodes = [];
    if (!readers.length) nodes.push(el("p", { class: "muted" }, "no readers configured"));
    const maxRate = Math.max(1, ...readers.flatMap((r) => (r.antennas || []).map((a) => a.reads_per_sec || 0)));
    for (const r of readers) {
      const ants = r.antennas || [];
      const rows = ants.map((a) =>
        el("tr", { "data-antenna": a.antenna, "data-disconnected": a.disconnected ? "true" : "false" },
          el("td", { class: "num" }, a.antenna, a.disconnected ? el("span", { class: "state", title: "the reader reports this antenna disconnected; its zones count it like an offline reader" }, " DISCONNECTED") : null),
          el("td", { class: "num" }, fmt1(a.reads_per_sec)),
          el("td", {}, barOf(a.reads_per_sec, maxRate)),
          el("td", { class: "muted" }, (a.zones || []).join(", "))));
      nodes.push(el("div", { class: "reader", "data-reader": r.id, "data-connected": r.connected ? "true" : "false", "data-type": r.type },
        el("div", { class: "reader-head" },
          el("span", { class: "dot", title: r.connected ? "connected" : "not connected" }),
          el("span", { class: "id" }, r.id),
          el("span", { class: "muted" }, r.type || ""),
          el("span", { class: "state" }, r.connected ? "connected" : "NOT connected"),
          el("span", { class: "rate", title: "reads per second" }, fmt1(r.reads_per_sec) + " reads/s")),
        r.since ? el("div", { class: "muted" }, (r.connected ? "up since " : "down since ") + fmtTime(r.since)) : null,
        r.filtered ? el("div", { class: "muted filtered", title: "reads of tags the read filter drops before the engine" + (r.filter ? " (gateway filter: " + r.filter + "; zones may add their own)" : " (zones' accept/ignore)") }, r.filtered + " reads of foreign tags filtered") : null,
        (r.zones || []).length ? el("div", { class: "muted" }, "all antennas: " + r.zones.join(", ")) : null,
        ants.length ? el("table", {},
          el("thead", {}, el("tr", {}, el("th", { class: "num" }, "ant"), el("th", { class: "num" }, "reads/s"), el("th", {}, ""), el("th", {}, "zones"))),
          el("tbody", {}, ...rows)) : null));
    }
    box.replaceChildren(...nodes);
  }
  function barOf(v, max) {
    const b = el("span", { class: "bar" });
    b.style.width = Math.round(60 * Math.min(1, (v || 0) / max)) + "px";
    return b;
  }

  // ---- uplink ----
  function renderUplink(u) {
    const dl = $("uplink");
    dl.setAttribute("data-kafka-connected", u.kafka_connected ? "true" : "false");
    dl.setAttribute("data-pending", String(u.pending));
    const items = [
      ["Kafka", u.kafka_connected ? "connected" : "NOT connected"],
      ["pending events", String(u.pending)],
      ["pending bytes", fmtBytes(u.bytes)],
      ["lag (oldest undelivered)", fmtLag(u.lag_seconds)],
      ["delivered", String(u.delivered)],
      ["dropped (buffer full)", String(u.dropped || 0)],
    ];
    if (u.last_error) items.push(["last error", u.last_error]);
    const nodes = [];
    for (const [k, v] of items) nodes.push(el("dt", {}, k), el("dd", {}, v));
    dl.replaceChildren(...nodes);
    const badge = $("uplink-badge");
    badge.textContent = "Kafka " + (u.kafka_connected ? "connected" : "NOT connected") + " · " + u.pending + " pending";
    badge.className = "badge " + (u.kafka_connected ? "ok" : "bad");
  }

  // ---- zones ----
  function zoneWhere(z) {
    const parts = [];
    if (z.floor) parts.push("floor " + z.floor);
    if (z.room) parts.push("room " + z.room);
    if (z.row) parts.push("row " + z.row);
    if (z.rack) parts.push("rack " + z.rack);
    return parts.join(" · ");
  }
  function renderZones(msg) {
    const box = $("zones");
    const filtering = !!msg.filter;
    const seen = new Set();
    const order = [];
    for (const z of msg.zones || []) {
      seen.add(z.id);
      if (z.settings) zoneSettings.set(z.id, z.settings);
      const key = JSON.stringify(z);
      let entry = zoneCards.get(z.id);
      if (!entry || entry.key !== key) {
        const card = zoneCard(z);
        if (entry) entry.card.replaceWith(card);
        entry = { card, key };
        zoneCards.set(z.id, entry);
      }
      entry.card.classList.toggle("hidden", filtering && z.total === 0);
      order.push(entry.card);
    }
    for (const [id, entry] of zoneCards) {
      if (!seen.has(id)) { entry.card.remove(); zoneCards.delete(id); }
    }
    // Re-append only when the order differs, so nothing flickers.
    const cur = Array.from(box.children);
    if (cur.length !== order.length || cur.some((c, i) => c !== order[i])) box.replaceChildren(...order);
    markSelected();
    let summary = msg.tags_total + " tag" + (msg.tags_total === 1 ? "" : "s") + (filtering ? " matching" : "") + " in " + (msg.zones || []).length + " zones";
    if (msg.tags_sent < msg.tags_total) summary += " (showing " + msg.tags_sent + ", strongest first)";
    $("zones-summary").textContent = summary;
  }
  function zoneFilter(z) {
    const parts = [];
    if (z.accept && z.accept.length) parts.push("accept " + z.accept.join(", "));
    if (z.ignore && z.ignore.length) parts.push("ignore " + z.ignore.join(", "));
    return parts.length ? el("div", { class: "filter muted", title: "read filter: other tags on this zone's antennas never reach the engine" }, parts.join(" · ")) : null;
  }
  function settingsText(kind, st) {
    const parts = ["min_rssi " + st.min_rssi + " dBm", "min_reads " + st.min_reads];
    if (kind === "gate") parts.push("gate_window " + st.gate_window_s + " s");
    else parts.push("hysteresis " + st.hysteresis_db + " dB", "dwell " + st.dwell_s + " s", "lost_after " + st.lost_after_s + " s");
    return parts.join(" · ");
  }
  function zoneCard(z) {
    const gate = z.kind === "gate";
    const rows = (z.tags || []).map((t) =>
      el("tr", { "data-epc": t.epc, "data-settled": t.settled ? "true" : "false", "data-side": t.side || null },
        el("td", {}, tagLink(t.epc)),
        el("td", { class: "num", title: gate ? "peak RSSI (dBm)" : "smoothed RSSI (dBm)" }, t.reads > 0 ? fmt1(t.rssi) : "–"),
        el("td", { class: "num", title: "reads in the presence window" }, t.reads),
        el("td", {}, gate ? (t.side || "") : (t.settled ? el("span", { class: "settled", title: "settled in this rack" }, t.reads > 0 ? "settled" : "settled, not read lately") : el("span", { class: "muted", title: "seen here, settled elsewhere or not yet" }, "seen")))));
    const head = el("div", { class: "zone-head" },
      el("span", { class: "id" }, z.id),
      el("span", { class: "muted" }, z.kind),
      el("span", { class: "count" }, z.total + " tag" + (z.total === 1 ? "" : "s")));
    return el("div", { class: "zone", "data-zone": z.id, "data-kind": z.kind, "data-total": z.total },
      head,
      el("div", { class: "where" }, zoneWhere(z)),
      z.settings ? el("div", { class: "settings", title: "this zone's edge settings (edge: with its overrides)" }, settingsText(z.kind, z.settings)) : null,
      zoneFilter(z),
      rows.length ? el("table", {},
        el("thead", {}, el("tr", {}, el("th", {}, "EPC"), el("th", { class: "num" }, "RSSI"), el("th", { class: "num" }, "reads"), el("th", {}, gate ? "side" : "state"))),
        el("tbody", {}, ...rows)) : el("div", { class: "muted" }, "no tags"),
      z.more > 0 ? el("div", { class: "more", "data-more": z.more }, "+" + z.more + " more") : null);
  }
  function markSelected() {
    for (const tr of document.querySelectorAll("tr.selected")) tr.classList.remove("selected");
    if (!selectedEPC) return;
    for (const tr of document.querySelectorAll('#zones tr[data-epc="' + CSS.escape(selectedEPC) + '"], #events tr[data-epc="' + CSS.escape(selectedEPC) + '"]')) tr.classList.add("selected");
  }

  // ---- events ----
  function eventWhere(ev) {
    if (ev.type === "rack_move") return (ev.from ? ev.from.zone : "∅") + " → " + (ev.to ? ev.to.zone : "∅");
    if (ev.type === "rack_depart") return (ev.from ? ev.from.zone : "") + " → (gone)";
    if (ev.type === "gap") return "dropped " + ev.dropped + " (seq " + ev.first_seq + "–" + ev.last_seq + ")";
    return ev.zone || "";
  }
  function eventEvidence(ev) {
    const e = ev.evidence;
    return e ? e.reads + " reads, peak " + fmt1(e.peak_rssi) + " dBm, " + (e.readers || []).join(",") + " ant " + (e.antennas || []).join(",") : "";
  }
  function typeCell(ev) {
    return el("td", { class: "type-" + String(ev.type).replace(/[^a-z_]/g, "") }, ev.type);
  }
  function eventRow(ev) {
    return el("tr", { "data-event-id": ev.id, "data-type": ev.type, "data-epc": ev.epc || null },
      el("td", { class: "mono" }, fmtTime(ev.time)),
      typeCell(ev),
      el("td", {}, ev.epc ? tagLink(ev.epc) : "–"),
      el("td", {}, eventWhere(ev)),
      el("td", { class: "muted" }, eventEvidence(ev)),
      el("td", { class: "mono muted" }, ev.id));
  }
  // tagEventRow is eventRow for the tag view, where the EPC is known and
  // space is short: the evidence goes in a tooltip.
  function tagEventRow(ev) {
    return el("tr", { "data-event-id": ev.id, "data-type": ev.type, title: eventEvidence(ev) + " · " + ev.id },
      el("td", { class: "mono" }, fmtTime(ev.time)),
      typeCell(ev),
      el("td", {}, eventWhere(ev)));
  }
  function renderEvents(msg) {
    const tbody = $("events").tBodies[0];
    const rows = (msg.events || []).map(eventRow);
    if (msg.reset) tbody.replaceChildren(...rows);
    else tbody.prepend(...rows);
    while (tbody.rows.length > MAX_EVENTS) tbody.deleteRow(-1);
    markSelected();
  }

  // ---- one tag ----
  let tagTimer = null;
  let tagRequest = 0;
  function openTag(epc) {
    selectedEPC = epc;
    $("tag-panel").hidden = false;
    $("tag-panel").setAttribute("data-epc", epc);
    document.querySelector("main").classList.add("with-tag");
    $("tag-epc").textContent = epc;
    $("tag-detail").replaceChildren(el("p", { class: "muted" }, "loading…"));
    markSelected();
    clearInterval(tagTimer);
    loadTag();
    tagTimer = setInterval(loadTag, TAG_REFRESH_MS);
  }
  function closeTag() {
    selectedEPC = null;
    clearInterval(tagTimer);
    $("tag-panel").hidden = true;
    $("tag-panel").removeAttribute("data-epc");
    document.querySelector("main").classList.remove("with-tag");
    markSelected();
  }
  async function loadTag() {
    const epc = selectedEPC;
    if (!epc) return;
    const n = ++tagRequest;
    let res;
    try {
      res = await fetch(api("api/tag/" + encodeURIComponent(epc)), { headers: { Accept: "application/json" } });
    } catch (e) {
      return; // the stream's status shows the connection problem
    }
    if (n !== tagRequest || epc !== selectedEPC) return;
    if (res.status === 429) return; // rate-limited: keep what is shown
    const body = await res.json().catch(() => ({}));
    if (n !== tagRequest || epc !== selectedEPC) return;
    if (!res.ok) {
      $("tag-panel").setAttribute("data-zone", "");
      $("tag-detail").replaceChildren(el("p", { class: "muted", id: "tag-missing" }, body.error || res.statusText));
      return;
    }
    renderTag(body);
  }
  // dwellText is the candidate's countdown on the gateway's clock.
  function dwellText(t) {
    if (!t.candidate) return "none";
    let s = t.candidate + " since " + fmtTime(t.candidate_since);
    const until = Date.parse(t.dwell_until || ""), at = Date.parse(t.at || "");
    if (isFinite(until) && isFinite(at)) {
      const left = Math.max(0, (until - at) / 1000);
      const dw = (until - Date.parse(t.candidate_since)) / 1000;
      s += " · settles in " + fmtSecs(left) + " (dwell " + fmtSecs(dw) + ") if it stays the strongest";
    }
    return s;
  }
  function marginCell(z) {
    if (z.side) return el("td", { class: "num muted" }, "");
    if (z.role === "settled") return el("td", { class: "num muted", title: "the settled rack: the one to beat" }, "—");
    if (z.role === "not_present") return el("td", { class: "num muted" }, "");
    if (z.margin_db < 0) return el("td", { class: "num short", title: "dB still needed to beat the settled rack by hysteresis_db " + z.hysteresis_db }, "needs " + fmt1(-z.margin_db) + " dB");
    if (z.margin_db > 0) return el("td", { class: "num ok", title: "beats the settled rack + hysteresis_db by this much" }, "+" + fmt1(z.margin_db) + " dB");
    return el("td", { class: "num muted", title: "no settled rack present: no hysteresis to beat" }, "—");
  }
  function presentText(z) {
    const n = z.min_reads ? z.reads + "/" + z.min_reads : String(z.reads);
    return (z.present ? "yes " : "no ") + "(" + n + ")";
  }
  function renderTag(t) {
    $("tag-panel").setAttribute("data-zone", t.zone || "");
    $("tag-panel").setAttribute("data-candidate", t.candidate || "");
    const dl = el("dl", {},
      el("dt", {}, "settled zone"), el("dd", { id: "tag-zone", class: t.zone ? "settled" : "muted" }, t.zone || "none"),
      el("dt", {}, "candidate"), el("dd", { id: "tag-candidate", "data-dwell-until": t.dwell_until || null }, dwellText(t)),
      el("dt", {}, "last seen"), el("dd", {}, fmtTime(t.last_seen)));
    const zrows = (t.zones || []).map((z) =>
      el("tr", { "data-zone": z.zone, "data-role": z.role || null, "data-margin": z.side ? null : String(z.margin_db), class: z.zone === t.zone ? "selected" : null,
        title: (z.explain ? z.explain + "; " : "") + "peak " + fmt1(z.peak_rssi) + " dBm" },
        el("td", {}, z.zone + (z.side ? " (" + z.side + ")" : "")),
        el("td", {}, z.side ? "gate side" : (z.role || "").replace("_", " ")),
        el("td", { title: "reads in the current run / min_reads" }, z.side ? String(z.reads) : presentText(z)),
        el("td", { class: "num" }, z.side ? "" : fmt1(z.rssi)),
        z.side ? el("td", { class: "num", title: "peak RSSI, dBm" }, "peak " + fmt1(z.peak_rssi)) : marginCell(z)));
    const zones = zrows.length ? el("table", { id: "tag-zones" },
      el("thead", {}, el("tr", {}, el("th", {}, "zone"), el("th", {}, "role"), el("th", {}, "present"), el("th", { class: "num", title: "smoothed RSSI, dBm" }, "smoothed"),
        el("th", { class: "num", title: "margin to the settled rack + hysteresis_db" }, "margin"))),
      el("tbody", {}, ...zrows)) : el("p", { class: "muted" }, "in no zone now");
    const why = el("p", { id: "tag-decision", class: "decision" }, t.decision || "");
    const notes = (t.zones || []).filter((z) => z.explain).map((z) => el("li", { "data-zone": z.zone }, z.zone + ": " + z.explain));
    const evs = (t.events || []).map(tagEventRow);
    $("tag-detail").replaceChildren(
      dl, why,
      el("h3", {}, "What the engine weighs, per zone"), zones,
      notes.length ? el("ul", { class: "explain" }, ...notes) : null,
      el("h3", {}, "RSSI over time, per zone (reader antenna)"), plot(t.reads || [], t.at),
      el("h3", {}, "Recent events of this tag"),
      evs.length ? el("table", { id: "tag-events" }, el("tbody", {}, ...evs)) : el("p", { class: "muted" }, "none"));
  }

  // plot draws reads [{time, reader, antenna, rssi}] as one series per
  // reader antenna, in an inline SVG.
  function plot(reads, at) {
    const NS = "http://www.w3.org/2000/svg";
    const W = 420, H = 180, L = 34, R = 6, T = 6, B = 20;
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("viewBox", "0 0 " + W + " " + H);
    svg.setAttribute("class", "plot");
    svg.setAttribute("id", "tag-plot");
    svg.setAttribute("role", "img");
    svg.setAttribute("data-points", String(reads.length));
    const add = (name, attrs, text) => {
      const e = document.createElementNS(NS, name);
      for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, String(v));
      if (text !== undefined) e.textContent = text;
      svg.append(e);
      return e;
    };
    // Each point belongs to the zones its antenna feeds; it is weak (the
    // engine ignores it) when under those zones' min_rssi.
    const zonesOf = (key, reader) => {
      const zs = antennaZones.get(key) || antennaZones.get(reader + " #*") || [];
      return zs.length ? zs : [];
    };
    const minOf = (zs) => {
      const ms = zs.map((z) => zoneSettings.get(String(z).split("/")[0])).filter(Boolean).map((s) => s.min_rssi);
      return ms.length ? Math.min(...ms) : null;
    };
    const pts = reads.map((r) => {
      const key = r.reader + " #" + r.antenna;
      const zs = zonesOf(key, r.reader);
      const min = minOf(zs);
      return { t: Date.parse(r.time) / 1000, rssi: r.rssi, n: r.count || 1, key, zones: zs, min, weak: min !== null && r.rssi < min };
    }).filter((p) => isFinite(p.t) && isFinite(p.rssi));
    // The right edge is "now" on the engine's clock (at), so a tag that went
    // silent shows as a gap at the end; reads newer than that move it.
    const atS = Date.parse(at || lastAt || "") / 1000;
    const end = Math.max(isFinite(atS) ? atS : Date.now() / 1000, ...pts.map((p) => p.t));
    // Zoom in when all reads are recent: 30 s, 60 s or the full two minutes.
    const span = [30, 60, PLOT_SPAN_S].find((s) => pts.every((p) => end - p.t <= s)) || PLOT_SPAN_S;
    const start = end - span;
    const mins = [...new Set(pts.filter((p) => p.min !== null).map((p) => p.min))];
    let lo = Math.min(-80, ...pts.map((p) => p.rssi), ...mins), hi = Math.max(-30, ...pts.map((p) => p.rssi));
    lo = Math.floor(lo / 10) * 10; hi = Math.ceil(hi / 10) * 10;
    const x = (t) => L + (W - L - R) * Math.max(0, (t - start) / span);
    const y = (v) => T + (H - T - B) * (hi - v) / (hi - lo);
    for (let v = lo; v <= hi; v += 10) {
      add("line", { x1: L, x2: W - R, y1: y(v), y2: y(v), class: "grid" });
      add("text", { x: 2, y: y(v) + 3 }, v + "");
    }
    svg.setAttribute("data-span", String(span));
    const step = span === PLOT_SPAN_S ? 30 : span / 3;
    for (let s = 0; s <= span; s += step) {
      add("text", { x: x(start + s), y: H - 5, "text-anchor": s === 0 ? "start" : s === span ? "end" : "middle" }, s === span ? "now" : "-" + (span - s) + "s");
    }
    add("text", { x: L + 4, y: T + 9 }, "RSSI dBm");
    // min_rssi of the zones in the plot: reads under it are ignored.
    for (const m of mins) {
      const zs = [...new Set(pts.filter((p) => p.min === m).flatMap((p) => p.zones.map((z) => String(z).split("/")[0])))];
      add("line", { x1: L, x2: W - R, y1: y(m), y2: y(m), class: "min-rssi", "data-min-rssi": m });
      add("text", { x: W - R - 2, y: y(m) - 3, "text-anchor": "end", class: "min-rssi-label" }, "min_rssi " + m + (mins.length > 1 ? " (" + zs.join(", ") + ")" : ""));
    }
    const series = new Map();
    for (const p of pts) {
      if (p.t < start) continue;
      if (!series.has(p.key)) series.set(p.key, []);
      series.get(p.key).push(p);
    }
    const legend = el("div", { class: "legend" });
    let i = 0;
    for (const [key, ps] of series) {
      const color = COLORS[i++ % COLORS.length];
      ps.sort((a, b) => a.t - b.t);
      add("polyline", { points: ps.map((p) => x(p.t).toFixed(1) + "," + y(p.rssi).toFixed(1)).join(" "), fill: "none", stroke: color, "stroke-width": 1, "stroke-opacity": 0.5 });
      for (const p of ps) {
        const c = add("circle", { cx: x(p.t).toFixed(1), cy: y(p.rssi).toFixed(1), r: p.weak ? 2.5 : 2, fill: p.weak ? "#fff" : color, stroke: color, "data-series": key, "data-weak": p.weak ? "true" : "false" });
        if (p.weak) c.append(document.createElementNS(NS, "title"));
        if (p.weak) c.firstChild.textContent = fmt1(p.rssi) + " dBm: under min_rssi " + p.min + ", ignored by the engine";
      }
      const last = ps[ps.length - 1];
      const sw = el("span", { class: "swatch" });
      sw.style.background = color;
      const zs = ps[0].zones.length ? ps[0].zones.join(", ") : "no zone";
      const weak = ps.filter((p) => p.weak).reduce((a, p) => a + p.n, 0);
      legend.append(el("span", { "data-series": key, "data-zones": ps[0].zones.join(",") }, sw,
        zs + " (" + key + "): " + ps.reduce((a, p) => a + p.n, 0) + " reads" + (weak ? ", " + weak + " under min_rssi" : "") + ", last " + fmt1(last.rssi) + " dBm"));
    }
    if (!series.size) legend.append(el("span", { class: "muted" }, "no reads in the last " + span + " s"));
    if (pts.some((p) => p.weak)) legend.append(el("span", { class: "muted", id: "weak-note" }, "○ hollow: under the zone's min_rssi (ignored)"));
    return el("div", {}, svg, legend);
  }

  // ---- live stream ----
  let source = null;
  let filter = "";
  function connect() {
    if (source) source.close();
    const live = $("live");
    live.setAttribute("data-state", "connecting");
    live.textContent = "connecting…";
    source = new EventSource(api("api/stream", filter ? { epc: filter } : {}));
    source.onopen = () => { live.setAttribute("data-state", "open"); live.textContent = "live"; };
    source.onerror = () => {
      // EventSource retries by itself; say so.
      live.setAttribute("data-state", source.readyState === EventSource.CLOSED ? "closed" : "connecting");
      live.textContent = source.readyState === EventSource.CLOSED ? "disconnected (reload the page)" : "reconnecting…";
    };
    source.addEventListener("snapshot", (e) => {
      const msg = JSON.parse(e.data);
      const c = msg.clock || { now: msg.at, recorded: false };
      clock = { now: new Date(c.now), recorded: !!c.recorded, wall: Date.now() };
      lastAt = c.now;
      renderClock();
      $("live").title = "live updates from the gateway; last at " + new Date().toLocaleTimeString();
      document.body.setAttribute("data-seq", String(msg.seq));
      document.body.setAttribute("data-filter", msg.filter || "");
      renderReaders(msg.readers || []);
      if (msg.uplink) renderUplink(msg.uplink);
      renderZones(msg);
    });
    source.addEventListener("events", (e) => renderEvents(JSON.parse(e.data)));
  }

  let filterTimer = null;
  function onFilterInput() {
    clearTimeout(filterTimer);
    filterTimer = setTimeout(() => {
      const v = $("epc-filter").value.trim();
      const err = $("filter-error");
      if (!/^[0-9a-fA-F]*$/.test(v)) {
        err.textContent = "an EPC is hex digits 0-9 A-F";
        err.hidden = false;
        return;
      }
      err.hidden = true;
      const f = v.toUpperCase();
      if (f === filter) return;
      filter = f;
      connect();
    }, 250);
  }

  document.addEventListener("click", (e) => {
    const b = e.target.closest("[data-open-epc]");
    if (b) openTag(b.getAttribute("data-open-epc"));
  });
  document.addEventListener("keydown", (e) => { if (e.key === "Escape" && selectedEPC) closeTag(); });
  document.addEventListener("DOMContentLoaded", () => {
    $("tag-close").addEventListener("click", closeTag);
    $("epc-filter").addEventListener("input", onFilterInput);
    setInterval(renderClock, 1000);
    connect();
  });
})();
