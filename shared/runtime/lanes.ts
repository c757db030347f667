/**
 * One serial lane per key (Pepr's per-key queue): work for the same key runs one at a time in
 * arrival order; different keys run in parallel.
 */
export class Lanes {
  readonly #tails = new Map<string, Promise<void>>();

  run<T>(key: string, work: () => Promise<T>): Promise<T> {
    const tail = this.#tails.get(key) ?? Promise.resolve();
    const result = tail.then(work);
    const next = result.then(
      () => undefined,
      () => undefined,
    );
    this.#tails.set(key, next);
    void next.then(() => {
      if (this.#tails.get(key) === next) this.#tails.delete(key);
    });
    return result;
  }

  /** Resolves when every lane is idle. */
  async idle(): Promise<void> {
    while (this.#tails.size > 0) await Promise.all(this.#tails.values());
  }
}
