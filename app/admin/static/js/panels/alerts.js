// Alerts now, in English or Spanish; kept current by the alertsChanged subscription
// when the server offers it (see live.js), asked once over HTTP otherwise.

import { el } from "../format.js";

const FIELDS = "type severity message";
const QUERY = `query AdminAlerts($tenantId: ID, $lang: String!) {
  alerts(tenantId: $tenantId, lang: $lang) { ${FIELDS} }
}`;
const ALERTS_SUBSCRIPTION = `subscription AdminAlertsChanged($tenantId: ID, $lang: String!) {
  alertsChanged(tenantId: $tenantId, lang: $lang) { ${FIELDS} }
}`;

export default {
  id: "alerts",
  title: "Alerts",
  depends: (state) => [state.tenantId],
  tools(panel) {
    panel.lang = el("select", { id: "alerts-lang", onchange: () => panel.refresh() },
      el("option", { value: "en", text: "English" }),
      el("option", { value: "es", text: "Español" }));
    panel.toolbar.append(el("label", { for: "alerts-lang", text: "Language" }), panel.lang);
  },
  async fetch(ctx, state, panel) {
    const variables = { tenantId: state.tenantId, lang: panel.lang.value };
    const alerts = (await ctx.query(QUERY, variables)).alerts;
    if (!(await ctx.live.available())) return alerts;
    ctx.live.watch("alertsChanged", ALERTS_SUBSCRIPTION, variables, {
      next: (payload) => payload.data?.alertsChanged && panel.draw(payload.data.alertsChanged),
      down: () => {}, // the HTTP answer stays; the live panel says the socket is down
    });
    return alerts;
  },
  render(body, alerts) {
    body.append(
      el(
        "ul",
        { class: "alerts" },
        alerts.map((a) =>
          el("li", { class: `alert ${a.severity.toLowerCase()}`, "data-type": a.type },
            el("span", { class: "badge", text: a.severity }),
            el("span", { class: "message", text: a.message })),
        ),
      ),
    );
  },
};
