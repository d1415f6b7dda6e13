/*! Storefront Analytics tracker. No dependencies; never throws into the page.
 * <script src="https://analytics.example/tracker.js" data-tenant="shop1" defer></script>
 * Attributes: data-tenant (store id), data-endpoint (API origin; default: this script's),
 * data-respect-dnt (send nothing under Do-Not-Track / Global Privacy Control),
 * data-flush-seconds (queue flush interval, default 5).
 * API: window.storefrontAnalytics.track(type, fields), .identify(token), .flush().
 */
(function () {
  "use strict";
  try {
    var doc = document, win = window, nav = navigator, loc = location;
    var script = doc.currentScript || doc.querySelector("script[data-tenant][src*='tracker.js']");
    if (!script || win.storefrontAnalytics) return;
    var data = function (name) { return script.getAttribute("data-" + name); };
    var tenant = data("tenant") || undefined;
    var base = (data("endpoint") || new URL(script.src, loc.href).origin).replace(/\/$/, "");
    var every = (parseFloat(data("flush-seconds")) || 5) * 1000;
    var off = data("respect-dnt") !== null &&
      (nav.doNotTrack === "1" || win.doNotTrack === "1" || nav.globalPrivacyControl === true);
    var MUTATION = "mutation($e:[TrackEventInput!]!){trackEvents(events:$e){index status}}";
    var SESSION_KEY = "sfa_session", IDLE = 30 * 60 * 1000, MAX = 100;
    // TrackEventInput's fields: anything else would make the API refuse the whole batch.
    var FIELDS = ["eventType", "sessionId", "tenantId", "productSlug", "productName", "price",
      "metadata", "source", "errorMessage", "idempotencyKey", "url", "referrer"];
    var queue = [], token = null, memory = {}, timer = null;

    var random = function () {
      var bytes = new Uint8Array(16);
      (win.crypto || win.msCrypto).getRandomValues(bytes);
      return Array.prototype.map.call(bytes, function (b) {
        return (b < 16 ? "0" : "") + b.toString(16);
      }).join("");
    };
    var storage = function (op, key, value) {
      try {
        return op === "get" ? localStorage.getItem(key) : localStorage.setItem(key, value);
      } catch (e) { // blocked storage (privacy mode, sandboxed frame): keep it in memory
        return op === "get" ? memory[key] || null : (memory[key] = value);
      }
    };
    // A session is a browser's run of activity with no gap over 30 minutes.
    var session = function () {
      var now = Date.now(), saved = null;
      try { saved = JSON.parse(storage("get", SESSION_KEY) || "null"); } catch (e) { /* redo */ }
      var id = saved && now - saved.at < IDLE ? saved.id : random();
      storage("set", SESSION_KEY, JSON.stringify({ id: id, at: now }));
      return id;
    };

    var send = function (events, beacon) {
      if (!events.length) return;
      if (beacon && nav.sendBeacon) {
        // A beacon cannot set headers: text/plain needs no preflight, the token rides inside.
        var body = JSON.stringify({ events: events, token: token });
        if (nav.sendBeacon(base + "/collect", new Blob([body], { type: "text/plain" }))) return;
      }
      var headers = { "Content-Type": "application/json" };
      if (token) headers.Authorization = "Bearer " + token;
      fetch(base + "/graphql", {
        method: "POST", headers: headers, keepalive: true, credentials: "omit",
        body: JSON.stringify({ query: MUTATION, variables: { e: events } })
      }).catch(function () { /* the page must not notice */ });
    };
    // Browsers give all keepalive fetches and beacons of a page 64 KB together:
    // batches stay under 60 KB as well as under 100 events.
    var flush = function (beacon) {
      while (queue.length) {
        var batch = [], size = 0;
        while (queue.length && batch.length < MAX && (!batch.length || size + queue[0].size < 6e4)) {
          size += queue[0].size;
          batch.push(queue.shift().event);
        }
        send(batch, beacon);
      }
    };

    var track = function (type, fields) {
      try {
        if (off || typeof type !== "string") return;
        var event = {
          eventType: type, sessionId: session(), url: loc.href,
          referrer: doc.referrer || null, idempotencyKey: random()
        };
        if (tenant) event.tenantId = tenant;
        for (var name in fields || {}) {
          if (FIELDS.indexOf(name) >= 0 && fields[name] != null) event[name] = fields[name];
        }
        if (event.price != null) event.price = Number(event.price);
        var size = JSON.stringify(event).length; // throws here, for this event alone
        queue.push({ event: event, size: size });
        if (queue.length >= MAX) flush(false);
        else if (!timer) {
          timer = setTimeout(function () {
            timer = null;
            try { flush(false); } catch (e) { /* never into the page */ }
          }, every);
        }
      } catch (e) { /* never into the page */ }
    };

    // Time on page: the visible time of one stay, sent when the page is hidden or left.
    var shownAt = Date.now(), visible = 0, page = loc.href;
    var leave = function () {
      if (doc.visibilityState === "visible") visible += Date.now() - shownAt;
      shownAt = Date.now();
      if (visible >= 1000) {
        track("time_on_page", { url: page, metadata: { seconds: Math.round(visible / 1000) } });
      }
      visible = 0;
    };
    var navigated = function () {
      if (loc.href === page) return;
      leave();
      page = loc.href;
      track("page_view");
    };
    ["pushState", "replaceState"].forEach(function (name) {
      var original = history[name];
      history[name] = function () {
        var result = original.apply(this, arguments);
        try { navigated(); } catch (e) { /* */ }
        return result;
      };
    });
    win.addEventListener("popstate", navigated);
    doc.addEventListener("visibilitychange", function () {
      try {
        if (doc.visibilityState === "hidden") { leave(); flush(true); } else shownAt = Date.now();
      } catch (e) { /* */ }
    });
    win.addEventListener("pagehide", function () {
      try { if (doc.visibilityState !== "hidden") leave(); flush(true); } catch (e) { /* */ }
    });
    doc.addEventListener("click", function (click) {
      try {
        var target = click.target && click.target.closest && click.target.closest("[data-track]");
        if (!target) return;
        var fields = {}, slug = target.getAttribute("data-product-slug");
        if (slug) fields.productSlug = slug;
        track(target.getAttribute("data-track"), fields);
      } catch (e) { /* */ }
    }, true);

    win.storefrontAnalytics = {
      track: track,
      identify: function (value) { token = typeof value === "string" && value ? value : null; },
      flush: function () { try { flush(false); } catch (e) { /* */ } }
    };
    track("page_view");
  } catch (e) { /* never into the page */ }
})();
