// Small DOM and formatting helpers shared by the views.
import uPlot from "uplot";
import "uplot/dist/uPlot.min.css";

// h("td.num", {title}, ...children): an element; strings become text nodes (never HTML).
export function h(tag, attrs = {}, ...children) {
  const [name, ...classes] = tag.split(".");
  const el = document.createElement(name);
  if (classes.length) el.className = classes.join(" ");
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else if (k === "dataset") Object.assign(el.dataset, v);
    else el.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    el.append(c instanceof Node ? c : String(c));
  }
  return el;
}

export function duration(seconds) {
  if (!(seconds >= 0)) return "–";
  const d = Math.floor(seconds / 86400), hr = Math.floor(seconds / 3600) % 24;
  const m = Math.floor(seconds / 60) % 60, s = Math.floor(seconds % 60);
  if (d) return `${d}d ${hr}h`;
  if (hr) return `${hr}h ${m}m`;
  if (m) return `${m}m ${s}s`;
  return `${s}s`;
}

export function bytes(n) {
  if (!(n >= 0)) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  while (n >= 1024 && i < units.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + " " + units[i];
}

export const fixed = (x, digits = 2) => (typeof x === "number" && isFinite(x) ? x.toFixed(digits) : "–");
export const time = (ms) => (ms ? new Date(ms).toLocaleTimeString() : "–");

export function badge(text) {
  return h("span.badge.s-" + String(text).replace(/[^a-z_]/gi, ""), {}, text);
}

// A uPlot line chart that follows its container's width. series: [{label, stroke}]; data in
// uPlot's columnar form [xs, ys1, ys2, ...]. The container carries data-points (the number of
// x values drawn) so a reader, or a test, can tell an empty chart from a drawn one.
export class LineChart {
  constructor(container, { title, series, xTime = true, height = 220 }) {
    this.container = container;
    this.height = height;
    this.data = [[], ...series.map(() => [])];
    this.opts = {
      title, height, width: 400,
      scales: { x: { time: xTime } },
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.stroke, width: 2, spanGaps: true }))],
      axes: [{}, { size: 60 }],
    };
    this.plot = null;
    new ResizeObserver(() => this.fit()).observe(container);
  }

  fit() {
    const width = this.container.clientWidth;
    if (width <= 0) return;  // hidden view: drawn once it is shown
    if (!this.plot) this.plot = new uPlot({ ...this.opts, width }, this.data, this.container);
    else if (Math.abs(this.plot.width - width) > 1) this.plot.setSize({ width, height: this.height });
  }

  set(data) {
    this.data = data;
    this.container.dataset.points = String(data[0].length);
    if (this.plot) this.plot.setData(data);
    else this.fit();
  }
}
