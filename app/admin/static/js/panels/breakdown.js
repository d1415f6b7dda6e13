// A metric per key of a dimension, with each key's share (breakdown): the admin picks
// which metric and which dimension.

import { bars, count, el, money, percent } from "../format.js";
import { RANGE_ARGS, RANGE_PARAMS, rangeVariables } from "../range.js";

const QUERY = `query AdminBreakdown(${RANGE_PARAMS}, $metric: Metric!, $by: Dimension!) {
  breakdown(metric: $metric, by: $by, limit: 10, ${RANGE_ARGS}) { total totalRows rows { key value share } }
}`;

const METRICS = [["SESSIONS", "Sessions"], ["VISITORS", "Visitors"], ["PAGEVIEWS", "Page views"], ["ORDERS", "Orders"], ["REVENUE", "Revenue"]];
const DIMENSIONS = [
  ["CHANNEL", "Channel"], ["SOURCE", "Source"], ["CAMPAIGN", "Campaign"], ["COUNTRY", "Country"],
  ["DEVICE", "Device"], ["BROWSER", "Browser"], ["OS", "Operating system"], ["PAGE", "Page"],
  ["PRODUCT", "Product"],
];

function select(id, label, options, onchange) {
  const node = el("select", { id, onchange }, options.map(([value, text]) => el("option", { value, text })));
  return [el("label", { for: id, text: label }), node];
}

export default {
  id: "breakdown",
  title: "Breakdown",
  tools(panel) {
    const again = () => panel.refresh();
    const [metricLabel, metric] = select("breakdown-metric", "Metric", METRICS, again);
    const [byLabel, by] = select("breakdown-by", "By", DIMENSIONS, again);
    panel.metric = metric;
    panel.by = by;
    panel.toolbar.append(metricLabel, metric, byLabel, by);
  },
  async fetch(ctx, state, panel) {
    const variables = { ...rangeVariables(state), metric: panel.metric.value, by: panel.by.value };
    return (await ctx.query(QUERY, variables)).breakdown;
  },
  isEmpty: (data) => data.rows.length === 0,
  empty: "Nothing to break down in this range.",
  render(body, data, state, panel) {
    const format = panel.metric.value === "REVENUE" ? (n) => money(n, state.currency) : count;
    const name = panel.metric.selectedOptions[0].text;
    const by = panel.by.selectedOptions[0].text;
    body.append(
      el("p", { class: "totals" }, el("strong", { class: "total", text: format(data.total) }), ` ${name.toLowerCase()} in all, ${count(data.totalRows)} keys`),
      bars(`${name} by ${by.toLowerCase()}`, data.rows.map((r) => ({
        label: r.key,
        value: r.value,
        text: `${format(r.value)} (${percent(r.share)})`,
      }))),
    );
  },
};
