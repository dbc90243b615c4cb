// Sandboxes: one row per sandbox, filtered and sorted, restart and delete from the row.
// The table is virtualized: only the rows in view (plus a few above and below) exist in the
// DOM, positioned inside a spacer as tall as all rows, so 1,000 or 10,000 sandboxes scroll as
// smoothly as 10. A sandbox event updates its row at once, without waiting for a frame, so
// each state it passes through is shown.
import { state, subscribe } from "./store.js";
import { request } from "./api.js";
import { h, badge, bytes, duration, fixed } from "./ui.js";

const ROW_HEIGHT = 30;
const OVERSCAN = 8;

const COLUMNS = [
  { key: "id", label: "id", value: (s) => s.id },
  { key: "env", label: "env", value: (s) => s.env },
  { key: "state", label: "state", value: (s) => s.state },
  { key: "health", label: "health", value: (s) => (s.health ? s.health.missed_heartbeats : 0) },
  { key: "restarts", label: "restarts", value: (s) => s.restarts || 0 },
  { key: "uptime", label: "uptime", value: (s) => (s.state === "ready" ? Date.now() - s.state_since_ms : -1) },
  { key: "cpu", label: "CPU s", value: (s) => (s.usage ? s.usage.cpu_seconds : -1) },
  { key: "memory", label: "memory", value: (s) => (s.usage ? s.usage.memory_bytes : -1) },
  { key: "slots", label: "slots in use", value: (s) => slotsInUse(s.id) },
  { key: "error", label: "last error", value: (s) => s.last_error || "" },
  { key: "actions", label: "", value: () => 0 },
];

let busyBySandbox = new Map();
const slotsInUse = (id) => busyBySandbox.get(id) || 0;

function countBusy() {
  busyBySandbox = new Map();
  for (const e of state.episodes.values()) {
    if (e.state === "running" && e.sandbox) busyBySandbox.set(e.sandbox, (busyBySandbox.get(e.sandbox) || 0) + 1);
  }
}

function health(s) {
  if (!s.health || !s.health.last_pong_ms) return "–";
  const missed = s.health.missed_heartbeats;
  const age = (Date.now() - s.health.last_pong_ms) / 1000;
  return (missed ? missed + " missed, " : "ok, ") + "pong " + duration(age) + " ago";
}

