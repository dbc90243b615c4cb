// Overview: sandboxes by state, restarts and quarantines, episode and step rates, queue depth,
// failovers, active trainers, success rate by env.
import { state } from "./store.js";
import { h, fixed, LineChart } from "./ui.js";

const SANDBOX_STATES = ["starting", "ready", "restarting", "quarantined"];

export function createOverview(root) {
  const cards = h("div.cards");
  const rates = h("div.chart", { id: "chart-rates" });
  const success = h("table.grid", { id: "success-by-env" });
  root.append(
    cards,
    h("h2", {}, "Throughput"),
    rates,
    h("h2", {}, "Success rate by env"),
    h("p.muted", {}, "Over the episodes rockd keeps in memory (the live ones and the last finished ones): finished with a positive return ÷ ended."),
    success,
  );
  const chart = new LineChart(rates, {
    title: "episodes/s and steps/s (from /metrics counters)",
    series: [{ label: "episodes/s", stroke: "#2563eb" }, { label: "steps/s", stroke: "#16a34a" }],
  });

  function card(id, label, value, tone = "") {
    return h("div.card" + (tone ? "." + tone : ""), { id: "card-" + id },
      h("div.value", {}, String(value)), h("div.label", {}, label));
  }

  return {
    topics: ["sandboxes", "metrics", "episodes", "pools"],
    render() {
      const byState = Object.fromEntries(SANDBOX_STATES.map((s) => [s, 0]));
      for (const s of state.sandboxes.values()) byState[s.state] = (byState[s.state] || 0) + 1;
      const episodes = [...state.episodes.values()];
      const running = episodes.filter((e) => e.state === "running").length;
      const t = state.totals;
      const r = state.rates;
      const last = (a) => (a.length ? a[a.length - 1] : 0);
      cards.replaceChildren(
        card("sandboxes", "sandboxes", state.sandboxes.size),
        ...SANDBOX_STATES.map((s) => card("state-" + s, s, byState[s], s === "quarantined" && byState[s] ? "bad" : "")),
        card("restarts", "restarts (total)", t.restarts ?? "–"),
        card("episodes-running", "episodes running", running),
        card("queue", "queue depth", t.queueDepth ?? "–"),
        card("episodes-rate", "episodes/s", fixed(last(r.episodes), 1)),
        card("steps-rate", "steps/s", fixed(last(r.steps), 1)),
        card("failovers", "failovers (total)", t.failovers ?? "–"),
        card("trainers", "active trainers", t.trainers ?? "–"),
      );
      chart.set([r.t.slice(), r.episodes.slice(), r.steps.slice()]);
      chart.container.dataset.maxSteps = String(Math.max(0, ...r.steps));

      const byEnv = new Map();
      for (const e of episodes) {
        if (e.state === "queued" || e.state === "running") continue;
        const row = byEnv.get(e.env) || { ended: 0, won: 0 };
        row.ended++;
        if (e.state === "finished" && e.return > 0) row.won++;
        byEnv.set(e.env, row);
      }
      success.replaceChildren(
        h("tr", {}, h("th", {}, "env"), h("th", {}, "ended"), h("th", {}, "succeeded"), h("th", {}, "success rate")),
        ...[...byEnv].sort().map(([env, row]) => h("tr", {}, h("td", {}, env), h("td.num", {}, row.ended),
          h("td.num", {}, row.won), h("td.num", {}, (100 * row.won / row.ended).toFixed(1) + " %"))),
      );
    },
  };
}
