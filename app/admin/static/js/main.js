// The admin page's shell: sign-in (a pasted token or an /admin#token=... link), the
// pickers, and the panels, each of which asks for its own figures.

import { ApiError, AuthError, graphql } from "./api.js";
import { Controls } from "./controls.js";
import { Live } from "./live.js";
import { Panel } from "./panel.js";
import alerts from "./panels/alerts.js";
import breakdown from "./panels/breakdown.js";
import customers from "./panels/customers.js";
import funnel from "./panels/funnel.js";
import kpis from "./panels/kpis.js";
import landing from "./panels/landing.js";
import live from "./panels/live.js";
import products from "./panels/products.js";
import rfm from "./panels/rfm.js";
import sources from "./panels/sources.js";
import { orders, revenue } from "./panels/timeline.js";
import week from "./panels/week.js";
import whatsapp from "./panels/whatsapp.js";
import { claimedTenants, clearToken, storeToken, takeToken } from "./token.js";

const PANELS = [kpis, live, revenue, orders, funnel, week, sources, breakdown, whatsapp, alerts,
  landing, products, customers, rfm];
const TENANTS = "query AdminTenants { tenants { id name timezone currency } }";

const $ = (id) => document.getElementById(id);
const signIn = $("sign-in");
const dashboard = $("dashboard");

let token = takeToken(); // kept here too, in case sessionStorage is blocked

const ctx = {
  token: () => token,
  query: (query, variables) => graphql(token, query, variables),
  signOut,
};
ctx.live = new Live(ctx);

const panels = PANELS.map((def) => new Panel(def, ctx));
$("panels").append(...panels.map((p) => p.root));
const controls = new Controls($("controls"), (state) => {
  for (const panel of panels) panel.update(state);
});

/** Shows the sign-in form with why; stops everything that used the token. */
function signOut(message) {
  token = null;
  clearToken();
  ctx.live.stop();
  for (const panel of panels) {
    panel.seq += 1; // answers still on their way are dropped
    panel.key = undefined; // and everything is asked again after the next sign-in
  }
  dashboard.hidden = true;
  $("sign-out").hidden = true;
  signIn.hidden = false;
  $("sign-in-message").textContent = message;
  $("token").focus();
}

/** The tenants the token may read: the configured ones, and those its scope names. */
function tenantsOf(configured) {
  const byId = new Map(configured.map((t) => [t.id, t]));
  for (const id of claimedTenants(token)) {
    const wanted = id === "*" ? "default" : id;
    if (!byId.has(wanted)) {
      // Never configured: the defaults (docs/metrics.md, Tenants).
      byId.set(wanted, { id: wanted, name: wanted, timezone: "UTC", currency: wanted === "default" ? "COP" : "USD" });
    }
  }
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}

async function start() {
  signIn.hidden = true;
  dashboard.hidden = false;
  $("sign-out").hidden = false;
  $("page-message").textContent = "Loading stores…";
  let configured;
  try {
    configured = (await ctx.query(TENANTS)).tenants;
  } catch (error) {
    if (error instanceof AuthError) signOut(`The token was refused: ${error.message}. Paste a valid admin token.`);
    else if (error instanceof ApiError && error.code === "FORBIDDEN") signOut("This token is not an admin token: paste an admin token.");
    else $("page-message").textContent = error.message;
    return;
  }
  $("page-message").textContent = "";
  controls.setTenants(tenantsOf(configured));
  controls.emit();
}

$("sign-in-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const pasted = $("token").value.trim();
  if (!pasted) return;
  $("token").value = "";
  token = pasted;
  storeToken(pasted);
  start();
});
$("sign-out").addEventListener("click", () => signOut("Signed out. Paste a token to sign in again."));

if (token) start();
else signOut("Paste an admin token, or open the link the server printed at start-up.");
