// What the dashboard knows about rockd, and how it stays current: /ws/events pushes changes
// as they happen; the REST API is read at start, every few seconds for the numbers events do
// not carry (CPU, memory), and every 2 s while the socket is down (the polling fallback).
// /metrics is sampled every 2 s whatever the socket does: its counters give the rates.
import { get, eventsUrl } from "./api.js";
import { parse, sum } from "./metrics.js";

const MAX_EVENTS = 2000;
const MAX_SAMPLES = 300;        // 10 minutes of 2 s samples
const METRICS_INTERVAL_MS = 2000;
const POLL_INTERVAL_MS = 2000;  // REST refresh while the socket is down
const REFRESH_INTERVAL_MS = 5000;  // REST refresh while it is up
const BACKOFF_MIN_MS = 500, BACKOFF_MAX_MS = 10000;

export const state = {
  connection: "connecting",  // "live" (socket open), "polling" (socket down), "down" (rockd unreachable)
  info: null,
  sandboxes: new Map(),      // id → the status of GET /api/v1/sandboxes
  pools: [],                 // GET /api/v1/pools
  episodes: new Map(),       // id → the summary of GET /api/v1/episodes, updated by episode events
  events: [],                // the last MAX_EVENTS events, oldest first
  eventCount: 0,
  totals: {},                // counters and gauges of the last /metrics sample
  rates: { t: [], episodes: [], steps: [] },  // per-second rates between /metrics samples
  trainers: new Map(),       // trainer name → [{ts, policy_version, metrics}]: stored reports, then trainer_report events
  lastError: "",
};

const listeners = new Set();
// subscribe(fn): fn(topic) after each change; topics: sandboxes, pools, episodes, events,
// metrics, training, connection.
export function subscribe(fn) { listeners.add(fn); }
function changed(topic) { for (const fn of listeners) fn(topic); }

function setConnection(value) {
  if (state.connection === value) return;
  state.connection = value;
  changed("connection");
}

async function refreshSandboxes() {
  const body = await get("/api/v1/sandboxes");
  state.sandboxes = new Map(body.sandboxes.map((s) => [s.id, s]));
  changed("sandboxes");
}

async function refreshPools() {
  state.pools = (await get("/api/v1/pools")).pools;
  changed("pools");
}

async function refreshEpisodes() {
  const body = await get("/api/v1/episodes");
  state.episodes = new Map(body.episodes.map((e) => [e.id, e]));
  changed("episodes");
}

export async function refreshAll() {
  try {
    await Promise.all([refreshSandboxes(), refreshPools(), refreshEpisodes()]);
    state.lastError = "";
    if (state.connection === "down") setConnection(socket && socket.readyState === WebSocket.OPEN ? "live" : "polling");
  } catch (err) {
    state.lastError = err.message;
    if (!(socket && socket.readyState === WebSocket.OPEN)) setConnection("down");
  }
}

// The trainers' stored reports, newest 10,000, at start and after each reconnect; reports that
// came live and are not in the answer yet (not committed when it was read) are kept.
const STORED_REPORTS = 10000;
const reportKey = (r) => r.policy_version + "|" + JSON.stringify(r.metrics);
async function loadReports() {
  const body = await get("/api/v1/trainer-reports?limit=" + STORED_REPORTS);
  const trainers = new Map();
  for (const r of body.reports) {
    if (!trainers.has(r.trainer)) trainers.set(r.trainer, []);
    trainers.get(r.trainer).push({ ts: r.ts_ms, policy_version: r.policy_version, metrics: r.metrics });
  }
  for (const [name, live] of state.trainers) {
    const stored = trainers.get(name) || [];
    const seen = new Set(stored.map(reportKey));
    trainers.set(name, stored.concat(live.filter((r) => !seen.has(reportKey(r)))));
  }
  state.trainers = trainers;
  changed("training");
}

let lastCounters = null;
async function sampleMetrics() {
  let text;
  try {
    text = await get("/metrics");
  } catch {
    return;  // refreshAll reports the outage
  }
  const samples = parse(text);
  const now = Date.now();
  const counters = {
    episodes: sum(samples, "rockd_episodes_ended_total"),
    steps: sum(samples, "rockd_episode_steps_total"),
  };
  state.totals = {
    restarts: sum(samples, "rockd_sandbox_restarts_total"),
    failovers: sum(samples, "rockd_episode_failovers_total"),
    queueDepth: sum(samples, "rockd_episode_queue_depth"),
    trainers: sum(samples, "rockd_websocket_clients", { endpoint: "/ws/trainer" }),
    episodesEnded: counters.episodes,
    steps: counters.steps,
  };
  if (lastCounters) {
    const dt = (now - lastCounters.t) / 1000;
    const r = state.rates;
    r.t.push(now / 1000);
    r.episodes.push(Math.max(0, counters.episodes - lastCounters.episodes) / dt);
    r.steps.push(Math.max(0, counters.steps - lastCounters.steps) / dt);
    if (r.t.length > MAX_SAMPLES) for (const k of Object.keys(r)) r[k].shift();
  }
  lastCounters = { t: now, ...counters };
  changed("metrics");
}

