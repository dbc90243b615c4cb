// Episodes: the live and recently ended episodes, filtered by env and state, and a trajectory
// viewer: the reset's observation, then each step's action, observation, reward, timing and,
// for episodes a trainer played over /ws/trainer, the policy version that chose the action.
import { state } from "./store.js";
import { get } from "./api.js";
import { h, badge, fixed, time } from "./ui.js";

const MAX_ROWS = 500;
const TRAJECTORY_PAGES = 10;  // per opening: at most 10,000 stored trajectories read

// Trainer trajectories by episode id, read forward from the stream's stored log.
const trajectories = new Map();
let afterSeq = 0;
async function loadTrajectories() {
  for (let page = 0; page < TRAJECTORY_PAGES; page++) {
    const body = await get(`/api/v1/trajectories?after_seq=${afterSeq}&limit=1000`);
    for (const t of body.trajectories) trajectories.set(t.episode, t);
    if (body.next_after_seq === afterSeq) return;
    afterSeq = body.next_after_seq;
  }
}

export function createEpisodes(root) {
  const envSelect = h("select", { id: "ep-env" });
  const stateSelect = h("select", { id: "ep-state" },
    ["", "queued", "running", "finished", "cancelled", "failed"].map((s) => h("option", { value: s }, s || "all states")));
  const count = h("span.muted", { id: "ep-count" });
  const table = h("table.grid.clickable", { id: "episodes-table" });
  const viewer = h("div.viewer", { id: "trajectory" }, h("p.muted", {}, "Click an episode to open its trajectory."));
  root.append(h("div.toolbar", {}, envSelect, stateSelect, count), h("div.split", {}, h("div.list", {}, table), viewer));
  envSelect.addEventListener("change", render);
  stateSelect.addEventListener("change", render);

  async function open(id) {
    viewer.replaceChildren(h("p.muted", {}, "loading " + id + " …"));
    try {
      const e = await get("/api/v1/episodes/" + id);
      let trained = null;
      if (e.group) {
        await loadTrajectories();
        trained = trajectories.get(id) || null;
      }
      const versions = new Map((trained ? trained.steps : []).map((s) => [s.step, s.policy_version]));
      viewer.replaceChildren(
        h("h3", {}, e.id, " ", badge(e.state)),
        h("dl.facts", {},
          h("dt", {}, "env"), h("dd", {}, e.env),
          h("dt", {}, "task"), h("dd", {}, JSON.stringify(e.task)),
          h("dt", {}, "seed"), h("dd", {}, String(e.seed)),
          h("dt", {}, "return"), h("dd", {}, fixed(e.return, 3)),
          h("dt", {}, "steps"), h("dd", {}, String(e.steps)),
          h("dt", {}, "end"), h("dd", {}, e.end_reason || "–"),
          h("dt", {}, "failovers"), h("dd", {}, String(e.failovers)),
          h("dt", {}, "trainer"), h("dd", {}, trained ? `${trained.trainer} (seq ${trained.seq})` : "–"),
          h("dt", {}, "policy versions"), h("dd", {}, trained && trained.policy_version_min !== null
            ? `${trained.policy_version_min}–${trained.policy_version_max}` : "–")),
        h("div.step.reset", {}, h("div.meta", {}, "reset"), h("pre", {}, e.observation || "")),
        ...(e.trajectory || []).map((s) => h("div.step", { "data-step": s.step },
          h("div.meta", {},
            h("b", {}, "step " + s.step), ` reward ${fixed(s.reward, 3)}`,
            s.terminated ? " · terminated" : "", s.truncated ? " · truncated" : "",
            ` · ${fixed(s.duration_us / 1000, 3)} ms`, s.ts_ms ? ` · ${time(s.ts_ms)}` : "",
            versions.has(s.step) && versions.get(s.step) !== null ? ` · policy v${versions.get(s.step)}` : ""),
          h("div.action", {}, "> " + s.action),
          h("pre", {}, s.observation))),
      );
    } catch (err) {
      viewer.replaceChildren(h("p.error", {}, `episode ${id}: ${err.message}`));
    }
  }

  function render() {
    const envs = [...new Set([...state.episodes.values()].map((e) => e.env))].sort();
    if (envSelect.options.length !== envs.length + 1) {
      const chosen = envSelect.value;
      envSelect.replaceChildren(h("option", { value: "" }, "all envs"), ...envs.map((e) => h("option", { value: e }, e)));
      envSelect.value = chosen;
    }
    const list = [...state.episodes.values()]
      .filter((e) => (!envSelect.value || e.env === envSelect.value) && (!stateSelect.value || e.state === stateSelect.value))
      .reverse();
    count.textContent = `${list.length} episodes` + (list.length > MAX_ROWS ? `, newest ${MAX_ROWS} shown` : "");
    table.replaceChildren(
      h("tr", {}, ...["id", "env", "state", "steps", "return", "failovers", "sandbox", "group", "end"].map((c) => h("th", {}, c))),
      ...list.slice(0, MAX_ROWS).map((e) => h("tr", { "data-id": e.id, onclick: () => open(e.id) },
        h("td", {}, e.id), h("td", {}, e.env), h("td", {}, badge(e.state)), h("td.num", {}, e.steps),
        h("td.num", {}, fixed(e.return, 2)), h("td.num", {}, e.failovers), h("td", {}, e.sandbox || "–"),
        h("td", {}, e.group || "–"), h("td", {}, e.end_reason || "–"))));
  }

  return { topics: ["episodes"], render };
}
