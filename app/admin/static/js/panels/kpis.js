// Headline figures of the range, each beside the previous period (overview).

import { change, count, el, money, percent } from "../format.js";
import { RANGE_ARGS, RANGE_PARAMS, rangeVariables } from "../range.js";

const KPI = "{ value previous change }";
const QUERY = `query AdminOverview(${RANGE_PARAMS}) {
  overview(${RANGE_ARGS}) {
    currency revenue ${KPI} orders ${KPI} averageOrderValue ${KPI}
    conversionRate ${KPI} visitors ${KPI}
  }
}`;

const CARDS = [
  ["revenue", "Revenue", (n, c) => money(n, c)],
  ["orders", "Orders", (n) => count(n)],
  ["averageOrderValue", "Average order", (n, c) => money(n, c)],
  ["conversionRate", "Conversion", (n) => percent(n)],
  ["visitors", "Visitors", (n) => count(n)],
];

function trend(c) {
  if (c === null) return "flat";
  return c > 0 ? "up" : c < 0 ? "down" : "flat";
}

export default {
  id: "kpis",
  title: "Key figures",
  wide: true,
  fetch: async (ctx, state) => (await ctx.query(QUERY, rangeVariables(state))).overview,
  render(body, data) {
    body.append(
      el(
        "ul",
        { class: "cards" },
        CARDS.map(([key, label, format]) => {
          const kpi = data[key];
          return el(
            "li",
            { class: "card", "data-kpi": key },
            el("span", { class: "card-label", text: label }),
            el("span", { class: "card-value", text: format(kpi.value, data.currency) }),
            el(
              "span",
              { class: `card-change ${trend(kpi.change)}` },
              `${change(kpi.change)} vs ${format(kpi.previous, data.currency)} before`,
            ),
          );
        }),
      ),
    );
  },
};
