// The dashboard in a real browser against a real rockd: Debian's chromium, headless, driven by
// playwright-core, on a rockd started here on port 0 with a temporary data directory.
// Usage: node dashboard_test.mjs ROCKD_BINARY NODE_MODULES_DIR ARTIFACT_DIR
// Exits 77 (ctest's SKIP_RETURN_CODE) when not root: rockd's sandboxes need namespaces and
// cgroups. A missing chromium is a failure, not a skip: scripts/install-deps.sh installs it.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";

const [rockdBinary, nodeModules, artifacts] = process.argv.slice(2).map((a) => path.resolve(a));
if (!rockdBinary || !nodeModules || !artifacts) {
  console.error("usage: dashboard_test.mjs ROCKD_BINARY NODE_MODULES_DIR ARTIFACT_DIR");
  process.exit(2);
}
if (process.getuid() !== 0) {
  console.log("SKIPPED: needs root: rockd's sandboxes need namespaces and cgroups");
  process.exit(77);
}
const CHROMIUM = "/usr/bin/chromium";
if (!fs.existsSync(CHROMIUM)) {
  console.error(`FAIL: ${CHROMIUM} is missing; run scripts/install-deps.sh (it installs Debian's chromium)`);
  process.exit(1);
}
const { chromium } = createRequire(path.join(nodeModules, "noop.js"))("playwright-core");
fs.mkdirSync(artifacts, { recursive: true });

// The table must stay smooth with this many rows. A sanitizer build's shell worker takes about
// 28 MB (against 0.3 MB), too much for 1,000 on a small test host, so ctest asks for fewer
// there (DASHBOARD_SANDBOXES); the virtualization under test is the page's, the same in both.
const SANDBOXES = Number(process.env.DASHBOARD_SANDBOXES || 1000);
// Small real shell sandboxes; the memory cap leaves room for a sanitizer build's worker.
const SHELL = { env: "shell", limits: { memory_mb: 64, pids: 8, disk_mb: 1 } };
// Every wait for the page or rockd; a bound, never a measurement. Sanitizer builds of rockd
// are many times slower, so ctest gives them more (DASHBOARD_WAIT_MS).
const WAIT_MS = Number(process.env.DASHBOARD_WAIT_MS || 30000);