export function createSandboxes(root) {
  const filter = h("input", { id: "sb-filter", type: "search", placeholder: "filter: id, env, state, error" });
  const stateSelect = h("select", { id: "sb-state" },
    ["", "starting", "ready", "restarting", "quarantined"].map((s) => h("option", { value: s }, s || "all states")));
  const count = h("span.muted", { id: "sb-count" });
  const message = h("span.error", { id: "sb-message" });
  const header = h("div.row.header", {});
  const spacer = h("div.spacer", {});
  const scroller = h("div.scroller", { id: "sb-scroll" }, spacer);
  root.append(h("div.toolbar", {}, filter, stateSelect, count, message), h("div.vtable.sandboxes", {}, header, scroller));

  let sort = { key: "id", dir: 1 };
  let rows = [];  // the filtered, sorted sandboxes
  const rendered = new Map();  // id → row element in the DOM

  function renderHeader() {
    header.replaceChildren(...COLUMNS.map((c) => h("div.cell.c-" + c.key, {
      "data-sort": c.key === "actions" ? null : c.key,
      onclick: c.key === "actions" ? null : () => {
        sort = { key: c.key, dir: sort.key === c.key ? -sort.dir : 1 };
        recompute();
      },
    }, c.label + (sort.key === c.key ? (sort.dir > 0 ? " ▲" : " ▼") : ""))));
  }

  function recompute() {
    countBusy();
    const text = filter.value.trim().toLowerCase();
    const only = stateSelect.value;
    const column = COLUMNS.find((c) => c.key === sort.key);
    rows = [...state.sandboxes.values()].filter((s) =>
      (!only || s.state === only) &&
      (!text || [s.id, s.env, s.state, s.last_error].some((v) => String(v || "").toLowerCase().includes(text))));
    rows.sort((a, b) => {
      const x = column.value(a), y = column.value(b);
      return (x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * sort.dir;
    });
    spacer.style.height = rows.length * ROW_HEIGHT + "px";
    count.textContent = `${rows.length} of ${state.sandboxes.size} sandboxes`;
    renderHeader();
    for (const el of rendered.values()) el.remove();
    rendered.clear();
    renderWindow();
  }

  async function act(s, verb) {
    const question = verb === "restart" ? `Restart sandbox ${s.id}? Its episodes fail over to other sandboxes.`
      : `Delete sandbox ${s.id}? Everything in it is killed and removed.`;
    if (!confirm(question)) return;
    message.textContent = "";
    try {
      if (verb === "restart") await request("POST", `/api/v1/sandboxes/${s.id}/restart`);
      else await request("DELETE", `/api/v1/sandboxes/${s.id}`);
    } catch (err) {
      message.textContent = `${verb} ${s.id}: ${err.message}`;
    }
  }

  function fillRow(el, s) {
    const since = s.state === "ready" ? duration((Date.now() - s.state_since_ms) / 1000) : "–";
    el.replaceChildren(
      h("div.cell.c-id", { title: s.id }, s.id),
      h("div.cell.c-env", {}, s.env),
      h("div.cell.c-state", {}, badge(s.state)),
      h("div.cell.c-health", {}, health(s)),
      h("div.cell.c-restarts.num", {}, s.restarts || 0),
      h("div.cell.c-uptime.num", {}, since),
      h("div.cell.c-cpu.num", {}, s.usage ? fixed(s.usage.cpu_seconds, 3) : "–"),
      h("div.cell.c-memory.num", {}, s.usage ? bytes(s.usage.memory_bytes) : "–"),
      h("div.cell.c-slots.num", {}, `${slotsInUse(s.id)}/${s.slots || 1}`),
      h("div.cell.c-error", { title: s.last_error || "" }, s.last_error || ""),
      h("div.cell.c-actions", {},
        h("button.restart", { onclick: () => act(s, "restart") }, "restart"),
        h("button.delete.danger", { onclick: () => act(s, "delete") }, "delete")),
    );
    el.dataset.state = s.state;
  }

  function renderWindow() {
    const first = Math.max(0, Math.floor(scroller.scrollTop / ROW_HEIGHT) - OVERSCAN);
    const last = Math.min(rows.length, Math.ceil((scroller.scrollTop + scroller.clientHeight) / ROW_HEIGHT) + OVERSCAN);
    const wanted = new Set();
    for (let i = first; i < last; i++) {
      const s = rows[i];
      wanted.add(s.id);
      let el = rendered.get(s.id);
      if (!el) {
        el = h("div.row", { "data-id": s.id });
        fillRow(el, s);
        spacer.append(el);
        rendered.set(s.id, el);
      }
      el.dataset.index = String(i);
      el.style.transform = `translateY(${i * ROW_HEIGHT}px)`;
    }
    for (const [id, el] of rendered) {
      if (!wanted.has(id)) { el.remove(); rendered.delete(id); }
    }
  }

  scroller.addEventListener("scroll", () => renderWindow(), { passive: true });
  filter.addEventListener("input", recompute);
  stateSelect.addEventListener("change", recompute);

  // A transition of a sandbox in view is drawn now; the rest waits for the next render.
  subscribe((topic) => {
    if (topic !== "sandboxes") return;
    for (const [id, el] of rendered) {
      const s = state.sandboxes.get(id);
      if (s && el.dataset.state !== s.state) fillRow(el, s);
    }
  });

  renderHeader();
  return {
    topics: ["sandboxes", "episodes"],
    render: recompute,
  };
}
