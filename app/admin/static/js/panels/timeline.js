// A metric over time with the previous period as a second, dashed line (metrics with
// compare: PREVIOUS_PERIOD). One panel per metric: revenue and orders.

import { COLORS, lineChart } from "../chart.js";
import { change, el, inUnit, table } from "../format.js";
import { RANGE_ARGS, RANGE_PARAMS, granularity, rangeVariables } from "../range.js";

const PER = { HOUR: "hour", DAY: "day", WEEK: "week", MONTH: "month" };

function bucketLabel(iso, grain, timezone) {
  const options = { timeZone: timezone, year: "numeric", month: "2-digit", day: "2-digit" };
  if (grain === "HOUR") Object.assign(options, { hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  if (grain === "MONTH") delete options.day;
  return new Intl.DateTimeFormat("en-CA", options).format(new Date(iso));
}

export function timeline({ id, title, metric, name }) {
  const operation = `Admin${name}Series`;
  const query = `query ${operation}(${RANGE_PARAMS}, $granularity: Granularity!) {
  metrics(metric: ${metric}, compare: PREVIOUS_PERIOD, granularity: $granularity, ${RANGE_ARGS}) {
    unit total change dataPoints { date value } previous { total dataPoints { value } }
  }
}`;
  return {
    id,
    title,
    async fetch(ctx, state) {
      const variables = { ...rangeVariables(state), granularity: granularity(state.range) };
      return (await ctx.query(query, variables)).metrics;
    },
    isEmpty: (data) => data.total === 0 && data.previous.total === 0,
    empty: "No activity in this range or the one before.",
    render(body, data, state) {
      const grain = granularity(state.range);
      const format = (n) => inUnit(n, data.unit);
      const current = data.dataPoints.map((p) => p.value);
      // Bucket k of the previous period drawn over bucket k of this one.
      const previous = current.map((_, k) => data.previous.dataPoints[k]?.value ?? null);
      body.append(
        el(
          "p",
          { class: "totals" },
          el("strong", { class: "total", text: format(data.total) }),
          ` ${change(data.change)} vs ${format(data.previous.total)} in the previous period`,
        ),
        lineChart(`${title} per ${PER[grain]}: this period and the previous one`, {
          x: data.dataPoints.map((p) => p.date),
          series: [
            { label: "This period", values: current, color: COLORS.current },
            { label: "Previous period", values: previous, color: COLORS.previous, dash: [6, 4] },
          ],
          timezone: state.timezone,
          whole: data.unit === "count",
        }),
        el(
          "details",
          {},
          el("summary", { text: `${title} per ${PER[grain]} as a table` }),
          table(
            `${title} per ${PER[grain]}`,
            [PER[grain][0].toUpperCase() + PER[grain].slice(1), "This period", "Previous period"],
            data.dataPoints.map((p, k) => [
              bucketLabel(p.date, grain, state.timezone),
              format(p.value),
              previous[k] === null ? "–" : format(previous[k]),
            ]),
          ),
        ),
      );
    },
  };
}

export const revenue = timeline({ id: "revenue", title: "Revenue", metric: "REVENUE", name: "Revenue" });
export const orders = timeline({ id: "orders", title: "Orders", metric: "ORDERS", name: "Orders" });
