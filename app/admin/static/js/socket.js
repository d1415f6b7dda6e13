// A tiny graphql-transport-ws client: one WebSocket to /graphql, the admin token in
// connection_init, any number of subscriptions (subscribe / next / error / complete).
// https://github.com/enisdenjo/graphql-ws/blob/master/PROTOCOL.md

const PROTOCOL = "graphql-transport-ws";

export class GraphQLSocket {
  /** onClose(event, wasAcknowledged) is called once, when the socket ends for any reason. */
  constructor(token, onClose) {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    this.ws = new WebSocket(`${scheme}//${window.location.host}/graphql`, PROTOCOL);
    this.sinks = new Map();
    this.pending = [];
    this.acknowledged = false;
    this.next = 0;
    this.ws.onopen = () => this.send({ type: "connection_init", payload: { authorization: `Bearer ${token}` } });
    this.ws.onmessage = (event) => this.receive(event.data);
    this.ws.onerror = () => {}; // the close event that follows says what happened
    this.ws.onclose = (event) => {
      for (const sink of this.sinks.values()) sink.error?.(event);
      this.sinks.clear();
      onClose(event, this.acknowledged);
    };
  }

  send(message) {
    if (this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  receive(text) {
    let message;
    try {
      message = JSON.parse(text);
    } catch {
      return;
    }
    const sink = this.sinks.get(message.id);
    switch (message.type) {
      case "connection_ack":
        this.acknowledged = true;
        for (const start of this.pending.splice(0)) start();
        break;
      case "ping":
        this.send({ type: "pong" });
        break;
      case "next":
        sink?.next(message.payload);
        break;
      case "error":
        this.sinks.delete(message.id);
        sink?.error?.(message.payload);
        break;
      case "complete":
        this.sinks.delete(message.id);
        break;
      default:
        break;
    }
  }

  /** Starts a subscription; answers a function that stops it. */
  subscribe(query, variables, sink) {
    const id = String(++this.next);
    const start = () => {
      this.sinks.set(id, sink);
      this.send({ id, type: "subscribe", payload: { query, variables } });
    };
    if (this.acknowledged) start();
    else this.pending.push(start);
    return () => {
      this.pending = this.pending.filter((p) => p !== start);
      if (this.sinks.delete(id)) this.send({ id, type: "complete" });
    };
  }

  close() {
    this.ws.onclose = null;
    this.sinks.clear();
    this.ws.close(1000);
  }
}