// A sandbox event says which sandbox moved; its full status (restarts, last_error) is read
// again, batched into one listing per 200 ms. Not one GET per sandbox: a sandbox deleted while
// its GET is in flight answers 404, which the browser reports as an error although nothing is
// wrong, and a listing cannot race a delete that way.
let refreshTimer = null;
let stoppedWhileListing = null;  // a Set while a listing is on its way
function refreshSandboxesSoon() {
  if (!refreshTimer) refreshTimer = setTimeout(flushSandboxes, 200);
}
async function flushSandboxes() {
  refreshTimer = null;
  stoppedWhileListing = new Set();
  try {
    await refreshSandboxes();
    // The listing may predate a stop that came meanwhile: that sandbox stays gone.
    let removed = false;
    for (const id of stoppedWhileListing) removed = state.sandboxes.delete(id) || removed;
    if (removed) changed("sandboxes");
  } catch (err) {
    state.lastError = err.message;
  } finally {
    stoppedWhileListing = null;
  }
}

function applyEvent(event) {
  state.events.push(event);
  state.eventCount++;
  if (state.events.length > MAX_EVENTS) state.events.splice(0, state.events.length - MAX_EVENTS);
  const d = event.data || {};
  switch (event.type) {
    case "sandbox": {
      if (d.to === "stopped") {
        state.sandboxes.delete(d.id);
        stoppedWhileListing?.add(d.id);
      } else {
        const known = state.sandboxes.get(d.id) || { id: d.id, env: d.env, restarts: 0, last_error: "", health: {} };
        state.sandboxes.set(d.id, { ...known, state: d.to, state_since_ms: event.ts_ms });
        refreshSandboxesSoon();
      }
      changed("sandboxes");
      break;
    }
    case "episode": {
      const known = state.episodes.get(d.id) || { id: d.id, created_ms: event.ts_ms, started_ms: event.ts_ms, ended_ms: null };
      const ended = !["queued", "running"].includes(d.state);
      state.episodes.set(d.id, {
        ...known, env: d.env, group: d.group || null, state: d.state, end_reason: d.reason,
        sandbox: ended ? null : d.sandbox, steps: d.steps, return: d.return, failovers: d.failovers,
        ended_ms: ended ? event.ts_ms : null,
      });
      changed("episodes");
      break;
    }
    case "pools":
      state.pools = d.pools;
      changed("pools");
      break;
    case "trainer_report": {
      const reports = state.trainers.get(d.trainer) || [];
      reports.push({ ts: event.ts_ms, policy_version: d.policy_version, metrics: d.metrics || {} });
      if (reports.length > 10000) reports.shift();
      state.trainers.set(d.trainer, reports);
      changed("training");
      break;
    }
    case "shutdown":
      state.lastError = "rockd is shutting down (" + d.signal + ")";
      break;
  }
  changed("events");
}

let socket = null;
let backoff = BACKOFF_MIN_MS;
function connect() {
  socket = new WebSocket(eventsUrl());
  socket.onopen = () => {
    backoff = BACKOFF_MIN_MS;
    setConnection("live");
    refreshAll();  // whatever happened while the socket was down
    loadReports().catch((err) => { state.lastError = err.message; });
  };
  socket.onmessage = (message) => {
    try {
      applyEvent(JSON.parse(message.data));
    } catch (err) {
      state.lastError = "bad event: " + err.message;
    }
  };
  socket.onclose = () => {
    socket = null;
    if (state.connection !== "down") setConnection("polling");
    setTimeout(connect, backoff);
    backoff = Math.min(BACKOFF_MAX_MS, backoff * 2);
  };
}

export async function start() {
  state.info = await get("/api/v1/info");  // also where a 401 asks for the token, before the socket needs it
  changed("connection");
  await refreshAll();
  await sampleMetrics();
  connect();
  setInterval(sampleMetrics, METRICS_INTERVAL_MS);
  let lastRefresh = Date.now();
  setInterval(() => {
    const live = socket && socket.readyState === WebSocket.OPEN;
    if (Date.now() - lastRefresh >= (live ? REFRESH_INTERVAL_MS : POLL_INTERVAL_MS)) {
      lastRefresh = Date.now();
      refreshAll();
    }
  }, 500);
}
