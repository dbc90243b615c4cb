// Training: the curves of the trainers' `report` messages (stored ones from
// GET /api/v1/trainer-reports, then trainer_report events). The metric
// keys drawn are those of docs/dashboard.md: step, reward_mean, success_rate, expert_agreement,
// success_by_type, loss, tokens_per_s, staleness; policy_version is the event's (the trainer's newest).
import { state } from "./store.js";
import { h, fixed, LineChart } from "./ui.js";

const num = (x) => (typeof x === "number" && isFinite(x) ? x : null);

export function createTraining(root) {
  const trainerSelect = h("select", { id: "tr-trainer" });
  const summary = h("div.cards", { id: "tr-summary" });
  const byType = h("table.grid", { id: "success-by-type" });
  const el = (id) => h("div.chart", { id });
  const rewardEl = el("chart-reward"), lossEl = el("chart-loss"), versionEl = el("chart-version"), speedEl = el("chart-speed");
  root.append(
    h("div.toolbar", {}, h("label", {}, "trainer ", trainerSelect),
      h("span.muted", {}, "from the trainers' report messages: the newest 10,000 stored, then live")),
    summary,
    h("div.charts", {}, rewardEl, lossEl, versionEl, speedEl),
    h("h2", {}, "Success by ALFWorld task type (latest report)"), byType);
  trainerSelect.addEventListener("change", render);

  const opts = (title, series) => ({ title, xTime: false, series });
  const reward = new LineChart(rewardEl, opts("reward and success rate", [
    { label: "reward_mean", stroke: "#2563eb" }, { label: "success_rate", stroke: "#16a34a" },
    { label: "expert_agreement", stroke: "#a16207" }]));
  const loss = new LineChart(lossEl, opts("loss", [{ label: "loss", stroke: "#dc2626" }]));
  const version = new LineChart(versionEl, opts("policy version and staleness", [
    { label: "policy_version", stroke: "#7c3aed" }, { label: "staleness", stroke: "#ea580c" }]));
  const speed = new LineChart(speedEl, opts("tokens/s", [{ label: "tokens_per_s", stroke: "#0891b2" }]));

  function render() {
    const names = [...state.trainers.keys()].sort();
    if (trainerSelect.options.length !== names.length) {
      const chosen = trainerSelect.value;
      trainerSelect.replaceChildren(...names.map((n) => h("option", { value: n }, n)));
      trainerSelect.value = names.includes(chosen) ? chosen : names[0] || "";
    }
    const reports = state.trainers.get(trainerSelect.value) || [];
    // x: the report's step when it has one, else its position.
    const xs = reports.map((r, i) => num(r.metrics.step) ?? i);
    const col = (key) => reports.map((r) => num(r.metrics[key]));
    reward.set([xs, col("reward_mean"), col("success_rate"), col("expert_agreement")]);
    loss.set([xs, col("loss")]);
    version.set([xs, reports.map((r) => num(r.metrics.policy_version) ?? num(r.policy_version)), col("staleness")]);
    speed.set([xs, col("tokens_per_s")]);

    const last = reports[reports.length - 1];
    const m = last ? last.metrics : {};
    const card = (label, value) => h("div.card", {}, h("div.value", {}, value), h("div.label", {}, label));
    summary.replaceChildren(
      card("reports", String(reports.length)),
      card("step", last ? String(m.step ?? "–") : "–"),
      card("policy version", last ? String(last.policy_version) : "–"),
      card("reward_mean", fixed(m.reward_mean, 3)),
      card("success_rate", fixed(m.success_rate, 3)),
      card("loss", fixed(m.loss, 4)),
      card("staleness", m.staleness ?? "–"));
    const types = m.success_by_type && typeof m.success_by_type === "object" ? Object.entries(m.success_by_type) : [];
    byType.replaceChildren(
      h("tr", {}, h("th", {}, "task type"), h("th", {}, "success rate"), h("th", {}, "")),
      ...types.sort().map(([type, rate]) => h("tr", { "data-type": type }, h("td", {}, type), h("td.num", {}, fixed(rate, 3)),
        h("td.barcell", {}, h("div.bar", { style: `width: ${Math.max(0, Math.min(1, Number(rate) || 0)) * 100}%` })))));
  }

  return { topics: ["training"], render };
}
