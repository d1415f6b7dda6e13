// Traffic sources and campaigns: sessions, orders, revenue and conversion per session
// source and campaign (marketing).

import { count, el, money, percent, table } from "../format.js";
import { RANGE_ARGS, RANGE_PARAMS, rangeVariables } from "../range.js";

const ROW = "{ key sessions orders revenue conversionRate }";
const QUERY = `query AdminSources(${RANGE_PARAMS}) {
  marketing(${RANGE_ARGS}) { sources ${ROW} campaigns ${ROW} }
}`;

function rows(list, currency) {
  return list.map((r) => [r.key, count(r.sessions), count(r.orders), money(r.revenue, currency), percent(r.conversionRate)]);
}

export default {
  id: "sources",
  title: "Traffic sources and campaigns",
  wide: true,
  fetch: async (ctx, state) => (await ctx.query(QUERY, rangeVariables(state))).marketing,
  isEmpty: (data) => data.sources.length === 0,
  empty: "No sessions in this range.",
  render(body, data, state) {
    const headers = ["Sessions", "Orders", "Revenue", "Conversion"];
    body.append(
      el("h3", { text: "Sources" }),
      table("Sessions per source", ["Source", ...headers], rows(data.sources, state.currency)),
      el("h3", { text: "Campaigns" }),
      data.campaigns.length
        ? table("Sessions per campaign", ["Campaign", ...headers], rows(data.campaigns, state.currency))
        : el("p", { class: "muted", text: "No session came from a campaign in this range." }),
    );
  },
};
