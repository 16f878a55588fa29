// storebox status page. Plain JS, no dependencies: it must work on a store
// LAN with no internet. Data from devices (ids, names) is untrusted, so
// everything is written with textContent, never parsed as HTML.
"use strict";

(function () {
  const KINDS = ["terminal", "scale", "label", "door"];
  const $ = (id) => document.getElementById(id);

  let snap = null;       // last snapshot
  let receivedAt = 0;    // performance.now() when it arrived

  // ---- formatting ----
  function el(tag, text, cls) {
    const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function duration(s) {
    s = Math.max(0, Math.floor(s));
    const d = Math.floor(s / 86400), h = Math.floor(s % 86400 / 3600), m = Math.floor(s % 3600 / 60), sec = s % 60;
    if (d > 0) return d + "d " + h + "h";
    if (h > 0) return h + "h " + m + "m";
    if (m > 0) return m + "m " + sec + "s";
    return sec + "s";
  }
  // Formatters are made once: toLocale*String builds one per call, which
  // shows with 200 rows.
  const timeFmt = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit", second: "2-digit" });
  const dateTimeFmt = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "numeric", minute: "2-digit", second: "2-digit" });
  function time(v) {
    if (!v || typeof v !== "string" || v.startsWith("0001-")) return "–";
    const t = new Date(v);
    if (isNaN(t)) return v;
    const now = new Date();
    const same = t.getFullYear() === now.getFullYear() && t.getMonth() === now.getMonth() && t.getDate() === now.getDate();
    return same ? timeFmt.format(t) : dateTimeFmt.format(t);
  }
  // money: integer minor units → "12.34"; never through floats.
  function money(v) {
    if (typeof v !== "number" || !Number.isFinite(v)) return v === undefined ? "–" : String(v);
    const neg = v < 0, a = Math.abs(Math.trunc(v));
    const cents = String(a % 100).padStart(2, "0");
    return (neg ? "-" : "") + Math.floor(a / 100).toLocaleString("en-US") + "." + cents;
  }
  function weight(g) {
    if (typeof g !== "number") return "–";
    return g + " g";
  }
  function yesno(v) { return v === true ? "yes" : v === false ? "no" : (v === undefined || v === null ? "–" : String(v)); }
  function show(node, on) { node.hidden = !on; }

  // Column formatters by JSON member name, for the generic tables.
  const FORMAT = {
    amount_total: money, amount: money, weight_g: weight,
    at: time, last_seen: time, lastSeen: time, stateAt: time, created_at: time, paid_at: time, expires_at: time, closed_at: time, since: time, updated_at: time,
    stable: yesno, online: yesno,
    lastOpen: (v) => (v && v.outcome) ? v.outcome + (v.reason ? " (" + v.reason + ")" : "") + (v.error ? ": " + v.error : "") + " " + time(v.at) : "–",
  };
  const LABEL = {
    id: "ID", oid: "Order", amount_total: "Amount", weight_g: "Weight", at: "Reading at",
    last_seen: "Last seen", lastSeen: "Last seen", stateAt: "State since", lastOpen: "Last open", created_at: "Created", paid_at: "Paid", equipId: "Terminal", order_id: "Terminal order",
  };
  function cell(key, v) {
    if (FORMAT[key]) return FORMAT[key](v);
    if (v === null || v === undefined || v === "") return "–";
    if (typeof v === "object") return JSON.stringify(v);
    return String(v);
  }
  function stateClass(v) {
    if (typeof v !== "string") return "";
    const s = v.toLowerCase();
    if (["ok", "open", "closed", "online", "stable", "paid", "running", "ready", "locked", "connected", "opened"].includes(s)) return "good";
    if (["fault", "error", "offline", "failed", "stale", "disconnected", "needs_review", "rejected", "open_failed", "denied"].includes(s)) return "bad";
    if (["pending", "connecting", "unstable", "expired", "cancelled", "opening"].includes(s)) return "warn";
    return "";
  }

  // Renders rows of objects: preferred columns first (when any row has
  // them), then any other scalar member, so sections added later show up.
  function table(tbl, rows, preferred, rowClass) {
    const keys = [];
    for (const k of preferred) if (rows.some((r) => r && r[k] !== undefined)) keys.push(k);
    for (const r of rows) {
      if (!r || typeof r !== "object") continue;
      for (const k of Object.keys(r)) {
        if (keys.includes(k) || keys.length >= 9) continue;
        const v = r[k];
        if (v === null || typeof v !== "object") keys.push(k);
      }
    }
    const head = tbl.tHead || tbl.createTHead();
    const hr = el("tr");
    for (const k of keys) hr.appendChild(el("th", LABEL[k] || k.replace(/_/g, " ")));
    head.replaceChildren(hr);
    const body = tbl.tBodies[0] || tbl.createTBody();
    const frag = document.createDocumentFragment();
    for (const r of rows) {
      const tr = el("tr");
      if (rowClass) { const c = rowClass(r); if (c) tr.className = c; }
      for (const k of keys) {
        const td = el("td", cell(k, r ? r[k] : undefined));
        if (k === "state" || k === "status") { const c = stateClass(r[k]); if (c) td.className = "st " + c; }
        tr.appendChild(td);
      }
      frag.appendChild(tr);
    }
    body.replaceChildren(frag);
    labelRows(tbl);
  }

  function list(v) { return Array.isArray(v) ? v : []; }

  // labelRows names each cell after its column (data-label), which the
  // narrow layout shows beside the value instead of the header row.
  function labelRows(tbl) {
    const names = tbl.tHead && tbl.tHead.rows[0] ? Array.from(tbl.tHead.rows[0].cells, (th) => th.textContent) : [];
    for (const tr of tbl.tBodies[0].rows) {
      for (let i = 0; i < tr.cells.length && i < names.length; i++) if (names[i]) tr.cells[i].dataset.label = names[i];
    }
  }

  // ---- rendering ----
  function render() {
    const s = snap;
    if (!s) return;
    document.title = (s.store_name || "storebox") + " · storebox";
    $("store-name").textContent = s.store_name || "storebox";
    $("store-id").textContent = s.store_id || "";
    $("version").textContent = s.version || "";
    show($("testmode"), !!s.test_mode);
    document.body.classList.toggle("testmode", !!s.test_mode);

    document.body.classList.remove("loading");
    show($("sub"), true);

    // Devices online by kind: one count per kind, whatever way a device is
    // connected (device protocol, MQTT door, serial scale), the same number
    // the Doors and Scales sections show as online.
    const sessions = s.sessions || {};
    const online = s.devices_online || sessions;
    const kinds = KINDS.slice();
    for (const k of Object.keys(online)) if (!kinds.includes(k)) kinds.push(k);
    const cards = document.createDocumentFragment();
    for (const k of kinds) {
      const c = el("div", null, "card");
      c.dataset.kind = k;
      c.appendChild(el("div", online[k] || 0, "num"));
      c.appendChild(el("div", k + "s", "lbl"));
      cards.appendChild(c);
    }
    const cc = el("div", null, "card");
    cc.appendChild(el("div", s.connections || 0, "num"));
    cc.appendChild(el("div", "connections", "lbl"));
    cards.appendChild(cc);
    $("kinds").replaceChildren(cards);
    $("goods").textContent = String(s.goods || 0);

    renderPending(list(s.pending_devices), s.pending_total);
    renderOnline(list(s.online), Object.values(sessions).reduce((a, b) => a + (b || 0), 0));
    generic("scales", list(s.scales), ["id", "state", "weight_g", "stable", "at", "protocol", "port", "error"]);
    const doors = list(s.doors);
    generic("doors", doors, ["id", "policy", "state", "online", "lastSeen", "last_seen", "stateAt", "lastOpen", "error"]);
    $("doors-count").textContent = doors.length ? doors.filter((d) => d && d.online).length + "/" + doors.length + " online" : "";
    renderPrinters(list(s.printers));
    renderQueue(s.queue || {}, s.config || {});
    renderOrders(s.orders || {});
    tick();
    refreshKnown(false);
  }

  // ---- known devices ----
  // Approved and rejected devices, online or not, from GET /api/v1/devices
  // (the live feed carries only counts and sessions): fetched when a
  // snapshot arrives, at most every 5 s, and at once after an approval.
  const KNOWN_MAX = 200;
  let knownAt = -Infinity, knownTimer = null;
  // A refresh asked for within 5 s of the last runs when they are up, so
  // the newest change is always fetched in the end.
  function refreshKnown(now) {
    const wait = now ? 0 : Math.max(0, knownAt + 5000 - performance.now());
    if (knownTimer !== null) {
      if (!now) return;
      clearTimeout(knownTimer);
    }
    knownTimer = setTimeout(fetchKnown, wait);
  }
  async function fetchKnown() {
    knownTimer = null;
    knownAt = performance.now();
    try {
      const r = await fetch("/api/v1/devices/known?limit=" + KNOWN_MAX, { cache: "no-store" });
      if (r.ok) renderKnown(await r.json());
    } catch (e) { /* the next snapshot retries */ }
  }

  // Rows come sorted: approved and offline first, then online, then rejected.
  function renderKnown(resp) {
    const rows = list(resp.devices), total = resp.total || rows.length;
    $("known-loading").classList.add("done");
    $("known-count").textContent = total ? String(total) : "";
    show($("known-empty"), total === 0);
    show($("known-table"), rows.length > 0);
    const frag = document.createDocumentFragment();
    for (const d of rows) {
      const tr = el("tr");
      tr.dataset.equipId = d.equipId;
      tr.appendChild(el("td", d.equipId, "mono"));
      tr.appendChild(el("td", d.kind || "–"));
      tr.appendChild(el("td", d.name || "–"));
      tr.appendChild(el("td", d.status, "st " + (d.status === "rejected" ? "bad" : "")));
      tr.appendChild(el("td", d.online ? "online" : "offline", "st " + (d.online ? "good" : "warn")));
      tr.appendChild(el("td", d.last_seen ? time(d.last_seen) : "never"));
      frag.appendChild(tr);
    }
    $("known-table").tBodies[0].replaceChildren(frag);
    labelRows($("known-table"));
    const more = $("known-more");
    show(more, total > rows.length);
    more.textContent = "Showing " + rows.length + " of " + total + ". `storebox devices` lists them all.";
  }

  function renderPending(rows, total) {
    total = Math.max(total || 0, rows.length);
    $("pending-count").textContent = total ? String(total) : "";
    show($("pending-empty"), rows.length === 0);
    const tbl = $("pending-table");
    show(tbl, rows.length > 0);
    const frag = document.createDocumentFragment();
    for (const d of rows) {
      const tr = el("tr");
      tr.dataset.equipId = d.equipId;
      tr.appendChild(el("td", d.equipId, "mono"));
      tr.appendChild(el("td", d.kind || "–"));
      tr.appendChild(el("td", d.name || "–"));
      tr.appendChild(el("td", d.addr || "–", "mono"));
      tr.appendChild(el("td", time(d.first_seen)));
      const td = el("td", null, "actions");
      const ok = el("button", "Approve", "approve");
      ok.type = "button";
      ok.addEventListener("click", () => act(d.equipId, "approve"));
      const no = el("button", "Reject", "reject");
      no.type = "button";
      no.addEventListener("click", () => act(d.equipId, "reject"));
      td.append(ok, no);
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    tbl.tBodies[0].replaceChildren(frag);
    labelRows(tbl);
  }

  // Receipt printers: state, queue, last error, and a test page for admins
  // (the POST needs the admin session; a refusal says to sign in).
  function renderPrinters(rows) {
    const faults = rows.filter((p) => p && p.fault).length;
    $("printers-count").textContent = rows.length ? (faults ? faults + " in fault" : "all ok") : "";
    show($("printers").querySelector(".empty"), rows.length === 0);
    const tbl = $("printers-table");
    show(tbl, rows.length > 0);
    const frag = document.createDocumentFragment();
    for (const p of rows) {
      const tr = el("tr");
      tr.dataset.printer = p.id;
      tr.appendChild(el("td", p.id, "mono"));
      tr.appendChild(el("td", p.state, p.fault ? "bad" : "good"));
      tr.appendChild(el("td", String(p.queued || 0), (p.queued || 0) > 0 && p.fault ? "warn" : ""));
      tr.appendChild(el("td", p.error || "–", p.error ? "bad" : ""));
      tr.appendChild(el("td", p.last_printed ? time(p.last_printed) : "never"));
      const td = el("td", null, "actions");
      const b = el("button", "Test page", "test-page");
      b.type = "button";
      b.addEventListener("click", () => testPage(p.id));
      td.appendChild(b);
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    tbl.tBodies[0].replaceChildren(frag);
    labelRows(tbl);
  }

  async function testPage(id) {
    message("Queueing a test page on " + id + "…", "");
    let resp;
    try {
      resp = await fetch("/api/v1/printers/" + encodeURIComponent(id) + "/test", { method: "POST", credentials: "same-origin" });
    } catch (e) {
      message("Could not reach the daemon: " + e.message, "bad");
      return;
    }
    if (resp.status === 401) {
      message("A test page needs the admin token.", "bad", { text: "Sign in", href: "/signin" });
      return;
    }
    if (!resp.ok) {
      let msg = resp.status + " " + resp.statusText;
      try { const j = await resp.json(); if (j && j.error) msg = j.error; } catch (e) { /* not JSON */ }
      message("Test page on " + id + " failed: " + msg, "bad");
      return;
    }
    message("Test page queued on " + id + ".", "good");
  }

  function renderOnline(rows, total) {
    total = Math.max(total, rows.length);
    $("online-count").textContent = total ? String(total) : "";
    show($("online-empty"), total === 0);
    show($("online-table"), rows.length > 0);
    const frag = document.createDocumentFragment();
    for (const o of rows) {
      const tr = el("tr");
      tr.appendChild(el("td", o.equipId, "mono"));
      tr.appendChild(el("td", o.kind));
      tr.appendChild(el("td", o.addr, "mono"));
      tr.appendChild(el("td", o.framing));
      tr.appendChild(el("td", o.charset));
      tr.appendChild(el("td", time(o.since)));
      frag.appendChild(tr);
    }
    $("online-table").tBodies[0].replaceChildren(frag);
    labelRows($("online-table"));
    const more = $("online-more");
    show(more, total > rows.length);
    more.textContent = "Showing " + rows.length + " of " + total + " sessions. `storebox devices` lists them all.";
  }

  function generic(id, rows, preferred) {
    const sec = $(id);
    show(sec.querySelector(".empty"), rows.length === 0);
    const tbl = sec.querySelector("table");
    show(tbl, rows.length > 0);
    if (rows.length) table(tbl, rows, preferred);
  }

  function renderQueue(q, cfg) {
    const dl = $("queue");
    const frag = document.createDocumentFragment();
    function fact(label, value, cls, id) {
      const dt = el("dt", label), dd = el("dd", value, cls);
      if (id) dd.id = id;
      frag.append(dt, dd);
    }
    if (!q.upstream_configured) {
      fact("Cloud", "not configured (events wait in the queue)", "warn");
    } else {
      fact("Cloud", q.online ? "online" : q.signature_rejected ? "rejected signature: check upstream.secret and the clock" : (q.last_success ? "offline" : "not reached yet"), q.online ? "good" : "bad");
    }
    fact("Queue depth", String(q.depth || 0), (q.depth || 0) > 0 && !q.online ? "warn" : "");
    fact("Oldest unsent", q.depth ? duration(q.oldest_age_s || 0) : "–", "", "oldest-age");
    fact("Last sync", q.last_success ? time(q.last_success) : "never", "");
    if (q.last_error) fact("Last error", (q.last_error_at ? time(q.last_error_at) + ": " : "") + q.last_error, "bad");
    fact("Dead letters", String(q.dead_letters || 0), q.dead_letters ? "bad" : "");
    fact("Last event seq", String(q.last_seq || 0), "mono");
    // Where the running configuration came from (fleet, UPSTREAM.md §7).
    fact("Configuration", cfg.source === "remote" ? "remote version " + cfg.version + ", applied " + time(cfg.applied_at) : "local file", "", "config-source");
    if (cfg.refused) fact("Refused", "version " + (cfg.refused.version || "?") + " at " + time(cfg.refused.at) + ": " + cfg.refused.reason, "bad", "config-refused");
    dl.replaceChildren(frag);
  }

  function renderOrders(o) {
    const counts = o.counts || {};
    const frag = document.createDocumentFragment();
    for (const k of Object.keys(counts).sort()) {
      const c = el("div", null, "card " + (counts[k] ? stateClass(k) : ""));
      c.appendChild(el("div", counts[k], "num"));
      c.appendChild(el("div", k.replace(/_/g, " "), "lbl"));
      frag.appendChild(c);
    }
    $("order-counts").replaceChildren(frag);
    const cols = ["oid", "status", "amount_total", "method", "created_at", "equipId", "reason"];
    const review = list(o.needs_review);
    show($("review"), review.length > 0);
    if (review.length) table($("review-table"), review, cols, () => "review");
    const recent = list(o.recent);
    const reviewIds = new Set(review.map((r) => r && r.oid));
    show($("recent-empty"), recent.length === 0);
    show($("recent-table"), recent.length > 0);
    if (recent.length) table($("recent-table"), recent, cols, (r) => (r && (reviewIds.has(r.oid) || r.needs_review || r.status === "needs_review")) ? "review" : "");
  }

  // Clocks that advance between events (uptime, queue age).
  function tick() {
    if (!snap) return;
    const dt = (performance.now() - receivedAt) / 1000;
    $("uptime").textContent = duration((snap.uptime_s || 0) + dt);
    const q = snap.queue || {};
    const age = $("oldest-age");
    if (age && q.depth) age.textContent = duration((q.oldest_age_s || 0) + dt);
  }
  setInterval(tick, 1000);

  // ---- approvals ----
  // The session cookie (HttpOnly, set at sign-in) authorises the POST; the
  // page never sees or stores the admin token.
  function message(text, cls, link) {
    const m = $("action-msg");
    m.replaceChildren(text);
    if (link) { m.append(" "); const a = el("a", link.text); a.href = link.href; m.append(a); }
    m.className = "msg " + (cls || "");
  }

  async function act(id, verb) {
    message((verb === "approve" ? "Approving " : "Rejecting ") + id + "…", "");
    let resp;
    try {
      resp = await fetch("/api/v1/devices/" + encodeURIComponent(id) + "/" + verb, { method: "POST", credentials: "same-origin" });
    } catch (e) {
      message("Could not reach the daemon: " + e.message, "bad");
      return;
    }
    if (resp.status === 401) {
      message("Approving and rejecting need the admin token.", "bad", { text: "Sign in", href: "/signin" });
      return;
    }
    if (!resp.ok) {
      let msg = resp.status + " " + resp.statusText;
      try { const j = await resp.json(); if (j && j.error) msg = j.error; } catch (e) { /* not JSON */ }
      message(verb + " " + id + " failed: " + msg, "bad");
      return;
    }
    message((verb === "approve" ? "Approved " : "Rejected ") + id + (verb === "approve" ? "; it is admitted at its next login." : "."), "good");
    // Drop the row now; the next event confirms.
    const row = Array.from($("pending-table").tBodies[0].rows).find((r) => r.dataset.equipId === id);
    if (row) row.remove();
    refreshKnown(true);
  }

  // Whether this browser is signed in: a session shows "Sign out"; with
  // read_auth off and no session, "Sign in" (needed to approve).
  async function sessionState() {
    try {
      const r = await fetch("/api/v1/session", { cache: "no-store" });
      return await r.json();
    } catch (e) { return null; }
  }
  sessionState().then((s) => {
    if (!s) return;
    show($("signout"), !!s.signed_in);
    show($("phone-link"), !!s.signed_in);
    show($("signin-link"), !s.signed_in);
  });

  // "Sign in a phone": a one-time link as a QR code (what `storebox
  // login-link` prints), made with this browser's session.
  $("phone-link").addEventListener("click", async () => {
    let resp;
    try {
      resp = await fetch("/api/v1/login-links", { method: "POST", credentials: "same-origin" });
    } catch (e) {
      message("Could not reach the daemon: " + e.message, "bad");
      return;
    }
    if (!resp.ok) {
      let msg = resp.status + " " + resp.statusText;
      try { const j = await resp.json(); if (j && j.error) msg = j.error; } catch (e) { /* not JSON */ }
      message("No sign-in link: " + msg, "bad");
      return;
    }
    const link = await resp.json();
    $("phone-qr-img").src = link.qr_png;
    $("phone-qr-url").textContent = link.url;
    show($("phone-qr"), true);
  });
  $("phone-qr-close").addEventListener("click", () => {
    show($("phone-qr"), false);
    $("phone-qr-img").removeAttribute("src");
  });

  // ---- live updates ----
  function live(state) {
    const l = $("live");
    l.textContent = state === "live" ? "live" : state === "down" ? "reconnecting…" : "connecting…";
    l.className = "pill " + (state === "live" ? "good" : "warn");
  }

  function connect() {
    if (!window.EventSource) { poll(); return; }
    const es = new EventSource("/api/v1/events");
    es.addEventListener("status", (ev) => {
      if (snap === null && performance.mark) performance.mark("storebox-first-event");
      let s;
      try { s = JSON.parse(ev.data); } catch (e) { return; }
      const first = snap === null;
      snap = s;
      receivedAt = performance.now();
      live("live");
      render();
      // Lets a test or a technician's devtools see the time to first data.
      if (first && performance.mark) performance.mark("storebox-first-status");
    });
    es.addEventListener("open", () => live("live"));
    // EventSource reconnects by itself (retry: 2000 from the server),
    // except after a refusal: then the session ended (12 h, or a new admin
    // token) and the page goes back to the sign-in form.
    es.addEventListener("error", async () => {
      live("down");
      if (es.readyState !== EventSource.CLOSED) return;
      const s = await sessionState();
      if (s && s.read_auth && !s.signed_in) { location.assign("/signin?expired=1"); return; }
      setTimeout(connect, 2000);
    });
  }

  // Fallback for browsers without EventSource.
  async function poll() {
    try {
      const r = await fetch("/api/v1/status", { cache: "no-store" });
      if (r.status === 401) { location.assign("/signin?expired=1"); return; }
      if (r.ok) { snap = await r.json(); receivedAt = performance.now(); live("live"); render(); }
      else live("down");
    } catch (e) { live("down"); }
    setTimeout(poll, 2000);
  }

  connect();
})();
