// RFM segments of the last 90 days: how many customers in each, and the customers.

import { count, el, money, table } from "../format.js";

const QUERY = `query AdminRfm($tenantId: ID) {
  rfm(tenantId: $tenantId) { customers { visitorId recency frequency monetary segment } }
}`;

const SEGMENTS = [["VIP", "VIP"], ["LOYAL", "Loyal"], ["AT_RISK", "At risk"], ["LOST", "Lost"]];

export default {
  id: "rfm",
  title: "RFM segments (last 90 days)",
  depends: (state) => [state.tenantId],
  wide: true,
  fetch: async (ctx, state) => (await ctx.query(QUERY, { tenantId: state.tenantId })).rfm,
  isEmpty: (data) => data.customers.length === 0,
  empty: "No logged-in customer bought in the last 90 days.",
  render(body, data, state) {
    const counts = Object.fromEntries(SEGMENTS.map(([key]) => [key, 0]));
    for (const c of data.customers) counts[c.segment] += 1;
    body.append(
      el(
        "ul",
        { class: "cards segments" },
        SEGMENTS.map(([key, label]) =>
          el("li", { class: "card", "data-segment": key },
            el("span", { class: "card-label", text: label }),
            el("span", { class: "card-value", text: count(counts[key]) })),
        ),
      ),
      table(
        "Customers by recency",
        ["Customer", "Segment", "Days since last order", "Orders", "Spent"],
        data.customers.map((c) => [
          c.visitorId,
          SEGMENTS.find(([key]) => key === c.segment)[1],
          count(c.recency),
          count(c.frequency),
          money(c.monetary, state.currency),
        ]),
      ),
    );
  },
};
