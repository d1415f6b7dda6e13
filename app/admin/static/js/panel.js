// A panel's frame: its heading, its own controls, and the loading, empty, error and
// ready states. A panel definition (panels/*.js) owns its query and what it draws:
//
//   { id, title, wide?, applies?(state), tools?(panel), fetch(ctx, state, panel) -> data,
//     isEmpty?(data) -> bool, empty?: text or data -> text, render(body, data, state, panel),
//     depends?(state) -> what of the state it reads (default: store, zone and range) }

const RANGED = (state) => [state.tenantId, state.timezone, state.range];

import { AuthError } from "./api.js";
import { el } from "./format.js";

export class Panel {
  constructor(def, ctx) {
    this.def = def;
    this.ctx = ctx;
    this.seq = 0;
    this.state = null;
    const heading = `panel-${def.id}-title`;
    this.status = el("p", { class: "status", role: "status" });
    this.body = el("div", { class: "panel-body" });
    this.toolbar = el("div", { class: "tools" });
    this.root = el(
      "section",
      { class: def.wide ? "panel wide" : "panel", id: `panel-${def.id}`, "aria-labelledby": heading },
      el("h2", { id: heading, text: def.title }),
      this.toolbar,
      this.status,
      this.body,
    );
    def.tools?.(this);
  }

  /** Asks again if what the panel reads of the page's state changed. */
  update(state) {
    const key = JSON.stringify((this.def.depends ?? RANGED)(state));
    this.state = state;
    if (key === this.key) return;
    this.key = key;
    this.refresh();
  }

  /** Asks again with the page's current state (or the one given). */
  async refresh(state = this.state) {
    this.state = state;
    if (state === null) return;
    const applies = this.def.applies ? this.def.applies(state) : true;
    this.root.hidden = !applies;
    if (!applies) return;
    const seq = ++this.seq;
    this.show("loading", "Loading…");
    let data;
    try {
      data = await this.def.fetch(this.ctx, state, this);
    } catch (error) {
      if (seq !== this.seq) return;
      if (error instanceof AuthError) {
        this.show("error", "Sign in again: the token was refused.");
        this.ctx.signOut(`The token was refused: ${error.message}. Paste a valid admin token.`);
      } else {
        this.show("error", error.message || "This panel failed to load.");
        if (!error.code) console.warn(error); // a bug in the page, not a refusal
      }
      return;
    }
    if (seq !== this.seq) return; // a newer request superseded this one
    this.draw(data);
  }

  /** Draws data that came from elsewhere too (a subscription's next message). */
  draw(data) {
    if (this.def.isEmpty?.(data)) {
      const empty = this.def.empty ?? "Nothing in this range yet.";
      this.show("empty", typeof empty === "function" ? empty(data) : empty);
      return;
    }
    this.body.replaceChildren();
    this.def.render(this.body, data, this.state, this);
    this.show("ready", "");
  }

  show(state, message) {
    this.root.dataset.state = state;
    this.root.setAttribute("aria-busy", state === "loading" ? "true" : "false");
    this.status.textContent = message;
    this.status.className = `status ${state}`;
    if (state !== "ready") this.body.replaceChildren();
  }
}
