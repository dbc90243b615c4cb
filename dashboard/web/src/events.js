// Events: the live log of /ws/events, newest first; stats and pools ticks hidden unless asked.
import { state } from "./store.js";
import { h, time } from "./ui.js";

const SHOWN = 500;
const TICKS = new Set(["stats", "pools"]);

function describe(e) {
  const d = e.data || {};
  switch (e.type) {
    case "sandbox": return `${d.id} (${d.env}) ${d.from ?? "–"} → ${d.to}: ${d.reason}`;
    case "episode": return `${d.id} (${d.env}) ${d.state}${d.reason ? ": " + d.reason : ""}, ${d.steps} steps, return ${d.return}` +
      (d.sandbox ? ` on ${d.sandbox}` : "");
    case "failover": return `${d.episode} (${d.env}) ${d.from} → ${d.to}: ${d.reason}; ${d.replayed_steps} steps replayed in ${d.duration_ms} ms`;
    case "trainer_report": return `${d.trainer} policy v${d.policy_version}: ${JSON.stringify(d.metrics)}`;
    default: return JSON.stringify(d);
  }
}

export function createEvents(root) {
  const typeSelect = h("select", { id: "ev-type" },
    ["", "sandbox", "episode", "failover", "trainer_report", "shutdown", "stats", "pools"]
      .map((t) => h("option", { value: t }, t || "all but stats/pools")));
  const count = h("span.muted", { id: "ev-count" });
  const log = h("table.grid.log", { id: "events-log" });
  root.append(h("div.toolbar", {}, typeSelect, count), log);
  typeSelect.addEventListener("change", render);

  function render() {
    const type = typeSelect.value;
    const shown = [];
    for (let i = state.events.length - 1; i >= 0 && shown.length < SHOWN; i--) {
      const e = state.events[i];
      if (type ? e.type === type : !TICKS.has(e.type)) shown.push(e);
    }
    count.textContent = `${state.eventCount} events received`;
    log.replaceChildren(
      h("tr", {}, h("th", {}, "seq"), h("th", {}, "time"), h("th", {}, "type"), h("th", {}, "what")),
      ...shown.map((e) => h("tr", { "data-type": e.type, class: e.type === "failover" || (e.data && e.data.to === "quarantined") ? "warn" : null },
        h("td.num", {}, e.seq), h("td", {}, time(e.ts_ms)), h("td", {}, e.type), h("td", {}, describe(e)))));
  }

  return { topics: ["events"], render };
}
