// The dashboard's entry: one view per #hash, drawn at most once per frame while it is shown.
import "./style.css";
import { state, subscribe, start } from "./store.js";
import { createOverview } from "./overview.js";
import { createSandboxes } from "./sandboxes.js";
import { createPools } from "./pools.js";
import { createEpisodes } from "./episodes.js";
import { createTraining } from "./training.js";
import { createEvents } from "./events.js";

const factories = {
  overview: createOverview, sandboxes: createSandboxes, pools: createPools,
  episodes: createEpisodes, training: createTraining, events: createEvents,
};
const views = {};
for (const [name, create] of Object.entries(factories)) views[name] = create(document.getElementById("view-" + name));

let current = null;
let pending = false;
function scheduleRender() {
  if (pending) return;
  pending = true;
  requestAnimationFrame(() => {
    pending = false;
    views[current].render();
    document.body.dataset.rendered = current;  // what a reader (or a test) sees is drawn
  });
}

function show() {
  const name = location.hash.slice(1) in views ? location.hash.slice(1) : "overview";
  current = name;
  for (const n of Object.keys(views)) document.getElementById("view-" + n).hidden = n !== name;
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.getAttribute("href") === "#" + name);
  document.body.dataset.view = name;
  scheduleRender();
}

const conn = document.getElementById("conn");
function showConnection() {
  const labels = { connecting: "connecting", live: "live", polling: "polling (socket down)", down: "unreachable" };
  conn.textContent = labels[state.connection] + (state.lastError && state.connection === "down" ? ": " + state.lastError : "");
  conn.className = "badge c-" + state.connection;
  if (state.info) document.getElementById("version").textContent =
    `${state.info.version} (${state.info.git_revision}) · ${state.info.listen.host}:${state.info.listen.port}`;
}

subscribe((topic) => {
  if (topic === "connection") showConnection();
  if (current && views[current].topics.includes(topic)) scheduleRender();
});
window.addEventListener("hashchange", show);
show();
(function boot() {
  start().catch((err) => {
    state.connection = "down";
    state.lastError = err.message;
    showConnection();
    setTimeout(boot, 2000);
  });
})();
