/**
 * Work to run again later, one timer per key (a function's master): a reconcile that returned
 * `{ requeueAfterMs }`, or a failed resync retried with backoff. A key already due sooner keeps its
 * time; stop() drops everything still waiting.
 */
export class Requeue {
  readonly #timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  #stopped = false;

  /** Runs `work` in `delayMs` unless `key` is due as soon or sooner already. */
  after(key: string, delayMs: number, work: () => void): void {
    if (this.#stopped) return;
    const at = Date.now() + delayMs;
    const pending = this.#timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.#timers.delete(key);
      if (!this.#stopped) work();
    }, delayMs);
    timer.unref();
    this.#timers.set(key, { at, timer });
  }

  /** Whether `key` is waiting. */
  has(key: string): boolean {
    return this.#timers.has(key);
  }

  stop(): void {
    this.#stopped = true;
    for (const { timer } of this.#timers.values()) clearTimeout(timer);
    this.#timers.clear();
  }
}
