/**
 * Counters and histograms from a process's Prometheus text endpoint (/metrics), for before/after
 * deltas in the benchmarks: `name{label="v",...} value` lines, summed per series key (the name
 * plus chosen labels); histograms as cumulative buckets, with nearest-bucket quantiles.
 */

export interface PromSeries {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Parses Prometheus text format (comments skipped). */
export function parsePrometheusText(text: string): PromSeries[] {
  const out: PromSeries[] = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([A-Za-z_:][A-Za-z0-9_:]*)(\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[3] ?? "").matchAll(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[4]) });
  }
  return out;
}

/** Every series of `url`; empty when the endpoint does not answer. */
export async function scrape(url: string): Promise<PromSeries[]> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5000) });
    return parsePrometheusText(await res.text());
  } catch {
    return [];
  }
}

/** Sums of the series named in `names`, keyed `name` or `name{label=value,...}` for the labels in `by`. */
export function sums(series: PromSeries[], names: string[], by: string[] = []): Record<string, number> {
  const out: Record<string, number> = {};
  for (const s of series) {
    if (!names.includes(s.name)) continue;
    const parts = by.filter((b) => s.labels[b] !== undefined).map((b) => `${b}=${s.labels[b]}`);
    const key = parts.length > 0 ? `${s.name}{${parts.join(",")}}` : s.name;
    out[key] = (out[key] ?? 0) + s.value;
  }
  return out;
}

/** after - before per key (keys only in `after` count from 0), zero deltas dropped. */
export function counterDelta(before: Record<string, number>, after: Record<string, number>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [k, v] of Object.entries(after)) {
    const d = v - (before[k] ?? 0);
    if (d !== 0) out[k] = Math.round(d * 1000) / 1000;
  }
  return out;
}

export interface Histogram {
  /** [upper bound, cumulative count], ascending, +Inf last. */
  buckets: [number, number][];
  count: number;
  sum: number;
}

/** One histogram, the label sets that include all of `labels` summed (every one by default; `le` aside). */
export function histogram(series: PromSeries[], name: string, labels: Record<string, string> = {}): Histogram {
  const byLe = new Map<number, number>();
  let count = 0;
  let sum = 0;
  for (const s of series) {
    if (!Object.entries(labels).every(([k, v]) => s.labels[k] === v)) continue;
    if (s.name === `${name}_bucket`) {
      const le = s.labels.le === "+Inf" ? Number.POSITIVE_INFINITY : Number(s.labels.le);
      byLe.set(le, (byLe.get(le) ?? 0) + s.value);
    } else if (s.name === `${name}_count`) count += s.value;
    else if (s.name === `${name}_sum`) sum += s.value;
  }
  return { buckets: [...byLe.entries()].sort((a, b) => a[0] - b[0]), count, sum };
}

export function histogramDelta(before: Histogram, after: Histogram): Histogram {
  const prev = new Map(before.buckets);
  return {
    buckets: after.buckets.map(([le, c]) => [le, c - (prev.get(le) ?? 0)]),
    count: after.count - before.count,
    sum: after.sum - before.sum,
  };
}

/** The upper bound of the bucket holding the q-quantile (q in 0..1); NaN when empty. */
export function quantileBound(h: Histogram, q: number): number {
  if (h.count <= 0) return Number.NaN;
  const rank = q * h.count;
  return h.buckets.find(([, c]) => c >= rank)?.[0] ?? Number.NaN;
}

/** The sum of the series `name` whose labels include all of `labels`. */
export function total(series: PromSeries[], name: string, labels: Record<string, string> = {}): number {
  return series
    .filter((s) => s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v))
    .reduce((sum, s) => sum + s.value, 0);
}
