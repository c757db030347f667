/**
 * The failover timeline: every step from the kill to the client's first write on the new master,
 * each with its time since the kill, printed live as it happens.
 */
export interface TimelineEntry {
  /** ms since the kill */
  atMs: number;
  step: string;
  detail: string;
}

export class Timeline {
  readonly entries: TimelineEntry[] = [];
  readonly #t0: number;
  readonly #live: boolean;
  readonly #seen = new Set<string>();
  #spinner: NodeJS.Timeout | undefined;

  constructor(t0: number, live = true) {
    this.#t0 = t0;
    this.#live = live;
  }

  /** Adds a step once (later calls with the same key are ignored). */
  add(step: string, detail = "", key = step, at = performance.now()): void {
    if (this.#seen.has(key)) return;
    this.#seen.add(key);
    const entry = { atMs: Math.round(at - this.#t0), step, detail };
    this.entries.push(entry);
    this.entries.sort((a, b) => a.atMs - b.atMs);
    if (this.#live) {
      this.#clearSpinner();
      console.log(`  ${`+${entry.atMs} ms`.padStart(10)}  ${step.padEnd(34)} ${detail}`);
    }
  }

  /** A one-line progress indicator (TTY only) until stopSpinner(). */
  startSpinner(what: string): void {
    if (!this.#live || !process.stdout.isTTY) return;
    const frames = "|/-\\";
    let i = 0;
    this.#spinner = setInterval(() => {
      const ms = Math.round(performance.now() - this.#t0);
      process.stdout.write(`\r  ${frames[i++ % frames.length]} ${what} (${ms} ms)   `);
    }, 100);
  }

  #clearSpinner(): void {
    if (this.#spinner && process.stdout.isTTY) process.stdout.write("\r\x1b[K");
  }

  stopSpinner(): void {
    if (this.#spinner) clearInterval(this.#spinner);
    this.#clearSpinner();
    this.#spinner = undefined;
  }

  /** The timeline as an SVG bar chart (one row per step, time on the x axis). */
  toSvg(title: string): string {
    const rows = this.entries;
    const max = Math.max(1, ...rows.map((r) => r.atMs));
    const width = 900;
    const left = 300;
    const scale = (width - left - 60) / max;
    const rowH = 24;
    const height = 50 + rows.length * rowH;
    const esc = (s: string) => s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
    const bars = rows
      .map((r, i) => {
        const y = 40 + i * rowH;
        return `<text x="8" y="${y + 15}" font-size="13">${esc(r.step)}</text><rect x="${left}" y="${y + 4}" width="${Math.max(2, r.atMs * scale)}" height="14" fill="#3b82f6"/><text x="${left + Math.max(2, r.atMs * scale) + 6}" y="${y + 15}" font-size="12">${r.atMs} ms</text>`;
      })
      .join("\n");
    return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="sans-serif"><rect width="100%" height="100%" fill="white"/><text x="8" y="22" font-size="15" font-weight="bold">${esc(title)}</text>\n${bars}\n</svg>\n`;
  }
}

/** One failover of a demo run, as both demos (real pods, processes) record it. */
export interface FailoverSummary {
  n: number;
  from: string;
  to: string;
  unavailabilityMs: number;
  propagationMs: number;
  timeline: Timeline["entries"];
}

/** The median of a run's figures (the upper one of an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? Number.NaN;
