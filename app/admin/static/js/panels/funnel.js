// The funnel as bars: the default five steps or the admin's own, counted independently
// or in order, with conversion from the previous step and from the start, and dropoff.

import { count, el, percent } from "../format.js";
import { RANGE_ARGS, RANGE_PARAMS, rangeVariables } from "../range.js";

const QUERY = `query AdminFunnel(${RANGE_PARAMS}, $steps: [String!], $ordered: Boolean!) {
  funnel(steps: $steps, ordered: $ordered, ${RANGE_ARGS}) {
    steps { step count conversionFromPrevious conversionFromStart dropoff }
  }
}`;

function steps(panel) {
  const text = panel.stepsInput.value.trim();
  if (!text) return null; // the server's default five
  return text.split(/[\s,>→]+/).filter(Boolean);
}

export default {
  id: "funnel",
  title: "Funnel",
  tools(panel) {
    const again = () => panel.refresh();
    panel.stepsInput = el("input", {
      id: "funnel-steps",
      type: "text",
      placeholder: "default: page_view … purchase",
      autocomplete: "off",
      spellcheck: "false",
    });
    panel.orderedInput = el("input", { id: "funnel-ordered", type: "checkbox", onchange: again });
    panel.toolbar.append(
      el(
        "form",
        {
          class: "inline",
          onsubmit: (event) => {
            event.preventDefault();
            again();
          },
        },
        el("label", { for: "funnel-steps", text: "Steps (2–10, comma-separated)" }),
        panel.stepsInput,
        el("button", { type: "submit", text: "Apply" }),
      ),
      el("span", { class: "check" }, panel.orderedInput, el("label", { for: "funnel-ordered", text: "In order" })),
    );
  },
  async fetch(ctx, state, panel) {
    const variables = { ...rangeVariables(state), steps: steps(panel), ordered: panel.orderedInput.checked };
    return (await ctx.query(QUERY, variables)).funnel;
  },
  isEmpty: (data) => data.steps.every((s) => s.count === 0),
  empty: "No sessions reached any step in this range.",
  render(body, data) {
    const first = Math.max(1, data.steps[0].count);
    body.append(
      el(
        "ol",
        { class: "funnel" },
        data.steps.map((s, k) =>
          el(
            "li",
            { "data-step": s.step },
            el("span", { class: "bar-label", text: s.step }),
            el("span", { class: "bar-track" }, el("span", {
              class: "bar-fill",
              style: { width: `${Math.min(100, (100 * s.count) / first).toFixed(1)}%` },
            })),
            el("span", { class: "bar-value", text: count(s.count) }),
            el(
              "span",
              { class: "funnel-rates" },
              k === 0
                ? "start"
                : `${percent(s.conversionFromPrevious)} of previous · ${percent(s.conversionFromStart)} of start · ${count(s.dropoff)} dropped`,
            ),
          ),
        ),
      ),
    );
  },
};
