// The range every ranged view takes (period presets or start/end dates, never both),
// the store and the zone, as GraphQL variables and arguments.

export const PRESETS = [
  ["today", "Today"],
  ["7d", "Last 7 days"],
  ["30d", "Last 30 days"],
  ["12w", "Last 12 weeks"],
  ["6m", "Last 6 months"],
];

/** Declarations and arguments shared by the ranged views' queries. */
export const RANGE_PARAMS = "$tenantId: ID, $timezone: String, $period: String, $start: Date, $end: Date";
export const RANGE_ARGS = "tenantId: $tenantId, timezone: $timezone, period: $period, start: $start, end: $end";

export function rangeVariables(state) {
  const { tenantId, timezone, range } = state;
  return range.period
    ? { tenantId, timezone, period: range.period }
    : { tenantId, timezone, start: range.start, end: range.end };
}

const DAY = 86400000;

/** Buckets small enough to read and far below the 1,500 a range allows. */
export function granularity(range) {
  const byPeriod = { today: "HOUR", "7d": "DAY", "30d": "DAY", "12w": "WEEK", "6m": "MONTH" };
  if (range.period) return byPeriod[range.period] ?? "DAY";
  const days = (Date.parse(range.end) - Date.parse(range.start)) / DAY + 1;
  if (days <= 2) return "HOUR";
  if (days <= 92) return "DAY";
  if (days <= 550) return "WEEK";
  return "MONTH";
}
