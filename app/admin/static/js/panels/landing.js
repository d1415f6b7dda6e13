// A landing page's week (landingStats) and its visitors per day. Landing pages are the
// numbered tenants of the landing-page system (seed 004), so the panel shows for those.

import { COLORS, lineChart } from "../chart.js";
import { count, decimal, figures, table } from "../format.js";

const QUERY = `query AdminLanding($tenantId: ID, $timezone: String) {
  landingStats(tenantId: $tenantId, timezone: $timezone) {
    visitorsToday visitorsWeek whatsappClicks callClicks currencyToggles qrScans productClicks
    avgTimeOnPage last7Days { date visitors }
  }
}`;

export default {
  id: "landing",
  title: "Landing page (last 7 days)",
  depends: (state) => [state.tenantId, state.timezone],
  applies: (state) => /^\d+$/.test(state.tenantId),
  fetch: async (ctx, state) =>
    (await ctx.query(QUERY, { tenantId: state.tenantId, timezone: state.timezone })).landingStats,
  isEmpty: (data) => data.visitorsWeek === 0 && data.last7Days.every((d) => d.visitors === 0),
  empty: "No visitors on the landing page in the last 7 days.",
  render(body, data, state) {
    body.append(
      figures([
        ["Visitors today", count(data.visitorsToday)],
        ["Visitors this week", count(data.visitorsWeek)],
        ["WhatsApp clicks", count(data.whatsappClicks)],
        ["Call clicks", count(data.callClicks)],
        ["Currency toggles", count(data.currencyToggles)],
        ["QR scans", count(data.qrScans)],
        ["Product clicks", count(data.productClicks)],
        ["Average time on page", `${decimal(data.avgTimeOnPage)} s`],
      ]),
      lineChart("Landing page visitors per day, last 7 days", {
        // Each day's local noon: a date alone has no instant.
        x: data.last7Days.map((d) => `${d.date}T12:00:00Z`),
        series: [{ label: "Visitors", values: data.last7Days.map((d) => d.visitors), color: COLORS.current }],
        timezone: "UTC",
        whole: true,
      }),
      table("Visitors per day", ["Day", "Visitors"], data.last7Days.map((d) => [d.date, count(d.visitors)])),
    );
  },
};
