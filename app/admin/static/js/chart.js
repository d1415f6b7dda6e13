// Line charts through the vendored uPlot. A chart is a picture for the eye: every panel
// that draws one also lists its figures as text, which is what screen readers and tests read.

import uPlot from "../vendor/uplot/dist/uPlot.esm.js";
import { el } from "./format.js";

const HEIGHT = 220;
const TICK = new Intl.NumberFormat("en-US", { notation: "compact", maximumFractionDigits: 1 });
// Whole steps for counts: a tick of 0.5 orders means nothing.
const WHOLE = [1, 2, 5, 10, 20, 50, 100, 200, 500, 1e3, 2e3, 5e3, 1e4, 2e4, 5e4, 1e5, 1e6, 1e7];
export const COLORS = { current: "#0969da", previous: "#8c959f" };

/**
 * x: bucket starts (ISO instants); series: [{label, values, color, dash?}];
 * timezone: the zone the axis reads in; whole: only whole-number ticks (counts).
 */
export function lineChart(label, { x, series, timezone, whole = false }) {
  const wrap = el("div", { class: "chart", role: "img", "aria-label": label });
  const data = [x.map((iso) => Date.parse(iso) / 1000), ...series.map((s) => s.values)];
  const options = {
    width: 320,
    height: HEIGHT,
    tzDate: (ts) => uPlot.tzDate(new Date(ts * 1000), timezone),
    legend: { show: false },
    cursor: { y: false },
    scales: { x: { time: true }, y: { range: (_, min, max) => [Math.min(0, min), Math.max(whole ? 1 : 0, max)] } },
    axes: [
      { stroke: "#57606a", grid: { stroke: "#eaeef2" } },
      {
        stroke: "#57606a",
        grid: { stroke: "#eaeef2" },
        size: 48,
        incrs: whole ? WHOLE : undefined,
        values: (_, ticks) => ticks.map((t) => TICK.format(t)),
      },
    ],
    series: [
      {},
      ...series.map((s) => ({
        label: s.label,
        stroke: s.color,
        width: 2,
        dash: s.dash,
        points: { show: x.length <= 31 },
      })),
    ],
  };
  const chart = new uPlot(options, data, wrap);
  const fit = () => {
    if (!wrap.isConnected) {
      observer.disconnect();
      chart.destroy();
      return;
    }
    const width = Math.floor(wrap.clientWidth);
    if (width > 0 && width !== chart.width) chart.setSize({ width, height: HEIGHT });
  };
  const observer = new ResizeObserver(fit);
  observer.observe(wrap);
  return el(
    "figure",
    { class: "chart-figure" },
    wrap,
    el(
      "figcaption",
      { class: "legend" },
      series.map((s) =>
        el("span", { class: "key" }, el("span", {
          class: s.dash ? "swatch dashed" : "swatch",
          style: { borderColor: s.color },
          "aria-hidden": "true",
        }), s.label),
      ),
    ),
  );
}