// A rockd of our own: port 0, its own data dir, small pools. Stopped at exit whatever happens.
class Rockd {
  constructor(name, config, env = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `rockd-dashboard-${name}-`));
    fs.writeFileSync(path.join(this.dir, "config.json"), JSON.stringify(config));
    this.log = fs.openSync(path.join(this.dir, "rockd.log"), "w");
    this.child = spawn(rockdBinary, ["--listen", "127.0.0.1:0", "--port-file", path.join(this.dir, "port"),
      "--data-dir", path.join(this.dir, "data"), "--config", path.join(this.dir, "config.json")],
    { stdio: ["ignore", this.log, this.log], env: { ...process.env, ...env } });
    this.token = env.ROCKD_TOKEN || "";
  }

  async ready() {
    await until("rockd's port file", () => fs.existsSync(path.join(this.dir, "port")) &&
      fs.readFileSync(path.join(this.dir, "port"), "utf8").trim());
    this.base = "http://127.0.0.1:" + fs.readFileSync(path.join(this.dir, "port"), "utf8").trim();
    await until("/readyz 200", async () => (await fetch(this.base + "/readyz").catch(() => ({}))).status === 200);
  }

  async api(method, route, body) {
    const headers = { "Content-Type": "application/json" };
    if (this.token) headers.Authorization = "Bearer " + this.token;
    const response = await fetch(this.base + route, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    const json = text && response.headers.get("content-type").startsWith("application/json") ? JSON.parse(text) : text;
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${text.slice(0, 300)}`);
    return json;
  }

  // SIGTERM, so that rockd stops its sandboxes and removes their cgroups (a SIGKILLed rockd
  // leaves them for its next start on the same data dir, which this temporary one never has);
  // SIGKILL only if it has not exited within WAIT_MS.
  async stop() {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once("exit", resolve));
      this.child.kill("SIGTERM");
      let timer;
      const late = new Promise((resolve) => { timer = setTimeout(() => resolve("late"), WAIT_MS); });
      if (await Promise.race([exited, late]) === "late") {
        console.log(`rockd ${this.dir} did not exit within ${WAIT_MS} ms of SIGTERM; killing it`);
        this.child.kill("SIGKILL");
        await exited;
      }
      clearTimeout(timer);
    }
    const tail = fs.readFileSync(path.join(this.dir, "rockd.log"), "utf8").split("\n").slice(-15).join("\n");
    fs.rmSync(this.dir, { recursive: true, force: true });
    return tail;
  }
}

// until(what, probe): the probe's first truthy answer, polled every 100 ms for WAIT_MS.
async function until(what, probe, waitMs = WAIT_MS) {
  const deadline = Date.now() + waitMs;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (last) return last;
    } catch (err) {
      last = err.message;
    }
    if (Date.now() > deadline) throw new Error(`waited ${waitMs / 1000} s for ${what}; last: ${JSON.stringify(last)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const rockd = new Rockd("main", {
  pools: {
    alfworld: { min: 1, max: 1, slots: 8 },
    sleepy: { min: 1, max: 2, slots: 8 },
  },
});
let browser, page;
const consoleErrors = [];
const failedResponses = [];

async function shot(name) {
  await page.screenshot({ path: path.join(artifacts, name + ".png"), fullPage: false });
}

async function view(name) {
  await page.evaluate((n) => { location.hash = n; }, name);
  await page.waitForFunction((n) => document.body.dataset.rendered === n, name);
}

// /ws/events goes through playwright's WebSocket route, so a test can cut the socket and keep
// it down (every new connection closed at once) while rockd itself stays up.
let eventsDown = false;
const eventSockets = new Set();

before(async () => {
  await rockd.ready();
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
  page = await browser.newPage({ viewport: { width: 1500, height: 950 } });
  await page.routeWebSocket(/\/ws\/events/, (ws) => {
    if (eventsDown) return ws.close();
    ws.connectToServer();
    eventSockets.add(ws);
  });
  page.setDefaultTimeout(WAIT_MS);
  page.on("console", (m) => { if (m.type() === "error") consoleErrors.push(m.text()); });
  // The console's "Failed to load resource" does not say which: the last check names them.
  page.on("response", (r) => { if (r.status() >= 400) failedResponses.push(`${r.status()} ${r.request().method()} ${r.url()}`); });
  page.on("pageerror", (e) => consoleErrors.push("page error: " + e.message));
});

after(async () => {
  if (browser) await browser.close();
  const tail = await rockd.stop();
  if (process.exitCode) console.log("--- last lines of rockd's log:\n" + tail);
});

test("the page loads live over /ws/events with no console errors", async () => {
  await page.goto(rockd.base + "/");
  await page.waitForFunction(() => document.getElementById("conn").textContent === "live");
  await until("the overview's sandbox count", () => page.locator("#card-sandboxes .value").textContent());
  await shot("overview-start");
  assert.deepEqual(consoleErrors, []);
});

test("the counts shown match the REST API", async () => {
  const sandboxes = (await rockd.api("GET", "/api/v1/sandboxes")).sandboxes;
  const ready = sandboxes.filter((s) => s.state === "ready").length;
  assert.ok(sandboxes.length >= 2, `the config's two pools made ${sandboxes.length} sandboxes`);
  await until("overview counts equal to REST", async () =>
    await page.locator("#card-sandboxes .value").textContent() === String(sandboxes.length) &&
    await page.locator("#card-state-ready .value").textContent() === String(ready));

  await view("pools");
  const pools = (await rockd.api("GET", "/api/v1/pools")).pools;
  for (const p of pools) {
    const row = page.locator(`#pools-table tr[data-env="${p.env}"]`);
    const cells = await row.locator("td").allTextContents();
    assert.equal(cells[5], String(p.sandboxes.ready), `pool ${p.env}: ready`);
    assert.equal(cells[10], `${p.slots_busy}/${p.slots_total}`, `pool ${p.env}: slots`);
    assert.equal(await row.locator(`input[name="${p.env}-slots"]`).inputValue(), String(p.slots));
  }
});

test("a pool resized from the UI changes in rockd", async () => {
  await page.locator('input[name="sleepy-max"]').fill("3");
  await page.locator('#pools-table tr[data-env="sleepy"] button').click();
  await until("sleepy max 3 in rockd", async () =>
    (await rockd.api("GET", "/api/v1/pools")).pools.find((p) => p.env === "sleepy").max === 3);
  await shot("pools");
});

test("a finished episode's trajectory opens", async () => {
  const started = await rockd.api("POST", "/api/v1/episodes",
    { env: "sleepy", task: { steps: 3, distribution: "fixed", scale_ms: 2 }, seed: 5 });
  const answers = [];
  for (let i = 1; i <= 3; i++) answers.push(await rockd.api("POST", `/api/v1/episodes/${started.id}/step`, { action: `move ${i}` }));
  assert.equal(answers[2].terminated, true);

  await view("episodes");
  const row = page.locator(`#episodes-table tr[data-id="${started.id}"]`);
  await until("the episode listed as finished", async () => (await row.count()) && (await row.textContent()).includes("finished"));
  await row.click();
  const last = page.locator('#trajectory .step[data-step="3"]');
  await last.waitFor();
  assert.ok((await last.textContent()).includes(answers[2].observation), "step 3 shows rockd's observation");
  assert.ok((await last.textContent()).includes("> move 3"), "step 3 shows its action");
  assert.ok((await page.locator("#trajectory .step.reset pre").textContent()).includes(started.observation));
  await shot("episode-trajectory");
});

// A trainer on /ws/trainer, run inside a second page (the browser has a WebSocket client and
// node 18/20 have none): it plays a group of sleepy episodes with policy versions, acks their
// trajectories, and sends `report`s, the way rock-trainer does.
async function runTrainer(reports) {
  const trainerPage = await browser.newPage();
  await trainerPage.goto(rockd.base + "/healthz");
  const result = await trainerPage.evaluate(async ({ reports }) => {
    const ws = new WebSocket(`ws://${location.host}/ws/trainer`);
    const inbox = [];
    let wake = null;
    ws.onmessage = (m) => { inbox.push(JSON.parse(m.data)); if (wake) wake(); };
    await new Promise((resolve, reject) => { ws.onopen = resolve; ws.onerror = () => reject(new Error("trainer socket")); });
    const next = async (type) => {
      for (;;) {
        const i = inbox.findIndex((m) => m.type === type || m.type === "error");
        if (i >= 0) {
          const [m] = inbox.splice(i, 1);
          if (m.type === "error") throw new Error("rockd: " + JSON.stringify(m));
          return m;
        }
        await new Promise((r) => { wake = r; });
      }
    };
    const send = (m) => ws.send(JSON.stringify(m));
    send({ type: "hello", trainer: "browser-test", credits: 16 });
    await next("welcome");
    send({ type: "start", req: 1, env: "sleepy", task: { steps: 2, distribution: "fixed", scale_ms: 2 }, seed: 9, n: 2, policy_version: 7 });
    const episodes = [(await next("obs")).episode, (await next("obs")).episode];
    for (const step of [1, 2]) {
      for (const episode of episodes) send({ type: "act", episode, step, action: "go", policy_version: 7 + step });
      await next("obs"); await next("obs");
    }
    const trajectories = [await next("trajectory"), await next("trajectory")];
    send({ type: "ack", seq: Math.max(...trajectories.map((t) => t.seq)) });
    for (const metrics of reports) send({ type: "report", metrics });
    send({ type: "ping" });
    await next("pong");  // every report before it has been read
    ws.close();
    return { episodes, trajectories };
  }, { reports });
  await trainerPage.close();
  return result;
}

test("the charts render with live data", async () => {
  const reports = [1, 2, 3].map((step) => ({
    step, policy_version: 7 + step, reward_mean: 0.2 * step, success_rate: 0.25 * step, expert_agreement: 0.3 * step,
    loss: 1.5 / step,
    tokens_per_s: 1000 + 100 * step, staleness: step - 1,
    success_by_type: { pick_and_place_simple: 0.3 * step, look_at_obj_in_light: 0.1 * step },
  }));
  const trainer = await runTrainer(reports);

  await view("training");
  await page.waitForFunction(() => document.getElementById("chart-reward").dataset.points === "3");
  const types = await page.locator("#success-by-type tr[data-type]").allTextContents();
  assert.equal(types.length, 2);
  assert.ok(types[0].startsWith("look_at_obj_in_light0.300"), types[0]);
  // The canvas has lines on it: pixels uPlot drew, not only an empty frame.
  const inked = await page.evaluate(() => {
    const canvas = document.querySelector("#chart-reward canvas");
    const { data } = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height);
    let n = 0;
    for (let i = 3; i < data.length; i += 4) if (data[i]) n++;
    return n;
  });
  assert.ok(inked > 500, `the reward chart drew ${inked} pixels`);
  await shot("training");

  // Episodes and steps just happened: the overview's rate chart, from /metrics, has seen them.
  await view("overview");
  // A line needs two rates, and each rate two /metrics samples 2 s apart.
  await page.waitForFunction(() => Number(document.getElementById("chart-rates").dataset.maxSteps) > 0 &&
    Number(document.getElementById("chart-rates").dataset.points) >= 2);
  await shot("overview-rates");

  // The trainer's episode opens with the policy versions its actions carried.
  await view("episodes");
  const row = page.locator(`#episodes-table tr[data-id="${trainer.episodes[0]}"]`);
  await row.waitFor();
  await row.click();
  await page.locator('#trajectory .step[data-step="2"]').waitFor();
  assert.ok((await page.locator('#trajectory .step[data-step="2"] .meta').textContent()).includes("policy v9"));
  assert.ok((await page.locator("#trajectory").textContent()).includes("browser-test"));

  // A page opened afterwards draws the same curve from the stored reports.
  const later = await browser.newPage({ viewport: { width: 1500, height: 950 } });
  await later.goto(rockd.base + "/#training");
  await later.waitForFunction(() => document.getElementById("chart-reward").dataset.points === "3");
  assert.equal(await later.locator("#success-by-type tr[data-type]").count(), 2);
  await later.close();
});

test("a sandbox restarted from the UI goes down and comes back on screen; one deleted goes away", async () => {
  const created = await rockd.api("POST", "/api/v1/sandboxes", SHELL);
  await view("sandboxes");
  await page.locator("#sb-filter").fill(created.id);
  const row = page.locator(`#sb-scroll .row[data-id="${created.id}"]`);
  await until("the new sandbox ready on screen", async () => (await row.getAttribute("data-state")) === "ready");
  // Every state the row shows, in order, as the DOM changes.
  await page.evaluate((id) => {
    window.seenStates = [];
    new MutationObserver(() => {
      const el = document.querySelector(`#sb-scroll .row[data-id="${id}"]`);
      const s = el && el.dataset.state;
      if (s && window.seenStates[window.seenStates.length - 1] !== s) window.seenStates.push(s);
    }).observe(document.getElementById("sb-scroll"), { subtree: true, childList: true, attributes: true });
  }, created.id);
  page.once("dialog", (d) => d.accept());
  await row.locator("button.restart").click();
  await until("restarts 1 and ready again on screen", async () =>
    (await row.locator(".c-restarts").textContent()) === "1" && (await row.getAttribute("data-state")) === "ready");
  const seen = await page.evaluate(() => window.seenStates);
  assert.ok(seen.includes("starting"), `the row showed ${JSON.stringify(seen)}`);
  assert.equal(seen[seen.length - 1], "ready");
  const status = await rockd.api("GET", `/api/v1/sandboxes/${created.id}`);
  assert.equal(status.restarts, 1);
  assert.ok(status.transitions.some((t) => t.reason === "restart requested"));
  await shot("sandbox-restarted");

  page.once("dialog", (d) => d.dismiss());  // cancelling the confirmation keeps it
  await row.locator("button.delete").click();
  page.once("dialog", (d) => d.accept());
  await row.locator("button.delete").click();
  await row.waitFor({ state: "detached" });
  const gone = await fetch(`${rockd.base}/api/v1/sandboxes/${created.id}`);
  assert.equal(gone.status, 404);
  await page.locator("#sb-filter").fill("");
});

test("with /ws/events down the page polls the REST API, and reconnects", async () => {
  await view("overview");
  eventsDown = true;
  for (const ws of eventSockets) await ws.close();
  eventSockets.clear();
  await page.waitForFunction(() => document.getElementById("conn").textContent.startsWith("polling"));
  const created = await rockd.api("POST", "/api/v1/sandboxes", SHELL);
  const count = (await rockd.api("GET", "/api/v1/sandboxes")).sandboxes.length;
  await page.waitForFunction((n) => document.querySelector("#card-sandboxes .value").textContent === String(n), count);
  assert.ok(await page.locator("#conn").textContent().then((t) => t.startsWith("polling")), "the count came by polling");
  await shot("overview-polling");
  eventsDown = false;  // the next attempt of the page's backoff gets through
  await page.waitForFunction(() => document.getElementById("conn").textContent === "live");
  await rockd.api("DELETE", `/api/v1/sandboxes/${created.id}`);
  // The reconnect read the stored reports again: the same three points, none twice.
  await view("training");
  await page.waitForFunction(() => document.getElementById("chart-reward").dataset.points === "3");
});

test(`a ${SANDBOXES}-sandbox table scrolls without freezing`, async () => {
  // Real shell sandboxes with small limits, four creations at a time.
  const have = (await rockd.api("GET", "/api/v1/sandboxes")).sandboxes.length;
  let todo = SANDBOXES - have;
  await Promise.all([1, 2, 3, 4].map(async () => {
    while (todo-- > 0) await rockd.api("POST", "/api/v1/sandboxes", SHELL);
  }));
  const ids = (await rockd.api("GET", "/api/v1/sandboxes")).sandboxes.map((s) => s.id).sort();
  assert.ok(ids.length >= SANDBOXES, `${ids.length} sandboxes`);

  await view("sandboxes");
  await page.waitForFunction((n) => document.getElementById("sb-count").textContent === `${n} of ${n} sandboxes`, ids.length);
  await shot("sandboxes-top");
  const run = await page.evaluate(async () => {
    const scroller = document.getElementById("sb-scroll");
    const rowHeight = 30, steps = 80;
    let frames = 0, counting = true;
    const tick = () => { frames++; if (counting) requestAnimationFrame(tick); };
    requestAnimationFrame(tick);
    const frame = () => new Promise((r) => requestAnimationFrame(r));
    const checks = [];
    const end = scroller.scrollHeight - scroller.clientHeight;
    let previous = performance.now(), longest = 0;
    for (let i = 0; i <= steps; i++) {
      scroller.scrollTop = Math.round((end * i) / steps);
      await frame();
      const now = performance.now();
      longest = Math.max(longest, now - previous);
      previous = now;
      const indices = [...scroller.querySelectorAll(".row[data-index]")].map((r) => Number(r.dataset.index));
      checks.push({
        top: scroller.scrollTop, rows: indices.length, min: Math.min(...indices), max: Math.max(...indices),
        needFirst: Math.floor(scroller.scrollTop / rowHeight),
        needLast: Math.min(Math.ceil((scroller.scrollTop + scroller.clientHeight) / rowHeight), scroller.querySelector(".spacer").offsetHeight / rowHeight) - 1,
      });
    }
    counting = false;
    const ids = [...scroller.querySelectorAll(".row[data-id]")].map((r) => r.dataset.id);
    return { frames, steps, checks, longest, ids };
  });
  console.log(`# scrolled ${ids.length} rows in ${run.steps} steps: ${run.frames} frames, longest frame gap ${run.longest.toFixed(1)} ms (reported, not asserted)`);
  assert.ok(run.frames >= run.steps, `${run.frames} animation frames during ${run.steps} scroll steps`);
  for (const c of run.checks) {
    assert.ok(c.rows <= 100, `a bounded DOM: ${c.rows} rows at scrollTop ${c.top}`);
    assert.ok(c.min <= c.needFirst && c.max >= c.needLast, `rows ${c.min}–${c.max} cover the view ${c.needFirst}–${c.needLast}`);
  }
  assert.ok(run.ids.includes(ids[ids.length - 1]), `the last sandbox ${ids[ids.length - 1]} is shown at the end`);
  await shot("sandboxes-bottom");

  // The table is sorted by id; a click on the header sorts descending and puts that last sandbox first.
  await page.locator('#view-sandboxes .header [data-sort="id"]').click();
  await page.evaluate(() => { document.getElementById("sb-scroll").scrollTop = 0; });
  await page.waitForFunction((id) => document.querySelector('#sb-scroll .row[data-index="0"]')?.dataset.id === id, ids[ids.length - 1]);
});

test("no console errors over the whole session", () => {
  assert.deepEqual(consoleErrors, [], `responses that failed: ${failedResponses.join(", ") || "none"}`);
});

test("with a token, the page asks for it once and keeps it for the session", async () => {
  const guarded = new Rockd("token", { pools: { alfworld: { min: 0, max: 1, slots: 4 } } }, { ROCKD_TOKEN: "t0ken-for-browser" });
  try {
    await guarded.ready();
    const tab = await browser.newPage();
    await tab.goto(guarded.base + "/");
    await tab.locator("#token-dialog").waitFor({ state: "visible" });
    await tab.locator("#token-input").fill("t0ken-for-browser");
    await tab.locator("#token-submit").click();
    await tab.waitForFunction(() => document.getElementById("conn").textContent === "live");
    assert.equal(await tab.evaluate(() => sessionStorage.getItem("rockd.token")), "t0ken-for-browser");
    await tab.reload();  // the same tab: no second question
    await tab.waitForFunction(() => document.getElementById("conn").textContent === "live");
    assert.equal(await tab.locator("#token-dialog").isVisible(), false);
    await tab.close();
  } finally {
    await guarded.stop();
  }
});
