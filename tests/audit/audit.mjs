// Runs graphql-http's server audit (the GraphQL over HTTP spec's checks) against
// the URL given as the only argument and prints one JSON array of results:
// {id, name, status: "ok" | "notice" | "warn" | "error", reason?, response?}.
// Used by tests/test_app_graphql_http_audit.py; `npm ci` installs the pinned packages.
import { auditServer } from "graphql-http";

const url = process.argv[2];
if (!url) {
  console.error("usage: node audit.mjs http://127.0.0.1:PORT/graphql");
  process.exit(2);
}

const results = await auditServer({ url });
const report = [];
for (const result of results) {
  const entry = { id: result.id, name: result.name, status: result.status };
  if (result.status !== "ok") {
    entry.reason = result.reason;
    entry.response = {
      status: result.response.status,
      headers: Object.fromEntries(result.response.headers),
      body: await result.response.text(),
    };
  }
  report.push(entry);
}
console.log(JSON.stringify(report));
