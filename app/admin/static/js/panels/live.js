// Right now: visitors of the last 5 minutes, events of the last minute, today's orders
// and revenue, the busiest pages (Subscription.liveStats, pushed every few seconds).

import { count, el, figures, money } from "../format.js";

const QUERY = `subscription AdminLiveStats($tenantId: ID, $intervalSeconds: Int!) {
  liveStats(tenantId: $tenantId, intervalSeconds: $intervalSeconds) {
    at visitorsNow eventsLastMinute ordersToday revenueToday topPages { page visitors }
  }
}`;
const INTERVAL_SECONDS = 5;

export default {
  id: "live",
  title: "Live",
  depends: (state) => [state.tenantId, state.timezone],
  async fetch(ctx, state, panel) {
    if (!(await ctx.live.available())) {
      panel.root.dataset.live = "unavailable";
      return { waiting: "Live updates unavailable: this server offers no subscriptions." };
    }
    panel.root.dataset.live = "connecting";
    ctx.live.watch("liveStats", QUERY, { tenantId: state.tenantId, intervalSeconds: INTERVAL_SECONDS }, {
      next(payload) {
        if (payload.data?.liveStats) {
          panel.root.dataset.live = "live";
          panel.draw(payload.data.liveStats);
        } else {
          panel.show("error", payload.errors?.[0]?.message ?? "Live stats failed.");
        }
      },
      down(message) {
        panel.root.dataset.live = "unavailable";
        panel.draw({ waiting: message });
      },
    });
    return { waiting: "Connecting…" };
  },
  isEmpty: (data) => Boolean(data.waiting),
  empty: (data) => data.waiting,
  render(body, data, state) {
    const at = new Intl.DateTimeFormat("en-GB", { timeZone: state.timezone, timeStyle: "medium" }).format(new Date(data.at));
    body.append(
      figures([
        ["Visitors now", count(data.visitorsNow)],
        ["Events in the last minute", count(data.eventsLastMinute)],
        ["Orders today", count(data.ordersToday)],
        ["Revenue today", money(data.revenueToday, state.currency)],
      ]),
      data.topPages.length
        ? el("ol", { class: "pages", "aria-label": "Busiest pages now" },
            data.topPages.map((p) => el("li", {}, el("span", { text: p.page }), el("span", { text: count(p.visitors) }))))
        : el("p", { class: "muted", text: "No page views in the last 5 minutes." }),
      el("p", { class: "muted", text: `Updated ${at}` }),
    );
  },
};
