// Products of the range by revenue (the first 20), sortable by any column in the page.

import { count, el, money, percent } from "../format.js";
import { RANGE_ARGS, RANGE_PARAMS, rangeVariables } from "../range.js";

const QUERY = `query AdminProducts(${RANGE_PARAMS}) {
  products(limit: 20, ${RANGE_ARGS}) {
    totalRows products { slug name views addToCart purchases units revenue conversionRate }
  }
}`;

const COLUMNS = [
  ["name", "Product", (r) => r.name],
  ["views", "Views", (r) => count(r.views)],
  ["addToCart", "Carts", (r) => count(r.addToCart)],
  ["purchases", "Purchases", (r) => count(r.purchases)],
  ["units", "Units", (r) => count(r.units)],
  ["revenue", "Revenue", (r, c) => money(r.revenue, c)],
  ["conversionRate", "Conversion", (r) => percent(r.conversionRate)],
];

function sorted(rows, key, direction) {
  const sign = direction === "ascending" ? 1 : -1;
  return [...rows].sort((a, b) => {
    const order = typeof a[key] === "string" ? a[key].localeCompare(b[key]) : a[key] - b[key];
    return sign * order || a.slug.localeCompare(b.slug);
  });
}

export default {
  id: "products",
  title: "Products",
  wide: true,
  fetch: async (ctx, state) => (await ctx.query(QUERY, rangeVariables(state))).products,
  isEmpty: (data) => data.products.length === 0,
  empty: "No product was viewed, carted or bought in this range.",
  render(body, data, state, panel) {
    panel.sort ??= { key: "revenue", direction: "descending" };
    const draw = () => {
      const { key, direction } = panel.sort;
      const head = COLUMNS.map(([column, label]) =>
        el(
          "th",
          { scope: "col", "aria-sort": column === key ? direction : "none" },
          el("button", {
            type: "button",
            class: "sort",
            "data-column": column,
            text: label,
            onclick: () => {
              const flip = column === key && direction === "descending" ? "ascending" : "descending";
              panel.sort = { key: column, direction: column === key ? flip : column === "name" ? "ascending" : "descending" };
              draw();
            },
          }),
        ),
      );
      const rows = sorted(data.products, key, direction).map((r) =>
        el("tr", { "data-slug": r.slug }, COLUMNS.map(([, , format]) => el("td", { text: format(r, state.currency) }))),
      );
      body.replaceChildren(
        el(
          "div",
          { class: "table-wrap", role: "region", "aria-label": "Products by revenue", tabindex: "0" },
          el("table", { class: "sortable" }, el("thead", {}, el("tr", {}, head)), el("tbody", {}, rows)),
        ),
        el("p", { class: "muted", text: `${count(data.products.length)} of ${count(data.totalRows)} products, by revenue from the server; select a heading to sort.` }),
      );
    };
    draw();
  },
};
