// Pools: per env kind, its settings, its sandboxes by health and its slots; resize in place.
import { state } from "./store.js";
import { request } from "./api.js";
import { h } from "./ui.js";

export function createPools(root) {
  const table = h("table.grid", { id: "pools-table" });
  const message = h("p.error", { id: "pools-message" });
  root.append(
    h("p.muted", {}, "Changing min, max or idle_s resizes a pool; changing slots drains its sandboxes and makes new ones (docs/api.md#pools)."),
    table, message);
  // env → when its inputs were last typed in: unsaved numbers are kept for a minute, then the
  // pool's live values win again.
  const editing = new Map();
  const EDIT_HOLD_MS = 60000;

  async function apply(env, inputs) {
    const body = {};
    for (const [k, input] of Object.entries(inputs)) body[k] = Number(input.value);
    message.textContent = "";
    try {
      await request("PUT", "/api/v1/pools/" + encodeURIComponent(env), body);
      editing.delete(env);
      state.pools = (await request("GET", "/api/v1/pools")).pools;
      render();
    } catch (err) {
      message.textContent = `resize ${env}: ${err.message}`;
    }
  }

  function render() {
    for (const [env, at] of editing) if (Date.now() - at > EDIT_HOLD_MS) editing.delete(env);
    if (editing.size) return;  // never overwrite numbers being typed
    table.replaceChildren(
      h("tr", {}, ...["env", "min", "max", "slots", "idle_s", "ready", "starting", "down", "quarantined",
        "draining", "slots busy/total", "queued", "running", ""].map((c) => h("th", {}, c))),
      ...state.pools.map((p) => {
        const inputs = {};
        const number = (k, min, max) => {
          inputs[k] = h("input.num", { type: "number", min, max, value: p[k], name: `${p.env}-${k}`,
            oninput: () => editing.set(p.env, Date.now()) });
          return h("td", {}, inputs[k]);
        };
        const sb = p.sandboxes || {};
        return h("tr", { "data-env": p.env },
          h("td", {}, p.env),
          number("min", 0, 100000), number("max", 1, 100000), number("slots", 1, 4096), number("idle_s", 1, 604800),
          h("td.num", {}, sb.ready ?? 0), h("td.num", {}, sb.starting ?? 0), h("td.num", {}, sb.down ?? 0),
          h("td.num", {}, sb.quarantined ?? 0), h("td.num", {}, sb.draining ?? 0),
          h("td.num", {}, `${p.slots_busy}/${p.slots_total}`), h("td.num", {}, p.queued), h("td.num", {}, p.running),
          h("td", {}, h("button", { onclick: () => apply(p.env, inputs) }, "apply")));
      }));
  }

  return { topics: ["pools"], render };
}
