// Live updates: liveStats and alertsChanged over one graphql-transport-ws socket, opened
// only when the server's schema has those subscriptions (so a server without them costs
// no failed handshake), reopened after a drop, closed on sign-out.

import { GraphQLSocket } from "./socket.js";

const PROBE = `query AdminLiveProbe { __type(name: "Subscription") { fields { name } } }`;
const NEEDED = ["liveStats", "alertsChanged"];
const RETRY_SECONDS = [2, 5, 10, 30, 60];

export class Live {
  constructor(ctx) {
    this.ctx = ctx;
    this.probe = null;
    this.socket = null;
    this.retries = 0;
    this.watches = new Map(); // name → {query, variables, sink, stop}
  }

  /** Whether the server offers the subscriptions (asked once per sign-in). */
  available() {
    this.probe ??= this.ctx
      .query(PROBE)
      .then((data) => {
        const names = (data.__type?.fields ?? []).map((f) => f.name);
        return NEEDED.every((name) => names.includes(name));
      })
      .catch(() => false);
    return this.probe;
  }

  /**
   * Replaces the subscription called name (once available() said yes);
   * sink: {next(payload), down(message)}.
   */
  watch(name, query, variables, sink) {
    this.unwatch(name);
    const watch = { query, variables, sink, stop: null };
    this.watches.set(name, watch);
    this.start(watch);
  }

  unwatch(name) {
    this.watches.get(name)?.stop?.();
    this.watches.delete(name);
  }

  start(watch) {
    this.socket ??= new GraphQLSocket(this.ctx.token(), (event, acknowledged) => this.dropped(event, acknowledged));
    watch.stop = this.socket.subscribe(watch.query, watch.variables, {
      next: (payload) => {
        this.retries = 0;
        watch.sink.next(payload);
      },
      // A refused subscription (scope, arguments): an error message, the socket stays.
      error: (payload) => {
        if (Array.isArray(payload)) watch.sink.down(payload[0]?.message ?? "Live updates refused.");
      },
    });
  }

  dropped(event, acknowledged) {
    this.socket = null;
    if (event.code === 4401) {
      this.ctx.signOut(`The token was refused: ${event.reason || "UNAUTHENTICATED"}. Paste a valid admin token.`);
      return;
    }
    const wait = RETRY_SECONDS[Math.min(this.retries, RETRY_SECONDS.length - 1)];
    this.retries += 1;
    const why = acknowledged ? "Live connection lost" : "Live updates unavailable";
    for (const watch of this.watches.values()) watch.sink.down(`${why}; retrying in ${wait} s.`);
    this.timer = setTimeout(() => {
      for (const watch of this.watches.values()) this.start(watch);
    }, wait * 1000);
  }

  stop() {
    clearTimeout(this.timer);
    for (const name of [...this.watches.keys()]) this.unwatch(name);
    this.socket?.close();
    this.socket = null;
    this.probe = null;
  }
}
