/** Percentiles and summaries for the benchmarks (nearest-rank on sorted samples). */

export interface Summary {
  n: number;
  p50: number;
  p95: number;
  p99: number;
  min: number;
  max: number;
  mean: number;
}

export function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function summarize(samples: number[]): Summary {
  const sorted = samples.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  const round = (x: number) => Math.round(x * 10) / 10;
  return {
    n: sorted.length,
    p50: round(percentile(sorted, 50)),
    p95: round(percentile(sorted, 95)),
    p99: round(percentile(sorted, 99)),
    min: round(sorted[0] ?? Number.NaN),
    max: round(sorted.at(-1) ?? Number.NaN),
    mean: round(sorted.reduce((a, b) => a + b, 0) / (sorted.length || 1)),
  };
}

/** A markdown table from rows of cells. */
export function table(header: string[], rows: (string | number)[][]): string {
  const all = [header, ...rows.map((r) => r.map(String))];
  const widths = header.map((_, i) => Math.max(...all.map((r) => (r[i] ?? "").length)));
  const line = (r: string[]) => `| ${r.map((c, i) => c.padEnd(widths[i]!)).join(" | ")} |`;
  return [line(header), `| ${widths.map((w) => "-".repeat(w)).join(" | ")} |`, ...all.slice(1).map(line)].join("\n");
}

/** The fewest samples a p99 is reported from; below it the tail is reported as `max`. */
export const MIN_SAMPLES_FOR_P99 = 100;

/** A figure named for what it is: p50 and max always, p99 only from at least 100 samples. */
export interface Figure {
  n: number;
  p50: number;
  p99?: number;
  max: number;
}

export function figure(samples: number[]): Figure {
  const s = summarize(samples);
  return s.n >= MIN_SAMPLES_FOR_P99 ? { n: s.n, p50: s.p50, p99: s.p99, max: s.max } : { n: s.n, p50: s.p50, max: s.max };
}

/** "p50 / p99" or "p50 / max" of a figure, for a table cell. */
export const tail = (f: Figure): string => (f.p99 === undefined ? `max ${f.max}` : `p99 ${f.p99}`);
