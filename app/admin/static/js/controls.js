// The pickers above the panels: store, range (a period preset or two dates) and time
// zone (the store's own by default). Any change hands the new state to onChange.

import { el } from "./format.js";
import { PRESETS } from "./range.js";

const CUSTOM = "custom";

function isoDay(date) {
  return date.toISOString().slice(0, 10);
}

export class Controls {
  constructor(form, onChange) {
    this.onChange = onChange;
    this.tenants = [];
    this.tenant = form.querySelector("#tenant");
    this.range = form.querySelector("#range");
    this.dates = form.querySelector("#dates");
    this.start = form.querySelector("#start");
    this.end = form.querySelector("#end");
    this.timezone = form.querySelector("#timezone");
    this.range.replaceChildren(
      ...PRESETS.map(([value, text]) => el("option", { value, text })),
      el("option", { value: CUSTOM, text: "Dates…" }),
    );
    this.range.value = "30d";
    const today = new Date();
    this.end.value = isoDay(today);
    this.start.value = isoDay(new Date(today.getTime() - 29 * 86400000));
    let zones = [];
    try {
      zones = Intl.supportedValuesOf("timeZone");
    } catch {
      // an older browser: the store's zone and UTC are still offered
    }
    this.zones = new Set(["UTC", ...zones]);
    this.timezone.replaceChildren(...[...this.zones].map((zone) => el("option", { value: zone, text: zone })));
    form.addEventListener("submit", (event) => event.preventDefault());
    this.tenant.addEventListener("change", () => {
      this.useTenantZone();
      this.emit();
    });
    this.range.addEventListener("change", () => {
      this.dates.hidden = this.range.value !== CUSTOM;
      this.emit();
    });
    for (const input of [this.start, this.end]) input.addEventListener("change", () => this.emit());
    this.timezone.addEventListener("change", () => this.emit());
  }

  setTenants(tenants) {
    const previous = this.tenant.value;
    this.tenants = tenants;
    this.tenant.replaceChildren(
      ...tenants.map((t) => el("option", { value: t.id, text: t.name === t.id ? t.id : `${t.name} (${t.id})` })),
    );
    if (tenants.some((t) => t.id === previous)) this.tenant.value = previous;
    this.useTenantZone();
  }

  useTenantZone() {
    const zone = this.current().timezone;
    if (!this.zones.has(zone)) {
      this.zones.add(zone);
      this.timezone.prepend(el("option", { value: zone, text: zone }));
    }
    this.timezone.value = zone;
  }

  current() {
    return this.tenants.find((t) => t.id === this.tenant.value) ?? this.tenants[0];
  }

  /** The page's state; null while the dates are not a valid range. */
  state() {
    const tenant = this.current();
    let range;
    if (this.range.value === CUSTOM) {
      const [start, end] = [this.start.value, this.end.value];
      const valid = start && end && start <= end;
      this.end.setCustomValidity(valid ? "" : "The last day must not be before the first.");
      if (!valid) return null;
      range = { start, end };
    } else {
      range = { period: this.range.value };
    }
    return {
      tenantId: tenant.id,
      currency: tenant.currency,
      timezone: this.timezone.value,
      range,
    };
  }

  emit() {
    const state = this.state();
    if (state !== null) this.onChange(state);
  }
}
