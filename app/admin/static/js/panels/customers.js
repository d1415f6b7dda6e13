// Customers of the range: new against returning, lifetime value, and the cohort grid
// (per month of first purchase, the share buying again in each later month).

import { count, el, figures, money, percent } from "../format.js";
import { RANGE_ARGS, RANGE_PARAMS, rangeVariables } from "../range.js";

const QUERY = `query AdminCustomers(${RANGE_PARAMS}) {
  customers(${RANGE_ARGS}) {
    newCustomers returningCustomers lifetimeValue cohorts { cohort customers retention }
  }
}`;

// Shades with a text colour each that keeps WCAG AA contrast.
function shade(p) {
  if (p >= 50) return "heat-4";
  if (p >= 25) return "heat-3";
  if (p >= 10) return "heat-2";
  if (p > 0) return "heat-1";
  return "heat-0";
}

function cohortGrid(cohorts) {
  const months = Math.max(0, ...cohorts.map((c) => c.retention.length));
  const head = ["Cohort", "Customers", ...Array.from({ length: months }, (_, k) => `+${k + 1} mo`)];
  return el(
    "div",
    { class: "table-wrap", role: "region", "aria-label": "Cohort retention", tabindex: "0" },
    el(
      "table",
      { class: "cohorts" },
      el("thead", {}, el("tr", {}, head.map((h) => el("th", { scope: "col", text: h })))),
      el(
        "tbody",
        {},
        cohorts.map((c) =>
          el(
            "tr",
            { "data-cohort": c.cohort },
            el("th", { scope: "row", text: c.cohort.slice(0, 7) }),
            el("td", { text: count(c.customers) }),
            Array.from({ length: months }, (_, k) =>
              k < c.retention.length
                ? el("td", { class: shade(c.retention[k]), text: percent(c.retention[k]) })
                : el("td", { class: "none", text: "–" }),
            ),
          ),
        ),
      ),
    ),
  );
}

export default {
  id: "customers",
  title: "Customers",
  wide: true,
  fetch: async (ctx, state) => (await ctx.query(QUERY, rangeVariables(state))).customers,
  isEmpty: (data) => data.newCustomers === 0 && data.returningCustomers === 0,
  empty: "No logged-in customer bought in this range.",
  render(body, data, state) {
    body.append(
      figures([
        ["New customers", count(data.newCustomers)],
        ["Returning customers", count(data.returningCustomers)],
        ["Lifetime value", money(data.lifetimeValue, state.currency)],
      ]),
      el("h3", { text: "Cohorts by month of first purchase" }),
      data.cohorts.length ? cohortGrid(data.cohorts) : el("p", { class: "muted", text: "No first purchase in this range." }),
    );
  },
};
