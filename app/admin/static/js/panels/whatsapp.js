// What WhatsApp cart clicks led to: orders and revenue after a session's first click
// (marketing.whatsapp).

import { count, figures, money } from "../format.js";
import { RANGE_ARGS, RANGE_PARAMS, rangeVariables } from "../range.js";

const QUERY = `query AdminWhatsapp(${RANGE_PARAMS}) {
  marketing(${RANGE_ARGS}) { whatsapp { clicks sessions ordersAfterClick revenueAfterClick } }
}`;

export default {
  id: "whatsapp",
  title: "WhatsApp",
  fetch: async (ctx, state) => (await ctx.query(QUERY, rangeVariables(state))).marketing.whatsapp,
  isEmpty: (data) => data.clicks === 0,
  empty: "No WhatsApp cart clicks in this range.",
  render(body, data, state) {
    body.append(
      figures([
        ["Clicks", count(data.clicks)],
        ["Sessions with a click", count(data.sessions)],
        ["Orders after a click", count(data.ordersAfterClick)],
        ["Revenue after a click", money(data.revenueAfterClick, state.currency)],
      ]),
    );
  },
};
