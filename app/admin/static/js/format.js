// Numbers as the page shows them: fixed en-US grouping, so a figure reads the same in
// every browser (and the browser test can compute the text it expects).

const COUNT = new Intl.NumberFormat("en-US", { maximumFractionDigits: 0 });
const MONEY = new Intl.NumberFormat("en-US", { minimumFractionDigits: 2, maximumFractionDigits: 2 });
const ONE = new Intl.NumberFormat("en-US", { minimumFractionDigits: 1, maximumFractionDigits: 1 });

export const count = (n) => COUNT.format(n);
export const money = (n, currency) => `${MONEY.format(n)} ${currency}`;
export const percent = (n) => `${ONE.format(n)}%`;
export const decimal = (n) => ONE.format(n);
/** A % change against the previous period; null (no previous figure) reads "n/a". */
export const change = (c) => (c === null || c === undefined ? "n/a" : `${c > 0 ? "+" : ""}${ONE.format(c)}%`);

/** A figure in the unit a metric series answers: "count", "percent" or a currency. */
export function inUnit(n, unit) {
  if (unit === "count") return count(n);
  if (unit === "percent") return percent(n);
  return money(n, unit);
}

/** An element with optional class and text, the page's one DOM builder. */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === undefined || value === null || value === false) continue;
    if (key === "class") node.className = value;
    else if (key === "text") node.textContent = value;
    // Through CSSOM: the page's CSP refuses style attributes.
    else if (key === "style") Object.assign(node.style, value);
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child !== null && child !== undefined) node.append(child);
  }
  return node;
}

/** A table in a focusable scroll region (narrow screens scroll it sideways). */
export function table(label, headers, rows) {
  return el(
    "div",
    { class: "table-wrap", role: "region", "aria-label": label, tabindex: "0" },
    el(
      "table",
      {},
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))),
      el("tbody", {}, rows.map((cells) => el("tr", {}, cells.map((c) => el("td", { text: c }))))),
    ),
  );
}

/** Labelled horizontal bars: [{label, value, text}] against the largest value. */
export function bars(label, items) {
  const max = Math.max(1, ...items.map((i) => i.value));
  return el(
    "ul",
    { class: "bars", "aria-label": label },
    items.map((item) =>
      el(
        "li",
        {},
        el("span", { class: "bar-label", text: item.label }),
        el("span", { class: "bar-track" }, el("span", {
          class: "bar-fill",
          style: { width: `${((100 * item.value) / max).toFixed(1)}%` },
        })),
        el("span", { class: "bar-value", text: item.text }),
      ),
    ),
  );
}

/** Named figures: [[term, text], ...] as a description list. */
export function figures(pairs) {
  return el(
    "dl",
    { class: "figures" },
    pairs.map(([term, text]) => el("div", {}, el("dt", { text: term }), el("dd", { text }))),
  );
}
