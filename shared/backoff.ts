/** The one backoff of the project: a first wait doubled on every further attempt, up to a ceiling. */

/** `firstMs` doubled `doublings` times (0 or less: `firstMs`), at most `maxMs`. */
export function doubling(firstMs: number, doublings: number, maxMs: number): number {
  return Math.min(firstMs * 2 ** Math.max(0, doublings), maxMs);
}
