// This week's shop funnel counts (dashboardStats: 00:00 of today − 6 days to now, in the
// zone), counted as events (TOTAL) or distinct sessions (UNIQUE).

import { count, el, figures, percent } from "../format.js";

const QUERY = `query AdminWeek($tenantId: ID, $timezone: String, $mode: CountMode!) {
  dashboardStats(mode: $mode, tenantId: $tenantId, timezone: $timezone) {
    eventCounts { productView addToCart beginCheckout purchase }
    conversionRates { visitToCart cartToCheckout checkoutToPurchase }
    abandonmentRate
  }
}`;

export default {
  id: "week",
  title: "This week",
  depends: (state) => [state.tenantId, state.timezone],
  tools(panel) {
    panel.mode = el("select", { id: "week-mode", onchange: () => panel.refresh() },
      el("option", { value: "TOTAL", text: "Events (TOTAL)" }),
      el("option", { value: "UNIQUE", text: "Sessions (UNIQUE)" }));
    panel.toolbar.append(el("label", { for: "week-mode", text: "Count" }), panel.mode);
  },
  async fetch(ctx, state, panel) {
    const variables = { tenantId: state.tenantId, timezone: state.timezone, mode: panel.mode.value };
    return (await ctx.query(QUERY, variables)).dashboardStats;
  },
  isEmpty: (data) => Object.values(data.eventCounts).every((n) => n === 0),
  empty: "No product views, carts, checkouts or purchases this week.",
  render(body, data) {
    const c = data.eventCounts;
    const r = data.conversionRates;
    body.append(
      figures([
        ["Product views", count(c.productView)],
        ["Add to cart", count(c.addToCart)],
        ["Checkouts begun", count(c.beginCheckout)],
        ["Purchases", count(c.purchase)],
      ]),
      el("p", { class: "muted", text: `View → cart ${percent(r.visitToCart)} · cart → checkout ${percent(r.cartToCheckout)} · checkout → purchase ${percent(r.checkoutToPurchase)} · abandonment ${percent(data.abandonmentRate)}` }),
    );
  },
};
